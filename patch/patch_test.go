package patch

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gitCase is a patch applied both by Apply and by `git apply`.
type gitCase struct {
	name   string
	before tree   // the tree the diff is made from
	after  tree   // the tree the diff is made to
	base   tree   // the workspace to patch, if not before
	diff   differ // how the diff is made
	fails  bool   // git apply refuses the patch
	ops    []string
	want   string // text the diff must contain, to prove its shape
}

var (
	text3   = tree{"a.txt": txt("one\ntwo\nthree\n")}
	long    = tree{"long.txt": txt(lines(40))}
	blob    = randomBytes(8192, 1)
	blobMod = append(append(slices.Clone(blob[:4000]), "changed"...), blob[4007:]...)
	gitBin  = gitDiff("--binary")
	copies  = gitDiff("--binary", "-M", "-C", "--find-copies-harder")
)

var gitCases = []gitCase{
	{
		name:   "modify",
		before: text3,
		after:  tree{"a.txt": txt("one\n2\nthree\n")},
		diff:   gitDiff(),
		ops:    []string{"modify a.txt"},
	},
	{
		name:   "modify several hunks",
		before: long,
		after:  tree{"long.txt": txt(strings.Replace(strings.Replace(lines(40), "line 3\n", "LINE 3\n", 1), "line 38\n", "", 1))},
		diff:   gitDiff(),
	},
	{
		name:   "add",
		before: text3,
		after:  text3.with(tree{"new.txt": txt("new\n")}),
		diff:   gitDiff(),
		ops:    []string{"add new.txt"},
	},
	{
		name:   "add in new directories",
		before: text3,
		after:  text3.with(tree{"d/e/new.txt": txt("new\n")}),
		diff:   gitDiff(),
	},
	{
		name:   "add executable",
		before: text3,
		after:  text3.with(tree{"run.sh": exe("#!/bin/sh\n")}),
		diff:   gitDiff(),
	},
	{
		name:   "delete",
		before: text3.with(tree{"b.txt": txt("b\n")}),
		after:  text3,
		diff:   gitDiff(),
		ops:    []string{"delete b.txt"},
	},
	{
		name:   "delete last file of a directory",
		before: text3.with(tree{"d/e/only.txt": txt("only\n")}),
		after:  text3,
		diff:   gitDiff(),
	},
	{
		name:   "rename",
		before: long,
		after:  tree{"moved.txt": txt(lines(40))},
		diff:   gitDiff(),
		ops:    []string{"rename long.txt -> moved.txt"},
		want:   "rename from",
	},
	{
		name:   "rename with changes into a new directory",
		before: long,
		after:  tree{"d/moved.txt": txt(strings.Replace(lines(40), "line 20\n", "line twenty\n", 1))},
		diff:   gitDiff(),
		ops:    []string{"rename long.txt -> d/moved.txt"},
		want:   "rename from",
	},
	{
		name:   "copy",
		before: long,
		after:  long.with(tree{"copy.txt": txt(lines(40))}),
		diff:   copies,
		ops:    []string{"copy long.txt -> copy.txt"},
		want:   "copy from",
	},
	{
		name:   "copy with changes",
		before: long,
		after:  long.with(tree{"copy.txt": txt(lines(40) + "more\n")}),
		diff:   copies,
		want:   "copy from",
	},
	{
		name:   "copy and change the source",
		before: long,
		after:  tree{"long.txt": txt(lines(40) + "more\n"), "copy.txt": txt(lines(40))},
		diff:   gitDiff("-C"),
		want:   "copy from",
	},
	{
		name:   "two patches to one file",
		before: long,
		after:  tree{"long.txt": txt(strings.NewReplacer("line 5\n", "five\n", "line 30\n", "thirty\n").Replace(lines(40)))},
		diff:   inSteps(tree{"long.txt": txt(strings.Replace(lines(40), "line 5\n", "five\n", 1))}),
		ops:    []string{"modify long.txt", "modify long.txt"},
	},
	{
		name:   "rename then modify",
		before: long,
		after:  tree{"moved.txt": txt(lines(41))},
		diff:   inSteps(tree{"moved.txt": txt(lines(40))}),
		ops:    []string{"rename long.txt -> moved.txt", "modify moved.txt"},
	},
	{
		name:   "delete then modify",
		before: long,
		after:  tree{"long.txt": txt(lines(41))},
		diff:   inSteps(tree{}),
		ops:    []string{"delete long.txt", "add long.txt"},
	},
	{
		name:   "swap by renames",
		before: tree{"a": txt("a\n"), "b": txt("b\n")},
		diff: literal("diff --git a/a b/b\nsimilarity index 100%\nrename from a\nrename to b\n" +
			"diff --git a/b b/a\nsimilarity index 100%\nrename from b\nrename to a\n"),
		ops: []string{"rename a -> b", "rename b -> a"},
	},
	{
		name:   "modify after delete",
		before: long,
		diff: literal("diff --git a/long.txt b/long.txt\ndeleted file mode 100644\n--- a/long.txt\n+++ /dev/null\n" +
			"@@ -1,40 +0,0 @@\n" + prefixed("-", lines(40)) +
			"--- a/long.txt\n+++ b/long.txt\n@@ -1 +1 @@\n-line 1\n+one\n"),
		fails: true,
	},
	{
		name:   "mode 644 to 755",
		before: tree{"run.sh": txt("#!/bin/sh\n")},
		after:  tree{"run.sh": exe("#!/bin/sh\n")},
		diff:   gitDiff(),
		ops:    []string{"mode run.sh"},
	},
	{
		name:   "mode 755 to 644",
		before: tree{"run.sh": exe("#!/bin/sh\n")},
		after:  tree{"run.sh": txt("#!/bin/sh\n")},
		diff:   gitDiff(),
		ops:    []string{"mode run.sh"},
	},
	{
		name:   "mode and content",
		before: tree{"run.sh": txt("#!/bin/sh\n")},
		after:  tree{"run.sh": exe("#!/bin/sh\necho hi\n")},
		diff:   gitDiff(),
		ops:    []string{"modify run.sh"},
	},
	{
		name:   "modify keeps executable",
		before: tree{"run.sh": exe("#!/bin/sh\n")},
		after:  tree{"run.sh": exe("#!/bin/sh\necho hi\n")},
		diff:   gitDiff(),
	},
	{
		name:   "final newline added",
		before: tree{"a.txt": txt("a\nb")},
		after:  tree{"a.txt": txt("a\nb\n")},
		diff:   gitDiff(),
	},
	{
		name:   "final newline removed",
		before: tree{"a.txt": txt("a\nb\n")},
		after:  tree{"a.txt": txt("a\nb")},
		diff:   gitDiff(),
	},
	{
		name:   "no final newline kept",
		before: tree{"a.txt": txt("a\nb\nc")},
		after:  tree{"a.txt": txt("A\nb\nc")},
		diff:   gitDiff(),
	},
	{
		name:   "crlf",
		before: tree{"w.txt": txt("a\r\nb\r\nc\r\n")},
		after:  tree{"w.txt": txt("a\r\nB\r\nc\r\n")},
		diff:   gitDiff(),
	},
	{
		name:   "crlf to lf",
		before: tree{"w.txt": txt("a\r\nb\r\nc\r\n")},
		after:  tree{"w.txt": txt("a\nb\nc\n")},
		diff:   gitDiff(),
	},
	{
		name:   "binary add literal",
		before: text3,
		after:  text3.with(tree{"blob.bin": bin(blob)}),
		diff:   gitBin,
		want:   "literal 8192",
	},
	{
		name:   "binary modify delta",
		before: tree{"blob.bin": bin(blob)},
		after:  tree{"blob.bin": bin(blobMod)},
		diff:   gitBin,
		want:   "delta ",
	},
	{
		name:   "binary modify literal",
		before: tree{"small.bin": bin([]byte("\x00\x01\x02"))},
		after:  tree{"small.bin": bin([]byte("\x00\xff\xfe\xfd"))},
		diff:   gitBin,
		want:   "literal 4",
	},
	{
		name:   "binary delete",
		before: tree{"blob.bin": bin(blob), "a.txt": txt("a\n")},
		after:  tree{"a.txt": txt("a\n")},
		diff:   gitBin,
		want:   "literal 0",
	},
	{
		name:   "binary rename with changes",
		before: tree{"blob.bin": bin(blob)},
		after:  tree{"d/blob2.bin": bin(blobMod)},
		diff:   gitBin,
		want:   "rename from",
	},
	{
		name:   "binary whose old content differs",
		before: tree{"blob.bin": bin(blob)},
		after:  tree{"blob.bin": bin(blobMod)},
		base:   tree{"blob.bin": bin(randomBytes(8192, 2))},
		diff:   gitBin,
		fails:  true,
	},
	{
		name:   "binary without data",
		before: tree{"blob.bin": bin(blob)},
		after:  tree{"blob.bin": bin(blobMod)},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "symlink add",
		before: text3,
		after:  text3.with(tree{"link": lnk("a.txt")}),
		diff:   gitDiff(),
		ops:    []string{"add link"},
	},
	{
		name:   "symlink delete",
		before: text3.with(tree{"link": lnk("a.txt")}),
		after:  text3,
		diff:   gitDiff(),
	},
	{
		name:   "symlink retarget",
		before: text3.with(tree{"link": lnk("a.txt")}),
		after:  text3.with(tree{"link": lnk("../elsewhere/b.txt")}),
		diff:   gitDiff(),
		ops:    []string{"modify link"},
	},
	{
		name:   "file becomes symlink",
		before: text3.with(tree{"x": txt("x\n")}),
		after:  text3.with(tree{"x": lnk("a.txt")}),
		diff:   gitDiff(),
		ops:    []string{"delete x", "add x"},
	},
	{
		name:   "symlink becomes file",
		before: text3.with(tree{"x": lnk("a.txt")}),
		after:  text3.with(tree{"x": txt("x\n")}),
		diff:   gitDiff(),
	},
	{
		name:   "empty file add",
		before: text3,
		after:  text3.with(tree{"empty": txt("")}),
		diff:   gitDiff(),
		ops:    []string{"add empty"},
	},
	{
		name:   "empty file delete",
		before: text3.with(tree{"empty": txt("")}),
		after:  text3,
		diff:   gitDiff(),
		ops:    []string{"delete empty"},
	},
	{
		name:   "file becomes empty",
		before: text3,
		after:  tree{"a.txt": txt("")},
		diff:   gitDiff(),
	},
	{
		name:   "empty file gets content",
		before: tree{"a.txt": txt("")},
		after:  text3,
		diff:   gitDiff(),
	},
	{
		name:   "unusual names",
		before: tree{"sp ace.txt": txt("a\n"), "é.txt": txt("e\n")},
		after:  tree{"sp ace.txt": txt("b\n"), "é.txt": txt("f\n"), "tab\there.txt": txt("t\n"), `q"uote.txt`: txt("q\n")},
		diff:   gitDiff(),
		want:   `"b/\303\251.txt"`,
	},
	{
		name:   "file becomes directory",
		before: tree{"x": txt("x\n")},
		after:  tree{"x/y": txt("y\n")},
		diff:   gitDiff(),
	},
	{
		name:   "directory becomes file",
		before: tree{"x/y": txt("y\n")},
		after:  tree{"x": txt("x\n")},
		diff:   gitDiff(),
	},
	{
		name:   "format-patch",
		before: long.with(tree{"a.txt": txt("a\n"), "gone.txt": txt("gone\n")}),
		after:  long.with(tree{"a.txt": txt("A\n"), "d/new.txt": txt("new\n"), "blob.bin": bin(blob)}),
		diff:   formatPatch,
		want:   "Subject: [PATCH] change things",
	},
	{
		name:   "hunks at an offset",
		before: long,
		after:  tree{"long.txt": txt(strings.NewReplacer("line 5\n", "five\n", "line 30\n", "thirty\n").Replace(lines(40)))},
		base:   tree{"long.txt": txt("extra 1\nextra 2\n" + strings.Replace(lines(40), "line 20\n", "line 20\ninserted\ninserted\ninserted\n", 1))},
		diff:   gitDiff(),
	},
	{
		name:   "hunk at an offset below",
		before: long,
		after:  tree{"long.txt": txt(strings.Replace(lines(40), "line 25\n", "25\n", 1))},
		base:   tree{"long.txt": txt(strings.Replace(lines(40), "line 3\n", "", 1))},
		diff:   gitDiff(),
	},
	{
		name:   "context that does not match",
		before: long,
		after:  tree{"long.txt": txt(strings.Replace(lines(40), "line 20\n", "twenty\n", 1))},
		base:   tree{"long.txt": txt(strings.Replace(lines(40), "line 19\n", "nineteen\n", 1))},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "hunk without trailing context must end the file",
		before: long,
		after:  tree{"long.txt": txt(lines(40) + "more\n")},
		base:   tree{"long.txt": txt(lines(40) + "other\n")},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		// Without context a hunk is pinned to the end of the file, so git
		// apply puts this line at the end rather than after line 20.
		name:   "zero context insertion",
		before: long,
		after:  tree{"long.txt": txt(strings.Replace(lines(40), "line 20\n", "line 20\nnew\n", 1))},
		diff:   gitDiff("-U0"),
	},
	{
		name:   "zero context change",
		before: long,
		after:  tree{"long.txt": txt(strings.Replace(lines(40), "line 20\n", "twenty\n", 1))},
		diff:   gitDiff("-U0"),
		fails:  true,
	},
	{
		name:   "zero context at the end",
		before: long,
		after:  tree{"long.txt": txt(lines(40) + "new\n")},
		diff:   gitDiff("-U0"),
	},
	{
		name:   "second file does not apply",
		before: tree{"a.txt": txt("a\n"), "b.txt": txt("b\n")},
		after:  tree{"a.txt": txt("A\n"), "b.txt": txt("B\n")},
		base:   tree{"a.txt": txt("a\n"), "b.txt": txt("other\n")},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "new file that exists",
		before: text3,
		after:  text3.with(tree{"new.txt": txt("new\n")}),
		base:   text3.with(tree{"new.txt": txt("there\n")}),
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "new file over a directory",
		before: text3,
		after:  text3.with(tree{"d/x": txt("x\n")}),
		base:   text3.with(tree{"d/x/y": txt("y\n")}),
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "modify a missing file",
		before: text3,
		after:  tree{"a.txt": txt("one\n2\nthree\n")},
		base:   tree{},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "delete a changed file",
		before: text3,
		after:  tree{},
		base:   tree{"a.txt": txt("one\ntwo\nthree\nfour\n")},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "patch through a symlinked directory",
		before: tree{"real/a.txt": txt("a\n"), "l/a.txt": txt("a\n")},
		after:  tree{"real/a.txt": txt("a\n"), "l/a.txt": txt("b\n")},
		base:   tree{"real/a.txt": txt("a\n"), "l": lnk("real")},
		diff:   gitDiff(),
		fails:  true,
	},
	{
		name:   "diff -u with a/ and b/",
		before: text3,
		after:  tree{"a.txt": txt("one\n2\nthree\n")},
		diff:   diffFile("a/a.txt", "b/a.txt", "a.txt"),
	},
	{
		name:   "diff -u in a subdirectory",
		before: tree{"sub/f.txt": txt(lines(10))},
		after:  tree{"sub/f.txt": txt(lines(9))},
		diff:   diffFile("old/sub/f.txt", "new/sub/f.txt", "sub/f.txt"),
	},
	{
		name:   "diff -u with plain names",
		before: text3,
		after:  tree{"a.txt": txt("one\n2\nthree\n")},
		diff:   diffFile("a.txt.orig", "a.txt", "a.txt"),
		ops:    []string{"modify a.txt"},
	},
	{
		name:   "diff -u names the new file",
		before: tree{"new.txt": txt("one\ntwo\n")},
		after:  tree{"new.txt": txt("one\n2\n")},
		diff:   diffFile("old.txt", "new.txt", "new.txt"),
	},
	{
		name:   "diff -u names a missing file",
		before: tree{"old.txt": txt("one\ntwo\n")},
		after:  tree{"old.txt": txt("one\n2\n")},
		diff:   diffFile("old.txt", "new.txt", "old.txt"),
		fails:  true,
	},
	{
		name:   "diff -u names with spaces",
		before: tree{"my file.txt": txt("one\ntwo\n")},
		after:  tree{"my file.txt": txt("one\n2\n")},
		diff:   diffFile("my file.txt.orig", "my file.txt", "my file.txt"),
	},
	{
		name:   "diff -u empties a file",
		before: text3,
		after:  tree{"a.txt": txt("")},
		diff:   diffFile("a.txt", "a.txt.new", "a.txt"),
	},
	{
		name:   "diff -u from an empty file creates it",
		before: tree{"g": txt("")},
		after:  tree{"g": txt("x\n")},
		base:   tree{},
		diff:   diffFile("g", "g.new", "g"),
		ops:    []string{"add g"},
	},
	{
		name:   "diff -u from an empty file fills it",
		before: tree{"g": txt("")},
		after:  tree{"g": txt("x\n")},
		diff:   diffFile("g", "g.new", "g"),
		ops:    []string{"modify g"},
	},
	{
		name:   "diff -u from /dev/null",
		before: tree{},
		after:  tree{"n.txt": txt("n\n")},
		diff:   diffFile("/dev/null", "n.txt", "n.txt"),
		ops:    []string{"add n.txt"},
	},
	{
		name:   "diff -u without final newline",
		before: tree{"a.txt": txt("a\nb")},
		after:  tree{"a.txt": txt("a\nc")},
		diff:   diffFile("a/a.txt", "b/a.txt", "a.txt"),
	},
	{
		name:   "diff -ruN trees",
		before: long.with(tree{"d/x.txt": txt("x\n"), "gone.txt": txt("gone\n"), "crlf.txt": txt("a\r\nb\r\n")}),
		after:  long.with(tree{"d/x.txt": txt("X\n"), "d/e/new.txt": txt("new\n"), "crlf.txt": txt("a\r\nB\r\n"), "long.txt": txt(lines(41))}),
		diff:   diffTrees("-ruN"),
		ops:    []string{"modify crlf.txt", "add d/e/new.txt", "modify d/x.txt", "delete gone.txt", "modify long.txt"},
	},
}

