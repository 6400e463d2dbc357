// Package keys is the TUI's one key map: every binding with its help
// text, so the help overlay and the footer cannot drift from what the
// keys do.
package keys

import "github.com/charmbracelet/bubbles/key"

// Map is every key the TUI answers to.
type Map struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Focus, Open, Back                       key.Binding
	Run, ResetTo, ResetBase, Replay         key.Binding
	Stop, Remove, Reload, Help, Quit        key.Binding
	Interrupt, Yes                          key.Binding
}

// Default returns the key map.
func Default() Map {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return Map{
		Up:        b("↑/k", "up", "up", "k"),
		Down:      b("↓/j", "down", "down", "j"),
		PageUp:    b("pgup", "page up", "pgup", "ctrl+u"),
		PageDown:  b("pgdn", "page down", "pgdown", "ctrl+d", " "),
		Top:       b("g/home", "first", "g", "home"),
		Bottom:    b("G/end", "newest, and follow", "G", "end"),
		Focus:     b("tab", "capsules / actions", "tab", "shift+tab"),
		Open:      b("enter", "detail", "enter"),
		Back:      b("esc", "back, cancel", "esc"),
		Run:       b(":", "run command", ":"),
		ResetTo:   b("r", "reset to selected", "r"),
		ResetBase: b("R", "reset to base", "R"),
		Replay:    b("p", "replay", "p"),
		Stop:      b("s", "stop the capsule", "s"),
		Remove:    b("D", "remove the capsule", "D"),
		Reload:    b("ctrl+l", "reload everything", "ctrl+l"),
		Help:      b("?", "help", "?"),
		Quit:      b("q", "quit", "q"),
		Interrupt: b("ctrl+c", "interrupt the command; quit if none", "ctrl+c"),
		Yes:       b("y", "confirm (any other key cancels)", "y", "Y"),
	}
}

// ShortHelp is the footer: the keys a person needs first.
func (m Map) ShortHelp() []key.Binding {
	return []key.Binding{m.Open, m.Run, m.ResetTo, m.Replay, m.Help, m.Quit}
}

// FullHelp is the help overlay, by topic.
func (m Map) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.Up, m.Down, m.PageUp, m.PageDown, m.Top, m.Bottom, m.Focus, m.Open, m.Back},
		{m.Run, m.ResetTo, m.ResetBase, m.Replay, m.Stop, m.Remove, m.Yes, m.Reload, m.Help, m.Interrupt, m.Quit},
	}
}
