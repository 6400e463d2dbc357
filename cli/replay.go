package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/replay"
	"github.com/krellin/krellin/termsafe"
)

func (a *app) replayCommand() *cobra.Command {
	var into string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay [SESSION] [--into NAME]",
		Short: "Rerun a session in a fresh capsule and report where it diverged",
		Long: `Rerun every recorded action of SESSION (default: the current one) in a
fresh, temporary capsule created from the session's pinned image digest,
with the workspace at the session's base, recording the rerun as a new
session (default SESSION-replay-N). Each action's exit status and
resulting tree are compared with the original; output hashes are compared
and reported separately. Exits 0 only when every exit status and tree
matched.`,
		Example: `  krellin replay
  krellin replay session-1 --into session-1-check`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			session := ""
			if len(args) == 1 {
				session = args[0]
			}
			t, c, err := a.connect(cmd.Context(), session)
			if err != nil {
				return err
			}
			raw, err := c.Replay(cmd.Context(), api.ReplayRequest{Target: t, Into: into}, func(e api.Event) {
				if e.Type == "progress" && !asJSON {
					fmt.Fprintln(a.stdout, termsafe.Line(e.Message))
				}
			})
			if err != nil {
				return err
			}
			var rep replay.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				return fmt.Errorf("read replay report: %w", err)
			}
			if asJSON {
				a.stdout.Write(append(raw, '\n'))
			} else {
				a.printReport(rep)
			}
			if !rep.Matched {
				return &ExitError{Code: exitFailed}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "name of the new session")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func (a *app) printReport(rep replay.Report) {
	fmt.Fprintf(a.stdout, "\nreplay of %s into %s: %s\n", rep.Session, rep.Into, actionCount(len(rep.Steps)))
	if rep.Matched {
		fmt.Fprintln(a.stdout, "result: every exit status and tree matched")
	} else {
		fmt.Fprintf(a.stdout, "result: DIVERGED at %s\n", termsafe.Line(rep.Divergence))
	}
	if len(rep.OutputDiff) > 0 {
		fmt.Fprintf(a.stdout, "output hashes differ at seq %v (reported only; output may legitimately differ)\n", rep.OutputDiff)
	}
}
