//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// screen is a krellin tui running in its own tmux server, seen as a
// person would: through keys sent and the pane captured.
type screen struct {
	e    *env
	sock string
}

// startTUI runs `krellin tui` in the repository in a w×h tmux pane. The
// tmux server carries the test's KRELLIN_HOME, so the harness's cleanup
// stops it too; it is also killed first by its own cleanup.
func (e *env) startTUI(w, h int) *screen {
	e.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		e.t.Fatal("tmux is missing: apt-get install -y tmux")
	}
	s := &screen{e: e, sock: filepath.Join(e.dir, "tmux.sock")}
	cmd := "exec env " + strings.Join(quoteAll(append(e.environ(), "TERM=xterm-256color")), " ") +
		" " + filepath.Join(binDir, "krellin") + " tui 2>" + filepath.Join(e.dir, "tui.err")
	s.tmux("new-session", "-d", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "-s", "k", "-c", e.repo, cmd)
	e.t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return out
}

func (s *screen) tmux(args ...string) string {
	s.e.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", s.sock, "-f", "/dev/null"}, args...)...)
	cmd.Env = append(s.e.environ(), "TERM=xterm-256color")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.e.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Escape) or literal text.
func (s *screen) keys(keys ...string) {
	s.e.t.Helper()
	for _, k := range keys {
		switch k {
		case "Enter", "Escape", "Up", "Down", "Tab", "C-c":
			s.tmux("send-keys", "-t", "k", k)
		default:
			s.tmux("send-keys", "-t", "k", "-l", k)
		}
	}
}

