package tui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/capsules"
	"github.com/krellin/krellin/tui/feed"
	"github.com/krellin/krellin/tui/theme"
)

// fakeClient is a daemon with one capsule on /src/app, for model tests.
type fakeClient struct {
	mu   sync.Mutex // guards acts, reqs and busy
	acts []api.Action
	reqs []api.ActionRequest
	busy bool // what the capsule's status says
	// hold, when set, makes Act and Replay wait for it or their context.
	hold chan struct{}
}

var _ Client = (*fakeClient)(nil)

const repo = "/src/app"

func exit(n int) *int { return &n }

func newFake(n int) *fakeClient {
	f := &fakeClient{}
	f.acts = append(f.acts, api.Action{Seq: 0, Action: "start", Status: "ok", Commit: "c0", Base: "b0b0b0b0b0b0b0", Subject: "start session session-1 on b0b0"})
	for i := 1; i <= n; i++ {
		f.acts = append(f.acts, runAction(i, "echo "+strings.Repeat("x", i%7)))
	}
	return f
}

func runAction(seq int, cmd string) api.Action {
	return api.Action{Seq: seq, Action: "run", Status: "ok", Commit: "c", ExitCode: exit(0),
		Argv: strings.Fields(cmd), DurationMS: 12, Subject: "run: " + cmd}
}

func (f *fakeClient) Ping(context.Context) (api.Ping, error) { return api.Ping{PID: 42}, nil }
func (f *fakeClient) Events(ctx context.Context, _ api.Target, s uint64, e string, _ func(api.StreamEvent)) (uint64, string, error) {
	<-ctx.Done()
	return s, e, ctx.Err()
}
func (f *fakeClient) Capsules(context.Context) ([]api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []api.Status{{Repo: repo, Capsule: "krellin-app", State: "running", Session: "session-1",
		Image: "sha256:92eb009953ff00", Base: "b0b0b0b0b0", Actions: len(f.acts) - 1, Busy: f.busy}}, nil
}
func (f *fakeClient) Sessions(context.Context, api.Target) ([]api.Session, error) {
	return []api.Session{{Name: "session-1", Base: "b0b0b0b0b0", Image: "sha256:92eb009953ff00", Actions: len(f.acts) - 1, Current: true},
		{Name: "session-0", Base: "a0a0a0a0", Image: "sha256:92eb009953ff00", Actions: 3}}, nil
}
func (f *fakeClient) Log(_ context.Context, t api.Target) ([]api.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Action(nil), f.acts...), nil
}
func (f *fakeClient) Show(_ context.Context, _ api.Target, seq int) (api.Detail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.acts[min(seq, len(f.acts)-1)]
	a.Stdout = &api.Output{Bytes: 18}
	return api.Detail{Action: a, Stdout: []byte("hello \x1b[2Jworld\n"),
		Diff: "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new\n"}, nil
}
func (f *fakeClient) Act(ctx context.Context, req api.ActionRequest, _, _ io.Writer) (api.Action, error) {
	if err := f.wait(ctx); err != nil {
		return api.Action{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	return api.Action{Seq: len(f.acts), Status: "ok", Subject: req.Kind}, nil
}
func (f *fakeClient) wait(ctx context.Context) error {
	if f.hold == nil {
		return nil
	}
	select {
	case <-f.hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeClient) Replay(ctx context.Context, _ api.ReplayRequest, _ func(api.Event)) (json.RawMessage, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	return json.RawMessage(`{"session":"session-1","into":"session-1-replay-1","matched":false,"divergence":"seq 2: exit 1, was 0"}`), nil
}
func (f *fakeClient) Down(context.Context, api.Target) (api.Status, error) {
	return api.Status{}, errors.New("not in this test")
}
func (f *fakeClient) Rm(context.Context, api.Target) (api.Status, error) {
	return api.Status{}, errors.New("not in this test")
}

func (f *fakeClient) requests() []api.ActionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ActionRequest(nil), f.reqs...)
}

// plain are styles without colour, so views compare as text.
func plain() theme.Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return theme.New(r)
}

