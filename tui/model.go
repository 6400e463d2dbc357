package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/replay"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/actions"
	"github.com/krellin/krellin/tui/capsules"
	"github.com/krellin/krellin/tui/detail"
	"github.com/krellin/krellin/tui/feed"
	"github.com/krellin/krellin/tui/keys"
	"github.com/krellin/krellin/tui/prompt"
	"github.com/krellin/krellin/tui/theme"
)

// screen is what fills the window.
type screen int

const (
	mainScreen   screen = iota // capsules above, the action log below
	detailScreen               // one action
	helpScreen                 // every key
	replayScreen               // a replay's progress and report
)

// pane is which list the cursor keys move.
type pane int

const (
	capsulePane pane = iota
	actionPane
)

// conn is the state of the event stream.
type conn int

const (
	connecting conn = iota
	connected
	lost
)

// Options are what `krellin tui` passes in.
type Options struct {
	// Repo is the repository to select first, when it has a capsule.
	Repo string
}

// Model is the whole TUI.
type Model struct {
	ctx    context.Context
	client Client
	opts   Options
	inbox  chan feed.Update
	keys   keys.Map
	styles theme.Styles
	now    func() time.Time

	width, height int
	screen        screen
	focus         pane
	caps          capsules.Model
	acts          actions.Model
	detail        detail.Model
	shown         api.Target // the session the action log holds

	prompt  *prompt.Model // the run prompt, when open
	confirm *confirmation // a destructive action waiting for y
	running *promptRun    // the prompt's command, while it runs
	runs    int           // prompt commands started, to tell their answers apart

	conn     conn
	seen     uint64            // events applied, to order them against reloads
	changed  map[string]uint64 // per repository, seen at its last start or end
	notice   string
	noticeOK bool // false draws the notice as an error

	replayLines  []string
	replayReport *replay.Report
	replayBusy   bool
	replayFrom   time.Time // when the operator's replay started
	replayTotal  int       // the steps it replays: the session's newest seq
	replayStep   int       // the newest step reported done
}

// promptRun is a command started from the prompt: Ctrl-C cancels its
// request, and the daemon records the command as interrupted.
type promptRun struct {
	id          int
	line        string
	cancel      context.CancelFunc
	interrupted bool
}

// confirmation is a question and what a "y" does.
type confirmation struct {
	question string
	run      tea.Cmd
}

// New returns the TUI's model; requests run under ctx.
func New(ctx context.Context, c Client, opts Options, st theme.Styles) *Model {
	m := &Model{ctx: ctx, client: c, opts: opts, inbox: make(chan feed.Update, inboxSize),
		keys: keys.Default(), styles: st, now: time.Now,
		caps: capsules.New(st), acts: actions.New(st), detail: detail.New(st),
		focus: actionPane}
	m.resize(80, 24)
	return m
}

// Init starts following the event stream; its first event, a gap,
// loads everything.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(follow(m.ctx, m.client, m.inbox), next(m.ctx, m.inbox), tick())
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.layout()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case tea.KeyMsg:
		return m.key(msg)
	case feedMsg:
		return tea.Batch(m.onFeed(msg), next(m.ctx, m.inbox))
	case capsulesMsg:
		m.setCapsules(msg)
		m.layout()
		return m.selectionChanged(true)
	case promptDoneMsg:
		return m.promptDone(msg)
	case logMsg:
		if msg.target == m.shown {
			m.acts.SetActions(msg.acts)
		}
	case detailMsg:
		if m.screen == detailScreen && msg.target == m.shown && msg.detail.Action.Seq == m.detail.Seq {
			m.detail.SetDetail(msg.detail)
		}
	case doneMsg:
		m.say(msg.text, true)
	case replayMsg:
		m.replayDone(msg.report)
		return m.reload() // the replay's session is new
	case errMsg:
		m.say(msg.op+": "+msg.err.Error(), false)
		if msg.op == "replay" {
			m.replayBusy = false
		}
	case tickMsg:
		return tick()
	}
	return nil
}

// say puts a line in the status bar, made safe to draw.
func (m *Model) say(text string, ok bool) {
	m.notice, m.noticeOK = termsafe.Line(text), ok
}

func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	m.layout()
	m.detail.SetSize(w, h-3)
}

// selectionChanged loads the log of the selected session, clearing the
// view first when it is another session than the one shown.
func (m *Model) selectionChanged(reload bool) tea.Cmd {
	e, ok := m.caps.Selected()
	if !ok {
		m.shown = api.Target{}
		m.acts.Clear()
		return nil
	}
	t := e.Target()
	if t != m.shown {
		m.shown = t
		m.acts.Clear()
		m.layout()
		reload = true
	}
	if !reload {
		return nil
	}
	return loadLog(m.ctx, m.client, t)
}

