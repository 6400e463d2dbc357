//go:build integration

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteIsExactAndStaysInWorkspace(t *testing.T) {
	e := newEnv(t)
	e.up()
	ws := e.workspace()

	t.Run("content arrives byte for byte in new nested directories", func(t *testing.T) {
		e := e.sub(t)
		var b strings.Builder
		for i := range 256 {
			b.WriteByte(byte(i))
		}
		b.WriteString("\r\n\x00no final newline")
		cases := []struct {
			name, path, data string
		}{
			{"binary, no final newline", "data/bin.dat", b.String()},
			{"nested directories", "a/b/c/d.txt", "deep\n"},
			{"empty", "empty.txt", ""},
		}
		for _, c := range cases {
			r := e.run("", c.data, "write", c.path)
			if r.code != 0 {
				t.Fatalf("%s: %s", c.name, r)
			}
			checkFile(t, filepath.Join(ws, c.path), c.data)
			tree := e.last().Tree
			if got := e.gitBlob(tree + ":" + c.path); got != c.data {
				t.Errorf("%s: recorded blob differs from what was written (%d bytes, want %d)",
					c.name, len(got), len(c.data))
			}
		}
		for _, p := range []string{"a", "a/b", "a/b/c", "a/b/c/d.txt", "data/bin.dat"} {
			checkOwner(t, filepath.Join(ws, p))
		}
	})

	t.Run("an existing executable stays executable", func(t *testing.T) {
		e := e.sub(t)
		e.run("", "#!/bin/sh\necho new\n", "write", "bin/tool.sh")
		fi, err := os.Stat(filepath.Join(ws, "bin/tool.sh"))
		if err != nil || fi.Mode()&0o100 == 0 {
			t.Errorf("bin/tool.sh after write: %v, %v", fi.Mode(), err)
		}
	})

	t.Run("paths that leave the workspace are refused and recorded", func(t *testing.T) {
		e := e.sub(t)
		checkWriteRefusals(e, ws)
	})
}

// checkWriteRefusals writes through every way out of the workspace we
// know of, checking each is refused, recorded as failed, and leaves the
// directory outside as it was.
func checkWriteRefusals(e *env, ws string) {
	t := e.t
	outside := filepath.Join(e.dir, "outside")
	writeFiles(t, outside, []file{{path: "victim", data: "victim\n"}})
	rel, err := filepath.Rel(ws, outside)
	if err != nil {
		t.Fatal(err)
	}
	// The capsule makes the links; the host must not follow them.
	e.ok("run", "--", "sh", "-c", "ln -s "+outside+"/victim vlink && ln -s "+outside+"/new dangling && "+
		"ln -s "+outside+" d && ln -s "+rel+" up")
	cases := []struct {
		name string
		path string
	}{
		{"parent directory", "../x"},
		{"dot-dot inside the path", "a/../../x"},
		{"absolute path", "/etc/x"},
		{"absolute path outside", outside + "/abs"},
		{"symlink to a file outside", "vlink"},
		{"dangling symlink to outside", "dangling"},
		{"symlinked directory", "d/x"},
		{"symlinked directory, new subdirectory", "d/sub/x"},
		{"relative symlink climbing out", "up/x"},
		{"the workspace's own git directory", ".git/config"},
	}
	etcBefore := exists("/etc/x")
	prev := e.last()
	for _, c := range cases {
		before := snapshot(t, outside)
		r := e.run("", "pwned\n", "write", c.path)
		if r.code == 0 || !strings.Contains(r.stderr, c.path) {
			t.Errorf("%s: want a refusal naming %s, got %s", c.name, c.path, r)
		}
		got := e.last()
		if got.Seq != prev.Seq+1 || got.Action != "write" || got.Status != "failed" ||
			got.Path != c.path || got.Error == "" || got.Tree != prev.Tree {
			t.Errorf("%s: want a failed write of %s recorded on tree %s, log has %+v",
				c.name, c.path, prev.Tree, got)
		}
		if d := diffSnapshots(before, snapshot(t, outside)); d != "" {
			t.Errorf("%s: the directory outside changed:\n%s", c.name, d)
		}
		prev = got
	}
	if exists("/etc/x") != etcBefore || exists(filepath.Join(ws, "..", "x")) {
		t.Errorf("a refused write created /etc/x or x beside the workspace")
	}
	b, err := os.ReadFile(filepath.Join(ws, ".git", "config"))
	if err != nil || strings.Contains(string(b), "pwned") {
		t.Errorf("the workspace's .git/config was written: %q %v", b, err)
	}
}

// gitBlob reads a blob of the user's repository exactly.
func (e *env) gitBlob(rev string) string {
	e.t.Helper()
	out, errOut, code := e.gitRun(e.repo, "cat-file", "blob", rev)
	if code != 0 {
		e.t.Fatalf("git cat-file blob %s: %s", rev, errOut)
	}
	return out
}

func checkFile(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s has %d bytes %q..., want %d bytes", p, len(b), b[:min(len(b), 20)], len(want))
	}
}

// checkOwner checks that the host user owns p.
func checkOwner(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		t.Errorf("%s is owned by %d:%d, want the host user %d:%d",
			p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
