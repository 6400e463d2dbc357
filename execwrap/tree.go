//go:build linux

package execwrap

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killGrace bounds how long killAll keeps at it. A process krellin-exec may
// not signal (another uid, and no CAP_KILL in the capsule) would otherwise
// keep it waiting forever; giving up leaves such a process to init.
const killGrace = 5 * time.Second

// tree is the command's process tree as krellin-exec sees it: the command,
// its process group, and every orphan that reparents to krellin-exec.
//
// Only the goroutine running Run reaps. So a process found in /proc with
// krellin-exec as its parent stays that process, alive or a zombie, until
// that goroutine reaps it, and killing it by pid cannot hit a stranger.
type tree struct {
	self   int             // krellin-exec's pid, the parent of every orphan
	leader int             // the command's pid and process group id
	status unix.WaitStatus // the command's wait status, once done
	done   bool            // whether the command has been reaped
}

// wait reaps orphans while the command runs and returns once the command
// exits, timeout (if positive) passes or a stop signal arrives. It returns
// the exit code for krellin-exec and, when the command did not simply exit,
// why not.
func (t *tree) wait(exits, stops <-chan os.Signal, timeout time.Duration) (int, string) {
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}

	for {
		select {
		case <-exits:
			t.reap()
			if t.done {
				return t.exitCode(), ""
			}
		case <-expired:
			return ExitTimeout, "timed out after " + timeout.String()
		case sig := <-stops:
			n := sig.(syscall.Signal)
			return 128 + int(n), "stopped by " + unix.SignalName(n)
		}
	}
}

// reap collects every child that has exited, without blocking, and reports
// whether no child is left at all.
func (t *tree) reap() bool {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			return true
		case err != nil || pid <= 0:
			return false
		}
		if pid == t.leader {
			t.status, t.done = ws, true
		}
	}
}

// exitCode is the command's exit code in shell terms: its exit status, or
// 128+N if signal N ended it.
func (t *tree) exitCode() int {
	if t.status.Signaled() {
		return 128 + int(t.status.Signal())
	}
	return t.status.ExitStatus()
}

// killAll kills the command's process group, then every child of
// krellin-exec, again as grandchildren reparent, until no child is left to
// reap or killGrace has passed.
func (t *tree) killAll(exits <-chan os.Signal) error {
	// One signal stops the whole group at once, before its members can
	// react. If the command is reaped already, the group id could only have
	// been reused after pids wrapped around, which takes far longer than
	// the moment since. Whoever left the group (setsid, setpgid) is found
	// below as a child once its parent is dead.
	_ = unix.Kill(-t.leader, unix.SIGKILL)

	deadline := time.Now().Add(killGrace)
	for {
		for _, pid := range childrenOf(t.self) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if t.reap() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes left running after %s of SIGKILL", killGrace)
		}

		select {
		case <-exits:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// childrenOf lists the processes whose parent is ppid.
func childrenOf(ppid int) []int {
	pids, _ := listPids()
	var children []int
	for _, pid := range pids {
		stat, err := os.ReadFile(procPath(pid, "stat"))
		if err == nil && parentOf(stat) == ppid {
			children = append(children, pid)
		}
	}
	return children
}

// parentOf reads the parent pid from the contents of /proc/PID/stat,
// "PID (COMM) STATE PPID ...", or returns -1. COMM may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parentOf(stat []byte) int {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}

// listPids lists the processes in /proc.
func listPids() ([]int, error) {
	dir, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}

	var pids []int
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// procPath is the path of file name in the /proc directory of pid.
func procPath(pid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}
