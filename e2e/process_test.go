//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTimeoutsAndBackgroundChildren(t *testing.T) {
	e := newEnv(t)
	e.up()

	t.Run("a command past its timeout is killed and recorded as timed out", func(t *testing.T) {
		e := e.sub(t)
		r := e.run("", "", "run", "--timeout", "2s", "--", "sh", "-c", "sleep 100")
		if r.code != 124 || r.took > 6*time.Second {
			t.Errorf("want exit 124 within about 5s: %s", r)
		}
		if a := e.last(); a.Status != "timed-out" || !a.TimedOut || intp(a.ExitCode) != "124" {
			t.Errorf("log says status %q, timed_out %v, exit %s; want timed-out, 124",
				a.Status, a.TimedOut, intp(a.ExitCode))
		}
	})

	t.Run("children left behind do not hold the run open", func(t *testing.T) {
		e := e.sub(t)
		cases := []struct{ name, script string }{
			{"background child", "sleep 1000 &"},
			{"background child with its output closed", "sleep 1001 >/dev/null 2>&1 &"},
			{"child in a new session", "setsid sleep 1002 &"},
			{"orphaned grandchild", "(sleep 1003 &); true"},
		}
		for _, c := range cases {
			r := e.run("", "", "run", "--", "sh", "-c", c.script)
			if r.code != 0 || r.took > 5*time.Second {
				t.Errorf("%s: want exit 0 within a few seconds: %s", c.name, r)
			}
		}
	})

	t.Run("nothing keeps running after its action", func(t *testing.T) {
		e := e.sub(t)
		// ps must see a sleep while one runs, or its silence means nothing.
		if r := e.ok("run", "--", "sh", "-c", "sleep 30 & ps"); !strings.Contains(r.stdout, "sleep 30") {
			t.Fatalf("ps does not show a running sleep:\n%s", r.stdout)
		}
		if r := e.ok("run", "--", "ps"); strings.Contains(r.stdout, "sleep") {
			t.Errorf("processes outlived their actions:\n%s", r.stdout)
		}
	})
}

func TestDaemonRestartContinuesSession(t *testing.T) {
	e := newEnv(t)
	r := e.ok("up", "--image", image)
	pid := daemonStarted(r.stderr)
	if pid == 0 {
		t.Fatalf("up did not say it started the daemon: %s", r)
	}
	e.ok("run", "--", "sh", "-c", "echo one > one.txt")

	t.Run("between actions", func(t *testing.T) {
		e := e.sub(t)
		before := e.last()
		kill(t, pid)
		r := e.ok("run", "--", "sh", "-c", "echo two > two.txt")
		if pid = daemonStarted(r.stderr); pid == 0 {
			t.Errorf("the client did not say it started the daemon: %s", r)
		}
		a := e.last()
		if a.Seq != before.Seq+1 || a.Parent != before.Commit {
			t.Errorf("after the restart seq %d on %s, want seq %d on %s",
				a.Seq, a.Parent, before.Seq+1, before.Commit)
		}
	})

	t.Run("during an action", func(t *testing.T) {
		e := e.sub(t)
		if pid == 0 {
			t.Skip("no daemon pid from the previous step")
		}
		// The killed action changed the workspace before it was recorded.
		client, wait := e.startRun(t, "echo early > early.txt; echo started; sleep 30")
		kill(t, pid)
		if err := wait(); err == nil {
			t.Errorf("the client of a killed daemon exited 0:\n%s", client.String())
		}

		r := e.ok("run", "--", "true")
		if daemonStarted(r.stderr) == 0 {
			t.Errorf("the client did not say it started the daemon: %s", r)
		}
		acts := e.log("")
		session := e.status().Session
		for i, a := range acts {
			if a.Seq != i {
				t.Errorf("action %d has seq %d", i, a.Seq)
			}
			e.git(e.repo, "notes", "--ref=krellin/"+session, "show", a.Commit)
		}
		// early.txt must be in the history, but not as the work of true.
		last, prev := acts[len(acts)-1], acts[len(acts)-2]
		if last.Tree != prev.Tree {
			t.Errorf("`true` is recorded as changing the workspace:\n%s",
				e.git(e.repo, "diff", "--stat", prev.Commit, last.Commit))
		}
		if _, _, code := e.gitRun(e.repo, "cat-file", "-e", last.Commit+":early.txt"); code != 0 {
			t.Errorf("what the interrupted action wrote is not recorded")
		}
	})
	e.fsck()
}

// startRun starts `krellin run -- sh -c script` and returns once the
// script printed its first line, so the action surely runs. wait ends the
// client and returns its error; stderr collects what it says.
func (e *env) startRun(t *testing.T, script string) (stderr *bytes.Buffer, wait func() error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "krellin"), "run", "--", "sh", "-c", script)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(pipe)
	if _, err := out.ReadString('\n'); err != nil {
		cmd.Wait()
		t.Fatalf("the action printed nothing: %v\n%s", err, stderr)
	}
	return stderr, func() error {
		io.Copy(io.Discard, out)
		return cmd.Wait()
	}
}

func TestStatusAnswersWhileAnActionRuns(t *testing.T) {
	e := newEnv(t)
	e.up()
	_, wait := e.startRun(t, "echo started; sleep 5")
	defer wait()

	r := e.ok("status", "--json")
	if r.took > 2*time.Second || !strings.Contains(r.stdout, `"busy": true`) {
		t.Errorf("status during a 5s action: want an answer within 2s saying busy, got %s", r)
	}
}

// kill sends SIGKILL to pid and waits until it is gone.
func kill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