// harness is a model at a size, whose commands run synchronously.
type harness struct {
	t *testing.T
	m *Model
	c *fakeClient
}

func newHarness(t *testing.T, c *fakeClient, w, h int) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := New(ctx, c, Options{Repo: repo}, plain())
	m.now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC) }
	hs := &harness{t: t, m: m, c: c}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.event(api.StreamEvent{Type: api.EventGap}) // what the stream opens with
	return hs
}

// send updates the model and runs the commands that follow, feeding
// their messages back. Commands that wait (the follower, ticks) are
// dropped after a moment.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	out := make(chan tea.Msg, 1)
	go func() { out <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-out:
	case <-time.After(100 * time.Millisecond):
		return
	}
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case nil:
	default:
		h.send(msg)
	}
}

func (h *harness) event(e api.StreamEvent) {
	h.t.Helper()
	h.send(feedMsg{{Event: &e}})
}

func (h *harness) keys(ks ...string) {
	h.t.Helper()
	for _, k := range ks {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "up":
			msg = tea.KeyMsg{Type: tea.KeyUp}
		case "ctrl+c":
			msg = tea.KeyMsg{Type: tea.KeyCtrlC}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		h.send(msg)
	}
}

func (h *harness) view() string { return h.m.View() }

func (h *harness) wantIn(want ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range want {
		if !strings.Contains(v, w) {
			h.t.Fatalf("view lacks %q:\n%s", w, v)
		}
	}
}

func (h *harness) wantNotIn(bad ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range bad {
		if strings.Contains(v, w) {
			h.t.Fatalf("view has %q:\n%s", w, v)
		}
	}
}

func started(summary string) api.StreamEvent {
	return api.StreamEvent{Type: api.EventStarted, Repo: repo, Session: "session-1", Summary: summary,
		Time: "2026-01-01T00:00:02Z"}
}

func TestModel_GapLoadsCapsulesSessionsAndLog(t *testing.T) {
	h := newHarness(t, newFake(3), 80, 24)
	h.wantIn("live", "app", "session-1*", "session-0", "running", "92eb009953ff", "b0b0b0b0", "session-1 · app · 3 actions")
	h.wantIn("start", "on b0b0b0b0b0b0", "echo xxx", "exit 0")
}

func TestModel_RunAppearsLiveThenFinishes(t *testing.T) {
	h := newHarness(t, newFake(3), 80, 24)
	h.event(started("run: make test"))
	h.wantIn("busy", "> …    run     make test", "running", "3.0s")
	h.send(feedMsg{
		{Event: &api.StreamEvent{Type: api.EventOutput, Repo: repo, Session: "session-1", Stream: "stdout", Data: []byte("compiling\n")}},
		{Event: &api.StreamEvent{Type: api.EventOutput, Repo: repo, Session: "session-1", Stream: "stderr", Data: []byte("warning: x\n")}},
	})
	h.wantIn("│ compiling", "│ warning: x")

	a := runAction(4, "make test")
	a.ExitCode, a.DurationMS = exit(2), 3100
	h.event(api.StreamEvent{Type: api.EventFinished, Repo: repo, Session: "session-1", Action: &a})
	h.wantIn("> 4    run     make test", "exit 2", "3.1s", "4 actions")
	h.wantNotIn("busy")
	h.wantNotIn("> …", "│ compiling")
}

func TestModel_OtherSessionsEventsDoNotEnterTheLog(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	e := started("run: elsewhere")
	e.Repo = "/src/other"
	h.event(e)
	h.wantNotIn("elsewhere")
}

