package detail

import (
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/theme"
)

func styles(p termenv.Profile) theme.Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(p)
	return theme.New(r)
}

const diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new \x1b[2J\n context\n"

func TestDiff_ColoursByLineKind(t *testing.T) {
	out := strings.Split(Diff(diff, styles(termenv.ANSI)), "\n")
	tests := []struct {
		line int
		want string // the SGR sequence that opens the line
	}{
		{3, "\x1b[36m"}, // hunk
		{4, "\x1b[31m"}, // removed
		{5, "\x1b[32m"}, // added
	}
	for _, tt := range tests {
		if !strings.HasPrefix(out[tt.line], tt.want) {
			t.Errorf("line %d %q does not start with %q", tt.line, out[tt.line], tt.want)
		}
	}
	if strings.Contains(out[6], "\x1b") {
		t.Errorf("context line is coloured: %q", out[6])
	}
	if !strings.Contains(out[5], "^[[2J") {
		t.Errorf("escape in the diff not neutralised: %q", out[5])
	}
}

func TestDiff_NoColourWithoutAColourTerminal(t *testing.T) {
	if got := Diff(diff, styles(termenv.Ascii)); strings.Contains(got, "\x1b") {
		t.Errorf("escape sequences without colour:\n%q", got)
	}
}

func TestRender_ShowsEverythingRecorded(t *testing.T) {
	code := 3
	d := api.Detail{
		Action: api.Action{Seq: 2, Action: "run", Status: "ok", ExitCode: &code, Argv: []string{"make", "x y"},
			DurationMS: 1500, Stdout: &api.Output{Bytes: 200000, Cut: true}, Stderr: &api.Output{Bytes: 4}},
		Stdout: []byte("head\x1b]0;t\x07\n"), Stderr: []byte("err\n"), Diff: diff,
	}
	got := Render(d, styles(termenv.Ascii))
	for _, want := range []string{"make 'x y'", "exit 3", "1.5s", "stdout, 200000 bytes (the note keeps 11: head and tail)",
		"head^[]0;t^G", "stderr, 4 bytes", "err", "+new"} {
		if !strings.Contains(got, want) {
			t.Errorf("render lacks %q:\n%s", want, got)
		}
	}
}

func TestModel_ScrollsLongOutput(t *testing.T) {
	m := New(styles(termenv.Ascii))
	m.SetSize(40, 10)
	out := strings.Repeat("line\n", 500) + "the end\n"
	m.SetDetail(api.Detail{Action: api.Action{Seq: 1, Action: "run", Status: "ok", Stdout: &api.Output{Bytes: int64(len(out))}},
		Stdout: []byte(out)})
	if strings.Contains(m.View(), "the end") {
		t.Fatal("the end shows before scrolling")
	}
	m.Bottom()
	if !strings.Contains(m.View(), "the end") || !strings.Contains(m.View(), "100%") {
		t.Fatalf("bottom:\n%s", m.View())
	}
	if n := strings.Count(m.View(), "\n") + 1; n != 10 {
		t.Errorf("view is %d lines, want 10", n)
	}
}
