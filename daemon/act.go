package daemon

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/execwrap"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/policy"
)

// Act runs one action on a repository's capsule and records it. Output of
// run and fetch streams to stdout and stderr as it comes. The returned
// action is in the log, commit and note together, before Act returns.
func (d *Daemon) Act(ctx context.Context, req api.ActionRequest, stdout, stderr io.Writer) (api.Action, error) {
	return d.do(ctx, req, (*Capsule).perform, stdout, stderr)
}

// performer does an action's work; an error means nothing was done.
type performer func(c *Capsule, ctx context.Context, r actions.Request, stdout, stderr io.Writer) (notes.Record, error)

// do runs one action with p when the capsule is free, and records it,
// announcing each step on the event stream.
func (d *Daemon) do(ctx context.Context, req api.ActionRequest, p performer, stdout, stderr io.Writer) (api.Action, error) {
	r := requestOf(req)
	if err := actions.Check(r); err != nil {
		return api.Action{}, err
	}
	eng, err := d.engine(ctx)
	if err != nil {
		return api.Action{}, err
	}
	c, err := d.capsuleFor(req.Repo, false)
	if err != nil {
		return api.Action{}, err
	}

	ev := c.event(r, req.Author)
	d.events.publish(ev.with(api.EventQueued))
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.publish()
	ev.Session = c.st.Session
	d.events.publish(ev.with(api.EventStarted))
	a, err := c.actLocked(ctx, eng, req, r, p, ev.output(d.events, "stdout", stdout), ev.output(d.events, "stderr", stderr))
	if err != nil {
		e := ev.with(api.EventRefused)
		e.Error = toError(err)
		d.events.publish(e)
		return a, err
	}
	e := ev.with(api.EventFinished)
	e.Action = &a
	d.events.publish(e)
	return a, nil
}

// actLocked checks the request against the capsule's session and runs it;
// the caller holds c.mu. A panic becomes an error, so that the capsule's
// followers hear how the action ended and the daemon lives on.
func (c *Capsule) actLocked(ctx context.Context, eng *capsule.Engine, req api.ActionRequest, r actions.Request, p performer, stdout, stderr io.Writer) (_ api.Action, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.d.log.Error("action panicked", "capsule", c.st.Name, "action", summary(r), "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in the daemon (%v); nothing more was recorded for this action, see daemon.log", v)
		}
	}()
	if c.st.Session == "" {
		return api.Action{}, fmt.Errorf("%w: no session on this capsule (start one with `krellin up`)", errNotFound)
	}
	if req.Session != "" && req.Session != c.st.Session {
		return api.Action{}, fmt.Errorf("%w: the capsule runs session %s now, not %s, which this client works on; a capsule runs one session at a time (the operator switches back with `krellin up --session %s`)",
			actions.ErrBadRequest, c.st.Session, req.Session, req.Session)
	}
	return c.act(ctx, eng, r, p, stdout, stderr)
}

// act runs and records one action; the caller holds c.mu.
func (c *Capsule) act(ctx context.Context, eng *capsule.Engine, r actions.Request, p performer, stdout, stderr io.Writer) (api.Action, error) {
	r.Secrets, r.Offline = c.secrets, c.st.Policy.Network == policy.NetworkNever
	c.busy.Store(summary(r))
	defer c.busy.Store("")

	if err := c.checkTip(); err != nil {
		return api.Action{}, err
	}
	if err := c.adopt(ctx, eng); err != nil {
		return api.Action{}, err
	}
	if err := c.checkWorkdir(r); err != nil {
		return api.Action{}, err
	}
	var recovered string
	var err error
	if r.Kind != actions.Reset {
		if recovered, err = c.ensureRunning(ctx, eng); err != nil {
			return api.Action{}, err
		}
	}
	rec, err := p(c, ctx, r, stdout, stderr)
	if err != nil {
		return api.Action{}, err
	}
	if recovered != "" {
		rec.Warnings = append(rec.Warnings, recovered)
	}
	return c.record(r, rec)
}