// onFeed applies the follower's updates.
func (m *Model) onFeed(updates feedMsg) tea.Cmd {
	var cmds []tea.Cmd
	for _, u := range updates {
		switch {
		case u.Lost != nil:
			m.conn = lost
			m.say("lost the daemon: "+u.Lost.Error(), false)
			m.acts.Lose("the daemon went away", m.now())
		case u.Back != nil:
			// What ran when the daemon went away may have ended unseen.
			m.conn = connected
			m.say(fmt.Sprintf("reconnected to the daemon (pid %d)", u.Back.PID), true)
			cmds = append(cmds, m.reload())
		case u.Event != nil:
			if m.conn == connecting {
				m.conn = connected
			}
			cmds = append(cmds, m.onEvent(*u.Event))
		}
	}
	if m.screen == detailScreen && m.detail.Live {
		if l := m.acts.Live(); l != nil {
			m.detail.SetLive(l)
		}
	}
	m.layout()
	return tea.Batch(cmds...)
}

// onEvent applies one event of the stream.
func (m *Model) onEvent(e api.StreamEvent) tea.Cmd {
	mine := e.Repo == m.shown.Repo && e.Session == m.shown.Session
	m.seen++
	switch e.Type {
	case api.EventStarted, api.EventFinished, api.EventRefused:
		if m.changed == nil {
			m.changed = map[string]uint64{}
		}
		m.changed[e.Repo] = m.seen
	}
	switch e.Type {
	case api.EventGap:
		// The end of the action in flight may be among the missed events.
		m.acts.Lose("its end was not seen", m.now())
		return m.reload()
	case api.EventStarted:
		m.caps.Busy(e.Repo, termsafe.Line(e.Summary))
		if mine {
			at, err := time.Parse(time.RFC3339Nano, e.Time)
			if err != nil {
				at = m.now()
			}
			m.acts.Start(e.Summary, e.Author, at)
		}
	case api.EventOutput:
		if mine {
			m.acts.Output(e.Data)
		}
	case api.EventFinished:
		return m.finished(e, mine)
	case api.EventRefused:
		m.caps.Busy(e.Repo, "")
		if mine {
			m.acts.Refuse()
			if e.Error != nil {
				m.say("refused: "+termsafe.Line(e.Error.Message), false)
			}
		}
	case api.EventReplay:
		m.replayEvent(e)
	case api.EventState:
		m.say(filepath.Base(e.Repo)+": "+e.Message, true)
		return m.reload()
	}
	return nil
}

// reload lists the capsules again, noting how many events the model has
// applied: the answer may be older than events applied meanwhile.
func (m *Model) reload() tea.Cmd {
	return loadCapsules(m.ctx, m.client, m.seen)
}

// setCapsules puts a reloaded list in place. A capsule whose action
// started or ended after the list was asked for keeps what the events
// said: the list's word on it is older.
func (m *Model) setCapsules(msg capsulesMsg) {
	newer := map[string]string{}
	for repo, at := range m.changed {
		if running, ok := m.caps.InFlight(repo); ok && at > msg.asOf {
			newer[repo] = running
		}
	}
	m.caps.Set(msg.entries, m.opts.Repo)
	for repo, running := range newer {
		m.caps.Busy(repo, running)
	}
	m.settleLive()
}

// settleLive keeps the action in flight marked lost when the reloaded
// status says its capsule still runs an action in the shown session,
// and drops it otherwise: the reloaded log holds its record, if any.
func (m *Model) settleLive() {
	if m.acts.Settle(m.caps.Runs(m.shown.Repo, m.shown.Session)) {
		m.say("the action in flight ended unseen; the log says how it ended", false)
	}
}

// finished puts a recorded action in the log, reloading the log when
// some were missed and the detail view when it showed the action live.
func (m *Model) finished(e api.StreamEvent, mine bool) tea.Cmd {
	if e.Action == nil {
		return nil
	}
	a := *e.Action
	m.caps.Recorded(e.Repo, e.Session, a.Seq)
	if !mine {
		return nil
	}
	var cmds []tea.Cmd
	if !m.acts.Finish(a) {
		cmds = append(cmds, loadLog(m.ctx, m.client, m.shown))
	}
	if m.screen == detailScreen && m.detail.Live {
		m.detail.Loading(a.Seq)
		cmds = append(cmds, loadDetail(m.ctx, m.client, m.shown, a.Seq))
	}
	return tea.Batch(cmds...)
}

