package patch

import (
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

func TestFindName(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		def   string
		strip int
		want  string
	}{
		{"strip one", "a/dir/f.txt\n", "", 1, "dir/f.txt"},
		{"strip none", "f.txt\n", "", 0, "f.txt"},
		{"too few components", "f.txt\n", "", 1, ""},
		{"too few falls back", "f.txt\n", "g", 1, "g"},
		{"tab timestamp", "a/f.txt\t2024-01-31 12:00:00.123456789 +0000\n", "", 1, "f.txt"},
		{"spaces in name", "my file.txt\t2024-01-31 12:00:00 +0100\n", "", 0, "my file.txt"},
		{"space timestamp", "my file.txt  2024-01-31 12:00:00\n", "", 0, "my file.txt"},
		{"colon zone", "f.txt\t2024-01-31 12:00:00 +01:00\n", "", 0, "f.txt"},
		{"tab ends name", "f.txt\tnot a date\n", "", 0, "f.txt"},
		{"space kept without date", "f g.txt\n", "", 0, "f g.txt"},
		{"carriage return ends name", "f.txt\r\n", "", 0, "f.txt"},
		{"shorter default wins", "f.txt.orig\n", "f.txt", 0, "f.txt"},
		{"longer default loses", "f\n", "f.txt", 0, "f"},
		{"unrelated default loses", "new.txt\n", "old.txt", 0, "new.txt"},
		// git strips before it squashes, so this name turns absolute and is refused.
		{"double slashes", "a//b//c\n", "", 1, "/b/c"},
		{"quoted", "\"a/t\\tab\\303\\251.txt\"\n", "", 1, "t\tab\u00e9.txt"},
		{"quoted with date", "\"a/x y\"\t2024-01-31 12:00:00\n", "", 1, "x y"},
		{"bad quote falls back", "\"a/x\\q\"\n", "", 1, "x\\q\""},
		{"absolute stripped", "/etc/x\n", "", 1, "etc/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := findName(tt.line, tt.def, tt.strip); got != tt.want {
				t.Errorf("findName(%q, %q, %d) = %q, want %q", tt.line, tt.def, tt.strip, got, tt.want)
			}
		})
	}
}

func TestHasEpochTimestamp(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"a/f\t1970-01-01 00:00:00.000000000 +0000\n", true},
		{"a/f\t1970-01-01 01:00:00.000000000 +0100\n", true},
		{"a/f\t1969-12-31 16:00:00 -0800\n", true},
		{"a/f\t1969-12-31 19:00:00.0 -05:00\n", true},
		{"a/f\t1970-01-01 00:00:00.000000001 +0000\n", false},
		{"a/f\t1970-01-01 01:00:00 +0000\n", false},
		{"a/f\t2024-01-31 00:00:00 +0000\n", false},
		{"a/f 1970-01-01 00:00:00 +0000\n", false},
	}
	for _, tt := range tests {
		if got := hasEpochTimestamp(tt.line); got != tt.want {
			t.Errorf("hasEpochTimestamp(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestTraditionalNamer(t *testing.T) {
	hunk := []*gitdiff.TextFragment{{OldLines: 1, NewLines: 1}}
	add := []*gitdiff.TextFragment{{OldLines: 0, NewLines: 1}}
	tests := []struct {
		name     string
		old, new string
		frags    []*gitdiff.TextFragment
		wantOld  string
		wantNew  string
		maybeNew bool
	}{
		{"git style", "a/x/f\n", "b/x/f\n", hunk, "x/f", "x/f", false},
		{"plain", "f.orig\n", "f\n", hunk, "f", "f", false},
		{"plain picks the new name", "old\n", "new\n", hunk, "new", "new", false},
		{"from dev null", "/dev/null\n", "b/n\n", add, "", "n", false},
		{"to dev null", "a/g\n", "/dev/null\n", []*gitdiff.TextFragment{{OldLines: 1}}, "g", "", false},
		{"epoch creates", "a/n\t1970-01-01 00:00:00 +0000\n", "b/n\t2024-01-01 00:00:00 +0000\n", add, "", "n", false},
		{"epoch deletes", "a/g\t2024-01-01 00:00:00 +0000\n", "b/g\t1970-01-01 00:00:00 +0000\n", []*gitdiff.TextFragment{{OldLines: 1}}, "g", "", false},
		{"additions only may create", "a/g\n", "b/g\n", add, "g", "g", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &filePatch{f: &gitdiff.File{TextFragments: tt.frags}}
			if err := newTraditionalNamer().name(fp, tt.old, tt.new); err != nil {
				t.Fatal(err)
			}
			if fp.oldName != tt.wantOld || fp.newName != tt.wantNew || fp.maybeNew != tt.maybeNew {
				t.Errorf("got %q -> %q (maybe new %v), want %q -> %q (%v)",
					fp.oldName, fp.newName, fp.maybeNew, tt.wantOld, tt.wantNew, tt.maybeNew)
			}
		})
	}
}

func TestTraditionalNamer_GuessIsKept(t *testing.T) {
	n := newTraditionalNamer()
	first := &filePatch{f: &gitdiff.File{TextFragments: []*gitdiff.TextFragment{{OldLines: 1, NewLines: 1}}}}
	if err := n.name(first, "f.orig\n", "f\n"); err != nil {
		t.Fatal(err)
	}
	second := &filePatch{f: first.f}
	if err := n.name(second, "a/g\n", "b/g\n"); err != nil {
		t.Fatal(err)
	}
	if second.newName != "b/g" {
		t.Errorf("second name %q, want b/g: a guess of no stripping holds for the whole patch", second.newName)
	}
}
