package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/krellin/krellin/termsafe"
)

// Smallest window the TUI draws in.
const (
	minWidth  = 40
	minHeight = 12
)

// liveLines is how much of the running action's output the log shows.
const liveLines = 3

// layout gives each pane of the main screen its rows: the capsule list
// up to a third of the window, the action log the rest.
func (m *Model) layout() {
	w, h := m.width, m.height
	// header, capsule heading, log title, log heading, status, footer
	fixed := 6
	if m.acts.Live() != nil {
		fixed += liveLines
	}
	capRows := max(1, min(m.caps.Len(), (h-fixed)/3))
	m.caps.SetSize(w, capRows)
	m.acts.SetSize(w, h-fixed-capRows)
}

// View draws the window.
func (m *Model) View() string {
	if m.width < minWidth || m.height < minHeight {
		return m.tooSmall()
	}
	var body string
	switch m.screen {
	case detailScreen:
		body = m.detail.View()
	case helpScreen:
		body = m.helpView()
	case replayScreen:
		body = m.replayView()
	default:
		body = m.mainView()
	}
	body = lipgloss.NewStyle().Height(m.height - 3).MaxHeight(m.height - 3).Render(body)
	return m.header() + "\n" + body + "\n" + m.statusLine()
}

// tooSmall says the window is too small, in the longest of a few
// wordings that fits whole: a cut message would lose its start when
// the terminal scrolls, or break mid-word.
func (m *Model) tooSmall() string {
	w, h := max(1, m.width), max(1, m.height)
	for _, msg := range []string{
		fmt.Sprintf("krellin tui needs %d×%d at least; this is %d×%d", minWidth, minHeight, m.width, m.height),
		fmt.Sprintf("needs %d×%d; is %d×%d", minWidth, minHeight, m.width, m.height),
		fmt.Sprintf("needs %d×%d", minWidth, minHeight),
		"too small",
		"small",
	} {
		lines := strings.Split(ansi.Wordwrap(msg, w, " "), "\n")
		if len(lines) > h {
			continue
		}
		fits := true
		for _, l := range lines {
			fits = fits && ansi.StringWidth(l) <= w
		}
		if fits {
			return strings.Join(lines, "\n")
		}
	}
	return ansi.Truncate("…", w, "")
}