func TestApply_MatchesGitApply(t *testing.T) {
	for _, tc := range gitCases {
		t.Run(tc.name, func(t *testing.T) {
			diff := tc.diff(t, tc.before, tc.after)
			if !bytes.Contains(diff, []byte(tc.want)) {
				t.Fatalf("diff lacks %q:\n%s", tc.want, diff)
			}
			base := tc.base
			if base == nil {
				base = tc.before
			}

			ours, theirs := t.TempDir(), t.TempDir()
			base.build(t, ours)
			base.build(t, theirs)
			start := treeOf(t, ours)

			_, gitErr := runGit(t, theirs, diff, "apply", "-")
			if (gitErr != nil) != tc.fails {
				t.Fatalf("git apply: %v, want failure %v\n%s", gitErr, tc.fails, diff)
			}
			changes, err := applyDir(t, ours, diff)
			if (err != nil) != tc.fails {
				t.Fatalf("Apply: %v, want failure %v\n%s", err, tc.fails, diff)
			}
			var pe *Error
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("Apply: %v is not an *Error", err)
			}

			sameTree(t, "against git apply", treeOf(t, ours), treeOf(t, theirs))
			if tc.fails {
				sameTree(t, "after failure", treeOf(t, ours), start)
			}
			if tc.ops != nil && !slices.Equal(describeChanges(changes), tc.ops) {
				t.Errorf("changes %q, want %q", describeChanges(changes), tc.ops)
			}
		})
	}
}

