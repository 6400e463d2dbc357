package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/charmbracelet/glamour"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/feed"
)

func (a *app) logCommand() *cobra.Command {
	var o logOptions
	cmd := &cobra.Command{
		Use:   "log [--session NAME] [--json] [--follow [--output]]",
		Short: "Show a session's actions",
		Long: `Show the actions of a session (default: the capsule's current one). With
--json, print one JSON array with an object per action; docs/log-json.md
is the contract. The same history is plain git:
  git log --notes=krellin/SESSION refs/krellin/SESSION

With --follow, keep printing each action as it is recorded (--output adds
the output of commands as they run) until Ctrl-C. A follower survives a
daemon restart: it says so, reconnects and prints what it missed. With
--follow --json, print the event stream as NDJSON instead, one event per
line (docs/log-json.md).`,
		Example: `  krellin log
  krellin log --json | jq '.[] | select(.exit_code != 0)'
  krellin log -f --output
  krellin log -f --json | jq -c 'select(.type == "finished") | .action'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, c, err := a.connect(cmd.Context(), o.session)
			if err != nil {
				return err
			}
			acts, err := c.Log(cmd.Context(), t)
			if err != nil {
				return err
			}
			if o.follow {
				return a.followLog(cmd.Context(), c, t, acts, o)
			}
			if o.asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(acts)
			}
			return a.renderLog(acts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.session, "session", "", "session to show (default: the current one)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON (see docs/log-json.md)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing actions as they are recorded, until Ctrl-C")
	f.BoolVar(&o.output, "output", false, "with --follow: print commands' output as they run")
	return cmd
}

// renderLog draws the session as markdown through glamour.
func (a *app) renderLog(acts []api.Action) error {
	var md strings.Builder
	if len(acts) > 0 {
		s := acts[0]
		fmt.Fprintf(&md, "# %s\n\nbase `%s` · image `%s` · %s\n\n", sessionOf(s), short(s.Base), short(s.Image), actionCount(len(acts)-1))
	}
	// Left-aligned columns: glamour v1.0.0 cuts the header of right-aligned
	// ones ("se" for "seq").
	agents := hasAgents(acts)
	md.WriteString("| seq | action | what | status | took | commit |")
	if agents {
		md.WriteString(" by |")
	}
	md.WriteString("\n|---|---|---|---|---|---|")
	if agents {
		md.WriteString("---|")
	}
	md.WriteString("\n")
	for _, x := range acts {
		fmt.Fprintf(&md, "| %d | %s | %s | %s | %s | `%s` |",
			x.Seq, x.Action, cell(what(x)), clipCell(statusText(x), 30), ms(x.DurationMS), x.Commit[:10])
		if agents {
			fmt.Fprintf(&md, " %s |", cell(x.Author))
		}
		md.WriteString("\n")
	}
	out, err := a.markdown(md.String())
	if err != nil {
		return err
	}
	fmt.Fprint(a.stdout, out)
	return nil
}

// actionCount says "1 action", "2 actions".
func actionCount(n int) string {
	if n == 1 {
		return "1 action"
	}
	return fmt.Sprintf("%d actions", n)
}

// hasAgents says whether anyone but Krellin itself asked for an action:
// then the log says who did what.
func hasAgents(acts []api.Action) bool {
	for _, x := range acts {
		if x.Author != "" && x.Author != "krellin" {
			return true
		}
	}
	return false
}

// logOptions are the flags of krellin log.
type logOptions struct {
	session string
	asJSON  bool
	follow  bool
	output  bool // with follow: print output as it comes
}

// followSource is the part of api.Client a follower reloads from.
type followSource interface {
	Log(ctx context.Context, t api.Target) ([]api.Action, error)
	Status(ctx context.Context, t api.Target) (api.Status, error)
}

var _ followSource = (*api.Client)(nil)

// follower prints a session's actions as they are recorded. It knows the
// newest seq it printed, so a reload after a gap prints only what is new
// and an action is never printed twice.
type follower struct {
	a    *app
	c    followSource
	t    api.Target
	o    logOptions
	enc  *json.Encoder
	name string // the session followed
	last int    // the newest seq printed, -1 for none
	// inFlight is the summary of the action whose start was printed and
	// whose end was not yet; unseen is one whose end the follower missed
	// (the daemon went away), until a reload says what became of it.
	inFlight, unseen string
}

// followLog prints the log, then every action recorded after it, until
// Ctrl-C, which ends it with status 0.
func (a *app) followLog(ctx context.Context, c *api.Client, t api.Target, acts []api.Action, o logOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &follower{a: a, c: c, t: t, o: o, last: -1, name: t.Session}
	if o.asJSON {
		f.enc = json.NewEncoder(a.stdout)
		f.enc.SetEscapeHTML(false)
	} else {
		// In JSON the log comes as events after the stream's first gap.
		// In text, the history is printed in the columns of live rows.
		f.setSession(acts)
		f.heading(acts)
		for _, x := range acts {
			f.line(x)
		}
		f.last = len(acts) - 1
	}
	feed.Follow(ctx, c, api.Target{Repo: t.Repo}, f.update)
	return nil
}

// update handles one report of the feed.
func (f *follower) update(u feed.Update) {
	switch {
	case u.Lost != nil:
		fmt.Fprintf(f.a.stderr, "krellin: lost the daemon (%s); reconnecting\n", termsafe.Line(u.Lost.Error()))
		f.missedEnd("the daemon went away")
	case u.Back != nil:
		fmt.Fprintf(f.a.stderr, "krellin: reconnected to the daemon (pid %d)\n", u.Back.PID)
	case u.Event != nil:
		f.event(*u.Event)
	}
}

func (f *follower) event(e api.StreamEvent) {
	switch e.Type {
	case api.EventGap:
		f.emit(e)
		if f.inFlight != "" && !f.stillRunning() {
			f.missedEnd("events were missed")
		}
		f.reload(e)
		return
	case feed.Heartbeat:
		// Only says the stream is alive: JSON readers may see it.
		f.emit(e)
		return
	}
	if f.o.session != "" && e.Session != "" && e.Session != f.o.session {
		return
	}
	if e.Type == api.EventFinished && e.Action != nil {
		f.inFlight = ""
		if sub := e.Action.Subject; f.unseen != "" && (sub == f.unseen || strings.HasPrefix(sub, f.unseen+" (")) {
			f.unseen = "" // its end came after all, and prints as usual
		}
		f.finished(e)
		return
	}
	f.emit(e)
	if f.enc == nil {
		f.print(e)
	}
}

// finished prints a recorded action once, reloading the log when some
// were missed or the capsule moved to another session.
func (f *follower) finished(e api.StreamEvent) {
	a := *e.Action
	switch {
	case e.Session != f.name || a.Seq > f.last+1:
		f.reload(e)
	case a.Seq == f.last+1:
		f.emit(e)
		f.line(a)
		f.last = a.Seq
	}
}

// stillRunning asks the daemon whether the capsule still runs the action
// in flight.
func (f *follower) stillRunning() bool {
	st, err := f.c.Status(context.Background(), f.t)
	return err == nil && st.Busy && st.Session == f.name && st.Running == f.inFlight
}

// missedEnd says that the end of the action in flight was not seen; the
// next reload says what the log recorded of it.
func (f *follower) missedEnd(why string) {
	if f.inFlight == "" {
		return
	}
	fmt.Fprintf(f.a.stderr, "krellin: did not see the end of %s (%s)\n", termsafe.Line(f.inFlight), why)
	f.unseen, f.inFlight = f.inFlight, ""
}

// settleUnseen says what the reloaded log recorded of the action whose
// end was missed: its record (subject "SUMMARY" or "SUMMARY (status)"),
// or nothing.
func (f *follower) settleUnseen(fresh []api.Action) {
	if f.unseen == "" {
		return
	}
	for _, a := range fresh {
		if a.Subject == f.unseen || strings.HasPrefix(a.Subject, f.unseen+" (") {
			fmt.Fprintf(f.a.stderr, "krellin: the log records %s as seq %d: %s\n",
				termsafe.Line(f.unseen), a.Seq, termsafe.Line(statusText(a)))
			f.unseen = ""
			return
		}
	}
	fmt.Fprintf(f.a.stderr, "krellin: the log does not record %s\n", termsafe.Line(f.unseen))
	f.unseen = ""
}

// reload reads the log again and prints the actions not printed yet; at
// is the event that called for it.
func (f *follower) reload(at api.StreamEvent) {
	acts, err := f.c.Log(context.Background(), f.t)
	if err != nil {
		fmt.Fprintf(f.a.stderr, "krellin: reload the log: %s\n", termsafe.Line(err.Error()))
		return
	}
	if old := f.name; f.setSession(acts) && old != "" {
		f.last = -1
		if f.enc == nil {
			fmt.Fprintf(f.a.stdout, "── session %s\n", termsafe.Line(f.name))
		}
	}
	var fresh []api.Action
	for _, a := range acts {
		if a.Seq <= f.last {
			continue
		}
		f.emit(api.StreamEvent{ID: at.ID, Epoch: at.Epoch, Time: at.Time, Type: api.EventFinished,
			Repo: f.t.Repo, Session: f.name, Summary: a.Subject, Author: a.Author, Action: &a,
			Message: fromLog})
		f.line(a)
		f.last = a.Seq
		fresh = append(fresh, a)
	}
	f.settleUnseen(fresh)
}

// fromLog marks finished events read from the log after a gap.
const fromLog = "from the log"

// setSession learns the session's name from its start; it reports
// whether the name changed.
func (f *follower) setSession(acts []api.Action) bool {
	if len(acts) == 0 {
		return false
	}
	name := strings.TrimPrefix(sessionOf(acts[0]), "Session ")
	changed := name != f.name
	f.name = name
	return changed
}

// emit writes an event as one NDJSON line, in JSON mode.
func (f *follower) emit(e api.StreamEvent) {
	if f.enc != nil {
		f.enc.Encode(e)
	}
}

// heading names the session followed and the columns of its rows.
func (f *follower) heading(acts []api.Action) {
	if len(acts) > 0 {
		s := acts[0]
		fmt.Fprintf(f.a.stdout, "%s · base %s · image %s · %s\n", termsafe.Line(sessionOf(s)), short(s.Base), short(s.Image), actionCount(len(acts)-1))
	}
	f.row("SEQ", "ACTION", "WHAT", "STATUS", "TOOK", "COMMIT")
}

// line prints one recorded action.
func (f *follower) line(x api.Action) {
	if f.enc != nil {
		return
	}
	f.row(strconv.Itoa(x.Seq), x.Action, what(x), statusText(x), ms(x.DurationMS), x.Commit[:min(10, len(x.Commit))])
}

// row prints one row in the follower's columns: the history, actions as
// they start and as they are recorded all line up.
func (f *follower) row(seq, action, what, status, took, commit string) {
	line := fmt.Sprintf("%4s  %-7s  %-40s  %-12s  %7s  %s", seq, clip(action, 7), clip(what, 40),
		clip(status, 30), took, commit)
	fmt.Fprintln(f.a.stdout, strings.TrimRight(line, " "))
}

// clip makes text one safe line of at most n runes.
func clip(s string, n int) string {
	r := []rune(termsafe.Line(s))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

// print tells a person about an event that is not a recorded action.
func (f *follower) print(e api.StreamEvent) {
	w := f.a.stderr
	switch e.Type {
	case api.EventStarted:
		if f.o.output {
			kind, rest, _ := strings.Cut(e.Summary, ": ")
			f.row("…", kind, rest, "running", "", "")
			f.inFlight = e.Summary
		}
	case api.EventOutput:
		if f.o.output {
			f.outputData(e)
		}
	case api.EventRefused:
		f.inFlight = ""
		if e.Error != nil {
			fmt.Fprintf(w, "krellin: refused %s: %s\n", termsafe.Line(e.Summary), termsafe.Line(e.Error.Message))
		}
	case api.EventState, api.EventReplay:
		if e.Message != "" {
			fmt.Fprintf(w, "krellin: %s\n", termsafe.Line(e.Message))
		}
	}
}

// outputData copies a command's output, sanitised at a terminal.
func (f *follower) outputData(e api.StreamEvent) {
	w := f.a.stdout
	if e.Stream == "stderr" {
		w = f.a.stderr
	}
	if f.a.isTerminal() {
		fmt.Fprint(w, termsafe.Text(string(e.Data)))
		return
	}
	w.Write(e.Data)
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
	// Other kinds (ask, snapshot, restore) say it in their subject.
	_, rest, _ := strings.Cut(x.Subject, ": ")
	return rest
}

func statusText(x api.Action) string {
	switch {
	case x.ExitCode != nil && x.Status == api.StatusOK:
		return "exit " + strconv.Itoa(*x.ExitCode)
	case x.Error != "":
		return x.Status + ": " + x.Error
	}
	return x.Status
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string { return clipCell(s, 60) }

// clipCell makes s safe for a table cell of at most n characters.
func clipCell(s string, n int) string {
	s = termsafe.Line(s)
	s = strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-3]) + "..."
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
	var cast bool
	cmd := &cobra.Command{
		Use: "show [--raw] SEQ",
		Long: `Show one action in full: command, exit status, duration, output and the
diff it made. Control characters in output are shown as caret notation
(^[ for escape), so recorded output cannot hide or forge what follows it;
--raw prints the output bytes exactly.`,
		Short: "Show one action in full: command, status, duration, output and diff",
		Example: `  krellin show 3
  krellin show --session session-1 0
  krellin show --cast 7 > session.cast && asciinema play session.cast`,
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
			if cast {
				return a.writeCast(d)
			}
			a.printDetail(d)
			return nil
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "session (default: the current one)")
	cmd.Flags().BoolVar(&cast, "cast", false, "print a terminal session's asciicast v2 recording, for asciinema play")
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
	row("author", x.Author)
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

	a.printReasons(d)
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
