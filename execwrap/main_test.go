//go:build linux

package execwrap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is krellin-exec, built once by TestMain. The tests run it as a
// real process, since Run takes over the process it runs in.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "krellin-exec-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "krellin-exec")

	// Built as it ships: static, without cgo.
	build := exec.Command("go", "build", "-o", binary,
		"github.com/krellin/krellin/cmd/krellin-exec")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build krellin-exec:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mark is an environment entry unique to one test. Every process of that
// test's runs inherits it, which is how leftovers are found.
type mark string

// newMark returns a fresh mark and, when the test ends, kills whatever still
// carries it, so a failing test leaves nothing behind either.
func newMark(t *testing.T) mark {
	m := mark(fmt.Sprintf("KRELLIN_TEST_MARK=%d.%d", os.Getpid(), rand.Uint64()))
	t.Cleanup(func() {
		for _, pid := range m.pids() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return m
}

// pids lists the live processes whose environment carries m.
func (m mark) pids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if string(kv) == string(m) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// find returns the pid of a live process carrying m whose command name is
// comm, or 0.
func (m mark) find(comm string) int {
	for _, pid := range m.pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == comm {
			return pid
		}
	}
	return 0
}

// checkNoneLeft fails the test if any process carrying m still exists.
func (m mark) checkNoneLeft(t *testing.T) {
	t.Helper()
	for _, pid := range m.pids() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("left running: pid %d: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
}

// result is what one krellin-exec run did.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// run is a started krellin-exec.
type run struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	started        time.Time
}

// start starts krellin-exec with args in a fresh temporary directory, its
// environment carrying m.
func start(t *testing.T, m mark, args ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	r := &run{cmd: exec.CommandContext(ctx, binary, args...)}
	r.cmd.Dir = t.TempDir()
	r.cmd.Env = append(os.Environ(), string(m))
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	// A leftover holding stdout open must fail the test, not hang it.
	r.cmd.WaitDelay = 5 * time.Second
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// wait waits for the run to end.
func (r *run) wait(t *testing.T) result {
	t.Helper()
	err := r.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("wait: %v", err)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("stdout or stderr still open %s after exit", r.cmd.WaitDelay)
	}
	return result{
		stdout: r.stdout.String(),
		stderr: r.stderr.String(),
		code:   r.cmd.ProcessState.ExitCode(),
		took:   time.Since(r.started),
	}
}

// runExec runs krellin-exec with args to the end.
func runExec(t *testing.T, m mark, args ...string) result {
	t.Helper()
	return start(t, m, args...).wait(t)
}

// waitFor polls until ok holds, failing the test after five seconds.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
