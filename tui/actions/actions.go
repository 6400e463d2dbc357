// Package actions is the TUI's action log: a session's recorded actions
// and the one in flight, with its output as it streams. Only the rows
// that fit are drawn, so a session of any length scrolls at the same
// speed.
package actions

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/theme"
)

// maxLive bounds the output kept for the action in flight; its note
// keeps all of it once it is recorded.
const maxLive = 1 << 20

// Live is the action in flight.
type Live struct {
	Summary string // "run: go test ./..."
	Author  string
	Started time.Time
	Output  []byte // stdout and stderr as they came, the newest maxLive bytes
	Dropped int64  // bytes of older output no longer kept
	// Lost says why the action's end may never be seen (the daemon went
	// away, events were missed), until a reload settles whether it runs.
	Lost   string
	LostAt time.Time
}

// Append keeps p, dropping the oldest output past maxLive.
func (l *Live) Append(p []byte) {
	l.Output = append(l.Output, p...)
	if over := len(l.Output) - maxLive; over > 0 {
		l.Dropped += int64(over)
		l.Output = append([]byte(nil), l.Output[over:]...)
	}
}

// Tail returns the last n lines of output, safe to draw.
func (l *Live) Tail(n int) []string {
	text := strings.TrimRight(Clean(l.Output), "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	return lines[max(0, len(lines)-n):]
}

// Clean makes capsule output safe to draw: escape sequences and control
// characters become visible, CRLF line ends become LF and tabs spaces.
func Clean(p []byte) string {
	s := strings.ReplaceAll(string(p), "\r\n", "\n")
	return strings.ReplaceAll(termsafe.Text(s), "\t", "    ")
}

// Model is the action log of one session.
type Model struct {
	acts   []api.Action
	live   *Live
	cursor int // index into acts, or len(acts) for the live row
	offset int // first row drawn
	follow bool
	width  int
	height int
	styles theme.Styles
}

// New returns an empty log that follows its newest row.
func New(st theme.Styles) Model {
	return Model{follow: true, styles: st}
}

// SetSize sets the rows and columns the log may use.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = width, max(1, height)
	m.clamp()
}

// SetActions replaces the recorded actions, keeping the cursor on the
// same seq, or on the newest row when following.
func (m *Model) SetActions(acts []api.Action) {
	seq := -1
	if a, ok := m.Selected(); ok && !m.follow {
		seq = a.Seq
	}
	m.acts = acts
	m.cursor = m.rows() - 1
	for i, a := range acts {
		if a.Seq == seq {
			m.cursor = i
		}
	}
	m.clamp()
}

// Clear empties the log, for another session.
func (m *Model) Clear() {
	m.acts, m.live = nil, nil
	m.cursor, m.offset, m.follow = 0, 0, true
}

// Len is the number of recorded actions.
func (m Model) Len() int { return len(m.acts) }

// Last returns the newest recorded action.
func (m Model) Last() (api.Action, bool) {
	if len(m.acts) == 0 {
		return api.Action{}, false
	}
	return m.acts[len(m.acts)-1], true
}

// Start shows an action in flight.
func (m *Model) Start(summary, author string, at time.Time) {
	m.live = &Live{Summary: summary, Author: author, Started: at}
	m.clamp()
}

// Lose marks the action in flight as one whose end may not be seen,
// keeping the first reason; a reload then keeps or drops it.
func (m *Model) Lose(reason string, at time.Time) {
	if m.live != nil && m.live.Lost == "" {
		m.live.Lost, m.live.LostAt = reason, at
	}
}

// Settle keeps or drops an action in flight marked lost, once a reload
// says whether the daemon still runs it: a dropped action's record, if
// it has one, is in the reloaded log. It reports whether it dropped one.
func (m *Model) Settle(running bool) bool {
	switch {
	case m.live == nil || m.live.Lost == "":
		return false
	case running:
		m.live.Lost, m.live.LostAt = "", time.Time{}
		return false
	}
	m.Refuse()
	return true
}

// Live returns the action in flight, or nil.
func (m Model) Live() *Live { return m.live }

// Output adds output of the action in flight.
func (m *Model) Output(p []byte) {
	if m.live != nil {
		m.live.Append(p)
	}
}

// Finish records a finished action in place of the one in flight. It
// reports false when a is not the next seq, so some actions were missed
// and the caller must reload the log.
func (m *Model) Finish(a api.Action) bool {
	m.live = nil
	last, ok := m.Last()
	if ok && a.Seq <= last.Seq {
		m.clamp()
		return true // already known
	}
	if !ok || a.Seq != last.Seq+1 {
		m.clamp()
		return false
	}
	m.acts = append(m.acts, a)
	m.clamp()
	return true
}

// Refuse drops the action in flight: it failed before anything ran.
func (m *Model) Refuse() {
	m.live = nil
	m.clamp()
}

// Selected returns the recorded action under the cursor; false on the
// live row or an empty log.
func (m Model) Selected() (api.Action, bool) {
	if m.cursor < len(m.acts) {
		return m.acts[m.cursor], true
	}
	return api.Action{}, false
}

// OnLive reports whether the cursor is on the action in flight.
func (m Model) OnLive() bool { return m.live != nil && m.cursor == len(m.acts) }

// Following reports whether the cursor sticks to the newest row.
func (m Model) Following() bool { return m.follow }