func TestModel_MissedActionsReloadTheLog(t *testing.T) {
	c := newFake(2)
	h := newHarness(t, c, 80, 24)
	c.mu.Lock()
	c.acts = append(c.acts, runAction(3, "echo three"), runAction(4, "echo four"))
	c.mu.Unlock()
	four := runAction(4, "echo four")
	h.event(api.StreamEvent{Type: api.EventFinished, Repo: repo, Session: "session-1", Action: &four})
	h.wantIn("echo three", "echo four")
}

func TestModel_DetailShowsOutputAndDiff(t *testing.T) {
	h := newHarness(t, newFake(2), 80, 24)
	h.keys("enter")
	h.wantIn("seq 2 · echo xx", "command", "exit 0", "── stdout", "hello ^[[2Jworld", "── diff", "-old", "+new")
	h.wantNotIn("\x1b")
	h.keys("esc")
	h.wantIn("SEQ  ACTION")
}

func TestModel_DetailOfTheLiveActionStreams(t *testing.T) {
	h := newHarness(t, newFake(2), 80, 24)
	h.event(started("run: make"))
	h.keys("enter")
	h.wantIn("running · run: make")
	h.event(api.StreamEvent{Type: api.EventOutput, Repo: repo, Session: "session-1", Data: []byte("step 1\n")})
	h.wantIn("step 1")
	a := runAction(3, "make")
	h.c.mu.Lock()
	h.c.acts = append(h.c.acts, a)
	h.c.mu.Unlock()
	h.event(api.StreamEvent{Type: api.EventFinished, Repo: repo, Session: "session-1", Action: &a})
	h.wantIn("seq 3 · make", "hello")
}

func TestModel_DestructiveKeysAskFirst(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want []api.ActionRequest
	}{
		{"reset to base, cancelled", []string{"R", "n"}, nil},
		{"reset to base, confirmed", []string{"R", "y"}, []api.ActionRequest{{Kind: "reset", ToSeq: 0}}},
		{"reset to selected", []string{"up", "r", "y"}, []api.ActionRequest{{Kind: "reset", ToSeq: 2}}},
		{"escape cancels", []string{"r", "esc"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(3)
			h := newHarness(t, c, 80, 24)
			h.keys(tt.keys[:len(tt.keys)-1]...)
			h.wantIn("[y/N]")
			h.keys(tt.keys[len(tt.keys)-1])
			got := c.requests()
			if len(got) != len(tt.want) {
				t.Fatalf("requests %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Kind != tt.want[i].Kind || got[i].ToSeq != tt.want[i].ToSeq || got[i].Repo != repo {
					t.Errorf("request %+v, want %+v", got[i], tt.want[i])
				}
			}
		})
	}
}

func TestModel_PromptRunsACommand(t *testing.T) {
	c := newFake(1)
	h := newHarness(t, c, 80, 24)
	h.keys(":", "echo hi | wc -c")
	h.wantIn("run in app $ echo hi | wc -c")
	h.keys("enter")
	got := c.requests()
	if len(got) != 1 || strings.Join(got[0].Argv, "|") != "sh|-c|echo hi | wc -c" || got[0].Kind != "run" {
		t.Fatalf("requests %+v", got)
	}
}

func TestModel_ReplayShowsProgressAndDivergence(t *testing.T) {
	h := newHarness(t, newFake(3), 80, 24)
	h.event(api.StreamEvent{Type: api.EventReplay, Repo: repo, Message: "seq 1 run echo: ok"})
	h.keys("p")
	h.event(api.StreamEvent{Type: api.EventReplay, Repo: repo, Message: "seq 2 run false: diverged"})
	h.wantIn("replay of session-1", "seq 2 run false: diverged", "diverged: seq 2: exit 1, was 0")
}

func TestModel_SaysWhenTheDaemonGoesAndComesBack(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	h.send(feedMsg{{Lost: errors.New("connection refused")}})
	h.wantIn("daemon gone, reconnecting", "lost the daemon: connection refused")
	h.send(feedMsg{{Back: &api.Ping{PID: 77}}})
	h.wantIn("live", "reconnected to the daemon (pid 77)")
}

