package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/termsafe"
)

// Exit statuses of krellin itself, apart from a command's own.
const (
	exitFailed  = 1   // krellin or the action failed
	exitUsage   = 2   // bad flags or arguments
	exitTimeout = 124 // the command hit its timeout
	exitKrellin = 125 // krellin could not run the command at all
)

type execOptions struct {
	timeout time.Duration
	workdir string
	env     []string
}

func (a *app) runCommand() *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARG...]",
		Short: "Run a command in the capsule and record it",
		Long: `Run CMD inside the capsule in /workspace, with no network and an empty
stdin. Output streams live; krellin exits with the command's own status
(124 when it timed out, 125 when krellin could not run it). The action is
recorded as one commit whether or not it changed anything.`,
		Example: `  krellin run -- go test ./...
  krellin run --timeout 2m --workdir sub --env CGO_ENABLED=0 -- make build`,
		Args: needCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.exec(cmd.Context(), "run", o, args)
		},
	}
	execFlags(cmd, &o)
	return cmd
}

func (a *app) fetchCommand() *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "fetch [flags] -- CMD [ARG...]",
		Short: "Run a command with network egress, to fetch dependencies",
		Long: `Like run, but the capsule has network egress for the duration of this one
action, which is recorded as a fetch. Use it for downloading dependencies;
every other action runs without network.`,
		Example: `  krellin fetch -- go mod download
  krellin fetch --timeout 10m -- npm ci`,
		Args: needCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.exec(cmd.Context(), "fetch", o, args)
		},
	}
	execFlags(cmd, &o)
	return cmd
}

func execFlags(cmd *cobra.Command, o *execOptions) {
	f := cmd.Flags()
	f.DurationVar(&o.timeout, "timeout", 0, "kill the command and its children after this long (default 30m)")
	f.StringVar(&o.workdir, "workdir", "", "working directory, relative to /workspace")
	f.StringArrayVar(&o.env, "env", nil, "set K=V in the command's environment (repeatable)")
	f.SetInterspersed(false)
}

func (a *app) exec(ctx context.Context, kind string, o execOptions, argv []string) error {
	t, err := a.target("")
	if err != nil {
		return &ExitError{Code: exitKrellin, Err: err}
	}
	c, err := a.client(ctx)
	if err != nil {
		return &ExitError{Code: exitKrellin, Err: err}
	}
	req := api.ActionRequest{Target: t, Kind: kind, Argv: argv, Workdir: o.workdir, Env: o.env,
		TimeoutMS: (o.timeout + time.Millisecond - 1).Milliseconds()}
	if err := check(req); err != nil {
		return &ExitError{Code: exitUsage, Err: err}
	}
	act, err := c.Act(ctx, req, a.stdout, a.stderr)
	if err != nil {
		return &ExitError{Code: exitKrellin, Err: err}
	}
	a.warn(act)
	a.summary(act)
	switch {
	case act.TimedOut:
		return &ExitError{Code: exitTimeout, Err: fmt.Errorf("seq %d timed out after %s", act.Seq, ms(act.DurationMS))}
	case act.Status == api.StatusInterrupted:
		return &ExitError{Code: exitKrellin, Err: fmt.Errorf("seq %d interrupted: %s", act.Seq, act.Error)}
	case act.ExitCode == nil:
		return &ExitError{Code: exitKrellin, Err: errors.New(act.Error)}
	}
	if *act.ExitCode != 0 {
		return &ExitError{Code: *act.ExitCode}
	}
	return nil
}

// summary tells a person at a terminal which action was recorded.
func (a *app) summary(act api.Action) {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return
	}
	fmt.Fprintf(a.stderr, "[krellin] seq %d · %s · %s · %s\n", act.Seq, act.Status, ms(act.DurationMS), act.Commit[:12])
}

// ms renders a duration in milliseconds for people.
func ms(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%dms", n)
	}
	return (time.Duration(n) * time.Millisecond).Round(100 * time.Millisecond).String()
}

func (a *app) writeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "write PATH",
		Short: "Write stdin to a file in the workspace and record it",
		Long: `Write standard input to PATH, relative to the workspace. Directories are
created as needed. A path that is absolute, uses "..", or goes through a
symlink is refused; the refusal is recorded and nothing is written.`,
		Example: `  echo 'hello' | krellin write notes/hello.txt`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := io.ReadAll(io.LimitReader(a.stdin, 64<<20+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			return a.fileAction(cmd.Context(), api.ActionRequest{Kind: "write", Path: args[0], Input: data})
		},
	}
}

func (a *app) patchCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "patch [FILE]",
		Short: "Apply a unified diff to the workspace and record it",
		Long: `Apply a unified diff (git diff, git format-patch or diff -u) from FILE or
standard input. It applies whole or not at all: a patch that does not
apply changes nothing and is recorded as a failed action with the reason.`,
		Example: `  git diff | krellin patch
  krellin patch fix.diff`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := a.stdin
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			data, err := io.ReadAll(io.LimitReader(in, 64<<20+1))
			if err != nil {
				return fmt.Errorf("read patch: %w", err)
			}
			return a.fileAction(cmd.Context(), api.ActionRequest{Kind: "patch", Input: data})
		},
	}
}

func (a *app) resetCommand() *cobra.Command {
	var to int
	cmd := &cobra.Command{
		Use:   "reset [--to SEQ]",
		Short: "Put the workspace back to a recorded point and recreate the container",
		Long: `Make the workspace exactly the tree of action SEQ (default 0, the base):
untracked and ignored files go too. The container is recreated from the
image digest pinned at session start. The reset is itself recorded, so
nothing recorded is lost.`,
		Example: `  krellin reset
  krellin reset --to 3`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.fileAction(cmd.Context(), api.ActionRequest{Kind: "reset", ToSeq: to})
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "sequence number to reset to (see krellin log)")
	return cmd
}

// fileAction runs write, patch or reset and reports the result.
func (a *app) fileAction(ctx context.Context, req api.ActionRequest) error {
	t, err := a.target("")
	if err != nil {
		return err
	}
	req.Target = t
	if err := check(req); err != nil {
		return &ExitError{Code: exitUsage, Err: err}
	}
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	act, err := c.Act(ctx, req, a.stdout, a.stderr)
	if err != nil {
		return err
	}
	a.warn(act)
	if act.Error != "" {
		return &ExitError{Code: exitFailed, Err: fmt.Errorf("%s (recorded as seq %d)", termsafe.Line(act.Error), act.Seq)}
	}
	fmt.Fprintf(a.stdout, "seq %s  %s  %s\n", strconv.Itoa(act.Seq), act.Commit[:12], termsafe.Line(act.Subject))
	for _, f := range act.Files {
		fmt.Fprintf(a.stdout, "  %s\n", termsafe.Line(f))
	}
	return nil
}

// check validates a request here, before JSON could change bytes that are
// not valid UTF-8.
func check(req api.ActionRequest) error {
	return actions.Check(actions.Request{
		Kind: req.Kind, Argv: req.Argv, Workdir: req.Workdir, Env: req.Env,
		Timeout: time.Duration(req.TimeoutMS) * time.Millisecond, Path: req.Path, Input: req.Input,
	})
}

// warn passes on what the daemon wants the operator to hear.
func (a *app) warn(act api.Action) {
	for _, w := range act.Warnings {
		fmt.Fprintln(a.stderr, "krellin: warning:", termsafe.Line(w))
	}
}

// needCommand requires a command after the flags.
func needCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("%s needs a command to run\nTry: krellin %s -- CMD [ARG...]", c.Name(), c.Name())}
	}
	return nil
}