func TestApply_FailureLeavesEarlierFilesAlone(t *testing.T) {
	before := tree{"a.txt": txt("a\n"), "b.txt": txt("b\n"), "c.txt": txt("c\n")}
	after := tree{"a.txt": txt("A\n"), "b.txt": txt("B\n"), "c.txt": txt("C\n")}
	diff := gitDiff()(t, before, after)

	dir := t.TempDir()
	before.with(tree{"b.txt": txt("changed\n")}).build(t, dir)
	start := treeOf(t, dir)

	_, err := applyDir(t, dir, diff)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("Apply: %v, want *Error", err)
	}
	if len(pe.Files) != 1 || pe.Files[0].Path != "b.txt" {
		t.Errorf("errors %+v, want one for b.txt", pe.Files)
	}
	if !strings.Contains(err.Error(), "b.txt: hunk 1") {
		t.Errorf("error %q does not name b.txt and its hunk", err)
	}
	sameTree(t, "workspace", treeOf(t, dir), start)
}

// outsideLayout makes a workspace whose symlinks d and abs lead to a
// directory outside it.
func outsideLayout(t *testing.T) (ws, outside string) {
	base := t.TempDir()
	ws, outside = filepath.Join(base, "ws"), filepath.Join(base, "outside")
	tree{"x": txt("secret\n")}.build(t, outside)
	tree{"d": lnk("../outside"), "abs": lnk(outside), "y": txt("y\n")}.build(t, ws)
	return ws, outside
}

