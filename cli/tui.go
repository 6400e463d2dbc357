package cli

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/tui"
)

// errDumbTerminal is why the TUI does not start on a terminal that cannot
// move its cursor, and what to use instead.
var errDumbTerminal = errors.New("krellin tui needs a terminal that supports cursor movement; use krellin log --follow")

func (a *app) tuiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Watch and drive every capsule from a terminal UI",
		Long: `Show every capsule and its sessions, the selected session's actions live
(output streams in as commands run), any action in full with its diff,
and keys to run a command, reset, replay, stop or remove a capsule;
destructive keys ask first. ? lists every key. The repository of the
current directory (or -C) is selected first. The view reconnects by
itself when the daemon restarts.`,
		Example: `  krellin tui
  NO_COLOR=1 krellin tui -C ~/src/project`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("TERM") == "dumb" {
				return &ExitError{Code: exitUsage, Err: errDumbTerminal}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM)
			defer stop()
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			opts := tui.Options{}
			// Outside a repository the TUI still shows every capsule.
			if t, err := a.target(""); err == nil {
				opts.Repo = t.Repo
			}
			return tui.Run(ctx, c, opts, os.Stdin, os.Stdout)
		},
	}
}