func (m *Model) replayEvent(e api.StreamEvent) {
	if e.Repo != m.shown.Repo {
		return
	}
	switch {
	case e.Error != nil:
		m.replayLines = append(m.replayLines, "error: "+termsafe.Line(e.Error.Message))
	case len(e.Report) > 0:
		m.replayDone(e.Report)
	case e.Message != "":
		m.replayLines = append(m.replayLines, termsafe.Line(e.Message))
		// Progress says "seq N ..." once step N is done.
		var n int
		if _, err := fmt.Sscanf(e.Message, "seq %d", &n); err == nil {
			m.replayStep = max(m.replayStep, n)
		}
	}
}

// replayDone shows a replay's report, from the stream or the request.
func (m *Model) replayDone(raw json.RawMessage) {
	m.replayBusy = false
	var r replay.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		m.say("read the replay report: "+err.Error(), false)
		return
	}
	m.replayReport = &r
}

// key handles a key press in whatever has the keyboard.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	switch {
	case m.prompt != nil:
		return m.promptKey(k)
	case m.confirm != nil:
		c := m.confirm
		m.confirm = nil
		if key.Matches(k, m.keys.Yes) {
			m.say("working…", true)
			return c.run
		}
		m.say("cancelled", true)
		return nil
	case key.Matches(k, m.keys.Interrupt):
		return m.interrupt()
	}
	switch m.screen {
	case helpScreen:
		if key.Matches(k, m.keys.Help, m.keys.Back, m.keys.Quit) {
			m.screen = mainScreen
		}
		return nil
	case detailScreen:
		return m.detailKey(k)
	case replayScreen:
		if key.Matches(k, m.keys.Back, m.keys.Quit) {
			m.screen = mainScreen
		}
		return nil
	}
	return m.mainKey(k)
}

func (m *Model) mainKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	switch {
	case key.Matches(k, km.Quit):
		return m.quit()
	case key.Matches(k, km.Help):
		m.screen = helpScreen
	case key.Matches(k, km.Focus):
		m.focus = 1 - m.focus
	case key.Matches(k, km.Up, km.Down, km.PageUp, km.PageDown, km.Top, km.Bottom):
		return m.move(k)
	case key.Matches(k, km.Open):
		return m.open()
	case key.Matches(k, km.Run):
		return m.openPrompt()
	case key.Matches(k, km.ResetTo):
		if a, ok := m.acts.Selected(); ok {
			return m.askReset(a.Seq)
		}
		m.say("select a recorded action to reset to", false)
	case key.Matches(k, km.ResetBase):
		return m.askReset(0)
	case key.Matches(k, km.Replay):
		return m.startReplay()
	case key.Matches(k, km.Stop):
		m.ask("[y/N] stop the capsule of %s? Its history and workspace stay.", down)
	case key.Matches(k, km.Remove):
		m.ask("[y/N] remove the capsule of %s and its workspace? Sessions stay in git.", remove)
	case key.Matches(k, km.Reload):
		m.say("reloading…", true)
		return m.reload()
	}
	return nil
}

// move moves the focused pane's cursor.
func (m *Model) move(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	if m.focus == capsulePane {
		switch {
		case key.Matches(k, km.Up):
			m.caps.Move(-1)
		case key.Matches(k, km.Down):
			m.caps.Move(1)
		case key.Matches(k, km.Top, km.PageUp):
			m.caps.Move(-m.caps.Len())
		case key.Matches(k, km.Bottom, km.PageDown):
			m.caps.Move(m.caps.Len())
		}
		return m.selectionChanged(false)
	}
	switch {
	case key.Matches(k, km.Up):
		m.acts.Move(-1)
	case key.Matches(k, km.Down):
		m.acts.Move(1)
	case key.Matches(k, km.PageUp):
		m.acts.Page(-1)
	case key.Matches(k, km.PageDown):
		m.acts.Page(1)
	case key.Matches(k, km.Top):
		m.acts.Top()
	case key.Matches(k, km.Bottom):
		m.acts.Bottom()
	}
	return nil
}

// open shows the selected action in full, or the live one as it runs.
func (m *Model) open() tea.Cmd {
	if m.focus == capsulePane {
		m.focus = actionPane
		return nil
	}
	if m.acts.OnLive() {
		m.screen = detailScreen
		m.detail.SetLive(m.acts.Live())
		return nil
	}
	a, ok := m.acts.Selected()
	if !ok {
		return nil
	}
	m.screen = detailScreen
	m.detail.Loading(a.Seq)
	return loadDetail(m.ctx, m.client, m.shown, a.Seq)
}