func TestApply_SymlinkOutsideRefused(t *testing.T) {
	tests := []struct {
		name string
		diff string
	}{
		{"modify through relative link", "--- a/d/x\n+++ b/d/x\n@@ -1 +1 @@\n-secret\n+owned\n"},
		{"modify through absolute link", "--- a/abs/x\n+++ b/abs/x\n@@ -1 +1 @@\n-secret\n+owned\n"},
		{"add through link", "diff --git a/d/new b/d/new\nnew file mode 100644\n--- /dev/null\n+++ b/d/new\n@@ -0,0 +1 @@\n+owned\n"},
		{"delete through link", "diff --git a/d/x b/d/x\ndeleted file mode 100644\n--- a/d/x\n+++ /dev/null\n@@ -1 +0,0 @@\n-secret\n"},
		{"rename out through link", "diff --git a/d/x b/z\nsimilarity index 100%\nrename from d/x\nrename to z\n"},
		{"rename in through link", "diff --git a/y b/d/y\nsimilarity index 100%\nrename from y\nrename to d/y\n"},
		{"copy out through link", "diff --git a/d/x b/z\nsimilarity index 100%\ncopy from d/x\ncopy to z\n"},
		{"mode change through link", "diff --git a/d/x b/d/x\nold mode 100644\nnew mode 100755\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, outside := outsideLayout(t)
			wsBefore, outBefore := treeOf(t, ws), treeOf(t, outside)

			_, err := applyDir(t, ws, []byte(tt.diff))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply: %v, want *Error", err)
			}
			if len(pe.Files) != 1 || pe.Files[0].Reason != "leaves the workspace" {
				t.Errorf("errors %+v, want one that leaves the workspace", pe.Files)
			}
			sameTree(t, "outside", treeOf(t, outside), outBefore)
			sameTree(t, "workspace", treeOf(t, ws), wsBefore)
		})
	}
}

