package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/glamour"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/termsafe"
)

func (a *app) logCommand() *cobra.Command {
	var session string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log [--session NAME] [--json]",
		Short: "Show a session's actions",
		Long: `Show the actions of a session (default: the capsule's current one). With
--json, print one JSON array with an object per action; docs/log-json.md
is the contract. The same history is plain git:
  git log --notes=krellin/SESSION refs/krellin/SESSION`,
		Example: `  krellin log
  krellin log --json | jq '.[] | select(.exit_code != 0)'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), session)
			if err != nil {
				return err
			}
			acts, err := c.Log(cmd.Context(), t)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(acts)
			}
			return a.renderLog(acts)
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "session to show (default: the current one)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (see docs/log-json.md)")
	return cmd
}

// renderLog draws the session as markdown through glamour.
func (a *app) renderLog(acts []api.Action) error {
	var md strings.Builder
	if len(acts) > 0 {
		s := acts[0]
		fmt.Fprintf(&md, "# %s\n\nbase `%s` · image `%s` · %d actions\n\n", sessionOf(s), short(s.Base), short(s.Image), len(acts)-1)
	}
	md.WriteString("| seq | action | what | status | took | commit |\n|---:|---|---|---|---:|---|\n")
	for _, x := range acts {
		fmt.Fprintf(&md, "| %d | %s | %s | %s | %s | `%s` |\n",
			x.Seq, x.Action, cell(what(x)), cell(statusText(x)), ms(x.DurationMS), x.Commit[:10])
	}
	out, err := a.markdown(md.String())
	if err != nil {
		return err
	}
	fmt.Fprint(a.stdout, out)
	return nil
}

func sessionOf(s api.Action) string {
	f := strings.Fields(s.Subject)
	if len(f) >= 3 {
		return "Session " + f[2]
	}
	return "Session"
}

// what says in a few words what an action did.
func what(x api.Action) string {
	switch {
	case x.Argv != nil:
		return notes.ShellQuote(x.Argv)
	case x.Path != "":
		return x.Path
	case len(x.Files) > 0:
		return strings.Join(x.Files, ", ")
	case x.TargetSeq != nil:
		return "to seq " + strconv.Itoa(*x.TargetSeq)
	case x.Action == "start":
		return "on " + short(x.Base)
	}
	return ""
}

func statusText(x api.Action) string {
	switch {
	case x.ExitCode != nil && x.Status == api.StatusOK:
		return "exit " + strconv.Itoa(*x.ExitCode)
	case x.Error != "" && len(x.Error) > 60:
		return x.Status + ": " + x.Error[:57] + "..."
	case x.Error != "":
		return x.Status + ": " + x.Error
	}
	return x.Status
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	s = termsafe.Line(s)
	s = strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// markdown renders md for the terminal, or as plain text when stdout is
// not one.
func (a *app) markdown(md string) (string, error) {
	style := "notty"
	width := 100
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		style = "dark"
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			width = w
		}
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(width))
	if err != nil {
		return "", err
	}
	return r.Render(md)
}

func (a *app) isTerminal() bool {
	f, ok := a.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) showCommand() *cobra.Command {
	var session string
	cmd := &cobra.Command{
		Use: "show [--raw] SEQ",
		Long: `Show one action in full: command, exit status, duration, output and the
diff it made. Control characters in output are shown as caret notation
(^[ for escape), so recorded output cannot hide or forge what follows it;
--raw prints the output bytes exactly.`,
		Short: "Show one action in full: command, status, duration, output and diff",
		Example: `  krellin show 3
  krellin show --session session-1 0`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.Atoi(args[0])
			if err != nil {
				return &ExitError{Code: exitUsage, Err: fmt.Errorf("SEQ must be a number from `krellin log`, not %q", args[0])}
			}
			t, c, err := a.connect(cmd.Context(), session)
			if err != nil {
				return err
			}
			d, err := c.Show(cmd.Context(), t, seq)
			if err != nil {
				return err
			}
			a.printDetail(d)
			return nil
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "session (default: the current one)")
	cmd.Flags().BoolVar(&a.raw, "raw", false, "print output bytes exactly, escape sequences included")
	return cmd
}

// printDetail prints an action; what the capsule wrote is sanitised when
// it goes to a terminal.
func (a *app) printDetail(d api.Detail) {
	x := d.Action
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, termsafe.Line(v)) }
	row("seq", strconv.Itoa(x.Seq))
	row("action", x.Action)
	row("commit", x.Commit)
	row("subject", x.Subject)
	if x.Argv != nil {
		row("command", notes.ShellQuote(x.Argv))
		row("workdir", x.Workdir)
	}
	if len(x.Env) > 0 {
		row("env", strings.Join(x.Env, " "))
	}
	if x.Path != "" {
		row("path", x.Path)
	}
	for _, f := range x.Files {
		row("file", f)
	}
	row("status", statusText(x))
	if x.ExitCode != nil {
		row("exit", strconv.Itoa(*x.ExitCode))
	}
	row("started", x.Time)
	row("duration", ms(x.DurationMS))
	for _, i := range x.Info {
		row("info", i)
	}
	tw.Flush()

	a.section("stdout", x.Stdout, d.Stdout)
	a.section("stderr", x.Stderr, d.Stderr)
	if d.Diff != "" {
		fmt.Fprintln(a.stdout, "\n--- diff ---")
		a.writeDiff(d.Diff)
	}
}

func (a *app) section(name string, o *api.Output, data []byte) {
	if o == nil || o.Bytes == 0 {
		return
	}
	head := fmt.Sprintf("\n--- %s (%d bytes", name, o.Bytes)
	if o.Cut {
		head += fmt.Sprintf(", %d kept: head and tail", len(data))
	}
	fmt.Fprintln(a.stdout, head+") ---")
	if a.raw {
		a.stdout.Write(data)
	} else {
		fmt.Fprint(a.stdout, termsafe.Text(string(data)))
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		fmt.Fprintln(a.stdout)
	}
}

// writeDiff prints a diff, coloured at a terminal.
func (a *app) writeDiff(diff string) {
	if !a.isTerminal() {
		fmt.Fprint(a.stdout, diff)
		return
	}
	for _, line := range strings.SplitAfter(diff, "\n") {
		color := ""
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"), strings.HasPrefix(line, "diff "):
			color = "\x1b[1m"
		case strings.HasPrefix(line, "+"):
			color = "\x1b[32m"
		case strings.HasPrefix(line, "-"):
			color = "\x1b[31m"
		case strings.HasPrefix(line, "@@"):
			color = "\x1b[36m"
		}
		text := termsafe.Text(strings.TrimSuffix(line, "\n"))
		if color != "" {
			text = color + text + "\x1b[0m"
		}
		fmt.Fprint(a.stdout, text)
		if strings.HasSuffix(line, "\n") {
			fmt.Fprintln(a.stdout)
		}
	}
}

func (a *app) diffCommand() *cobra.Command {
	var session string
	cmd := &cobra.Command{
		Use:   "diff [FROM [TO]]",
		Short: "Show what changed between two points of a session",
		Long: `Show the changes between two points of the session as a unified diff.
Points are sequence numbers or commits; FROM defaults to the base (0),
TO to the newest action.`,
		Example: `  krellin diff
  krellin diff 2 5`,
		Args: maxArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(session)
			if err != nil {
				return err
			}
			req := api.DiffRequest{Target: t}
			if len(args) > 0 {
				req.From = args[0]
			}
			if len(args) > 1 {
				req.To = args[1]
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			diff, err := c.Diff(cmd.Context(), req)
			if err != nil {
				return err
			}
			a.writeDiff(diff)
			return nil
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "session (default: the current one)")
	return cmd
}
