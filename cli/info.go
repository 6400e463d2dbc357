package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/api"
)

func (a *app) sessionsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "sessions",
		Short:   "List the repository's sessions",
		Example: `  krellin sessions`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), "")
			if err != nil {
				return err
			}
			ss, err := c.Sessions(cmd.Context(), t)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\tSESSION\tACTIONS\tBASE\tIMAGE\tTIP")
			for _, s := range ss {
				mark := ""
				if s.Current {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", mark, s.Name, s.Actions, short(s.Base), short(s.Image), short(s.Tip))
			}
			return tw.Flush()
		},
	}
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status [--json]",
		Short:   "Show the repository's capsule: container state, session, image",
		Example: `  krellin status`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), "")
			if err != nil {
				return err
			}
			s, err := c.Status(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.printStatus(s, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) printStatus(s api.Status, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("repository", s.Repo)
	row("capsule", s.Capsule)
	row("state", s.State)
	if s.Container != "" {
		row("container", short(s.Container))
	}
	row("session", s.Session)
	row("actions", fmt.Sprint(s.Actions))
	row("base", s.Base)
	row("image", s.Image+" ("+s.ImageRef+")")
	row("workspace", s.Workspace)
	row("policy", s.Policy)
	for _, o := range s.Overrides {
		row("override", o)
	}
	if s.Busy {
		row("running", s.Running)
	}
	return tw.Flush()
}

func (a *app) downCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "down",
		Short:   "Stop the repository's capsule; history and workspace stay",
		Example: `  krellin down`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), "")
			if err != nil {
				return err
			}
			s, err := c.Down(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "capsule %s %s\n", s.Capsule, s.State)
			return nil
		},
	}
}

func (a *app) rmCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rm",
		Short: "Remove the repository's capsule and workspace; history stays in git",
		Long: `Remove the capsule's container, its workspace directory and its state.
The recorded sessions stay in the repository under refs/krellin/ and
refs/notes/krellin/: krellin up --session NAME resumes one in a new
capsule, krellin up starts a new session.`,
		Example: `  krellin rm`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), "")
			if err != nil {
				return err
			}
			s, err := c.Rm(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "capsule %s removed; sessions stay under refs/krellin/\n", s.Capsule)
			return nil
		},
	}
}
