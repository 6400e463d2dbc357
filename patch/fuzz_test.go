package patch

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// fuzzTree is the workspace each fuzz input is applied to; the seed corpus
// in testdata/fuzz/FuzzApply holds diffs made against it. The symlinks out
// and abs lead to a directory beside the workspace, which must not change.
var fuzzTree = tree{
	"a.txt":     txt("one\ntwo\nthree\nfour\nfive\nsix\nseven\n"),
	"dir/b.txt": txt("b\n"),
	"run.sh":    exe("#!/bin/sh\n"),
	"empty":     txt(""),
	"nonl":      txt("no newline"),
	"crlf.txt":  txt("a\r\nb\r\n"),
	"blob.bin":  bin(randomBytes(300, 7)),
	"link":      lnk("a.txt"),
	"out":       lnk("../outside"),
}

func FuzzApply(f *testing.F) {
	f.Add([]byte("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"))
	f.Add([]byte("--- a/out/secret\n+++ b/out/secret\n@@ -1 +1 @@\n-secret\n+owned\n"))

	f.Fuzz(func(t *testing.T, diff []byte) {
		base := t.TempDir()
		ws, outside := filepath.Join(base, "ws"), filepath.Join(base, "outside")
		tree{"secret": txt("secret\n")}.build(t, outside)
		fuzzTree.with(tree{"abs": lnk(outside)}).build(t, ws)
		before, wsBefore := treeOf(t, base), treeOf(t, ws)

		checkHeaderScan(t, diff)
		changes, err := applyDir(t, ws, diff)

		sameTree(t, "beside the workspace", outsideOf(treeOf(t, base)), outsideOf(before))
		if err != nil {
			checkFuzzError(t, err)
			sameTree(t, "workspace after an error", treeOf(t, ws), wsBefore)
			return
		}
		for _, c := range changes {
			if badPath(c.Path) != "" || (c.OldPath != "" && badPath(c.OldPath) != "") {
				t.Errorf("unsafe change %+v", c)
			}
		}
	})
}

// outsideOf keeps the entries of a temp dir snapshot outside ws/.
func outsideOf(snap map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range snap {
		if k != "ws" && !strings.HasPrefix(k, "ws/") {
			out[k] = v
		}
	}
	return out
}

// checkHeaderScan fails if the library parses diff but scanHeaders finds
// a different number of files, which would make Apply refuse a good diff.
func checkHeaderScan(t *testing.T, diff []byte) {
	t.Helper()
	files, _, err := gitdiff.Parse(bytes.NewReader(diff))
	if err != nil {
		return
	}
	if n := len(scanHeaders(splitLines(string(diff)))); n != len(files) {
		t.Errorf("scanHeaders found %d headers, the library %d files", n, len(files))
	}
}

// checkFuzzError fails unless err is one Apply documents.
func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var pe *Error
	switch {
	case errors.As(err, &pe):
		if len(pe.Files) == 0 {
			t.Errorf("*Error without files: %v", err)
		}
	case errors.Is(err, ErrEmpty), errors.Is(err, ErrMalformed):
	default:
		t.Errorf("unexpected error kind: %v", err)
	}
}
