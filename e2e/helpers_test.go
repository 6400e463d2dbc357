//go:build integration

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// action is one element of `krellin log --json` as a reader of the
// contract sees it (docs/log-json.md): only the fields these tests read.
type action struct {
	Seq        int      `json:"seq"`
	Commit     string   `json:"commit"`
	Parent     string   `json:"parent"`
	Tree       string   `json:"tree"`
	Action     string   `json:"action"`
	Subject    string   `json:"subject"`
	Status     string   `json:"status"`
	DurationMS int64    `json:"duration_ms"`
	ExitCode   *int     `json:"exit_code"`
	TimedOut   bool     `json:"timed_out"`
	Argv       []string `json:"argv"`
	Path       string   `json:"path"`
	Error      string   `json:"error"`
	Base       string   `json:"base"`
	Image      string   `json:"image"`
	Info       []string `json:"info"`
	Author     string   `json:"author"`
}

// status is the part of `krellin status --json` the tests read.
type status struct {
	Container string `json:"container"`
	State     string `json:"state"`
	Session   string `json:"session"`
	Image     string `json:"image"`
	Tip       string `json:"tip"`
	Actions   int    `json:"actions"`
	Workspace string `json:"workspace"`
	Busy      bool   `json:"busy"`
}

// up starts a session, on the test image unless args name another, and
// returns its name.
func (e *env) up(args ...string) string {
	e.t.Helper()
	if !slices.Contains(args, "--image") {
		args = append([]string{"--image", image}, args...)
	}
	r := e.ok(append([]string{"up"}, args...)...)
	for line := range strings.Lines(r.stdout) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "session" {
			return f[1]
		}
	}
	e.t.Fatalf("up printed no session:\n%s", r)
	return ""
}

// log reads a session's actions; "" is the current session.
func (e *env) log(session string) []action {
	e.t.Helper()
	args := []string{"log", "--json"}
	if session != "" {
		args = append(args, "--session", session)
	}
	r := e.ok(args...)
	var acts []action
	if err := json.Unmarshal([]byte(r.stdout), &acts); err != nil {
		e.t.Fatalf("log --json is not a JSON array of actions: %v\n%s", err, r.stdout)
	}
	return acts
}

// last returns the newest action of the current session.
func (e *env) last() action {
	e.t.Helper()
	acts := e.log("")
	return acts[len(acts)-1]
}

func (e *env) status() status {
	e.t.Helper()
	r := e.ok("status", "--json")
	var s status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return s
}

// workspace is the host directory the capsule sees at /workspace.
func (e *env) workspace() string {
	e.t.Helper()
	ws := e.status().Workspace
	if ws == "" {
		e.t.Fatal("status --json names no workspace")
	}
	return ws
}

// commitInfo is what git itself says about a commit.
type commitInfo struct {
	parents  []string
	tree     string
	subject  string
	trailers map[string]string
}

func (e *env) commit(rev string) commitInfo {
	e.t.Helper()
	out := e.git(e.repo, "show", "-s", "--format=%P%x00%T%x00%s%x00%(trailers:only,unfold)", rev)
	f := strings.SplitN(out, "\x00", 4)
	if len(f) != 4 {
		e.t.Fatalf("git show %s: unexpected output %q", rev, out)
	}
	c := commitInfo{parents: strings.Fields(f[0]), tree: f[1], subject: f[2],
		trailers: map[string]string{}}
	for line := range strings.Lines(f[3]) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
			c.trailers[k] = v
		}
	}
	return c
}

// refs lists every ref of the repository with its value.
func (e *env) refs() string {
	e.t.Helper()
	return e.git(e.repo, "for-each-ref", "--format=%(objectname) %(refname)")
}

// userRefs lists the refs Krellin must never touch: all but its own.
func (e *env) userRefs() string {
	e.t.Helper()
	var keep []string
	for line := range strings.Lines(e.refs()) {
		if !strings.Contains(line, " refs/krellin/") && !strings.Contains(line, " refs/notes/krellin/") {
			keep = append(keep, strings.TrimSpace(line))
		}
	}
	return strings.Join(keep, "\n")
}

// fsck fails the test unless git finds the repository sound. Dangling
// objects are fine: an abandoned action may leave some.
func (e *env) fsck() {
	e.t.Helper()
	out, errOut, code := e.gitRun(e.repo, "fsck", "--no-dangling", "--no-progress")
	all := strings.ToLower(out + errOut)
	bad := slices.ContainsFunc([]string{"error", "missing", "broken", "corrupt"},
		func(w string) bool { return strings.Contains(all, w) })
	if code != 0 || bad {
		e.t.Fatalf("git fsck: exit %d\n%s%s", code, out, errOut)
	}
}

// archive extracts the tree of rev into a new directory and returns it.
func (e *env) archive(rev string) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "archive-")
	if err != nil {
		e.t.Fatal(err)
	}
	tar := filepath.Join(dir, ".tar")
	e.git(e.repo, "archive", "--format=tar", "-o", tar, rev)
	if out, err := exec.Command("tar", "-xf", tar, "-C", dir).CombinedOutput(); err != nil {
		e.t.Fatalf("tar -xf: %v\n%s", err, out)
	}
	os.Remove(tar)
	return dir
}

// snapshot describes every path under root but .git directories, for
// comparing directories: the kind, the executable bit and a content hash,
// or a symlink's target. Directories are listed too, so an empty one
// left behind shows.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		out[rel], err = describe(p, d)
		return err
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

func describe(p string, d fs.DirEntry) (string, error) {
	switch {
	case d.IsDir():
		return "dir", nil
	case d.Type()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		return "symlink -> " + target, err
	}
	fi, err := d.Info()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("file x=%v %d bytes %s", fi.Mode()&0o100 != 0, len(b),
		hex.EncodeToString(sum[:8])), nil
}

// diffSnapshots says how two snapshots differ, or "" when they are equal.
func diffSnapshots(want, got map[string]string) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	var lines []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			lines = append(lines, "missing "+p+" ("+w+")")
		} else if g != w {
			lines = append(lines, fmt.Sprintf("differs %s: want %s, got %s", p, w, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			lines = append(lines, "extra   "+p+" ("+g+")")
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// imageID is the local image ID a reference names now.
func imageID(t *testing.T, ref string) string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", ref).Output()
	if err != nil {
		t.Fatalf("docker image inspect %s: %v", ref, err)
	}
	return strings.TrimSpace(string(out))
}

// docker runs the docker CLI and fails the test unless it exits 0.
func docker(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// shortID is how Krellin abbreviates a digest for people.
func shortID(id string) string {
	return strings.TrimPrefix(id, "sha256:")[:12]
}

// intp reads an optional exit code for messages.
func intp(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// daemonPID is the pid the test's running daemon wrote, or 0.
func (e *env) daemonPID() int {
	b, err := os.ReadFile(filepath.Join(e.home, "daemon.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// signalDaemon sends sig to the test's daemon and waits until it is gone.
func (e *env) signalDaemon(sig syscall.Signal) {
	e.t.Helper()
	pid := e.daemonPID()
	if pid == 0 {
		e.t.Fatalf("no daemon pid in %s", e.home)
	}
	syscall.Kill(pid, sig)
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			e.t.Fatalf("daemon %d still runs 15 s after %v", pid, sig)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakKiB is VmHWM of pid: the most resident memory it ever had.
func peakKiB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