// perform runs the action itself. An error means nothing was done and
// nothing is recorded; a failed action is a record with Error set.
func (c *Capsule) perform(ctx context.Context, r actions.Request, stdout, stderr io.Writer) (notes.Record, error) {
	switch r.Kind {
	case actions.Run, actions.Fetch:
		return actions.Exec(ctx, c, r, stdout, stderr), nil
	case actions.Write:
		return actions.WriteFile(c.ws.Root(), r), nil
	case actions.Edit:
		return actions.EditFile(c.ws.Root(), r), nil
	case actions.Patch:
		return actions.ApplyPatch(c.ws.Root(), r), nil
	case actions.Reset:
		return c.reset(ctx, r.ToSeq)
	case actions.Restore:
		return c.restore(ctx, plumbing.NewHash(r.Tree))
	case actions.Ask:
		rec := notes.Record{Action: actions.Ask, Start: time.Now().Add(-r.Took), Duration: r.Took,
			Input: r.Input, Interrupted: r.Status == api.StatusInterrupted, Error: r.Error}
		if r.Status == api.StatusFailed && rec.Error == "" {
			rec.Error = "the agent failed"
		}
		return rec, nil
	}
	return notes.Record{}, fmt.Errorf("%w: unknown action %q", actions.ErrBadRequest, r.Kind)
}

// reset puts the workspace at the tree of action seq and recreates the
// container from the pinned digest.
func (c *Capsule) reset(ctx context.Context, seq int) (notes.Record, error) {
	rec := notes.Record{Action: actions.Reset, TargetSeq: &seq, Start: time.Now()}
	if seq > c.seq {
		return rec, fmt.Errorf("%w: reset --to %d: the session has actions 0 to %d", actions.ErrBadRequest, seq, c.seq)
	}
	target, err := c.entryAt(seq)
	if err != nil {
		return rec, err
	}
	eng, err := c.d.engine(ctx)
	if err != nil {
		return rec, err
	}
	warn, err := c.recreateWith(ctx, eng, func() error {
		return c.placeWorkspace(target.Tree, c.st.Base)
	})
	c.scanBase = target.Tree
	if err != nil {
		return rec, err
	}
	rec.Warnings = append(rec.Warnings, warn...)
	rec.Info = append(rec.Info, fmt.Sprintf("workspace at seq %d (tree %s); container recreated from %s", seq, target.Tree, c.st.Pin.Digest))
	rec.Duration = time.Since(rec.Start)
	return rec, nil
}

// restore puts the workspace at a recorded tree and recreates the
// container, as reset does: replay's stand-in for an interactive session.
func (c *Capsule) restore(ctx context.Context, tree plumbing.Hash) (notes.Record, error) {
	rec := notes.Record{Action: actions.Restore, Start: time.Now()}
	if _, err := c.repo.Tree(tree); err != nil {
		return rec, fmt.Errorf("%w: restore: no tree %s in the repository", actions.ErrBadRequest, tree)
	}
	eng, err := c.d.engine(ctx)
	if err != nil {
		return rec, err
	}
	warn, err := c.recreateWith(ctx, eng, func() error {
		return c.placeWorkspace(tree, c.st.Base)
	})
	c.scanBase = tree
	if err != nil {
		return rec, err
	}
	rec.Warnings = append(rec.Warnings, warn...)
	rec.Info = append(rec.Info, fmt.Sprintf("workspace restored to tree %s; an interactive session is not rerun", tree))
	rec.Duration = time.Since(rec.Start)
	return rec, nil
}

// entryAt reads the commit of action seq in the current session.
func (c *Capsule) entryAt(seq int) (gitlog.Entry, error) {
	entries, err := c.repo.Entries(c.st.Session)
	if err != nil {
		return gitlog.Entry{}, err
	}
	for _, e := range entries {
		if e.Seq == seq {
			return e, nil
		}
	}
	return gitlog.Entry{}, fmt.Errorf("%w: action %d in session %s", errNotFound, seq, c.st.Session)
}

