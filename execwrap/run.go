//go:build linux

package execwrap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ActionEnv names the environment variable that carries the action id, in the
// command's environment and in krellin-exec's own, where Cancel reads it.
const ActionEnv = "KRELLIN_ACTION"

// Exit codes of krellin-exec itself, the ones timeout(1) and the shell use.
const (
	ExitTimeout   = 124 // the command ran past Options.Timeout
	ExitCannotRun = 126 // the command was found but could not be started
	ExitNotFound  = 127 // the command was not found
)

// Options says what Run runs.
type Options struct {
	// Args is the command and its arguments. Args[0] is looked up in PATH
	// unless it contains a slash.
	Args []string

	// Timeout, when positive, is how long the command may run before Run
	// kills it and returns ExitTimeout.
	Timeout time.Duration

	// ActionID, when set, is exported as ActionEnv so that Cancel can find
	// this run.
	ActionID string

	// Stderr receives krellin-exec's own messages; nil means os.Stderr. The
	// command writes to the process's real stdout and stderr regardless.
	Stderr io.Writer
}

// Run runs the command in opts, kills and reaps everything it started once
// it is done, and returns the code krellin-exec should exit with: the
// command's exit status, 128+N if signal N ended it or stopped krellin-exec,
// ExitTimeout, or ExitCannotRun or ExitNotFound when it could not start.
//
// Run is meant to be the whole life of the process: it makes the process a
// child subreaper, takes over SIGCHLD, SIGTERM, SIGINT and SIGHUP, and with
// an ActionID it may execute the program anew (see exportActionID).
func Run(opts Options) int {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "krellin-exec: "+format+"\n", args...)
		return code
	}
	if len(opts.Args) == 0 {
		return fail(ExitCannotRun, "no command")
	}

	if opts.ActionID != "" {
		if err := exportActionID(opts.ActionID); err != nil {
			return fail(ExitCannotRun, "set %s: %v", ActionEnv, err)
		}
	}
	// Orphans must reparent to us rather than to init, or they would
	// escape the kill at the end.
	err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	if err != nil {
		return fail(ExitCannotRun, "become child subreaper: %v", err)
	}

	// Subscribe before the command starts, so that no exit and no stop
	// request goes unseen.
	exits := make(chan os.Signal, 1)
	signal.Notify(exits, unix.SIGCHLD)
	stops := make(chan os.Signal, 1)
	signal.Notify(stops, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)

	pid, err := start(opts.Args)
	if err != nil {
		reason, code := startFailure(err)
		return fail(code, "%s: %s", opts.Args[0], reason)
	}

	t := &tree{self: os.Getpid(), leader: pid}
	code, msg := t.wait(exits, stops, opts.Timeout)
	if err := t.killAll(exits); err != nil {
		fmt.Fprintf(stderr, "krellin-exec: %v\n", err)
	}
	if msg != "" {
		fmt.Fprintf(stderr, "krellin-exec: %s\n", msg)
	}
	return code
}

// exportActionID puts ActionEnv=id into the environment of this process as
// /proc/PID/environ shows it, which is where Cancel looks. The kernel shows
// the environment the process was executed with, which os.Setenv does not
// change, so unless the caller passed the variable already (docker exec -e
// saves this step), the program executes itself again with it added.
//
// It relies on Run being called before anything changes the environment,
// so that os.Getenv still reports what the kernel shows.
func exportActionID(id string) error {
	if v, ok := os.LookupEnv(ActionEnv); ok && v == id {
		return nil
	}

	env := []string{ActionEnv + "=" + id}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ActionEnv+"=") {
			env = append(env, kv)
		}
	}
	// Execute the file by its name, so that ps shows krellin-exec, not exe.
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	return unix.Exec(exe, os.Args, env)
}

// start starts args in a process group of its own, with stdin from
// /dev/null and the process's own stdout and stderr, and returns its pid.
// The caller reaps it.
func start(args []string) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	// Like a shell, run a program found through a relative PATH entry.
	if errors.Is(cmd.Err, exec.ErrDot) {
		cmd.Err = nil
	}
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}

	pid := cmd.Process.Pid
	// tree reaps with wait4; drop the handle os/exec would wait with.
	_ = cmd.Process.Release()
	return pid, nil
}

// startFailure turns an error from start into the reason to print and the
// exit code a shell would use.
func startFailure(err error) (string, int) {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return "not found", ExitNotFound
	}
	// The innermost error is the plain reason, such as "permission denied".
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(inner) {
		err = inner
	}
	return err.Error(), ExitCannotRun
}
