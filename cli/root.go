// Package cli is the krellin command line: one cobra command per verb,
// each turning its flags into a request to the daemon. Output writers are
// swappable so tests can run commands in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/termsafe"
)

// ExitError carries the exit status a command wants, with an optional
// message already printed or to print.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// app holds what every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dir            string // -C
	raw            bool   // show --raw
	cfg            *viper.Viper
}

// Main runs the krellin command line and returns the process exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, cfg: loadConfig()}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "krellin:", termsafe.Text(ee.Err.Error()))
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "krellin:", termsafe.Text(err.Error()))
	return 1
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "krellin",
		Short: "Run an AI agent's work on a repository in a recorded, resettable capsule",
		Long: `Krellin runs every action of an agent (commands, file writes, patches,
dependency fetches) in a Docker capsule for the repository, one at a time,
and records each as a commit on refs/krellin/<session>, with the full
record in git notes. Review it with git, reset to any point, replay it.`,
		Example: `  krellin up
  krellin run -- go test ./...
  krellin log
  git log --notes=krellin/session-1 refs/krellin/session-1`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.dir, "repo-dir", "C", "", "the repository (default: the git top level of the current directory)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: 2, Err: fmt.Errorf("%v\nTry: %s --help", err, c.CommandPath())}
	})
	root.AddCommand(
		a.upCommand(), a.runCommand(), a.fetchCommand(), a.writeCommand(), a.patchCommand(),
		a.logCommand(), a.showCommand(), a.diffCommand(), a.resetCommand(), a.replayCommand(),
		a.sessionsCommand(), a.statusCommand(), a.downCommand(), a.rmCommand(), a.daemonCommand(),
		a.doctorCommand(), a.tuiCommand(), a.mcpCommand(), a.askCommand(),
		a.shellCommand(), a.agentCommand(),
	)
	return root
}

// loadConfig reads the user's config: config.yaml in KRELLIN_HOME, else
// $XDG_CONFIG_HOME/krellin/config.yaml, and KRELLIN_* variables. Nothing
// here comes from the repository.
func loadConfig() *viper.Viper {
	v := viper.New()
	v.SetConfigName("config")
	v.SetConfigType("yaml")
	v.AddConfigPath(Home())
	v.AddConfigPath(filepath.Join(configHome(), "krellin"))
	v.SetEnvPrefix("KRELLIN")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.ReadInConfig()
	return v
}

func configHome() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config")
}

// target resolves the repository the command is about.
func (a *app) target(session string) (api.Target, error) {
	dir := a.dir
	if dir == "" {
		dir = "."
	}
	top, err := gitlog.FindTop(dir)
	if err != nil {
		return api.Target{}, err
	}
	return api.Target{Repo: top, Session: session}, nil
}

// connect resolves the repository and reaches the daemon, starting one
// when none answers.
func (a *app) connect(ctx context.Context, session string) (api.Target, *api.Client, error) {
	t, err := a.target(session)
	if err != nil {
		return t, nil, err
	}
	c, err := a.client(ctx)
	return t, c, err
}

// exactArgs is cobra.ExactArgs with a usage hint.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return &ExitError{Code: 2, Err: fmt.Errorf("%s takes %d argument(s), got %d\nTry: %s --help", c.Name(), n, len(args), c.CommandPath())}
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return &ExitError{Code: 2, Err: fmt.Errorf("%s takes at most %d argument(s)\nTry: %s --help", c.Name(), n, c.CommandPath())}
		}
		return nil
	}
}
