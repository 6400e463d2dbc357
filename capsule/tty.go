package capsule

import (
	"context"
	"io"

	"github.com/docker/docker/api/types/container"
)

// TTY is an interactive command running in a capsule on a terminal:
// what is written to it is typed, what is read from it is the screen.
type TTY struct {
	io.Reader
	io.Writer
	e      *Engine
	execID string
	close  func()
}

// Interactive starts x.Argv on a terminal of cols×rows in container id.
// Unlike Run it does not go through krellin-exec: the command owns the
// terminal. The caller sweeps what it leaves behind (Sweep).
func (e *Engine) Interactive(ctx context.Context, id string, x Exec, cols, rows uint) (*TTY, error) {
	size := &[2]uint{rows, cols}
	created, err := e.cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: x.Argv, WorkingDir: x.Workdir, Env: x.Env, Tty: true, ConsoleSize: size,
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, e.classify("exec", err)
	}
	att, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: size})
	if err != nil {
		return nil, e.classify("exec attach", err)
	}
	t := &TTY{Reader: att.Reader, Writer: att.Conn, e: e, execID: created.ID, close: att.Close}
	// Engines before API 1.42 ignore the size given at creation.
	t.Resize(ctx, cols, rows)
	return t, nil
}

// Resize changes the terminal's size.
func (t *TTY) Resize(ctx context.Context, cols, rows uint) error {
	if cols == 0 || rows == 0 {
		return nil
	}
	return t.e.cli.ContainerExecResize(ctx, t.execID, container.ResizeOptions{Height: rows, Width: cols})
}

// Close drops the terminal: the command gets a hangup.
func (t *TTY) Close() { t.close() }

// Exit returns the command's exit status once it has ended, and whether
// it still runs.
func (t *TTY) Exit(ctx context.Context) (code int, running bool, err error) {
	ins, err := t.e.cli.ContainerExecInspect(ctx, t.execID)
	if err != nil {
		return -1, false, t.e.classify("exec inspect", err)
	}
	return ins.ExitCode, ins.Running, nil
}
