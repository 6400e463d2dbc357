package gitlog

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// newRepo makes a real git repository with one commit.
func newRepo(t *testing.T) (*Repo, plumbing.Hash) {
	t.Helper()
	dir := t.TempDir()
	runGit(t, dir, "init", "-q")
	os.WriteFile(filepath.Join(dir, "a"), []byte("a\n"), 0o644)
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-qm", "base")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	base, err := r.Resolve("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return r, base
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func appendAction(t *testing.T, r *Repo, session string, old, parent plumbing.Hash, seq string) plumbing.Hash {
	t.Helper()
	c, err := r.Commit(parent)
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Append(session, old, Commit{
		Tree: c.TreeHash, Parent: parent, Subject: "run: true",
		Trailers: []Trailer{{TrailerSeq, seq}, {TrailerAction, "run"}},
		Author:   Signature("krellin", "krellin@localhost", time.Unix(1e9, 0)),
	}, []byte("Action: run\nnote "+seq+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAppend_CommitsAndNotesGitCanRead(t *testing.T) {
	r, base := newRepo(t)
	h0 := appendAction(t, r, "s", plumbing.ZeroHash, base, "0")
	h1 := appendAction(t, r, "s", h0, h0, "1")

	if got := runGit(t, r.Top, "rev-parse", "refs/krellin/s"); got != h1.String() {
		t.Fatalf("refs/krellin/s = %s, want %s", got, h1)
	}
	if got := runGit(t, r.Top, "notes", "--ref=krellin/s", "show", h1.String()); !strings.Contains(got, "note 1") {
		t.Fatalf("git notes show = %q", got)
	}
	if got := runGit(t, r.Top, "log", "--format=%s", "refs/krellin/s"); got != "run: true\nrun: true\nbase" {
		t.Fatalf("git log = %q", got)
	}
	runGit(t, r.Top, "fsck", "--strict")
	if got := runGit(t, r.Top, "status", "--porcelain"); got != "" {
		t.Fatalf("user's work tree changed: %q", got)
	}

	entries, err := r.Entries("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].Seq != 1 || !strings.Contains(string(entries[1].Note), "note 1") {
		t.Fatalf("Entries = %+v", entries)
	}
}

func TestAppend_CompareAndSwap(t *testing.T) {
	r, base := newRepo(t)
	h0 := appendAction(t, r, "s", plumbing.ZeroHash, base, "0")
	appendAction(t, r, "s", h0, h0, "1")

	_, err := r.Append("s", h0, Commit{Tree: plumbing.ZeroHash, Parent: h0}, []byte("Action: run\n"))
	if !errors.Is(err, ErrRefMoved) {
		t.Fatalf("Append with a stale old value: %v, want ErrRefMoved", err)
	}
	os.WriteFile(filepath.Join(r.CommonDir, "refs/krellin/s.lock"), nil, 0o644)
	tip, _ := r.Tip("s")
	if _, err := r.Append("s", tip, Commit{Parent: tip}, []byte("Action: run\n")); !errors.Is(err, ErrRefLocked) {
		t.Fatalf("Append with a held lock: %v, want ErrRefLocked", err)
	}
	if err := r.ClearStaleLocks(); err != nil {
		t.Fatal(err)
	}
	appendAction(t, r, "s", tip, tip, "2")
}

func TestTip_UnknownAndInvalidSessions(t *testing.T) {
	r, _ := newRepo(t)
	if _, err := r.Tip("nope"); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("Tip(nope) = %v, want ErrUnknownSession", err)
	}
	for _, bad := range []string{"", "../x", "a..b", "x.lock", "-x", "a/b", "a b"} {
		if err := CheckSession(bad); !errors.Is(err, ErrBadSession) {
			t.Errorf("CheckSession(%q) = %v, want ErrBadSession", bad, err)
		}
	}
}

func TestOpen_NotARepository(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotRepo) {
		t.Fatalf("Open(empty dir) = %v, want ErrNotRepo", err)
	}
}