// waitGone waits until the pane shows none of bad, and returns it.
func (s *screen) waitGone(what string, bad ...string) string {
	s.e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pane := s.capture()
		left := ""
		for _, b := range bad {
			if strings.Contains(pane, b) {
				left = b
			}
		}
		if left == "" {
			return pane
		}
		if time.Now().After(deadline) {
			s.e.t.Fatalf("%s: the pane still shows %q:\n%s", what, left, pane)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *screen) capture() string {
	s.e.t.Helper()
	return s.tmux("capture-pane", "-p", "-t", "k")
}

// waitFor waits until the pane shows every one of want, and returns it.
func (s *screen) waitFor(what string, want ...string) string {
	s.e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pane := s.capture()
		missing := ""
		for _, w := range want {
			if !strings.Contains(pane, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return pane
		}
		if time.Now().After(deadline) {
			errOut, _ := os.ReadFile(filepath.Join(s.e.dir, "tui.err"))
			s.e.t.Fatalf("%s: the pane never showed %q:\n%s\n--- tui stderr ---\n%s", what, missing, pane, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTUI_ShowsARunLiveItsDetailAndAReset(t *testing.T) {
	e := newEnv(t)
	e.up()
	s := e.startTUI(80, 24)
	s.waitFor("first screen", "krellin · live", "session-1*", "running", "start", "0 actions")

	// A run started from outside appears while it runs, output and all.
	done := make(chan result, 1)
	go func() {
		r, _ := e.exec("", "", "run", "--", "sh", "-c",
			"echo first-line; sleep 2; echo changed > tui.txt; echo last-line")
		done <- r
	}()
	s.waitFor("the run in flight", "running", "│ first-line")
	if r := <-done; r.code != 0 {
		t.Fatalf("krellin run: %s", r)
	}
	s.waitFor("the run recorded", "> 1    run", "exit 0", "1 action")

	// Its detail: the command, the output and the diff.
	s.keys("Enter")
	s.waitFor("the detail", "seq 1 · sh -c", "exit 0", "first-line", "last-line", "── diff", "+++ b/tui.txt")
	s.keys("G") // scroll to the end of the diff
	s.waitFor("the end of the detail", "+changed", "100%")
	s.keys("Escape")
	s.waitFor("back to the log", "SEQ  ACTION")

	// A reset asks first; "n" cancels, "y" resets.
	s.keys("R")
	s.waitFor("the question", "[y/N] reset repo to seq 0")
	s.keys("n")
	s.waitFor("cancelled", "cancelled")
	if n := len(e.log("")); n != 2 {
		t.Fatalf("a cancelled reset changed the log: %d actions", n)
	}
	s.keys("R", "y")
	s.waitFor("the reset recorded", "> 2    reset   to seq 0", "2 actions")
	if _, err := os.Stat(filepath.Join(e.workspace(), "tui.txt")); !os.IsNotExist(err) {
		t.Errorf("tui.txt is still in the workspace after the reset: %v", err)
	}

	// The prompt runs a command in the capsule.
	s.keys(":", "echo from-the-prompt", "Enter")
	s.waitFor("the prompt's run", "3    run     sh -c 'echo from-the-prompt'")
	s.keys("q")
}

func TestTUI_ReconnectsAfterTheDaemonRestarts(t *testing.T) {
	e := newEnv(t)
	e.up()
	s := e.startTUI(100, 30)
	s.waitFor("first screen", "krellin · live", "session-1*")

	e.signalDaemon(syscall.SIGTERM)
	s.waitFor("the daemon gone", "daemon gone, reconnecting")
	e.ok("run", "--", "echo", "after-restart") // starts a new daemon
	s.waitFor("reconnected", "reconnected to the daemon", "echo after-restart", "krellin · live")
}

func TestTUI_CtrlCInterruptsThePromptsCommandNotTheTUI(t *testing.T) {
	e := newEnv(t)
	e.up()
	s := e.startTUI(100, 30)
	s.waitFor("first screen", "krellin · live", "session-1*")

	s.keys(":", "sleep 30", "Enter")
	s.waitFor("the prompt's run in flight", "running", "sh -c 'sleep 30'")
	s.keys("C-c")
	s.waitFor("the run interrupted", "1    run     sh -c 'sleep 30'", "interrupted", "krellin · live")

	// Nothing runs now: q quits.
	s.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("tmux", "-S", s.sock, "list-panes", "-t", "k").CombinedOutput()
		if err != nil {
			break // the session ended with the TUI
		}
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit: %s\n%s", out, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTUI_DropsTheGhostRowOfAKilledDaemon(t *testing.T) {
	e := newEnv(t)
	e.up()
	s := e.startTUI(100, 30)
	s.waitFor("first screen", "krellin · live", "session-1*")

	go e.exec("", "", "run", "--", "sleep", "30")
	s.waitFor("the run in flight", "run     sleep 30", "running", "busy")
	e.signalDaemon(syscall.SIGKILL)
	s.waitFor("the row marked", "lost: the daemon went away")

	e.ok("run", "--", "echo", "after-kill") // starts a new daemon
	s.waitFor("reconnected", "echo after-kill", "krellin · live")
	s.waitGone("the ghost row dropped", "│ lost", "> …", "busy")
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// follower is a `krellin log --follow` running in the background.
type follower struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
}

func (e *env) follow(args ...string) *follower {
	e.t.Helper()
	f := &follower{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	f.cmd = exec.Command(filepath.Join(binDir, "krellin"), append([]string{"log", "--follow"}, args...)...)
	f.cmd.Dir, f.cmd.Env = e.repo, e.environ()
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	if err := f.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { f.cmd.Wait(); close(f.done) }()
	e.t.Cleanup(func() { f.cmd.Process.Kill(); <-f.done })
	return f
}

// waitFor waits until the follower's stream (stdout or stderr) holds want.
func (f *follower) waitFor(t *testing.T, stream, want string) {
	t.Helper()
	buf := f.stdout
	if stream == "stderr" {
		buf = f.stderr
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("follower's %s never showed %q\n--- stdout ---\n%s\n--- stderr ---\n%s", stream, want, f.stdout, f.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// interrupt sends Ctrl-C and returns the exit status.
func (f *follower) interrupt(t *testing.T) int {
	t.Helper()
	f.cmd.Process.Signal(os.Interrupt)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("log --follow did not stop on Ctrl-C")
	}
	return f.cmd.ProcessState.ExitCode()
}

func TestLogFollow_PrintsRunsAndSurvivesADaemonRestart(t *testing.T) {
	e := newEnv(t)
	e.up()
	f := e.follow("--output")
	f.waitFor(t, "stdout", "on "+shortID(e.git(e.repo, "rev-parse", "HEAD")))

	e.ok("run", "--", "echo", "followed-one")
	f.waitFor(t, "stdout", "followed-one\n")                // the output, live
	f.waitFor(t, "stdout", "1  run      echo followed-one") // the recorded row

	e.signalDaemon(syscall.SIGTERM)
	f.waitFor(t, "stderr", "lost the daemon")
	e.ok("run", "--", "echo", "after-restart")
	f.waitFor(t, "stderr", "reconnected to the daemon")
	f.waitFor(t, "stdout", "2  run      echo after-restart")

	if n := strings.Count(f.stdout.String(), "1  run      echo followed-one "); n != 1 {
		t.Errorf("seq 1 printed %d times:\n%s", n, f.stdout)
	}
	if code := f.interrupt(t); code != 0 {
		t.Errorf("Ctrl-C: exit %d, want 0", code)
	}
}

func TestLogFollow_SaysWhenItMissedTheEndOfAnAction(t *testing.T) {
	e := newEnv(t)
	e.up()
	f := e.follow("--output")
	f.waitFor(t, "stdout", "SEQ  ACTION")

	go e.exec("", "", "run", "--", "sleep", "30")
	f.waitFor(t, "stdout", "…  run      sleep 30")
	e.signalDaemon(syscall.SIGKILL)
	f.waitFor(t, "stderr", "did not see the end of run: sleep 30 (the daemon went away)")

	e.ok("run", "--", "echo", "after-kill") // starts a new daemon
	f.waitFor(t, "stdout", "run      echo after-kill")
	f.waitFor(t, "stderr", "run: sleep 30")
	if !strings.Contains(f.stderr.String(), "the log records run: sleep 30") &&
		!strings.Contains(f.stderr.String(), "the log does not record run: sleep 30") {
		t.Errorf("the follower never said what became of the action:\n%s", f.stderr)
	}
	f.interrupt(t)
}

func TestLogFollowJSON_IsOneEventPerLine(t *testing.T) {
	e := newEnv(t)
	e.up()
	f := e.follow("--json")
	f.waitFor(t, "stdout", `"type":"gap"`)
	e.ok("run", "--", "echo", "as-json")
	f.waitFor(t, "stdout", `"summary":"run: echo as-json"`)
	f.waitFor(t, "stdout", `"type":"finished","repo"`)
	f.interrupt(t)

	var seqs []int
	var types []string
	for line := range strings.Lines(f.stdout.String()) {
		var ev struct {
			Type   string `json:"type"`
			Data   []byte `json:"data"`
			Action *struct {
				Seq int `json:"seq"`
			} `json:"action"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON object per line: %v: %q", err, line)
		}
		types = append(types, ev.Type)
		if ev.Type == "finished" {
			seqs = append(seqs, ev.Action.Seq)
		}
	}
	if types[0] != "gap" || !strings.Contains(strings.Join(types, " "), "started output") {
		t.Errorf("event types %q", types)
	}
	if len(seqs) != 2 || seqs[0] != 0 || seqs[1] != 1 {
		t.Errorf("finished seqs %v, want [0 1]: every action once", seqs)
	}
}