func TestModel_HelpListsEveryKey(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	h.keys("?")
	for _, group := range h.m.keys.FullHelp() {
		for _, b := range group {
			h.wantIn(b.Help().Key, b.Help().Desc)
		}
	}
	h.keys("?")
	h.wantIn("SEQ  ACTION")
}

func TestModel_FitsTheWindow(t *testing.T) {
	sizes := []struct{ w, h int }{{80, 24}, {40, 12}, {132, 50}, {20, 5}}
	for _, s := range sizes {
		for _, screen := range []string{"main", "detail", "help"} {
			h := newHarness(t, newFake(200), s.w, s.h)
			h.event(started("run: " + strings.Repeat("long ", 40)))
			switch screen {
			case "detail":
				h.keys("up", "enter")
			case "help":
				h.keys("?")
			}
			lines := strings.Split(h.view(), "\n")
			if s.w >= minWidth && len(lines) != s.h {
				t.Errorf("%dx%d %s: %d lines", s.w, s.h, screen, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > s.w {
					t.Errorf("%dx%d %s: line %d is %d wide: %q", s.w, s.h, screen, i, w, l)
				}
			}
		}
	}
}

func TestModel_ResizeKeepsTheCursorVisible(t *testing.T) {
	h := newHarness(t, newFake(500), 80, 50)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 14})
	h.wantIn("> 500")
	h.keys("g")
	h.send(tea.WindowSizeMsg{Width: 60, Height: 30})
	h.wantIn("> 0 ")
}

func TestModel_OutputIsSanitised(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	h.event(started("run: evil \x1b]0;pwned\x07"))
	h.event(api.StreamEvent{Type: api.EventOutput, Repo: repo, Session: "session-1",
		Data: []byte("\x1b[2J\x1b[Hcleared\r\n\x9b31m")})
	h.wantNotIn("\x1b", "\x07", "\x9b")
	h.wantIn("^[[2J^[[Hcleared", "^[]0;pwned^G")
}

func TestModel_FollowerFeedsTheInbox(t *testing.T) {
	// The follower's commands deliver updates in order, in batches.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inbox := make(chan feed.Update, 4)
	for i := range 3 {
		inbox <- feed.Update{Event: &api.StreamEvent{ID: uint64(i + 1)}}
	}
	msg := next(ctx, inbox)().(feedMsg)
	if len(msg) != 3 || msg[2].Event.ID != 3 {
		t.Fatalf("batch %+v", msg)
	}
}

func TestModel_OneActionIsSingular(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	h.wantIn("session-1 · app · 1 action")
	h.wantNotIn("1 actions")
}

func TestModel_AnActionLostWithTheDaemonIsDroppedOnReload(t *testing.T) {
	c := newFake(2)
	c.busy = true
	h := newHarness(t, c, 80, 24)
	h.event(started("run: sleep 100"))
	h.wantIn("> …    run     sleep 100", "running", "busy")

	// The daemon dies mid-action: the row stays, marked, until a reload.
	h.send(feedMsg{{Lost: errors.New("EOF")}})
	h.wantIn("> …    run     sleep 100", "lost", "│ lost: the daemon went away")

	// The new daemon runs nothing; its log has the action as interrupted.
	c.mu.Lock()
	c.busy = false
	a := runAction(3, "sleep 100")
	a.Status, a.ExitCode = api.StatusInterrupted, nil
	c.acts = append(c.acts, a)
	c.mu.Unlock()
	h.send(feedMsg{{Back: &api.Ping{PID: 9}}})
	h.wantNotIn("> …", "│ lost", "busy")
	h.wantIn("> 3    run     sleep 100", "interrupted", "3 actions")
}

