package workspace

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/krellin/krellin/gitlog"
)

// fixture is a scratch repository (the object store) and a workspace.
type fixture struct {
	t    *testing.T
	repo *gitlog.Repo
	ws   *Workspace
	dir  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	if _, err := git.PlainInit(filepath.Join(dir, "repo"), false); err != nil {
		t.Fatal(err)
	}
	repo, err := gitlog.Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Open(filepath.Join(dir, "ws"), repo, func(msg string, err error) { t.Log(msg, err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &fixture{t: t, repo: repo, ws: ws, dir: dir}
}

// sh runs a shell script in the workspace.
func (f *fixture) sh(script string) {
	f.t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = f.ws.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// gitAddA is what `git add -A && git write-tree` records for the
// workspace, using a throwaway git directory and no user config.
func (f *fixture) gitAddA() plumbing.Hash {
	f.t.Helper()
	gd := filepath.Join(f.t.TempDir(), "g")
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"--git-dir=" + gd, "--work-tree=" + f.ws.Dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+f.t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			f.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("add", "-A")
	return plumbing.NewHash(run("write-tree"))
}

// fullScan records the workspace afresh, with no cache and no inotify.
func (f *fixture) fullScan(prev plumbing.Hash) plumbing.Hash {
	f.t.Helper()
	ws, err := Open(f.ws.Dir, f.repo, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	defer ws.Close()
	ws.noWatch = true
	h, err := ws.Snapshot(prev)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) snapshot(prev plumbing.Hash) plumbing.Hash {
	f.t.Helper()
	h, err := f.ws.Snapshot(prev)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func TestSnapshot_MatchesGitAddA(t *testing.T) {
	f := newFixture(t)
	f.sh(`printf 'out/\n*.log\n!keep.log\n' > .gitignore
		mkdir -p src/deep out/x empty
		echo a > src/a.go; echo b > src/deep/b.go; printf 'no newline' > c.txt
		echo x > out/x/f; echo l > src/x.log; echo k > keep.log
		printf '#!/bin/sh\n' > run.sh; chmod +x run.sh
		ln -s src/a.go link; ln -s /etc/passwd abs-link; ln -s missing dangling
		printf 'sub/\n' > src/.gitignore; mkdir -p src/sub; echo s > src/sub/s
		mkfifo pipe`)
	got, want := f.snapshot(plumbing.ZeroHash), f.gitAddA()
	if got != want {
		t.Fatalf("Snapshot = %s, git add -A = %s", got, want)
	}
}

func TestSnapshot_SkipsNestedGitDirs(t *testing.T) {
	f := newFixture(t)
	f.sh(`echo a > a; mkdir -p .git/objects sub/.git; echo x > .git/HEAD; echo y > sub/.git/HEAD; echo z > sub/f`)
	got := f.snapshot(plumbing.ZeroHash)
	f.sh(`rm -rf .git sub/.git`)
	if want := f.gitAddA(); got != want {
		t.Fatalf("Snapshot = %s, want the tree without .git dirs %s", got, want)
	}
}

// TestSnapshot_IncrementalEqualsFull applies change after change and checks
// that the inotify-driven scan always records what a full scan records.
func TestSnapshot_IncrementalEqualsFull(t *testing.T) {
	f := newFixture(t)
	f.sh(`mkdir -p a/b/c d; echo 1 > a/f; echo 2 > a/b/f; echo 3 > a/b/c/f; echo 4 > d/f; echo top > t`)
	prev := f.snapshot(plumbing.ZeroHash)
	steps := []string{
		`echo changed > a/b/c/f`,
		`printf 'same' > a/f; printf 'diff' > a/f`,
		`mkdir -p new/deeper && echo n > new/deeper/n`,
		`rm -rf a/b`,
		`mv d moved`,
		`chmod +x t`,
		`ln -s t link`,
		`rm link && ln -s a link`,
		`printf 'moved/\n' > .gitignore`,
		`rm .gitignore`,
		`mkdir -p x && touch x/empty && rm x/empty`,
		`echo deep > new/deeper/n2; mv new/deeper/n2 new/n2`,
		`true`,
	}
	for _, step := range steps {
		f.sh(step)
		got := f.snapshot(prev)
		if want := f.fullScan(prev); got != want {
			t.Fatalf("after %q: incremental %s, full %s", step, got, want)
		}
		// A fresh git index tracks nothing, so it differs from us once a
		// .gitignore covers files the previous tree tracks.
		if !strings.Contains(step, ".gitignore") {
			if want := f.gitAddA(); got != want {
				t.Fatalf("after %q: Snapshot %s, git add -A %s", step, got, want)
			}
		}
		prev = got
	}
}

func TestSnapshot_KeepsTrackedIgnoredFiles(t *testing.T) {
	f := newFixture(t)
	f.sh(`mkdir build; echo keep > build/tracked`)
	prev := f.snapshot(plumbing.ZeroHash)
	f.sh(`printf 'build/\n' > .gitignore; echo new > build/untracked; echo changed > build/tracked`)
	got := f.snapshot(prev)
	tree, err := f.repo.Tree(got)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tree.Files().ForEach(func(fl *object.File) error { names[fl.Name] = true; return nil })
	if !names["build/tracked"] || names["build/untracked"] {
		t.Fatalf("recorded %v; want build/tracked kept (it was tracked) and build/untracked left out", names)
	}
}

func TestReset_LeavesExactlyTheTree(t *testing.T) {
	f := newFixture(t)
	f.sh(`printf 'out/\n' > .gitignore; mkdir -p src; echo a > src/a; printf 'x' > b; chmod +x b; ln -s src/a l`)
	base := f.snapshot(plumbing.ZeroHash)
	f.sh(`echo changed > src/a; rm b; mkdir -p out/x untracked/deep; echo i > out/x/f; echo u > untracked/deep/u
		chmod -x l 2>/dev/null; rm l; echo notlink > l; chmod 555 untracked/deep`)
	prev := f.snapshot(base)
	if err := f.ws.Reset(prev, base); err != nil {
		t.Fatal(err)
	}
	if got := f.gitAddA(); got != base {
		t.Fatalf("after reset, git add -A = %s, want %s", got, base)
	}
	for _, p := range []string{"out", "untracked"} {
		if _, err := os.Lstat(filepath.Join(f.ws.Dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after reset (err %v)", p, err)
		}
	}
	if got := f.snapshot(prev); got != base {
		t.Fatalf("Snapshot after reset = %s, want %s", got, base)
	}
}

func TestReset_SkipsUnchangedDirectories(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 50; i++ {
		f.sh(fmt.Sprintf("mkdir -p d%d && echo %d > d%d/f", i, i, i))
	}
	base := f.snapshot(plumbing.ZeroHash)
	before, _ := os.Stat(filepath.Join(f.ws.Dir, "d7", "f"))
	time.Sleep(10 * time.Millisecond)
	f.sh(`echo changed > d3/f`)
	prev := f.snapshot(base)
	if err := f.ws.Reset(prev, base); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(f.ws.Dir, "d7", "f"))
	if !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("d7/f was rewritten by a reset that did not need to touch it")
	}
	if b, _ := os.ReadFile(filepath.Join(f.ws.Dir, "d3", "f")); !bytes.Equal(b, []byte("3\n")) {
		t.Errorf("d3/f = %q after reset, want %q", b, "3\n")
	}
}

func TestReset_RestoresPermissions(t *testing.T) {
	f := newFixture(t)
	f.sh(`mkdir -p sub/deep; echo b > sub/b; echo d > sub/deep/d; printf x > run; chmod +x run`)
	base := f.snapshot(plumbing.ZeroHash)
	f.sh(`chmod 000 sub/b; chmod 600 run; chmod 700 sub/deep; chmod 500 sub`)
	prev := f.snapshot(base)
	if err := f.ws.Reset(prev, base); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"sub": 0o755, "sub/deep": 0o755, "sub/b": 0o644, "run": 0o755, "sub/deep/d": 0o644} {
		fi, err := os.Lstat(filepath.Join(f.ws.Dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o after reset, want %o", p, got, want)
		}
	}
}

func TestSnapshot_NoReinclusionUnderExcludedDir(t *testing.T) {
	f := newFixture(t)
	f.sh(`mkdir out; echo t > out/tracked.txt`)
	prev := f.snapshot(plumbing.ZeroHash) // out/ is tracked before any ignore applies
	f.sh(`printf 'out/\n!out/keep\n' > .gitignore; echo k > out/keep`)
	got := f.snapshot(prev)
	tree, err := f.repo.Tree(got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.FindEntry("out/keep"); err == nil {
		t.Fatal("out/keep recorded: git never re-includes a file below an excluded directory")
	}
	if _, err := tree.FindEntry("out/tracked.txt"); err != nil {
		t.Fatal("out/tracked.txt dropped, but it is tracked")
	}
}

func TestReset_TracksTheTargetTree(t *testing.T) {
	f := newFixture(t)
	f.sh(`echo t > kept.log`)
	t1 := f.snapshot(plumbing.ZeroHash)
	f.sh(`printf '*.log\n' > .gitignore`)
	target := f.snapshot(t1) // kept.log stays: it is tracked
	f.sh(`rm kept.log`)
	prev := f.snapshot(target)
	if err := f.ws.Reset(prev, target); err != nil {
		t.Fatal(err)
	}
	if got := f.snapshot(target); got != target {
		t.Fatalf("snapshot after reset = %s, want the target %s with its tracked, ignored kept.log", got, target)
	}
}
