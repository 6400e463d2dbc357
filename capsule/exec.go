package capsule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// TimeoutExit is the status krellin-exec exits with when it killed a
// command at its timeout.
const TimeoutExit = 124

// Exec is one command to run in a capsule.
type Exec struct {
	Argv    []string
	Workdir string        // absolute, inside the capsule
	Env     []string      // K=V, added to the capsule's environment
	Timeout time.Duration // 0: none
	ID      string        // action id, lets Cancel find the process
	Stdout  io.Writer
	Stderr  io.Writer
}

// ErrInterrupted reports a command whose stream broke before it ended, as
// when the engine restarts underneath it.
var ErrInterrupted = errors.New("command interrupted")

// Run runs x through krellin-exec, which gives it an empty stdin, kills
// its whole process tree when it ends or times out, and reaps every child.
// It returns the command's exit status.
func (e *Engine) Run(ctx context.Context, id string, x Exec) (int, error) {
	argv := []string{HelperPath}
	if x.Timeout > 0 {
		argv = append(argv, "--timeout", x.Timeout.String())
	}
	if x.ID != "" {
		// Set in the exec's environment too, so krellin-exec need not
		// restart itself to make the id visible to --cancel.
		argv = append(argv, "--id", x.ID)
		x.Env = append(append([]string(nil), x.Env...), "KRELLIN_ACTION="+x.ID)
	}
	x.Argv = append(append(argv, "--"), x.Argv...)
	return e.exec(ctx, id, x)
}

// exec runs x.Argv as it is and waits for it.
func (e *Engine) exec(ctx context.Context, id string, x Exec) (int, error) {
	created, err := e.cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: x.Argv, WorkingDir: x.Workdir, Env: x.Env,
		AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, e.classify("exec", err)
	}
	att, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, e.classify("exec attach", err)
	}
	defer att.Close()

	if _, err := stdcopy.StdCopy(orDiscard(x.Stdout), orDiscard(x.Stderr), att.Reader); err != nil {
		return -1, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	ins, err := e.cli.ContainerExecInspect(context.WithoutCancel(ctx), created.ID)
	if err != nil {
		return -1, fmt.Errorf("%w: %v", ErrInterrupted, e.classify("exec inspect", err))
	}
	if ins.Running {
		return -1, fmt.Errorf("%w: output closed while the command still runs", ErrInterrupted)
	}
	// A status from a signal may be the container going down under the
	// command (an engine restart) rather than the command's own.
	if ins.ExitCode >= 128 && e.goingDown(context.WithoutCancel(ctx), id) {
		return -1, fmt.Errorf("%w: the capsule's container stopped during the command (did the engine restart?)", ErrInterrupted)
	}
	return ins.ExitCode, nil
}

// Sweep kills every process in the capsule but its init and idle process.
func (e *Engine) Sweep(ctx context.Context, id string) error {
	_, err := e.exec(ctx, id, Exec{Argv: []string{HelperPath, "--sweep"}})
	return err
}

// Cancel asks krellin-exec to stop the command running as action id.
func (e *Engine) Cancel(ctx context.Context, id, action string) error {
	_, err := e.exec(ctx, id, Exec{Argv: []string{HelperPath, "--cancel", action}})
	return err
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// goingDown watches a container for a moment after a command died of a
// signal: if the container stops (or the engine stops answering), the
// signal came from its shutdown, not from the command. Only signal
// statuses pay this wait.
func (e *Engine) goingDown(ctx context.Context, id string) bool {
	for i := 0; i < 15; i++ {
		c, err := e.cli.ContainerInspect(ctx, id)
		if err != nil || c.State == nil || !c.State.Running {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
