package prompt

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func typed(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func TestModel_Update(t *testing.T) {
	tests := []struct {
		name string
		keys []tea.KeyMsg
		want string
		res  Result
	}{
		{"typing", []tea.KeyMsg{typed("go test"), {Type: tea.KeyEnter}}, "go test", Submitted},
		{"backspace", []tea.KeyMsg{typed("abc"), {Type: tea.KeyBackspace}}, "ab", Editing},
		{"insert in the middle", []tea.KeyMsg{typed("ac"), {Type: tea.KeyLeft}, typed("b")}, "abc", Editing},
		{"home and delete", []tea.KeyMsg{typed("xab"), {Type: tea.KeyHome}, {Type: tea.KeyDelete}}, "ab", Editing},
		{"kill to the start", []tea.KeyMsg{typed("abc"), {Type: tea.KeyLeft}, {Type: tea.KeyCtrlU}}, "c", Editing},
		{"a pasted newline is dropped", []tea.KeyMsg{typed("a\nb\x1b")}, "ab", Editing},
		{"escape cancels", []tea.KeyMsg{typed("rm"), {Type: tea.KeyEsc}}, "rm", Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("$ ")
			res := Editing
			for _, k := range tt.keys {
				m, res = m.Update(k)
			}
			if m.Value() != tt.want || res != tt.res {
				t.Errorf("value %q result %d, want %q %d", m.Value(), res, tt.want, tt.res)
			}
		})
	}
}

func TestFields(t *testing.T) {
	if got := Fields("  "); got != nil {
		t.Errorf("blank line: %q", got)
	}
	if got := Fields("ls | wc"); len(got) != 3 || got[2] != "ls | wc" {
		t.Errorf("Fields = %q", got)
	}
}