// Move moves the cursor by n rows; reaching the newest row follows it.
func (m *Model) Move(n int) {
	m.cursor += n
	m.follow = m.cursor >= m.rows()-1
	m.clamp()
}

// Page moves the cursor by n screens.
func (m *Model) Page(n int) { m.Move(n * m.height) }

// Top moves to seq 0.
func (m *Model) Top() {
	m.cursor, m.follow = 0, false
	m.clamp()
}

// Bottom moves to the newest row and follows it.
func (m *Model) Bottom() {
	m.follow = true
	m.clamp()
}

func (m Model) rows() int {
	if m.live != nil {
		return len(m.acts) + 1
	}
	return len(m.acts)
}

// clamp keeps the cursor on a row and in the window.
func (m *Model) clamp() {
	n := m.rows()
	if m.follow {
		m.cursor = n - 1
	}
	m.cursor = max(0, min(m.cursor, n-1))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+m.height {
		m.offset = m.cursor - m.height + 1
	}
	m.offset = max(0, min(m.offset, n-m.height))
}

// View draws the visible rows; focused highlights the cursor's row.
func (m Model) View(focused bool, now time.Time) string {
	var b strings.Builder
	end := min(m.rows(), m.offset+m.height)
	for i := m.offset; i < end; i++ {
		if i > m.offset {
			b.WriteByte('\n')
		}
		b.WriteString(m.row(i, focused, now))
	}
	if m.rows() == 0 {
		b.WriteString(m.styles.Dim.Render("  no actions"))
	}
	return b.String()
}

// Heading is the column headings line.
func (m Model) Heading() string {
	c := columns(m.width)
	return m.styles.Header.Render(fit("  "+pad("SEQ", 5)+pad("ACTION", 8)+pad("WHAT", c.what)+pad("STATUS", 12)+"TOOK", m.width))
}

// cols are the widths of the columns that stretch.
type cols struct{ what int }

func columns(width int) cols {
	// marker 2, seq 5, action 8, status 12, took 7
	return cols{what: max(8, width-2-5-8-12-7)}
}

func (m Model) row(i int, focused bool, now time.Time) string {
	c := columns(m.width)
	mark := "  "
	if i == m.cursor {
		mark = "> "
	}
	var seq, kind, what, status, took string
	var st = m.styles.Dim
	if i == len(m.acts) {
		l := m.live
		kind, what, _ = strings.Cut(termsafe.Line(l.Summary), ": ")
		seq, status, st = "…", "running", m.styles.Busy
		if l.Lost != "" {
			status, st, now = "lost", m.styles.Warn, l.LostAt
		}
		took = Dur(now.Sub(l.Started).Milliseconds())
	} else {
		a := m.acts[i]
		seq, kind, what = strconv.Itoa(a.Seq), a.Action, What(a)
		status, st = Status(a, m.styles)
		took = Dur(a.DurationMS)
	}
	line := mark + pad(seq, 5) + pad(kind, 8) + pad(what, c.what) + pad(status, 12) + took
	line = fit(line, m.width)
	if i == m.cursor && focused {
		return m.styles.Selected.Render(pad(line, m.width))
	}
	// Colour only the status column, so the text reads without colour.
	head := fit(mark+pad(seq, 5)+pad(kind, 8)+pad(what, c.what), m.width)
	if ansi.StringWidth(head) >= ansi.StringWidth(line) {
		return line
	}
	return head + st.Render(strings.TrimPrefix(line, head))
}

// What says in a few words, safe to draw, what an action did.
func What(a api.Action) string {
	var s string
	switch {
	case a.Argv != nil:
		s = notes.ShellQuote(a.Argv)
	case a.Path != "":
		s = a.Path
	case len(a.Files) > 0:
		s = strings.Join(a.Files, ", ")
	case a.TargetSeq != nil:
		s = "to seq " + strconv.Itoa(*a.TargetSeq)
	case a.Action == "start":
		s = "on " + Short(a.Base)
	default:
		s = strings.TrimPrefix(a.Subject, a.Action+": ")
	}
	return termsafe.Line(s)
}

// Status says how an action ended, with the style to draw it in.
func Status(a api.Action, st theme.Styles) (string, lipgloss.Style) {
	switch {
	case a.TimedOut:
		return "timed out", st.Warn
	case a.ExitCode != nil && a.Status == api.StatusOK && *a.ExitCode == 0:
		return "exit 0", st.OK
	case a.ExitCode != nil && a.Status == api.StatusOK:
		return "exit " + strconv.Itoa(*a.ExitCode), st.Bad
	case a.Status == api.StatusOK:
		return "ok", st.OK
	case a.Status == api.StatusInterrupted:
		return a.Status, st.Warn
	}
	return termsafe.Line(a.Status), st.Bad
}

// Short abbreviates a digest or commit for people.
func Short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// Dur renders milliseconds for people.
func Dur(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%dms", n)
	case n < 60_000:
		return fmt.Sprintf("%.1fs", float64(n)/1000)
	}
	return (time.Duration(n) * time.Millisecond).Round(time.Second).String()
}

// pad cuts or pads s to w cells, leaving a space before the next column.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w-1, "…")
	return s + strings.Repeat(" ", w-ansi.StringWidth(s))
}

// fit cuts a line to w cells.
func fit(s string, w int) string {
	return ansi.Truncate(s, w, "")
}
