//go:build linux

package execwrap

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// AllActions, given to Cancel, stops every labelled run: what a daemon
// that restarted after a crash does to runs it no longer follows.
const AllActions = "*"

// Cancel sends SIGTERM to every krellin-exec running action id, which makes
// each kill its command's tree and exit, and returns how many it signalled.
// It does not wait for them to finish.
func Cancel(id string) (int, error) {
	if id == "" {
		return 0, errors.New("empty action id")
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	pids, err := listPids()
	if err != nil {
		return 0, err
	}

	want := []byte(ActionEnv + "=" + id)
	if id == AllActions {
		want = []byte(ActionEnv + "=")
	}
	signalled := 0
	for _, pid := range pids {
		if pid == os.Getpid() || !hasEnv(pid, want, id == AllActions) || !runs(pid, self) {
			continue
		}
		if unix.Kill(pid, unix.SIGTERM) == nil {
			signalled++
		}
	}
	return signalled, nil
}

// hasEnv reports whether process pid was executed with the environment
// entry kv, or with one starting with kv when prefix is set.
func hasEnv(pid int, kv []byte, prefix bool) bool {
	environ, err := os.ReadFile(procPath(pid, "environ"))
	if err != nil {
		return false
	}
	for _, entry := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(entry, kv) || prefix && bytes.HasPrefix(entry, kv) {
			return true
		}
	}
	return false
}

// runs reports whether process pid executes the program at path, judged by
// its /proc/PID/exe link or, where that is unreadable, by its argv[0].
func runs(pid int, path string) bool {
	if exe, err := os.Readlink(procPath(pid, "exe")); err == nil {
		return exe == path
	}
	cmdline, err := os.ReadFile(procPath(pid, "cmdline"))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(argv0) == path || string(argv0) == os.Args[0]
}

// Sweep kills (SIGKILL) every process in the capsule but PID 1 (the
// init), the idle main process, and itself: what is left when a command
// escaped its krellin-exec, for instance by killing or stopping it. It
// returns how many it killed.
func Sweep() (int, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	pids, err := listPids()
	if err != nil {
		return 0, err
	}
	killed := 0
	for _, pid := range pids {
		if pid == 1 || pid == os.Getpid() || (runs(pid, self) && isIdle(pid)) {
			continue
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed++
		}
	}
	return killed, nil
}

// isIdle reports whether pid is a `krellin-exec --idle`.
func isIdle(pid int) bool {
	cmdline, err := os.ReadFile(procPath(pid, "cmdline"))
	return err == nil && bytes.Contains(cmdline, []byte("\x00--idle"))
}
