// Package prompt is the TUI's one-line editor for a command to run in
// the capsule.
package prompt

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/krellin/krellin/termsafe"
)

// Result says what a key did to the line.
type Result int

// What a key can do.
const (
	Editing   Result = iota
	Submitted        // enter: Value is the line
	Cancelled        // esc or ctrl+c
)

// Model is the line being edited.
type Model struct {
	Label string
	line  []rune
	pos   int
}

// New returns an empty line shown after label.
func New(label string) Model { return Model{Label: label} }

// Value is the line as typed.
func (m Model) Value() string { return string(m.line) }

// Update edits the line with one key.
func (m Model) Update(k tea.KeyMsg) (Model, Result) {
	switch k.Type {
	case tea.KeyEnter:
		return m, Submitted
	case tea.KeyEsc, tea.KeyCtrlC:
		return m, Cancelled
	case tea.KeyBackspace, tea.KeyCtrlH:
		if m.pos > 0 {
			m.line = append(m.line[:m.pos-1:m.pos-1], m.line[m.pos:]...)
			m.pos--
		}
	case tea.KeyDelete, tea.KeyCtrlD:
		if m.pos < len(m.line) {
			m.line = append(m.line[:m.pos:m.pos], m.line[m.pos+1:]...)
		}
	case tea.KeyLeft, tea.KeyCtrlB:
		m.pos = max(0, m.pos-1)
	case tea.KeyRight, tea.KeyCtrlF:
		m.pos = min(len(m.line), m.pos+1)
	case tea.KeyHome, tea.KeyCtrlA:
		m.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		m.pos = len(m.line)
	case tea.KeyCtrlU:
		m.line, m.pos = m.line[m.pos:], 0
	case tea.KeyCtrlK:
		m.line = m.line[:m.pos]
	case tea.KeyRunes, tea.KeySpace:
		m.insert(k.Runes)
	}
	return m, Editing
}

// insert puts typed or pasted runes at the cursor; line breaks and
// other control characters in a paste are dropped.
func (m *Model) insert(rs []rune) {
	var keep []rune
	for _, r := range rs {
		if r >= 0x20 && r != 0x7f {
			keep = append(keep, r)
		}
	}
	tail := append(keep, m.line[m.pos:]...)
	m.line = append(m.line[:m.pos:m.pos], tail...)
	m.pos += len(keep)
}

// View draws the label and the line with a block cursor, scrolled so
// the cursor stays within width.
func (m Model) View(width int) string {
	before := termsafe.Line(string(m.line[:m.pos]))
	after := termsafe.Line(string(m.line[m.pos:]))
	room := max(1, width-ansi.StringWidth(m.Label)-1)
	if w := ansi.StringWidth(before); w >= room {
		before = ansi.TruncateLeft(before, w-room+1, "")
	}
	cursor := "█"
	if after != "" {
		r := []rune(after)
		cursor = "\x1b[7m" + string(r[0]) + "\x1b[27m"
		after = string(r[1:])
	}
	line := m.Label + before + cursor + after
	return ansi.Truncate(line, width, "")
}

// Fields is the typed line as the argv to run: sh -c LINE, so pipes and
// globs work as at a shell prompt. An empty line gives nil.
func Fields(line string) []string {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	return []string{"sh", "-c", line}
}
