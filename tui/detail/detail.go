// Package detail is the TUI's view of one action: command, exit status,
// duration, full output with scrollback, and the diff it made, coloured.
// For the action in flight it shows the output as it streams.
package detail

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/viewport"
	"github.com/charmbracelet/x/ansi"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/actions"
	"github.com/krellin/krellin/tui/theme"
)

// Model shows one action.
type Model struct {
	vp     viewport.Model
	title  string
	body   string // unwrapped content, kept to rewrap on resize
	styles theme.Styles
	// Live is set while the action shown is still in flight.
	Live bool
	// Seq is the action shown, -1 for the one in flight.
	Seq int
}

// New returns an empty detail view.
func New(st theme.Styles) Model {
	return Model{vp: viewport.New(80, 20), styles: st, Seq: -1}
}

// SetSize sets the rows and columns the view may use, title included.
func (m *Model) SetSize(width, height int) {
	m.vp.Width, m.vp.Height = width, max(1, height-1)
	m.refresh(false)
}

// Loading shows that seq is being fetched.
func (m *Model) Loading(seq int) {
	m.Seq, m.Live = seq, false
	m.title = fmt.Sprintf("seq %d", seq)
	m.body = m.styles.Dim.Render("loading…")
	m.refresh(false)
	m.vp.GotoTop()
}

// SetDetail shows a recorded action.
func (m *Model) SetDetail(d api.Detail) {
	m.Seq, m.Live = d.Action.Seq, false
	m.title = fmt.Sprintf("seq %d · %s", d.Action.Seq, actions.What(d.Action))
	m.body = Render(d, m.styles)
	m.refresh(false)
	m.vp.GotoTop()
}

// SetLive shows the action in flight, following its output when the
// view is at the bottom.
func (m *Model) SetLive(l *actions.Live) {
	atEnd := m.vp.AtBottom() || !m.Live
	m.Seq, m.Live = -1, true
	m.title = "running · " + termsafe.Line(l.Summary)
	if l.Lost != "" {
		m.title = "lost (" + l.Lost + ") · " + termsafe.Line(l.Summary)
	}
	var b strings.Builder
	if l.Dropped > 0 {
		fmt.Fprintf(&b, "%s\n", m.styles.Dim.Render(fmt.Sprintf("(%d earlier bytes not kept here; the note will keep head and tail)", l.Dropped)))
	}
	b.WriteString(actions.Clean(l.Output))
	m.body = b.String()
	m.refresh(atEnd)
}

// Up scrolls by n lines (down when n < 0).
func (m *Model) Up(n int) {
	if n > 0 {
		m.vp.ScrollUp(n)
	} else {
		m.vp.ScrollDown(-n)
	}
}

// Top and Bottom jump to the ends.
func (m *Model) Top()    { m.vp.GotoTop() }
func (m *Model) Bottom() { m.vp.GotoBottom() }

// Height is the number of content rows shown at once.
func (m Model) Height() int { return m.vp.Height }

func (m *Model) refresh(bottom bool) {
	y := m.vp.YOffset
	m.vp.SetContent(ansi.Hardwrap(m.body, max(1, m.vp.Width), true))
	m.vp.SetYOffset(y)
	if bottom {
		m.vp.GotoBottom()
	}
}

// View draws a title line and the scrolled content.
func (m Model) View() string {
	pct := fmt.Sprintf(" %3.0f%%", m.vp.ScrollPercent()*100)
	title := ansi.Truncate(m.title, max(1, m.vp.Width-len(pct)), "…")
	title += strings.Repeat(" ", max(0, m.vp.Width-ansi.StringWidth(title)-len(pct))) + pct
	return m.styles.Title.Render(title) + "\n" + m.vp.View()
}

// Render lays out an action in full, everything it recorded sanitised.
func Render(d api.Detail, st theme.Styles) string {
	a := d.Action
	var b strings.Builder
	row := func(k, v string) {
		fmt.Fprintf(&b, "%s %s\n", st.Dim.Render(fmt.Sprintf("%-9s", k)), termsafe.Line(v))
	}
	row("action", a.Action)
	if a.Argv != nil {
		row("command", notes.ShellQuote(a.Argv))
		row("workdir", a.Workdir)
	}
	if a.Path != "" {
		row("path", a.Path)
	}
	status, style := actions.Status(a, st)
	fmt.Fprintf(&b, "%s %s\n", st.Dim.Render(fmt.Sprintf("%-9s", "status")), style.Render(status))
	if a.Error != "" {
		row("error", a.Error)
	}
	row("duration", actions.Dur(a.DurationMS))
	row("started", a.Time)
	row("author", a.Author)
	row("commit", a.Commit)
	for _, w := range a.Warnings {
		row("warning", w)
	}
	for _, i := range a.Info {
		row("info", i)
	}
	section(&b, st, "stdout", a.Stdout, d.Stdout)
	section(&b, st, "stderr", a.Stderr, d.Stderr)
	if d.Diff != "" {
		fmt.Fprintf(&b, "\n%s\n", st.Title.Render("── diff"))
		b.WriteString(Diff(d.Diff, st))
	} else {
		fmt.Fprintf(&b, "\n%s\n", st.Dim.Render("── no changes to the workspace"))
	}
	return b.String()
}

func section(b *strings.Builder, st theme.Styles, name string, o *api.Output, data []byte) {
	if o == nil || o.Bytes == 0 {
		return
	}
	head := fmt.Sprintf("── %s, %d bytes", name, o.Bytes)
	if o.Cut {
		head += fmt.Sprintf(" (the note keeps %d: head and tail)", len(data))
	}
	fmt.Fprintf(b, "\n%s\n", st.Title.Render(head))
	b.WriteString(actions.Clean(data))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
}

// Diff colours a unified diff line by line, after sanitising it.
func Diff(diff string, st theme.Styles) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		text := actions.Clean([]byte(line))
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"), strings.HasPrefix(line, "diff "):
			text = st.DiffFile.Render(text)
		case strings.HasPrefix(line, "+"):
			text = st.DiffAdd.Render(text)
		case strings.HasPrefix(line, "-"):
			text = st.DiffDel.Render(text)
		case strings.HasPrefix(line, "@@"):
			text = st.DiffHunk.Render(text)
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	return b.String()
}
