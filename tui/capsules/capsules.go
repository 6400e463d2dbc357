// Package capsules is the TUI's list of capsules and their sessions: one
// row per session, the capsule's current session showing the capsule's
// state and the action in flight.
package capsules

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/actions"
	"github.com/krellin/krellin/tui/theme"
)

// Entry is one session of one capsule.
type Entry struct {
	Capsule api.Status
	Session api.Session
}

// Current reports whether the entry is the session its capsule runs.
func (e Entry) Current() bool { return e.Session.Name == e.Capsule.Session }

// Target is what requests about the entry name.
func (e Entry) Target() api.Target {
	return api.Target{Repo: e.Capsule.Repo, Session: e.Session.Name}
}

// State is the entry's state in a word: the capsule's for its current
// session ("busy" while an action runs), "recorded" for the others.
func (e Entry) State() string {
	switch {
	case !e.Current():
		return "recorded"
	case e.Capsule.Busy:
		return "busy"
	}
	return termsafe.Line(e.Capsule.State)
}

// Model is the list.
type Model struct {
	entries []Entry
	cursor  int
	offset  int
	width   int
	height  int
	styles  theme.Styles
}

// New returns an empty list.
func New(st theme.Styles) Model { return Model{styles: st} }

// SetSize sets the rows and columns the list may use.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = width, max(1, height)
	m.clamp()
}

// Set replaces the entries, keeping the cursor on the same session, or
// else on prefer's current session (a repository path), or the first.
func (m *Model) Set(entries []Entry, prefer string) {
	old, had := m.Selected()
	m.entries = entries
	m.cursor = 0
	found := false
	for i, e := range entries {
		if had && e.Capsule.Repo == old.Capsule.Repo && e.Session.Name == old.Session.Name {
			m.cursor, found = i, true
		}
	}
	for i, e := range entries {
		if !found && !had && e.Capsule.Repo == prefer && e.Current() {
			m.cursor = i
		}
	}
	m.clamp()
}

// Len is the number of entries.
func (m Model) Len() int { return len(m.entries) }

// Selected returns the entry under the cursor.
func (m Model) Selected() (Entry, bool) {
	if m.cursor < len(m.entries) {
		return m.entries[m.cursor], true
	}
	return Entry{}, false
}

// Move moves the cursor by n rows.
func (m *Model) Move(n int) {
	m.cursor += n
	m.clamp()
}

// Busy marks repo's capsule busy with running, or idle when running is "".
func (m *Model) Busy(repo, running string) {
	for i := range m.entries {
		if c := &m.entries[i].Capsule; c.Repo == repo {
			c.Busy, c.Running = running != "", running
		}
	}
}

// InFlight returns what repo's capsule runs ("" when idle), and whether
// the list has that capsule.
func (m Model) InFlight(repo string) (string, bool) {
	for _, e := range m.entries {
		if e.Capsule.Repo == repo {
			return e.Capsule.Running, true
		}
	}
	return "", false
}

// Runs reports whether repo's capsule runs an action in session, its
// current one.
func (m Model) Runs(repo, session string) bool {
	for _, e := range m.entries {
		if e.Capsule.Repo == repo && e.Session.Name == session && e.Current() {
			return e.Capsule.Busy
		}
	}
	return false
}

// Recorded counts a new action on repo's current session.
func (m *Model) Recorded(repo, session string, seq int) {
	for i := range m.entries {
		e := &m.entries[i]
		if e.Capsule.Repo == repo && e.Session.Name == session {
			e.Session.Actions = max(e.Session.Actions, seq)
			e.Capsule.Busy, e.Capsule.Running = false, ""
		}
	}
}

func (m *Model) clamp() {
	m.cursor = max(0, min(m.cursor, len(m.entries)-1))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+m.height {
		m.offset = m.cursor - m.height + 1
	}
	m.offset = max(0, min(m.offset, len(m.entries)-m.height))
}

// Heading is the column headings line.
func (m Model) Heading() string {
	return m.styles.Header.Render(ansi.Truncate("  "+pad("REPOSITORY", 16)+pad("SESSION", 14)+pad("STATE", 10)+
		pad("IMAGE", 13)+pad("BASE", 9)+pad("ACTS", 6)+"IN FLIGHT", m.width, ""))
}

// View draws the visible rows; focused highlights the cursor's row.
func (m Model) View(focused bool) string {
	if len(m.entries) == 0 {
		return m.styles.Dim.Render("  no capsules: start one with `krellin up` in a repository")
	}
	var lines []string
	for i := m.offset; i < min(len(m.entries), m.offset+m.height); i++ {
		lines = append(lines, m.row(i, focused))
	}
	return strings.Join(lines, "\n")
}

func (m Model) row(i int, focused bool) string {
	e := m.entries[i]
	mark := "  "
	if i == m.cursor {
		mark = "> "
	}
	name := e.Session.Name
	if e.Current() {
		name += "*"
	}
	flight := ""
	if e.Current() && e.Capsule.Busy {
		flight = e.Capsule.Running
	}
	state := e.State()
	line := mark + pad(filepath.Base(e.Capsule.Repo), 16) + pad(name, 14)
	tail := pad(actions.Short(e.Session.Image), 13) + pad(shortCommit(e.Session.Base), 9) +
		pad(strconv.Itoa(e.Session.Actions), 6) + termsafe.Line(flight)
	plain := ansi.Truncate(line+pad(state, 10)+tail, m.width, "")
	if i == m.cursor && focused {
		return m.styles.Selected.Render(plain + strings.Repeat(" ", max(0, m.width-ansi.StringWidth(plain))))
	}
	return ansi.Truncate(line+m.stateStyle(state).Render(pad(state, 10))+tail, m.width, "")
}

func (m Model) stateStyle(state string) lipgloss.Style {
	switch state {
	case "running":
		return m.styles.OK
	case "busy":
		return m.styles.Busy
	case "recorded":
		return m.styles.Dim
	}
	return m.styles.Warn
}

func shortCommit(c string) string {
	if len(c) > 8 {
		return c[:8]
	}
	return c
}

func pad(s string, w int) string {
	s = ansi.Truncate(termsafe.Line(s), w-1, "…")
	return s + strings.Repeat(" ", w-ansi.StringWidth(s))
}
