//go:build linux

package execwrap_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRun_ExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		code   int
		stdout string
		stderr string
	}{
		{name: "success", script: "exit 0", code: 0},
		{name: "status passes through", script: "exit 3", code: 3},
		{name: "signal is 128+n", script: "kill -KILL $$", code: 137},
		{
			name:   "output passes through",
			script: "echo out; echo err >&2; exit 5",
			code:   5, stdout: "out\n", stderr: "err\n",
		},
		{
			name:   "stdin is empty",
			script: "cat; echo done",
			code:   0, stdout: "done\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMark(t)

			got := runExec(t, m, "--", "sh", "-c", tt.script)
			if got.code != tt.code {
				t.Errorf("exit code = %d, want %d", got.code, tt.code)
			}
			if got.stdout != tt.stdout || got.stderr != tt.stderr {
				t.Errorf("stdout, stderr = %q, %q; want %q, %q",
					got.stdout, got.stderr, tt.stdout, tt.stderr)
			}
			m.checkNoneLeft(t)
		})
	}
}

func TestRun_ActionIDInEnvironment(t *testing.T) {
	t.Parallel()
	m := newMark(t)

	got := runExec(t, m, "--id", "act-1", "--", "sh", "-c", `echo "$KRELLIN_ACTION"`)
	if got.code != 0 || got.stdout != "act-1\n" {
		t.Errorf("code, stdout = %d, %q; want 0, %q", got.code, got.stdout, "act-1\n")
	}
}

func TestRun_CannotStart(t *testing.T) {
	t.Parallel()
	plain := filepath.Join(t.TempDir(), "plain.txt")
	if err := os.WriteFile(plain, []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cmd    string
		code   int
		stderr string
	}{
		{
			name:   "not in PATH",
			cmd:    "krellin-no-such-command",
			code:   127,
			stderr: "krellin-exec: krellin-no-such-command: not found\n",
		},
		{
			name:   "no such file",
			cmd:    "./missing",
			code:   127,
			stderr: "krellin-exec: ./missing: not found\n",
		},
		{
			name:   "not executable",
			cmd:    plain,
			code:   126,
			stderr: "krellin-exec: " + plain + ": permission denied\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMark(t)

			got := runExec(t, m, "--", tt.cmd)
			if got.code != tt.code || got.stdout != "" || got.stderr != tt.stderr {
				t.Errorf("code, stdout, stderr = %d, %q, %q; want %d, \"\", %q",
					got.code, got.stdout, got.stderr, tt.code, tt.stderr)
			}
		})
	}
}

func TestRun_KillsWhatIsLeft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		code   int
		stdout string
	}{
		{name: "background child", script: "sleep 1000 &"},
		{
			name:   "background child holding stdout",
			script: "tail -f /dev/null & echo started",
			stdout: "started\n",
		},
		{
			name:   "status kept",
			script: "sleep 1000 & exit 7",
			code:   7,
		},
		{name: "double fork", script: "(sleep 1000 &)"},
		{
			// setsid leaves the process group; it is found as an orphan.
			name:   "grandchild in its own session",
			script: "(setsid sleep 1000 &); sleep 0.3",
		},
		{
			name:   "orphan in its own session",
			script: "setsid -f sleep 1000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMark(t)

			got := runExec(t, m, "--", "sh", "-c", tt.script)
			if got.code != tt.code || got.stdout != tt.stdout || got.stderr != "" {
				t.Errorf("code, stdout, stderr = %d, %q, %q; want %d, %q, \"\"",
					got.code, got.stdout, got.stderr, tt.code, tt.stdout)
			}
			if got.took > 2*time.Second {
				t.Errorf("took %s, want under 2s", got.took)
			}
			m.checkNoneLeft(t)
		})
	}
}

func TestRun_Timeout(t *testing.T) {
	t.Parallel()
	m := newMark(t)
	script := `mkfifo p; (while :; do echo x; sleep 1; done) > p & cat p`

	got := runExec(t, m, "--timeout", "1s", "--", "sh", "-c", script)
	if got.code != 124 {
		t.Errorf("exit code = %d, want 124", got.code)
	}
	if got.took < time.Second || got.took > 3*time.Second {
		t.Errorf("took %s, want about 1s", got.took)
	}
	lines := strings.Fields(got.stdout)
	if len(lines) == 0 || strings.Trim(got.stdout, "x\n") != "" {
		t.Errorf("stdout = %q, want x lines", got.stdout)
	}
	if want := "krellin-exec: timed out after 1s\n"; got.stderr != want {
		t.Errorf("stderr = %q, want %q", got.stderr, want)
	}
	m.checkNoneLeft(t)
}

func TestRun_StopSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			m := newMark(t)
			r := start(t, m, "--", "sh", "-c", "sleep 1000 & sleep 1000")
			waitFor(t, "sleep to start", func() bool { return len(m.pids()) >= 4 })

			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			got := r.wait(t)
			if want := 128 + int(sig); got.code != want {
				t.Errorf("exit code = %d, want %d", got.code, want)
			}
			if want := "krellin-exec: stopped by " + unix.SignalName(sig) + "\n"; got.stderr != want {
				t.Errorf("stderr = %q, want %q", got.stderr, want)
			}
			m.checkNoneLeft(t)
		})
	}
}

func TestRun_ReapsOrphansWhileRunning(t *testing.T) {
	t.Parallel()
	m := newMark(t)
	r := start(t, m, "--", "sh", "-c",
		"(sleep 0.1 &); (sleep 0.1 &); exec sleep 1000")
	waitFor(t, "the command to settle", func() bool {
		return m.find("sleep") != 0 && len(m.pids()) == 2
	})

	// The orphaned sleeps reparented to krellin-exec and exited; they
	// must not stay zombies until the command ends.
	time.Sleep(200 * time.Millisecond)
	if z := zombieChildren(r.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("zombie children while running: %v", z)
	}

	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	r.wait(t)
	m.checkNoneLeft(t)
}

// zombieChildren lists the zombie children of ppid.
func zombieChildren(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}