func TestApply_UnsafePathsRefused(t *testing.T) {
	tests := []struct {
		name, diff, reason string
	}{
		{"parent in git header", "diff --git a/../x b/../x\nnew file mode 100644\n--- /dev/null\n+++ b/../x\n@@ -0,0 +1 @@\n+x\n", `".."`},
		{"parent in diff -u", "--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-x\n+y\n", `".."`},
		{"parent deep inside", "--- a/d/../../x\n+++ b/d/../../x\n@@ -1 +1 @@\n-x\n+y\n", `".."`},
		{"absolute rename source", "diff --git a/etc/x b/x\nsimilarity index 100%\nrename from /etc/x\nrename to x\n", "absolute"},
		{"absolute rename target", "diff --git a/y b/etc/x\nsimilarity index 100%\nrename from y\nrename to /etc/x\n", "absolute"},
		{"absolute copy source", "diff --git a/etc/passwd b/x\nsimilarity index 100%\ncopy from /etc/passwd\ncopy to x\n", "absolute"},
		{"git directory", "diff --git a/.git/config b/.git/config\nnew file mode 100644\n--- /dev/null\n+++ b/.git/config\n@@ -0,0 +1 @@\n+x\n", ".git"},
		{"git directory itself", "diff --git a/.git b/.git\nnew file mode 100644\n--- /dev/null\n+++ b/.git\n@@ -0,0 +1 @@\n+x\n", ".git"},
		{"git directory in capitals", "--- a/.GIT/hooks/pre-commit\n+++ b/.GIT/hooks/pre-commit\n@@ -1 +1 @@\n-x\n+y\n", ".git"},
		{"nested git directory", "diff --git a/sub/.git/HEAD b/sub/.git/HEAD\nnew file mode 100644\n--- /dev/null\n+++ b/sub/.git/HEAD\n@@ -0,0 +1 @@\n+x\n", ".git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			ws := filepath.Join(base, "ws")
			tree{"y": txt("y\n"), "sub/f": txt("f\n")}.build(t, ws)
			before := treeOf(t, base)

			_, err := applyDir(t, ws, []byte(tt.diff))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply: %v, want *Error", err)
			}
			if len(pe.Files) != 1 || !strings.Contains(pe.Files[0].Reason, tt.reason) {
				t.Errorf("errors %+v, want one about %s", pe.Files, tt.reason)
			}
			sameTree(t, "temp dir", treeOf(t, base), before)
		})
	}
}