func (m *Model) detailKey(k tea.KeyMsg) tea.Cmd {
	km := m.keys
	switch {
	case key.Matches(k, km.Back, km.Quit):
		m.screen = mainScreen
	case key.Matches(k, km.Help):
		m.screen = helpScreen
	case key.Matches(k, km.Up):
		m.detail.Up(1)
	case key.Matches(k, km.Down):
		m.detail.Up(-1)
	case key.Matches(k, km.PageUp):
		m.detail.Up(m.detail.Height())
	case key.Matches(k, km.PageDown):
		m.detail.Up(-m.detail.Height())
	case key.Matches(k, km.Top):
		m.detail.Top()
	case key.Matches(k, km.Bottom):
		m.detail.Bottom()
	}
	return nil
}

// interrupt cancels the prompt's command, or quits when none runs.
func (m *Model) interrupt() tea.Cmd {
	r := m.running
	if r == nil {
		return tea.Quit
	}
	r.interrupted = true
	r.cancel()
	m.say("interrupting "+r.line+"…", true)
	return nil
}

// quit quits, asking first while the prompt's command runs: quitting
// interrupts it.
func (m *Model) quit() tea.Cmd {
	r := m.running
	if r == nil {
		return tea.Quit
	}
	m.confirm = &confirmation{
		question: fmt.Sprintf("[y/N] %s is still running; quit and interrupt it?", r.line),
		run: func() tea.Msg {
			r.cancel()
			return tea.Quit()
		},
	}
	return nil
}

func (m *Model) openPrompt() tea.Cmd {
	e, ok := m.caps.Selected()
	if !ok {
		m.say("no capsule to run in: start one with `krellin up`", false)
		return nil
	}
	if m.running != nil {
		m.say(m.running.line+" is still running; ctrl+c interrupts it", false)
		return nil
	}
	p := prompt.New("run in " + filepath.Base(e.Capsule.Repo) + " $ ")
	m.prompt = &p
	return nil
}

func (m *Model) promptKey(k tea.KeyMsg) tea.Cmd {
	p, res := m.prompt.Update(k)
	m.prompt = &p
	switch res {
	case prompt.Cancelled:
		m.prompt = nil
	case prompt.Submitted:
		m.prompt = nil
		argv := prompt.Fields(p.Value())
		if argv == nil {
			return nil
		}
		m.acts.Bottom()
		return m.runPrompt(p.Value(), argv)
	}
	return nil
}

// runPrompt runs the prompt's command under its own context, so that
// Ctrl-C can interrupt it without quitting.
func (m *Model) runPrompt(line string, argv []string) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	m.runs++
	m.running = &promptRun{id: m.runs, line: termsafe.Line(line), cancel: cancel}
	m.say("running "+line+" (ctrl+c interrupts)", true)
	id, do := m.runs, act(ctx, m.client, api.ActionRequest{Target: m.shown, Kind: "run", Argv: argv})
	return func() tea.Msg { return promptDoneMsg{id: id, msg: do()} }
}

// promptDone is the answer to the prompt's command.
func (m *Model) promptDone(msg promptDoneMsg) tea.Cmd {
	r := m.running
	if r == nil || r.id != msg.id {
		return nil
	}
	m.running = nil
	r.cancel()
	if _, failed := msg.msg.(errMsg); failed && r.interrupted {
		m.say("interrupted "+r.line, true)
		return nil
	}
	return m.update(msg.msg)
}

func (m *Model) askReset(seq int) tea.Cmd {
	if m.shown.Repo == "" {
		return nil
	}
	// A reset acts on the capsule's workspace, which holds its current
	// session only.
	if e, ok := m.caps.Selected(); ok && !e.Current() {
		m.say(fmt.Sprintf("%s is not the capsule's current session: krellin up --session %s",
			e.Session.Name, e.Session.Name), false)
		return nil
	}
	t := m.shown
	m.confirm = &confirmation{
		question: fmt.Sprintf("[y/N] reset %s to seq %d? The workspace becomes that tree; the log keeps everything.",
			filepath.Base(t.Repo), seq),
		run: act(m.ctx, m.client, api.ActionRequest{Target: t, Kind: "reset", ToSeq: seq}),
	}
	return nil
}

// ask asks to confirm a capsule-wide request.
func (m *Model) ask(question string, do func(context.Context, Client, api.Target) tea.Cmd) {
	if m.shown.Repo == "" {
		return
	}
	m.confirm = &confirmation{question: fmt.Sprintf(question, filepath.Base(m.shown.Repo)),
		run: do(m.ctx, m.client, m.shown)}
}

func (m *Model) startReplay() tea.Cmd {
	m.screen = replayScreen
	if m.replayBusy || m.shown.Repo == "" {
		return nil
	}
	m.replayBusy, m.replayLines, m.replayReport = true, nil, nil
	m.replayFrom, m.replayStep, m.replayTotal = m.now(), 0, 0
	if last, ok := m.acts.Last(); ok {
		m.replayTotal = last.Seq
	}
	return runReplay(m.ctx, m.client, m.shown)
}
