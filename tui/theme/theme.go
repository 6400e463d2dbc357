// Package theme holds the TUI's styles. Colours are the 16 basic ANSI
// ones, which every colour terminal has; the renderer's profile decides
// whether they are drawn at all (lipgloss reads the terminal and
// NO_COLOR), so nothing the TUI shows depends on colour alone.
package theme

import "github.com/charmbracelet/lipgloss"

// Styles is every style the TUI draws with.
type Styles struct {
	Title    lipgloss.Style // pane titles, the header
	Header   lipgloss.Style // column headings
	Selected lipgloss.Style // the cursor's row in the focused pane
	Dim      lipgloss.Style // secondary text
	OK       lipgloss.Style // exit 0, running
	Bad      lipgloss.Style // failures, errors
	Warn     lipgloss.Style // timed out, interrupted, stopped
	Busy     lipgloss.Style // an action in flight
	Key      lipgloss.Style // key names in help
	DiffAdd  lipgloss.Style
	DiffDel  lipgloss.Style
	DiffHunk lipgloss.Style
	DiffFile lipgloss.Style
	Box      lipgloss.Style // overlays: help, confirmation
}

// New returns the styles for a renderer, whose colour profile decides
// how much of them shows.
func New(r *lipgloss.Renderer) Styles {
	fg := func(c string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(c)) }
	return Styles{
		Title:    r.NewStyle().Bold(true),
		Header:   r.NewStyle().Bold(true).Underline(true),
		Selected: r.NewStyle().Reverse(true),
		Dim:      r.NewStyle().Faint(true),
		OK:       fg("2"),
		Bad:      fg("1"),
		Warn:     fg("3"),
		Busy:     fg("6"),
		Key:      fg("5").Bold(true),
		DiffAdd:  fg("2"),
		DiffDel:  fg("1"),
		DiffHunk: fg("6"),
		DiffFile: r.NewStyle().Bold(true),
		Box:      r.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
	}
}