func TestApply_SymlinkFiles(t *testing.T) {
	tests := []struct {
		name   string
		ws     tree
		diff   string
		reason error
	}{
		{
			name:   "text patch to a symlink",
			ws:     tree{"a.txt": txt("a\n"), "l": lnk("a.txt")},
			diff:   "--- a/l\n+++ b/l\n@@ -1 +1 @@\n-a\n+b\n",
			reason: errIsSymlink,
		},
		{
			name:   "git patch to a symlink",
			ws:     tree{"a.txt": txt("a\n"), "l": lnk("a.txt")},
			diff:   "diff --git a/l b/l\nindex 1111111..2222222 100644\n--- a/l\n+++ b/l\n@@ -1 +1 @@\n-a\n+b\n",
			reason: errIsSymlink,
		},
		{
			name:   "symlink patch to a file",
			ws:     tree{"l": txt("a.txt")},
			diff:   "diff --git a/l b/l\nindex 1111111..2222222 120000\n--- a/l\n+++ b/l\n@@ -1 +1 @@\n-a.txt\n\\ No newline at end of file\n+b.txt\n\\ No newline at end of file\n",
			reason: errNotSymlink,
		},
		{
			name:   "through a symlink inside",
			ws:     tree{"real/a.txt": txt("a\n"), "l": lnk("real")},
			diff:   "--- a/l/a.txt\n+++ b/l/a.txt\n@@ -1 +1 @@\n-a\n+b\n",
			reason: errBeyondSymlink,
		},
		{
			name:   "beneath a symlink the patch adds",
			ws:     tree{"real/a.txt": txt("a\n")},
			diff:   "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+real\n\\ No newline at end of file\ndiff --git a/l/b.txt b/l/b.txt\nnew file mode 100644\n--- /dev/null\n+++ b/l/b.txt\n@@ -0,0 +1 @@\n+b\n",
			reason: errBeyondSymlink,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.ws.build(t, dir)
			before := treeOf(t, dir)

			_, err := applyDir(t, dir, []byte(tt.diff))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply: %v, want *Error", err)
			}
			last := pe.Files[len(pe.Files)-1]
			if last.Reason != tt.reason.Error() {
				t.Errorf("errors %+v, want %q", pe.Files, tt.reason)
			}
			sameTree(t, "workspace", treeOf(t, dir), before)
		})
	}
}

