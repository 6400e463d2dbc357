// Package replay reruns a recorded session action by action and compares
// each result with the original: exit status and resulting tree must
// match; output hashes are compared and reported separately, since output
// may legitimately differ (timings, temporary names).
package replay

import (
	"context"
	"fmt"
	"strings"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
)

// Step is the comparison of one action.
type Step struct {
	Seq         int    `json:"seq"`
	Action      string `json:"action"`
	What        string `json:"what"`
	ExitWant    *int   `json:"exit_want,omitempty"`
	ExitGot     *int   `json:"exit_got,omitempty"`
	StatusWant  string `json:"status_want"`
	StatusGot   string `json:"status_got"`
	TreeWant    string `json:"tree_want"`
	TreeGot     string `json:"tree_got"`
	ExitMatch   bool   `json:"exit_match"`
	TreeMatch   bool   `json:"tree_match"`
	OutputMatch bool   `json:"output_match"`
	Commit      string `json:"commit"`      // the replayed action's commit
	CommitWant  string `json:"commit_want"` // the original's
}

// Differences says in words what did not match.
func (s Step) Differences() string {
	var d []string
	if !s.ExitMatch {
		d = append(d, fmt.Sprintf("%s, was %s", outcome(s.StatusGot, s.ExitGot), outcome(s.StatusWant, s.ExitWant)))
	}
	if !s.TreeMatch {
		d = append(d, fmt.Sprintf("tree %.12s, was %.12s", s.TreeGot, s.TreeWant))
	}
	if !s.OutputMatch {
		d = append(d, "output differs")
	}
	return strings.Join(d, "; ")
}

// Matched reports whether exit status and tree both matched.
func (s Step) Matched() bool { return s.ExitMatch && s.TreeMatch }

// Report is the result of a replay.
type Report struct {
	Session    string `json:"session"`
	Into       string `json:"into"`
	Steps      []Step `json:"steps"`
	Matched    bool   `json:"matched"`
	Divergence string `json:"divergence,omitempty"` // the first, in words
	DivergedAt *int   `json:"diverged_at,omitempty"`
	OutputDiff []int  `json:"output_differs,omitempty"` // seqs whose output hash differs
}

// Original is one recorded action with its record.
type Original struct {
	Action api.Action
	Record notes.Record
}

// Doer runs one action in the replay capsule and records it.
type Doer func(ctx context.Context, r actions.Request) (api.Action, notes.Record, error)

// Request rebuilds the request that produced a recorded action.
func Request(o Original) (actions.Request, error) {
	r := o.Record
	req := actions.Request{Kind: o.Action.Action}
	switch req.Kind {
	case actions.Run, actions.Fetch:
		req.Argv, req.Env, req.Timeout = r.Argv, r.Env, r.Timeout
		req.Workdir = r.Workdir
	case actions.Write, actions.Edit:
		req.Path, req.Input = r.Path, r.Input
	case actions.Shell, actions.Snapshot:
		// A terminal session cannot be rerun: its effect is put in place.
		req.Kind, req.Tree = actions.Restore, o.Action.Tree
	case actions.Ask:
		// The conversation is recorded again as it was; nothing runs.
		req.Why, req.Input, req.Error, req.Took = string(r.Why), r.Input, r.Error, r.Duration
		req.Status = o.Action.Status
		if req.Status == api.StatusTimedOut {
			req.Status = api.StatusFailed
		}
	case actions.Patch:
		req.Input = r.Input
	case actions.Reset:
		if r.TargetSeq == nil {
			return req, fmt.Errorf("action %d: reset without a target", o.Action.Seq)
		}
		req.ToSeq = *r.TargetSeq
	default:
		return req, fmt.Errorf("action %d: cannot replay a %q action", o.Action.Seq, req.Kind)
	}
	return req, nil
}

// Run replays originals (seq 1 onwards) with do, calling progress after
// each step. It stops at nothing: every action is replayed, and the report
// names the first divergence.
func Run(ctx context.Context, session, into string, originals []Original, do Doer, progress func(Step)) (Report, error) {
	rep := Report{Session: session, Into: into, Matched: true}
	for _, o := range originals {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if o.Action.Action == actions.Recover {
			// What an interrupted action did cannot be rerun; the step
			// diverges and replay goes on.
			st := Step{Seq: o.Action.Seq, Action: o.Action.Action, What: "interrupted action",
				StatusWant: o.Action.Status, TreeWant: o.Action.Tree, TreeGot: o.Action.Tree}
			rep.Steps = append(rep.Steps, st)
			rep.note(st)
			continue
		}
		req, err := Request(o)
		if err != nil {
			return rep, err
		}
		got, rec, err := do(ctx, req)
		if err != nil {
			return rep, fmt.Errorf("replay action %d: %w", o.Action.Seq, err)
		}
		st := compare(o, got, rec)
		if req.Kind == actions.Restore {
			st.What = "effect restored, not rerun (interactive)"
			st.ExitMatch = got.Status == api.StatusOK
			st.OutputMatch = true
		}
		rep.Steps = append(rep.Steps, st)
		rep.note(st)
		if progress != nil {
			progress(st)
		}
	}
	return rep, nil
}

// note folds one step into the report.
func (rep *Report) note(st Step) {
	if !st.OutputMatch {
		rep.OutputDiff = append(rep.OutputDiff, st.Seq)
	}
	if st.Matched() || !rep.Matched {
		return
	}
	rep.Matched = false
	seq := st.Seq
	rep.DivergedAt = &seq
	switch {
	case st.Action == actions.Recover:
		rep.Divergence = fmt.Sprintf("seq %d: a recovered, interrupted action cannot be replayed", st.Seq)
	case !st.ExitMatch:
		rep.Divergence = fmt.Sprintf("seq %d (%s %s): %s, was %s", st.Seq, st.Action, st.What,
			outcome(st.StatusGot, st.ExitGot), outcome(st.StatusWant, st.ExitWant))
	default:
		rep.Divergence = fmt.Sprintf("seq %d (%s %s): workspace tree %s, was %s", st.Seq, st.Action, st.What,
			st.TreeGot[:12], st.TreeWant[:12])
	}
}

func outcome(status string, exit *int) string {
	if exit != nil && status == api.StatusOK {
		return fmt.Sprintf("exit %d", *exit)
	}
	if exit != nil {
		return fmt.Sprintf("%s (exit %d)", status, *exit)
	}
	return status
}

func compare(o Original, got api.Action, rec notes.Record) Step {
	want := o.Action
	st := Step{
		Seq: want.Seq, Action: want.Action, What: what(o.Record),
		ExitWant: want.ExitCode, ExitGot: got.ExitCode,
		StatusWant: want.Status, StatusGot: got.Status,
		TreeWant: want.Tree, TreeGot: got.Tree, Commit: got.Commit, CommitWant: want.Commit,
	}
	st.ExitMatch = sameExit(want.ExitCode, got.ExitCode) && want.Status == got.Status
	st.TreeMatch = want.Tree == got.Tree
	st.OutputMatch = o.Record.Stdout.SHA256 == rec.Stdout.SHA256 && o.Record.Stderr.SHA256 == rec.Stderr.SHA256
	return st
}

func sameExit(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func what(r notes.Record) string {
	switch {
	case r.Argv != nil:
		return notes.ShellQuote(r.Argv)
	case r.Path != "":
		return r.Path
	case r.TargetSeq != nil:
		return fmt.Sprintf("to seq %d", *r.TargetSeq)
	case len(r.Files) > 0:
		return strings.Join(r.Files, ", ")
	}
	return ""
}