func TestModel_AGapKeepsAnActionTheDaemonStillRuns(t *testing.T) {
	tests := []struct {
		name string
		busy bool
	}{
		{"still running", true},
		{"ended unseen", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(1)
			h := newHarness(t, c, 80, 24)
			h.event(started("run: make"))
			c.mu.Lock()
			c.busy = tt.busy
			c.mu.Unlock()
			h.event(api.StreamEvent{Type: api.EventGap})
			if tt.busy {
				h.wantIn("> …    run     make", "running")
				h.wantNotIn("lost")
				return
			}
			h.wantNotIn("> …")
			h.wantIn("ended unseen")
		})
	}
}

func TestModel_HeartbeatsChangeNothing(t *testing.T) {
	h := newHarness(t, newFake(2), 80, 24)
	h.event(started("run: make"))
	before := h.view()
	h.event(api.StreamEvent{Type: "heartbeat", Repo: repo})
	if after := h.view(); after != before {
		t.Errorf("a heartbeat changed the view:\n%s\n---\n%s", before, after)
	}
}

// keyCmd sends one key and returns its command without running it.
func (h *harness) keyCmd(k string) tea.Cmd {
	h.t.Helper()
	msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
	switch k {
	case "enter":
		msg = tea.KeyMsg{Type: tea.KeyEnter}
	case "ctrl+c":
		msg = tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	_, cmd := h.m.Update(msg)
	return cmd
}

// startPromptRun runs `sleep 9` from the prompt against a daemon that
// holds it, and returns where the command's answer arrives.
func startPromptRun(t *testing.T) (*harness, <-chan tea.Msg) {
	c := newFake(1)
	c.hold = make(chan struct{})
	h := newHarness(t, c, 100, 24)
	h.keys(":", "sleep 9")
	cmd := h.keyCmd("enter")
	answer := make(chan tea.Msg, 1)
	go func() { answer <- cmd() }()
	h.wantIn("running sleep 9 (ctrl+c interrupts)")
	return h, answer
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestModel_CtrlCInterruptsThePromptsCommandOnly(t *testing.T) {
	h, answer := startPromptRun(t)
	if cmd := h.keyCmd("ctrl+c"); isQuit(cmd) {
		t.Fatal("ctrl+c quit while a command ran")
	}
	h.wantIn("interrupting sleep 9…")
	select {
	case msg := <-answer:
		h.send(msg)
	case <-time.After(5 * time.Second):
		t.Fatal("ctrl+c did not cancel the command's request")
	}
	h.wantIn("interrupted sleep 9")

	// With nothing running, ctrl+c quits.
	if !isQuit(h.keyCmd("ctrl+c")) {
		t.Error("ctrl+c with nothing running did not quit")
	}
}

func TestModel_QuitAsksWhileAPromptCommandRuns(t *testing.T) {
	h, answer := startPromptRun(t)
	if isQuit(h.keyCmd("q")) {
		t.Fatal("q quit without asking while a command ran")
	}
	h.wantIn("[y/N] sleep 9 is still running; quit and interrupt it?")
	h.keys("n")
	h.wantIn("cancelled")
	select {
	case <-answer:
		t.Fatal("declining to quit interrupted the command")
	default:
	}

	h.keyCmd("q")
	if !isQuit(h.keyCmd("y")) {
		t.Fatal("y did not quit")
	}
	select {
	case <-answer:
	case <-time.After(5 * time.Second):
		t.Fatal("quitting did not interrupt the command")
	}
}

func TestModel_QAndCtrlCQuitWhenNothingRuns(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	for _, k := range []string{"q", "ctrl+c"} {
		if !isQuit(h.keyCmd(k)) {
			t.Errorf("%s did not quit", k)
		}
	}
}

func TestModel_ResetRefusesASessionTheCapsuleDoesNotRun(t *testing.T) {
	for _, k := range []string{"R", "r"} {
		t.Run(k, func(t *testing.T) {
			c := newFake(3)
			h := newHarness(t, c, 100, 24)
			h.keys("tab", "down", "tab") // session-0, recorded
			h.wantIn("> app             session-0")
			h.keys(k)
			h.wantNotIn("[y/N]")
			h.wantIn("session-0 is not the capsule's current session: krellin up --session session-0")
			if got := c.requests(); len(got) != 0 {
				t.Errorf("requests %+v", got)
			}
		})
	}
}

func TestModel_ReplayShowsTheStepRunning(t *testing.T) {
	c := newFake(3)
	c.hold = make(chan struct{})
	h := newHarness(t, c, 80, 24)
	h.keys("p")
	h.wantIn("replaying step 1 of 3… 0s")
	h.event(api.StreamEvent{Type: api.EventReplay, Repo: repo, Message: "seq 1 run echo: ok"})
	h.wantIn("seq 1 run echo: ok", "replaying step 2 of 3…")
	h.m.now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 17, 0, time.UTC) }
	h.wantIn("replaying step 2 of 3… 12s")
}