func TestApply_Unreadable(t *testing.T) {
	tests := []struct {
		name string
		diff string
		want error
	}{
		{"empty", "", ErrEmpty},
		{"blank", "\n \n\t\n", ErrEmpty},
		{"prose", "just some words\nand more\n", ErrMalformed},
		{"hunk without header", "@@ -1 +1 @@\n-a\n+b\n", ErrMalformed},
		{"hunk that miscounts", "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n+b\n", ErrMalformed},
		{"bad binary data", "diff --git a/x b/x\nindex 1..2 100644\nGIT binary patch\nliteral 3\n!!!!\n\n", ErrMalformed},
		{"new file with old lines", "--- /dev/null\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tree{"x": txt("a\n")}.build(t, dir)
			_, err := applyDir(t, dir, []byte(tt.diff))
			if !errors.Is(err, tt.want) {
				t.Errorf("Apply: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestApply_WriteFailureRestores fails each change Apply makes in turn and
// checks that the workspace ends as it began.
func TestApply_WriteFailureRestores(t *testing.T) {
	before := tree{
		"a.txt": txt("a\n"), "run.sh": txt("#!/bin/sh\n"), "d/e/gone.txt": txt("gone\n"),
		"long.txt": txt(lines(40)), "x": txt("x\n"), "link": lnk("a.txt"),
	}
	after := tree{
		"a.txt": txt("A\n"), "run.sh": exe("#!/bin/sh\n"), "n/m/new.txt": txt("new\n"),
		"moved.txt": txt(lines(40)), "x/y": txt("y\n"), "link": lnk("run.sh"),
	}
	diff := gitDiff("--binary")(t, before, after)
	t.Cleanup(func() { beforeChange = nil })

	for fail := 1; ; fail++ {
		dir := t.TempDir()
		before.build(t, dir)
		start := treeOf(t, dir)

		n := 0
		beforeChange = func(string) error {
			if n++; n == fail {
				return errors.New("injected failure")
			}
			return nil
		}
		_, err := applyDir(t, dir, diff)
		if n < fail {
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			break // every change has been failed once
		}
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("change %d: Apply: %v, want the injected failure", fail, err)
		}
		if errors.Is(err, ErrNotRestored) {
			t.Errorf("change %d: restore failed: %v", fail, err)
		}
		sameTree(t, "after failure", treeOf(t, dir), start)
	}
}
