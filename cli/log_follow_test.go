package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/feed"
)

// fakeLog is a daemon's log and status, for the follower.
type fakeLog struct {
	acts []api.Action
	st   api.Status
}

var _ followSource = (*fakeLog)(nil)

func (f *fakeLog) Log(context.Context, api.Target) ([]api.Action, error) { return f.acts, nil }
func (f *fakeLog) Status(context.Context, api.Target) (api.Status, error) {
	return f.st, nil
}

func ptr(n int) *int { return &n }

func followerFor(t *testing.T, src *fakeLog, asJSON bool) (*follower, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut}
	f := &follower{a: a, c: src, t: api.Target{Repo: "/src/app"}, o: logOptions{output: true, asJSON: asJSON}, last: -1}
	if asJSON {
		f.enc = json.NewEncoder(&out)
		return f, &out, &errOut
	}
	f.setSession(src.acts)
	f.heading(src.acts)
	for _, x := range src.acts {
		f.line(x)
	}
	f.last = len(src.acts) - 1
	return f, &out, &errOut
}

func history() []api.Action {
	return []api.Action{
		{Seq: 0, Action: "start", Status: "ok", Base: "b0b0b0b0b0b0b0", Commit: "c0c0c0c0c0c0", Subject: "start session session-1 on b0b0"},
		{Seq: 1, Action: "run", Status: "ok", ExitCode: ptr(0), Argv: []string{"echo", "x"}, DurationMS: 12,
			Commit: "c1c1c1c1c1c1", Subject: "run: echo x"},
	}
}

func event(e api.StreamEvent) feed.Update { return feed.Update{Event: &e} }

func TestFollower_SaysWhenTheEndOfAnActionWasNotSeen(t *testing.T) {
	src := &fakeLog{acts: history()}
	f, out, errOut := followerFor(t, src, false)
	f.update(event(api.StreamEvent{Type: api.EventStarted, Session: "session-1", Summary: "run: sleep 100"}))

	// The daemon dies mid-action and comes back without it.
	f.update(feed.Update{Lost: errors.New("EOF")})
	if !strings.Contains(errOut.String(), "did not see the end of run: sleep 100 (the daemon went away)") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	f.update(feed.Update{Back: &api.Ping{PID: 8}})
	src.acts = append(src.acts, api.Action{Seq: 2, Action: "run", Status: api.StatusInterrupted,
		Argv: []string{"sleep", "100"}, Commit: "c2c2c2c2c2c2", Subject: "run: sleep 100 (interrupted)"})
	f.update(event(api.StreamEvent{Type: api.EventGap}))
	if !strings.Contains(errOut.String(), "the log records run: sleep 100 as seq 2: interrupted") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if !strings.Contains(out.String(), "   2  run      sleep 100") {
		t.Errorf("stdout lacks the reloaded row:\n%s", out)
	}
}

func TestFollower_SaysWhenTheLogDoesNotRecordIt(t *testing.T) {
	src := &fakeLog{acts: history()}
	f, _, errOut := followerFor(t, src, false)
	f.update(event(api.StreamEvent{Type: api.EventStarted, Session: "session-1", Summary: "run: make"}))
	f.update(event(api.StreamEvent{Type: api.EventGap})) // events missed; the daemon is idle
	want := "did not see the end of run: make (events were missed)\nkrellin: the log does not record run: make\n"
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr:\n%s\nwant %q", errOut, want)
	}
}

func TestFollower_AGapKeepsAnActionStillRunning(t *testing.T) {
	src := &fakeLog{acts: history(), st: api.Status{Busy: true, Session: "session-1", Running: "run: make"}}
	f, _, errOut := followerFor(t, src, false)
	f.update(event(api.StreamEvent{Type: api.EventStarted, Session: "session-1", Summary: "run: make"}))
	f.update(event(api.StreamEvent{Type: api.EventGap}))
	if errOut.Len() != 0 {
		t.Errorf("stderr for an action still running:\n%s", errOut)
	}
}

func TestFollower_LiveRowsLineUpWithTheHistory(t *testing.T) {
	src := &fakeLog{acts: history()}
	f, out, _ := followerFor(t, src, false)
	f.update(event(api.StreamEvent{Type: api.EventStarted, Session: "session-1", Summary: "run: echo y"}))
	a := api.Action{Seq: 2, Action: "run", Status: "ok", ExitCode: ptr(0), Argv: []string{"echo", "y"},
		DurationMS: 1500, Commit: "c2c2c2c2c2c2", Subject: "run: echo y"}
	f.update(event(api.StreamEvent{Type: api.EventFinished, Session: "session-1", Action: &a}))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "Session session-1 · base b0b0b0b0b0b0 · image  · 1 action") {
		t.Errorf("heading %q", lines[0])
	}
	col := func(line, word string) int {
		i := strings.Index(line, word)
		if i < 0 {
			return i
		}
		return utf8.RuneCountInString(line[:i])
	}
	head := lines[1]
	for _, l := range lines[2:] {
		for _, w := range []string{"run", "start"} {
			if i := col(l, w); i >= 0 && i != col(head, "ACTION") {
				t.Errorf("%q: %s at column %d, ACTION at %d", l, w, i, col(head, "ACTION"))
			}
		}
	}
	for _, l := range lines[2:] {
		if strings.Contains(l, "echo") && col(l, "echo") != col(head, "WHAT") {
			t.Errorf("%q: what at column %d, WHAT at %d\n%s", l, col(l, "echo"), col(head, "WHAT"), out)
		}
	}
	if !strings.Contains(out.String(), "running") {
		t.Errorf("no live row:\n%s", out)
	}
}

func TestFollower_Heartbeats(t *testing.T) {
	beat := api.StreamEvent{ID: 4, Epoch: "e", Type: feed.Heartbeat}

	f, out, errOut := followerFor(t, &fakeLog{acts: history()}, false)
	before := out.String()
	f.update(event(beat))
	if out.String() != before || errOut.Len() != 0 {
		t.Errorf("a heartbeat was printed:\n%s\n%s", out, errOut)
	}

	f, out, _ = followerFor(t, &fakeLog{acts: history()}, true)
	f.update(event(beat))
	if !strings.Contains(out.String(), `"type":"heartbeat"`) {
		t.Errorf("--json does not pass the heartbeat through: %q", out)
	}
}

func TestTUI_RefusesADumbTerminal(t *testing.T) {
	t.Setenv("TERM", "dumb")
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"tui"}, strings.NewReader(""), &out, &errOut)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := "krellin tui needs a terminal that supports cursor movement; use krellin log --follow"
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}
