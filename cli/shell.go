package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/krellin/krellin/api"
)

func (a *app) shellCommand() *cobra.Command {
	var o shellOptions
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Open an interactive shell in the capsule, recorded as one action",
		Long: `Open the capsule's shell (/bin/sh) on your terminal, through the daemon.
The whole session is one action: its note keeps the terminal transcript
in asciicast v2 format (` + "`krellin show --cast SEQ > s.cast`" + ` saves it for asciinema),
and while it runs Krellin records the workspace as snapshot commits
whenever files settle. Background processes end with the session.`,
		Example: `  krellin shell
  krellin shell --env EDITOR=vi`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.terminal(cmd.Context(), o, nil)
		},
	}
	o.flags(cmd)
	return cmd
}

func (a *app) agentCommand() *cobra.Command {
	var o shellOptions
	cmd := &cobra.Command{
		Use:   "agent -- CMD [ARG...]",
		Short: "Run an interactive agent CLI in the capsule, recorded as one action",
		Long: `Run an agent's own command-line program (Claude Code, Codex, aider...)
installed in the capsule's image, on your terminal, through the daemon.
Like ` + "`krellin shell`" + `, the session is one recorded action with an asciicast
transcript, and the workspace is recorded as snapshot commits whenever
files settle, so the log shows how the agent's work progressed.

An agent needs network for its API and its credentials: see "Agents in
the capsule" in the README for how to give exactly that and no more.`,
		Example: `  krellin agent -- claude
  krellin agent --network --env ANTHROPIC_API_KEY -- claude`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("agent needs a command: krellin agent -- CMD [ARG...]\nTry: %s --help", c.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.terminal(cmd.Context(), o, args)
		},
	}
	o.flags(cmd)
	return cmd
}

type shellOptions struct {
	session string
	env     []string
	network bool
}

func (o *shellOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.session, "session", "", "session to record in (default: the capsule's current one)")
	f.StringArrayVar(&o.env, "env", nil, "set K=V in the session, or pass K from your environment as a masked secret (repeatable)")
	f.BoolVar(&o.network, "network", false, "network egress for this session only (an agent's API); recorded in its note")
}

// terminal runs argv (the capsule's shell when empty) on this terminal
// and exits with its status.
func (a *app) terminal(ctx context.Context, o shellOptions, argv []string) error {
	in, out := a.stdin.(*os.File), a.stdout.(*os.File)
	if in == nil || out == nil || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return &ExitError{Code: 2, Err: errors.New("an interactive session needs a terminal on stdin and stdout; use `krellin run -- CMD` for commands without one")}
	}
	env, secrets, err := passEnv(o.env)
	if err != nil {
		return err
	}
	t, c, err := a.connect(ctx, o.session)
	if err != nil {
		return err
	}
	cols, rows, _ := term.GetSize(int(out.Fd()))
	conn, err := c.Shell(ctx, api.ShellRequest{Target: t, Argv: argv, Env: env, Secrets: secrets,
		Cols: uint(cols), Rows: uint(rows), Term: os.Getenv("TERM"), Author: operator(), Network: o.network})
	if err != nil {
		return err
	}
	defer conn.Close()

	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	end, err := relay(conn, in, out)
	term.Restore(int(in.Fd()), old)
	if err != nil {
		return err
	}
	return a.sessionEnded(end)
}

// relay copies keys and size changes to the capsule and the screen back
// until the end frame.
func relay(conn *api.TTYConn, in, out *os.File) (api.EndFrame, error) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if cols, rows, err := term.GetSize(int(out.Fd())); err == nil {
				api.WriteFrame(conn, api.FrameResize, api.ResizePayload(uint(cols), uint(rows)))
			}
		}
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 && api.WriteFrame(conn, api.FrameData, buf[:n]) != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		typ, p, err := api.ReadFrame(conn.R)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return api.EndFrame{}, api.ErrTTYClosed
			}
			return api.EndFrame{}, fmt.Errorf("terminal: %w", err)
		}
		switch typ {
		case api.FrameData:
			out.Write(p)
		case api.FrameEnd:
			var end api.EndFrame
			if err := json.Unmarshal(p, &end); err != nil {
				return end, fmt.Errorf("terminal end: %w", err)
			}
			return end, nil
		}
	}
}

// sessionEnded says what was recorded and exits with the command's status.
func (a *app) sessionEnded(end api.EndFrame) error {
	if end.Error != nil {
		return end.Error
	}
	act := end.Action
	if act == nil {
		return api.ErrTTYClosed
	}
	fmt.Fprintf(a.stderr, "\r\nkrellin: session recorded as action %d (%s); `krellin show %d` has its transcript\n", act.Seq, statusText(*act), act.Seq)
	switch {
	case act.ExitCode != nil && *act.ExitCode != 0:
		return &ExitError{Code: *act.ExitCode}
	case act.Status != api.StatusOK:
		return &ExitError{Code: 1}
	}
	return nil
}

// passEnv splits --env values: K=V is set as given; a bare K takes its
// value from this environment and is treated as a secret, masked in
// the record, so a credential need not appear on the command line.
func passEnv(vals []string) (env, secrets []string, err error) {
	for _, v := range vals {
		if k, _, ok := strings.Cut(v, "="); ok && k != "" {
			env = append(env, v)
			continue
		}
		val, ok := os.LookupEnv(v)
		if !ok || v == "" {
			return nil, nil, &ExitError{Code: 2, Err: fmt.Errorf("--env %q: %s is not set in your environment", v, v)}
		}
		secrets = append(secrets, v+"="+val)
	}
	return env, secrets, nil
}

// operator names the person at the terminal as an action's author.
func operator() *api.Author {
	name := os.Getenv("USER")
	if name == "" {
		name = "operator"
	}
	return &api.Author{Name: name, Email: name + "@localhost"}
}