// record snapshots the workspace and appends the action's commit and note.
func (c *Capsule) record(r actions.Request, rec notes.Record) (api.Action, error) {
	prev := c.tree
	if !c.scanBase.IsZero() {
		// After a reset, the target tree decides what counts as tracked.
		prev, c.scanBase = c.scanBase, plumbing.ZeroHash
	}
	tree, err := c.ws.Snapshot(prev)
	if err != nil {
		return api.Action{}, fmt.Errorf("record workspace: %w", err)
	}
	c.dedupeInput(r, &rec, tree)
	if r.Why != "" {
		rec.Why = []byte(actions.MaskStrings([]string{r.Why}, r.Secrets)[0])
	}
	name, email := splitAuthor(r.Author)
	seq := c.seq + 1
	trailers := []gitlog.Trailer{
		{Key: gitlog.TrailerSeq, Value: strconv.Itoa(seq)},
		{Key: gitlog.TrailerAction, Value: r.Kind},
	}
	if rec.Exit != nil {
		trailers = append(trailers, gitlog.Trailer{Key: gitlog.TrailerExit, Value: strconv.Itoa(*rec.Exit)})
	}
	trailers = append(trailers, gitlog.Trailer{Key: "Krellin-Status", Value: statusOf(rec)})
	commit := gitlog.Commit{
		Tree: tree, Parent: c.tip, Subject: subjectOf(r, rec), Trailers: trailers,
		Author: gitlog.Signature(name, email, rec.Start),
	}
	h, err := c.repo.Append(c.st.Session, c.tip, commit, notes.Encode(rec))
	if err != nil {
		return api.Action{}, fmt.Errorf("record action: %w", err)
	}
	c.tip, c.tree, c.seq = h, tree, seq

	e := gitlog.Entry{Seq: seq, Commit: h, Parent: commit.Parent, Tree: tree, Action: r.Kind,
		Subject: commit.Subject, Exit: rec.Exit, When: rec.Start, Author: name}
	return toAction(e, rec), nil
}

func statusOf(rec notes.Record) string {
	switch {
	case rec.TimedOut:
		return api.StatusTimedOut
	case rec.Interrupted:
		return api.StatusInterrupted
	case rec.Error != "":
		return api.StatusFailed
	}
	return api.StatusOK
}

// subjectOf names the action in its commit subject.
func subjectOf(r actions.Request, rec notes.Record) string {
	s := summary(r)
	if st := statusOf(rec); st != api.StatusOK {
		s += " (" + st + ")"
	} else if rec.Exit != nil && *rec.Exit != 0 {
		s += fmt.Sprintf(" (exit %d)", *rec.Exit)
	}
	return s
}

func summary(r actions.Request) string {
	switch r.Kind {
	case actions.Run, actions.Fetch, actions.Shell:
		return r.Kind + ": " + notes.ShellQuote(actions.MaskStrings(r.Argv, r.Secrets))
	case actions.Restore:
		return "restore: tree " + r.Tree[:min(12, len(r.Tree))]
	case actions.Snapshot:
		return "snapshot: during " + notes.ShellQuote(actions.MaskStrings(r.Argv, r.Secrets))
	case actions.Write, actions.Edit:
		return r.Kind + ": " + r.Path
	case actions.Patch:
		return "patch"
	case actions.Reset:
		return fmt.Sprintf("reset: to seq %d", r.ToSeq)
	case actions.Recover:
		return "recover: changes of an interrupted action"
	case actions.Ask:
		first, _, _ := strings.Cut(strings.TrimSpace(r.Why), "\n")
		if len(first) > 72 {
			first = first[:72] + "..."
		}
		return "ask: " + actions.MaskStrings([]string{first}, r.Secrets)[0]
	}
	return r.Kind
}

// adopt takes over a capsule that an earlier daemon ran, once per daemon:
// it stops runs that daemon left going, and if the workspace no longer
// matches the recorded tip (an action was cut short before its commit),
// records what is there as an interrupted "recover" action, so nothing is
// lost or credited to the next action.
func (c *Capsule) adopt(ctx context.Context, eng *capsule.Engine) error {
	if c.adopted || c.st.Session == "" {
		return nil
	}
	if c.st.Container != "" {
		if s, err := eng.Inspect(ctx, c.st.Container); err == nil && s.Running {
			eng.Cancel(ctx, c.st.Container, execwrap.AllActions)
			// A fetch cut short may have left egress on.
			if err := eng.SetNetwork(ctx, c.st.Container, false); err != nil {
				return fmt.Errorf("take network away from the capsule: %w", err)
			}
		}
	}
	tree, err := c.ws.Snapshot(c.tree)
	if err != nil {
		return fmt.Errorf("check workspace: %w", err)
	}
	c.adopted = true
	if tree == c.tree {
		return nil
	}
	rec := notes.Record{Action: actions.Recover, Start: time.Now(), Interrupted: true,
		Error: "the workspace changed after the last recorded action; an action was interrupted before it was recorded (the daemon stopped)"}
	_, err = c.record(actions.Request{Kind: actions.Recover}, rec)
	return err
}

