package actions

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

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

func log(n int) []api.Action {
	acts := make([]api.Action, n)
	for i := range acts {
		code := 0
		acts[i] = api.Action{Seq: i, Action: "run", Status: "ok", ExitCode: &code, Argv: []string{"echo", strconv.Itoa(i)}}
	}
	return acts
}

func TestModel_ViewDrawsOnlyTheVisibleWindow(t *testing.T) {
	m := New(plain())
	m.SetSize(80, 10)
	m.SetActions(log(10000))
	now := time.Now()
	start := time.Now()
	for range 1000 {
		m.Move(-7)
		if got := strings.Count(m.View(true, now), "\n") + 1; got != 10 {
			t.Fatalf("view has %d lines, want 10", got)
		}
	}
	// A thousand redraws of a 10,000-row log take a fraction of a second
	// when only the window is drawn.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("1000 moves and views took %s", d)
	}
}

func TestModel_CursorStaysInTheWindow(t *testing.T) {
	tests := []struct {
		name    string
		do      func(*Model)
		wantSel int
	}{
		{"starts at the newest", func(*Model) {}, 99},
		{"up one", func(m *Model) { m.Move(-1) }, 98},
		{"page up", func(m *Model) { m.Page(-1) }, 89},
		{"top", func(m *Model) { m.Top() }, 0},
		{"past the top", func(m *Model) { m.Move(-500) }, 0},
		{"past the bottom", func(m *Model) { m.Top(); m.Move(500) }, 99},
		{"bottom after top", func(m *Model) { m.Top(); m.Bottom() }, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(plain())
			m.SetSize(80, 10)
			m.SetActions(log(100))
			tt.do(&m)
			a, ok := m.Selected()
			if !ok || a.Seq != tt.wantSel {
				t.Fatalf("selected %d %v, want %d", a.Seq, ok, tt.wantSel)
			}
			if !strings.Contains(m.View(true, time.Now()), "> "+strconv.Itoa(tt.wantSel)+" ") {
				t.Errorf("the cursor's row is not drawn:\n%s", m.View(true, time.Now()))
			}
		})
	}
}

func TestModel_Finish(t *testing.T) {
	tests := []struct {
		name     string
		seq      int
		wantOK   bool
		wantRows int
	}{
		{"next seq is appended", 5, true, 6},
		{"a known seq is ignored", 3, true, 5},
		{"a gap asks for a reload", 7, false, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(plain())
			m.SetSize(80, 10)
			m.SetActions(log(5))
			m.Start("run: x", "", time.Now())
			ok := m.Finish(api.Action{Seq: tt.seq, Action: "run", Status: "ok"})
			if ok != tt.wantOK || m.Len() != tt.wantRows || m.Live() != nil {
				t.Fatalf("Finish = %v with %d rows (live %v), want %v with %d", ok, m.Len(), m.Live(), tt.wantOK, tt.wantRows)
			}
		})
	}
}

func TestModel_FollowsTheNewestRowOnlyFromTheBottom(t *testing.T) {
	m := New(plain())
	m.SetSize(80, 5)
	m.SetActions(log(10))
	m.Start("run: x", "", time.Now())
	if !m.OnLive() {
		t.Fatal("following: the cursor should move to the action in flight")
	}
	m.Top()
	m.Finish(api.Action{Seq: 10, Action: "run", Status: "ok"})
	if a, _ := m.Selected(); a.Seq != 0 {
		t.Fatalf("not following: the cursor moved to %d", a.Seq)
	}
	m.SetActions(log(12))
	if a, _ := m.Selected(); a.Seq != 0 {
		t.Fatalf("a reload moved the cursor to %d", a.Seq)
	}
}

func TestModel_RowsFitTheWidth(t *testing.T) {
	acts := log(3)
	acts[1].Argv = []string{"sh", "-c", strings.Repeat("wide ", 50) + "界界界"}
	for _, w := range []int{40, 80, 200} {
		m := New(plain())
		m.SetSize(w, 10)
		m.SetActions(acts)
		m.Start("run: "+strings.Repeat("y", 300), "", time.Now())
		for _, line := range append(strings.Split(m.View(true, time.Now()), "\n"), m.Heading()) {
			if got := ansi.StringWidth(line); got > w {
				t.Errorf("width %d: a line is %d wide: %q", w, got, line)
			}
		}
	}
}

func TestClean_NeutralisesControlSequences(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\n", "plain\n"},
		{"crlf\r\nline", "crlf\nline"},
		{"\x1b[31mred\x1b[0m", "^[[31mred^[[0m"},
		{"title\x1b]0;x\x07", "title^[]0;x^G"},
		{"csi\u009b2J", `csi\u009b2J`},
		{"tab\tstop", "tab    stop"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		if got := Clean([]byte(tt.in)); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLive_KeepsTheNewestOutput(t *testing.T) {
	var l Live
	l.Append([]byte(strings.Repeat("a", maxLive)))
	l.Append([]byte("\nlast line\n"))
	if len(l.Output) != maxLive || l.Dropped != 11 {
		t.Fatalf("kept %d, dropped %d", len(l.Output), l.Dropped)
	}
	if tail := l.Tail(1); len(tail) != 1 || tail[0] != "last line" {
		t.Fatalf("tail %q", tail)
	}
}

func TestModel_LoseThenSettle(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		running  bool
		dropped  bool
		wantLive bool
	}{
		{"the daemon still runs it", true, false, true},
		{"the daemon runs nothing", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(theme.Styles{})
			m.SetSize(80, 10)
			m.Start("run: sleep 9", "", at)
			m.Lose("the daemon went away", at.Add(3*time.Second))
			m.Lose("its end was not seen", at.Add(5*time.Second))
			if l := m.Live(); l.Lost != "the daemon went away" {
				t.Fatalf("lost %q: the first reason must stay", l.Lost)
			}
			if v := m.View(false, at.Add(time.Minute)); !strings.Contains(v, "lost") || !strings.Contains(v, "3.0s") {
				t.Errorf("a lost row shows its status and the time until lost:\n%s", v)
			}
			if got := m.Settle(tt.running); got != tt.dropped {
				t.Errorf("Settle(%v) = %v", tt.running, got)
			}
			if (m.Live() != nil) != tt.wantLive {
				t.Errorf("live row %+v", m.Live())
			}
			if l := m.Live(); l != nil && l.Lost != "" {
				t.Errorf("a row still running is no longer lost: %q", l.Lost)
			}
		})
	}
	m := New(theme.Styles{})
	m.Start("run: make", "", at)
	if m.Settle(false) {
		t.Error("Settle dropped a row never marked lost")
	}
}
