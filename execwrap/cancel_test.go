//go:build linux

package execwrap_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestCancel(t *testing.T) {
	t.Parallel()

	t.Run("stops a running action", func(t *testing.T) {
		t.Parallel()
		m := newMark(t)
		id := newID()
		r := start(t, m, "--id", id, "--", "sh", "-c", "sleep 1000 & sleep 1000")
		waitFor(t, "sleep to start", func() bool { return m.find("sleep") != 0 })

		if got := runExec(t, m, "--cancel", id); got.code != 0 {
			t.Fatalf("cancel: exit code = %d, stderr %q; want 0", got.code, got.stderr)
		}
		got := r.wait(t)
		if got.code != 143 {
			t.Errorf("run: exit code = %d, want 143", got.code)
		}
		if got.took > 3*time.Second {
			t.Errorf("run took %s after cancel", got.took)
		}
		m.checkNoneLeft(t)

		if got := runExec(t, m, "--cancel", id); got.code != 1 {
			t.Errorf("second cancel: exit code = %d, want 1", got.code)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		t.Parallel()
		m := newMark(t)
		got := runExec(t, m, "--cancel", newID())
		if got.code != 1 {
			t.Errorf("exit code = %d, want 1", got.code)
		}
	})

	t.Run("ignores other programs with the id", func(t *testing.T) {
		t.Parallel()
		m := newMark(t)
		id := newID()
		sleep := exec.Command("sleep", "1000")
		sleep.Env = append(os.Environ(), string(m), "KRELLIN_ACTION="+id)
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = sleep.Process.Kill()
			_ = sleep.Wait()
		})

		if got := runExec(t, m, "--cancel", id); got.code != 1 {
			t.Errorf("exit code = %d, want 1", got.code)
		}
		if err := sleep.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("sleep was signalled: %v", err)
		}
	})
}

// newID returns an action id no other test uses.
func newID() string {
	return fmt.Sprintf("test-%d-%d", os.Getpid(), rand.Uint64())
}