func TestModel_InvisibleCharactersAreShown(t *testing.T) {
	h := newHarness(t, newFake(1), 100, 24)
	h.event(started("run: cat \u202Etxt.exe"))
	h.event(api.StreamEvent{Type: api.EventOutput, Repo: repo, Session: "session-1",
		Data: []byte("a\u200Bb \u2066isolated\u2069\n")})
	h.wantIn("cat <U+202E>txt.exe", "a<U+200B>b <U+2066>isolated<U+2069>")
	h.event(api.StreamEvent{Type: api.EventState, Repo: repo, State: "running", Message: "up\u2028forged"})
	h.wantIn("app: up<U+2028>forged")
	for _, r := range []string{"\u202E", "\u200B", "\u2066", "\u2028"} {
		h.wantNotIn(r)
	}
}

func TestModel_TooSmallSaysSoInWholeWords(t *testing.T) {
	for _, s := range []struct{ w, h int }{{39, 11}, {20, 5}, {12, 3}, {8, 1}, {3, 1}} {
		h := newHarness(t, newFake(1), s.w, s.h)
		v := h.view()
		lines := strings.Split(v, "\n")
		if len(lines) > s.h {
			t.Errorf("%dx%d: %d lines: the start would scroll away:\n%s", s.w, s.h, len(lines), v)
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > s.w {
				t.Errorf("%dx%d: line %q too wide", s.w, s.h, l)
			}
		}
		size := strconv.Itoa(s.w) + "×" + strconv.Itoa(s.h)
		whole := strings.Fields("krellin tui needs 40×12 at least; this is " + size +
			" needs 40×12; is " + size + " too small …")
		for _, w := range strings.Fields(v) {
			if !slices.Contains(whole, w) {
				t.Errorf("%dx%d: %q is a broken word:\n%s", s.w, s.h, w, v)
			}
		}
	}
}

func TestModel_AReloadOlderThanAnEventDoesNotUndoIt(t *testing.T) {
	h := newHarness(t, newFake(1), 80, 24)
	h.event(started("run: make"))
	asOf := h.m.seen // the list is asked for while make runs...
	a := runAction(2, "make")
	h.event(api.StreamEvent{Type: api.EventFinished, Repo: repo, Session: "session-1", Action: &a})
	h.wantNotIn("busy")

	// ...and answers after make was recorded.
	st := api.Status{Repo: repo, Capsule: "krellin-app", State: "running", Session: "session-1", Busy: true, Running: "run: make"}
	h.send(capsulesMsg{entries: []capsules.Entry{{Capsule: st, Session: api.Session{Name: "session-1"}}}, asOf: asOf})
	h.wantNotIn("busy")

	// A list asked for after the event stands.
	h.send(capsulesMsg{entries: []capsules.Entry{{Capsule: st, Session: api.Session{Name: "session-1"}}}, asOf: h.m.seen})
	h.wantIn("busy")
}