// header names the tool, the stream's state and the help key.
func (m *Model) header() string {
	state := m.styles.OK.Render("live")
	switch m.conn {
	case connecting:
		state = m.styles.Dim.Render("connecting…")
	case lost:
		state = m.styles.Bad.Render("daemon gone, reconnecting…")
	}
	left := m.styles.Title.Render("krellin") + " · " + state
	right := "? help"
	gap := m.width - ansi.StringWidth(left) - len(right)
	if gap < 1 {
		return ansi.Truncate(left, m.width, "…")
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) mainView() string {
	var b strings.Builder
	b.WriteString(m.caps.Heading() + "\n")
	b.WriteString(m.caps.View(m.focus == capsulePane) + "\n")
	b.WriteString(m.logTitle() + "\n")
	b.WriteString(m.acts.Heading() + "\n")
	b.WriteString(m.acts.View(m.focus == actionPane, m.now()))
	if l := m.acts.Live(); l != nil {
		tail := l.Tail(liveLines)
		if l.Lost != "" {
			tail = append(tail, "lost: "+l.Lost)
			tail = tail[max(0, len(tail)-liveLines):]
		}
		for i := 0; i < liveLines; i++ {
			line := ""
			if i < len(tail) {
				line = tail[i]
			}
			b.WriteString("\n" + m.styles.Dim.Render(ansi.Truncate("  │ "+line, m.width, "…")))
		}
	}
	return b.String()
}

// logTitle names the session whose log is shown.
func (m *Model) logTitle() string {
	if m.shown.Repo == "" {
		return m.styles.Title.Render("actions")
	}
	follow := ""
	if m.acts.Following() {
		follow = " · following"
	}
	t := fmt.Sprintf("%s · %s · %s%s", m.shown.Session, filepath.Base(m.shown.Repo), plural(max(0, m.acts.Len()-1), "action"), follow)
	return m.styles.Title.Render(ansi.Truncate(termsafe.Line(t), m.width, "…"))
}

// plural counts n things: "1 action", "2 actions".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// statusLine is the prompt, a question, a notice, or the short help.
func (m *Model) statusLine() string {
	var line string
	switch {
	case m.prompt != nil:
		line = m.prompt.View(m.width)
	case m.confirm != nil:
		line = m.styles.Warn.Render(ansi.Truncate(termsafe.Line(m.confirm.question), m.width, "…"))
	case m.notice != "":
		st := m.styles.Bad
		if m.noticeOK {
			st = m.styles.Dim
		}
		line = st.Render(ansi.Truncate(m.notice, m.width, "…"))
	}
	return line + "\n" + m.shortHelp()
}

func (m *Model) shortHelp() string {
	var parts []string
	for _, b := range m.keys.ShortHelp() {
		h := b.Help()
		parts = append(parts, m.styles.Key.Render(h.Key)+" "+h.Desc)
	}
	return ansi.Truncate(strings.Join(parts, "  "), m.width, "…")
}

// helpView lists every key: in a box, in two columns when the window
// is wide, or packed in two columns without a box when it is small.
func (m *Model) helpView() string {
	var cols []string
	var all []string
	for _, group := range m.keys.FullHelp() {
		var lines []string
		for _, b := range group {
			lines = append(lines, helpLine(m, b))
		}
		all = append(all, lines...)
		cols = append(cols, strings.Join(lines, "\n"))
	}
	body := strings.Join(cols, "\n")
	if m.width >= 80 {
		body = lipgloss.JoinHorizontal(lipgloss.Top, cols[0], "   ", cols[1])
	}
	note := ansi.Wordwrap("The prompt runs sh -c LINE: enter runs, esc cancels. ? or esc closes this.",
		max(10, lipgloss.Width(body)), " ")
	box := m.styles.Box.Render(m.styles.Title.Render("keys") + "\n\n" + body + "\n\n" + m.styles.Dim.Render(note))
	if lipgloss.Width(box) <= m.width && lipgloss.Height(box) <= m.height-3 {
		return lipgloss.Place(m.width, m.height-3, lipgloss.Center, lipgloss.Center, box)
	}
	half := (len(all) + 1) / 2
	var b strings.Builder
	for i := 0; i < half; i++ {
		left := ansi.Truncate(all[i], m.width/2-1, "…")
		b.WriteString(left + strings.Repeat(" ", max(1, m.width/2-ansi.StringWidth(left))))
		if i+half < len(all) {
			b.WriteString(ansi.Truncate(all[i+half], m.width-m.width/2-1, "…"))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func helpLine(m *Model, b key.Binding) string {
	h := b.Help()
	return m.styles.Key.Render(fmt.Sprintf("%-7s", h.Key)) + " " + h.Desc
}

// replayRunning says which step the replay is at and for how long it
// has run: progress arrives only as steps finish.
func (m *Model) replayRunning() string {
	took := m.now().Sub(m.replayFrom).Round(time.Second).String()
	if m.replayTotal == 0 || m.replayStep >= m.replayTotal {
		return "replaying… " + took
	}
	return fmt.Sprintf("replaying step %d of %d… %s", m.replayStep+1, m.replayTotal, took)
}

func (m *Model) replayView() string {
	var b strings.Builder
	b.WriteString(m.styles.Title.Render("replay of "+m.shown.Session) + "\n")
	lines := m.replayLines
	if keep := m.height - 10; len(lines) > keep {
		lines = lines[len(lines)-max(1, keep):]
	}
	for _, l := range lines {
		b.WriteString(ansi.Truncate("  "+l, m.width, "…") + "\n")
	}
	switch r := m.replayReport; {
	case r != nil && r.Matched:
		text := fmt.Sprintf("matched: %s replayed into %s, every exit status and tree the same", r.Session, r.Into)
		b.WriteString("\n" + m.styles.OK.Render(ansi.Wordwrap(termsafe.Line(text), m.width, " ")) + "\n")
	case r != nil:
		text := "diverged: " + termsafe.Line(r.Divergence)
		b.WriteString("\n" + m.styles.Bad.Render(ansi.Wordwrap(text, m.width, " ")) + "\n")
	case m.replayBusy:
		b.WriteString("\n" + m.styles.Busy.Render(ansi.Truncate(m.replayRunning(), m.width, "…")) + "\n")
	}
	if r := m.replayReport; r != nil && len(r.OutputDiff) > 0 {
		b.WriteString(m.styles.Warn.Render(fmt.Sprintf("output differs at seq %v", r.OutputDiff)) + "\n")
	}
	b.WriteString(m.styles.Dim.Render("esc: back"))
	return b.String()
}
