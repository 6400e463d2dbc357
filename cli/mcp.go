package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/mcp"
	"github.com/krellin/krellin/tools"
)

func (a *app) mcpCommand() *cobra.Command {
	var o struct{ session, author string }
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the capsule's tools to an MCP agent over stdio",
		Long: `Serve Krellin's tools over the Model Context Protocol on stdin and stdout,
for agents such as Claude Code, Codex CLI and Cursor. The server attaches
to the repository's capsule (starting the daemon, and the capsule's
session as ` + "`krellin up`" + ` would, when needed). Every command and change the
agent makes is one recorded action, its commit authored by the agent
(the MCP client's name, or --author). Reads record nothing.

Tools: run, fetch, read_file, write_file, edit_file, apply_patch,
list_files, search, log, diff, reset. Nothing but protocol messages is
written to stdout; diagnostics go to stderr.`,
		Example: `  claude mcp add krellin -- krellin mcp
  krellin mcp -C ~/src/project --session agent-1 --author my-agent`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serveMCP(cmd.Context(), o.session, o.author)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.session, "session", "", "session to work in (default: the capsule's current one, or a new one)")
	f.StringVar(&o.author, "author", "", "credit actions to this name instead of the MCP client's")
	return cmd
}

// serveMCP attaches to the capsule and serves until the client leaves.
// Protocol on os.Stdin and os.Stdout; everything else to stderr.
func (a *app) serveMCP(ctx context.Context, session, author string) error {
	a.projectDir()
	t, c, err := a.connect(ctx, session)
	if err != nil {
		return err
	}
	// The tools stay on the session attached to: if the operator switches
	// the capsule to another, calls fail saying so instead of writing there.
	if t.Session, err = a.attach(ctx, c, t); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	set := tools.New(c, t, api.Author{Name: "mcp client"})
	return mcp.Serve(ctx, set, mcp.Options{Version: version(), Author: author, Log: log}, mcp.Guarded(os.Stdin, os.Stdout))
}

// projectDir finds the repository when -C is not given and the client
// started the server outside it (Cursor starts servers in /): the
// project directory some clients name in the environment.
func (a *app) projectDir() {
	if a.dir != "" {
		return
	}
	if _, err := gitlog.FindTop("."); err == nil {
		return
	}
	for _, k := range []string{"CLAUDE_PROJECT_DIR", "WORKSPACE_FOLDER_PATHS"} {
		dir, _, _ := strings.Cut(os.Getenv(k), ",")
		if dir = strings.TrimSpace(dir); dir != "" {
			a.dir = dir
			return
		}
	}
}

// attach makes sure the capsule runs a session, as `krellin up` would:
// the current one, the one named, or a new one.
func (a *app) attach(ctx context.Context, c *api.Client, t api.Target) (string, error) {
	resp, err := c.Up(ctx, a.upRequest(t, ""))
	if err != nil {
		return "", fmt.Errorf("attach to the capsule: %w", err)
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(a.stderr, "krellin: warning:", w)
	}
	fmt.Fprintf(a.stderr, "krellin: serving capsule %s, session %s\n", resp.Capsule, resp.Session)
	return resp.Session, nil
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
