package capsules

import (
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/theme"
)

func plain() theme.Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return theme.New(r)
}

func entries() []Entry {
	a := api.Status{Repo: "/src/a", State: "running", Session: "s2", Busy: true, Running: "run: make"}
	b := api.Status{Repo: "/src/b", State: "stopped", Session: "s1"}
	return []Entry{
		{Capsule: a, Session: api.Session{Name: "s1", Actions: 4, Image: "sha256:0123456789abcdef", Base: "abcdef0123"}},
		{Capsule: a, Session: api.Session{Name: "s2", Actions: 9, Image: "sha256:0123456789abcdef", Base: "abcdef0123"}},
		{Capsule: b, Session: api.Session{Name: "s1", Actions: 1}},
	}
}

func TestEntry_State(t *testing.T) {
	want := []string{"recorded", "busy", "stopped"}
	for i, e := range entries() {
		if got := e.State(); got != want[i] {
			t.Errorf("entry %d: state %q, want %q", i, got, want[i])
		}
	}
}

func TestModel_SetSelects(t *testing.T) {
	tests := []struct {
		name   string
		before int // cursor before the second Set, -1 for no first Set
		prefer string
		want   string
	}{
		{"the preferred repository's current session", -1, "/src/a", "/src/a s2"},
		{"the first when nothing is preferred", -1, "", "/src/a s1"},
		{"the same session after a reload", 2, "/src/a", "/src/b s1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(plain())
			m.SetSize(80, 5)
			if tt.before >= 0 {
				m.Set(entries(), "")
				m.Move(tt.before)
			}
			m.Set(entries(), tt.prefer)
			e, _ := m.Selected()
			if got := e.Capsule.Repo + " " + e.Session.Name; got != tt.want {
				t.Errorf("selected %q, want %q", got, tt.want)
			}
		})
	}
}

func TestModel_ViewShowsStateAndFlight(t *testing.T) {
	m := New(plain())
	m.SetSize(100, 5)
	m.Set(entries(), "/src/a")
	v := m.View(true)
	for _, want := range []string{"s2*", "busy", "run: make", "0123456789ab", "abcdef01", "stopped", "recorded"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	m.Recorded("/src/a", "s2", 10)
	if v := m.View(true); strings.Contains(v, "run: make") || !strings.Contains(v, "10") {
		t.Errorf("after a recorded action:\n%s", v)
	}
	for _, w := range []int{40, 80} {
		m.SetSize(w, 5)
		for _, line := range append(strings.Split(m.View(true), "\n"), m.Heading()) {
			if ansi.StringWidth(line) > w {
				t.Errorf("width %d: %q", w, line)
			}
		}
	}
}
