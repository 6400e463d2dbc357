package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/daemon"
	"github.com/krellin/krellin/policy"
)

func (a *app) daemonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the control plane in the foreground",
		Long: `Run the Krellin daemon in the foreground. Client commands start it in the
background when none answers, so running it by hand is only needed to see
its log live. It listens on $KRELLIN_SOCKET (default: daemon.sock in
$KRELLIN_HOME) with mode 0600. Log level: KRELLIN_LOG=debug|info|warn.`,
		Example: `  KRELLIN_LOG=debug krellin daemon`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runDaemon(ctx, a)
		},
	}
}

func runDaemon(ctx context.Context, a *app) error {
	helper, err := helperPath()
	if err != nil {
		return err
	}
	var level slog.Level
	level.UnmarshalText([]byte(os.Getenv("KRELLIN_LOG")))
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	d, err := daemon.New(daemon.Config{Home: Home(), Socket: Socket(), Helper: helper, Log: log,
		Policy: func() (policy.Policy, error) { return policy.User(loadConfig()) }})
	if err != nil {
		return err
	}
	return d.Serve(ctx)
}

// helperPath finds the static krellin-exec binary: KRELLIN_EXEC, or next
// to this binary.
func helperPath() (string, error) {
	if p := os.Getenv("KRELLIN_EXEC"); p != "" {
		return filepath.Abs(p)
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find krellin binary: %w", err)
	}
	self, _ = filepath.EvalSymlinks(self)
	return filepath.Join(filepath.Dir(self), "krellin-exec"), nil
}
