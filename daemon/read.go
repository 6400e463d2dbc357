package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/notes"
)

// toAction turns a log entry and its decoded note into the API's view.
func toAction(e gitlog.Entry, rec notes.Record) api.Action {
	a := api.Action{
		Seq: e.Seq, Commit: e.Commit.String(), Parent: e.Parent.String(), Tree: e.Tree.String(),
		Action: e.Action, Subject: e.Subject, Status: statusOf(rec),
		Time: e.When.UTC().Format(time.RFC3339Nano), DurationMS: rec.Duration.Milliseconds(),
		ExitCode: e.Exit, TimedOut: rec.TimedOut, Argv: rec.Argv, Workdir: rec.Workdir, Env: rec.Env,
		Path: rec.Path, Files: rec.Files, TargetSeq: rec.TargetSeq, Error: rec.Error,
		Info: rec.Info, Warnings: rec.Warnings, Author: e.Author,
		Base: e.Trailers[gitlog.TrailerBase], Image: e.Trailers[gitlog.TrailerImage],
	}
	if e.Action == actions.Run || e.Action == actions.Fetch {
		a.Stdout = outputOf(rec.Stdout)
		a.Stderr = outputOf(rec.Stderr)
	}
	return a
}

func outputOf(o notes.Output) *api.Output {
	return &api.Output{Bytes: o.Total, SHA256: o.SHA256, Cut: o.Cut()}
}

// sessionEntries reads a session, the capsule's current one by default.
func (d *Daemon) sessionEntries(t api.Target) (*Capsule, []gitlog.Entry, error) {
	c, err := d.capsuleFor(t.Repo, true)
	if err != nil {
		return nil, nil, err
	}
	name := t.Session
	if name == "" {
		name = c.current().st.Session
	}
	if name == "" {
		return nil, nil, fmt.Errorf("%w: no current session (start one with `krellin up`; `krellin sessions` lists recorded ones, `--session NAME` picks one)", errNotFound)
	}
	entries, err := c.repo.Entries(name)
	if err != nil {
		return nil, nil, err
	}
	return c, entries, nil
}

// Log lists a session's actions.
func (d *Daemon) Log(t api.Target) ([]api.Action, error) {
	_, entries, err := d.sessionEntries(t)
	if err != nil {
		return nil, err
	}
	out := make([]api.Action, 0, len(entries))
	for _, e := range entries {
		rec, _ := notes.Decode(e.Note)
		out = append(out, toAction(e, rec))
	}
	return out, nil
}

// Show returns one action in full, with the diff it made.
func (d *Daemon) Show(t api.Target, seq int) (api.Detail, error) {
	c, entries, err := d.sessionEntries(t)
	if err != nil {
		return api.Detail{}, err
	}
	if seq < 0 || seq >= len(entries) {
		return api.Detail{}, fmt.Errorf("%w: no action %d (the session has 0 to %d)", errNotFound, seq, len(entries)-1)
	}
	e := entries[seq]
	rec, err := notes.Decode(e.Note)
	if err != nil && e.Note != nil {
		return api.Detail{}, fmt.Errorf("action %d: %w", seq, err)
	}
	if rec.Input == nil && rec.InputBlob != "" {
		rec.Input, _ = c.repo.ReadBlob(plumbing.NewHash(rec.InputBlob))
	}
	// Seq 0 starts the session on its base: it changes nothing to show.
	var diff string
	if seq > 0 {
		if diff, err = c.diff(e.Parent, e.Commit); err != nil {
			return api.Detail{}, err
		}
	}
	return api.Detail{
		Action: toAction(e, rec), Note: string(e.Note), Diff: diff, Input: rec.Input, Why: string(rec.Why),
		Stdout: append(rec.Stdout.Head, rec.Stdout.Tail...),
		Stderr: append(rec.Stderr.Head, rec.Stderr.Tail...),
	}, nil
}

// Diff shows what changed between two points of a session.
func (d *Daemon) Diff(req api.DiffRequest) (string, error) {
	c, entries, err := d.sessionEntries(req.Target)
	if err != nil {
		return "", err
	}
	from, err := point(entries, req.From, entries[0].Commit)
	if err != nil {
		return "", err
	}
	to, err := point(entries, req.To, entries[len(entries)-1].Commit)
	if err != nil {
		return "", err
	}
	return c.diff(from, to)
}

// point reads a sequence number or commit of the session.
func point(entries []gitlog.Entry, s string, def plumbing.Hash) (plumbing.Hash, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n >= len(entries) {
			return def, fmt.Errorf("%w: no action %d (the session has 0 to %d)", errNotFound, n, len(entries)-1)
		}
		return entries[n].Commit, nil
	}
	for _, e := range entries {
		if len(s) >= 4 && strings.HasPrefix(e.Commit.String(), strings.ToLower(s)) {
			return e.Commit, nil
		}
	}
	return def, fmt.Errorf("%w: %q is neither a sequence number nor a commit of the session", errNotFound, s)
}

// diff renders the changes between two commits as git itself does. It
// runs git on the user's repository (never on the workspace), with
// external diff drivers and textconv filters off, so no program named by
// recorded content runs on the host. go-git's own patch output was not
// used: it renders empty new files as binary.
func (c *Capsule) diff(from, to plumbing.Hash) (string, error) {
	return c.gitDiff("--find-renames", from.String(), to.String())
}

// gitDiff runs `git diff` between commits of the user's repository with
// external diff drivers and textconv filters off.
func (c *Capsule) gitDiff(args ...string) (string, error) {
	base := []string{"-C", c.repo.Top, "-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv"}
	cmd := exec.Command("git", append(append(base, args...), "--")...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git diff %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// Sessions lists a repository's sessions.
func (d *Daemon) Sessions(t api.Target) ([]api.Session, error) {
	c, err := d.capsuleFor(t.Repo, true)
	if err != nil {
		return nil, err
	}
	names, err := c.repo.Sessions()
	if err != nil {
		return nil, err
	}
	current := c.current().st.Session
	out := make([]api.Session, 0, len(names))
	for _, n := range names {
		entries, err := c.repo.Entries(n)
		if err != nil || len(entries) == 0 {
			continue
		}
		first := entries[0]
		out = append(out, api.Session{
			Name: n, Base: first.Trailers[gitlog.TrailerBase], Image: first.Trailers[gitlog.TrailerImage],
			Actions: len(entries) - 1, Tip: entries[len(entries)-1].Commit.String(), Current: n == current,
		})
	}
	return out, nil
}

// Status describes a repository's capsule and what the engine says of it.
func (d *Daemon) Status(ctx context.Context, t api.Target) (api.Status, error) {
	c, err := d.capsuleFor(t.Repo, false)
	if err != nil {
		return api.Status{}, err
	}
	busy, _ := c.busy.Load().(string)
	v := c.current()
	s := api.Status{
		Repo: v.st.Repo, Capsule: v.st.Name, Container: v.st.Container, Session: v.st.Session,
		Image: v.st.Pin.Digest, ImageRef: v.st.Pin.Ref, Base: v.st.Base, Tip: v.tip.String(),
		Actions: v.seq, Workspace: c.workspaceDir(), Busy: busy != "", Running: busy, State: "removed",
		Policy: v.st.Policy.Summary(), Overrides: v.st.Policy.Overrides(),
	}
	eng, err := d.engine(ctx)
	if err != nil {
		return s, err
	}
	s.APIVersion = eng.APIVersion()
	if v.st.Container != "" {
		if st, err := eng.Inspect(ctx, v.st.Container); err == nil {
			s.State = st.Status
		}
	}
	return s, nil
}