// checkWorkdir refuses a command whose working directory is not a
// directory of the workspace, before anything runs: the engine's own
// error for it is cryptic and would be recorded as the command's.
func (c *Capsule) checkWorkdir(r actions.Request) error {
	if (r.Kind != actions.Run && r.Kind != actions.Fetch) || r.Workdir == "" {
		return nil
	}
	rel, err := workspacePath(r.Workdir)
	if err != nil {
		return err
	}
	fi, err := c.ws.Root().Stat(rel)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: workdir %s is not a directory of the workspace", actions.ErrBadRequest, r.Workdir)
	}
	return nil
}

// checkTip refuses to run anything when the session moved on without this
// capsule (another worktree's capsule, or another KRELLIN_HOME, works on
// the same session): the action could not be recorded after it ran.
func (c *Capsule) checkTip() error {
	tip, err := c.repo.Tip(c.st.Session)
	if err != nil {
		return err
	}
	if tip != c.tip {
		return fmt.Errorf("%w: session %s was advanced elsewhere (to %s) by another capsule on this repository; run `krellin up --session %s` to continue from its tip, or `krellin up --session NEW` for a session of your own",
			gitlog.ErrRefMoved, c.st.Session, tip.String()[:12], c.st.Session)
	}
	return nil
}

// dedupeInput keeps a write's content out of its note when the recorded
// tree holds exactly that content at the path: the note names the blob
// instead, so a large write is stored once.
func (c *Capsule) dedupeInput(r actions.Request, rec *notes.Record, tree plumbing.Hash) {
	if r.Kind != actions.Write || rec.Error != "" {
		return
	}
	e, err := c.repo.FindEntry(tree, r.Path)
	if err != nil || e.Hash != plumbing.ComputeHash(plumbing.BlobObject, rec.Input) {
		return
	}
	rec.Input, rec.InputBlob = nil, e.Hash.String()
}

// requestOf turns an API request into an action request. Secrets and
// Offline are never taken from a client.
func requestOf(req api.ActionRequest) actions.Request {
	return actions.Request{
		Kind: req.Kind, Argv: req.Argv, Workdir: req.Workdir, Env: req.Env,
		Timeout: time.Duration(req.TimeoutMS) * time.Millisecond,
		Path:    req.Path, Input: req.Input, ToSeq: req.ToSeq,
		Why: req.Why, Author: authorOf(req.Author), Status: req.Status, Error: req.Error,
		Took: time.Duration(req.DurationMS) * time.Millisecond,
	}
}

// authorOf renders who asked as "Name <email>", keeping only what a
// commit's author line can hold.
func authorOf(a *api.Author) string {
	if a == nil || strings.TrimSpace(a.Name) == "" {
		return ""
	}
	clean := func(s string, max int) string {
		s = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f || r == '<' || r == '>' {
				return -1
			}
			return r
		}, strings.TrimSpace(s))
		if len(s) > max {
			s = strings.ToValidUTF8(s[:max], "")
		}
		return s
	}
	name, email := clean(a.Name, 100), clean(a.Email, 100)
	if email == "" {
		email = "agent@krellin.invalid"
	}
	return name + " <" + email + ">"
}

// splitAuthor reads what authorOf wrote; "" is Krellin itself.
func splitAuthor(s string) (name, email string) {
	name, email, ok := strings.Cut(s, " <")
	if !ok || name == "" {
		return "krellin", "krellin@localhost"
	}
	return name, strings.TrimSuffix(email, ">")
}
