package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/images"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/replay"
)

// Replay reruns a session in a fresh, temporary capsule from the session's
// pinned digest, with the workspace at its base, recording the new run as
// session req.Into. The repository's own capsule is left as it is.
func (d *Daemon) Replay(ctx context.Context, req api.ReplayRequest, progress func(string)) (replay.Report, error) {
	eng, err := d.engine(ctx)
	if err != nil {
		return replay.Report{}, err
	}
	main, entries, err := d.sessionEntries(req.Target)
	if err != nil {
		return replay.Report{}, err
	}
	first := entries[0]
	session := strings.TrimPrefix(first.Subject, "start session ")
	session, _, _ = strings.Cut(session, " ")
	into := req.Into
	if into == "" {
		into = nextReplayName(main.repo, session)
	}
	if err := gitlog.CheckSession(into); err != nil {
		return replay.Report{}, fmt.Errorf("%w: --into: %v", actions.ErrBadRequest, err)
	}
	if _, err := main.repo.Tip(into); err == nil {
		return replay.Report{}, fmt.Errorf("%w: session %s exists already; pick another --into", actions.ErrBadRequest, into)
	}
	pin := images.Pin{Ref: first.Trailers[trailerImageRef], Digest: first.Trailers[gitlog.TrailerImage]}
	warn, err := images.Check(ctx, eng, pin)
	if err != nil {
		return replay.Report{}, err
	}
	if warn != "" {
		progress("warning: " + warn)
	}

	rc, err := d.replayCapsule(main, into)
	if err != nil {
		return replay.Report{}, err
	}
	defer rc.destroy(context.WithoutCancel(ctx), eng)
	progress(fmt.Sprintf("replaying %s into %s: %d actions on %s", session, into, len(entries)-1, pin.Digest))
	plan, err := rc.planSession(api.UpRequest{Target: api.Target{Session: into}, From: first.Trailers[gitlog.TrailerBase]}, pin)
	if err != nil {
		return replay.Report{}, err
	}
	if err := rc.startSession(plan); err != nil {
		return replay.Report{}, err
	}
	if _, err := rc.recreate(ctx, eng); err != nil {
		return replay.Report{}, err
	}

	originals := make([]replay.Original, 0, len(entries))
	for _, e := range entries[1:] {
		rec, _ := notes.Decode(e.Note)
		if rec.Input == nil && rec.InputBlob != "" {
			if rec.Input, err = main.repo.ReadBlob(plumbing.NewHash(rec.InputBlob)); err != nil {
				return replay.Report{}, fmt.Errorf("action %d: read its input: %w", e.Seq, err)
			}
		}
		originals = append(originals, replay.Original{Action: toAction(e, rec), Record: rec})
	}
	do := func(ctx context.Context, r actions.Request) (api.Action, notes.Record, error) {
		a, err := rc.act(ctx, eng, r, (*Capsule).perform, io.Discard, io.Discard)
		if err != nil {
			return a, notes.Record{}, err
		}
		e, err := rc.entryAt(a.Seq)
		if err != nil {
			return a, notes.Record{}, err
		}
		rec, err := notes.Decode(e.Note)
		return a, rec, err
	}
	return replay.Run(ctx, session, into, originals, do, func(s replay.Step) {
		mark := "ok"
		switch {
		case !s.Matched():
			mark = "DIVERGED: " + s.Differences()
			if !s.TreeMatch && s.Commit != "" {
				mark += main.changedFiles(s.CommitWant, s.Commit)
			}
		case !s.OutputMatch:
			mark = "ok (output differs)"
		}
		progress(fmt.Sprintf("seq %d %s %s: %s", s.Seq, s.Action, s.What, mark))
	})
}

// replayCapsule makes a temporary capsule for replaying into session into.
func (d *Daemon) replayCapsule(main *Capsule, into string) (*Capsule, error) {
	id := capsuleID(main.st.ID + "\x00replay\x00" + into)
	rc := &Capsule{
		d: d, dir: filepath.Join(d.home, "replays", id), repo: main.repo,
		st: state{ID: id, Name: containerName(main.st.Repo, id, "-replay"), Repo: main.st.Repo,
			CABundle: main.st.CABundle, Policy: main.current().st.Policy},
	}
	if err := rc.loadSecrets(); err != nil {
		return nil, err
	}
	rc.busy.Store("")
	if err := os.MkdirAll(rc.dir, 0o700); err != nil {
		return nil, fmt.Errorf("replay directory: %w", err)
	}
	return rc, nil
}

// destroy removes a temporary capsule's container and directory.
func (c *Capsule) destroy(ctx context.Context, eng *capsule.Engine) {
	if err := c.removeContainer(ctx, eng); err != nil {
		c.d.log.Warn("remove replay capsule", "capsule", c.st.Name, "err", err)
	}
	if c.ws != nil {
		c.ws.Close()
	}
	removeAllWritable(c.dir)
}

func nextReplayName(repo *gitlog.Repo, session string) string {
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s-replay-%d", session, i)
		if _, err := repo.Tip(n); err != nil {
			return n
		}
	}
}

func (d *Daemon) handleReplay(w http.ResponseWriter, r *http.Request) {
	var req api.ReplayRequest
	if !decode(w, r, &req) {
		return
	}
	s := newStream(w)
	ev := api.StreamEvent{Type: api.EventReplay, Repo: req.Repo, Session: req.Session}
	rep, err := d.Replay(r.Context(), req, func(msg string) {
		s.send(api.Event{Type: "progress", Message: msg})
		e := ev
		e.Message = msg
		d.events.publish(e)
	})
	if err != nil {
		s.send(api.Event{Type: "error", Error: toError(err)})
		e := ev
		e.Error = toError(err)
		d.events.publish(e)
		return
	}
	b, _ := json.Marshal(rep)
	s.send(api.Event{Type: "report", Report: b})
	e := ev
	e.Report = b
	d.events.publish(e)
	s.send(api.Event{Type: "done"})
}

// changedFiles names the files that differ between two commits.
func (c *Capsule) changedFiles(a, b string) string {
	out, err := c.gitDiff("--name-only", a, b)
	if err != nil || out == "" {
		return ""
	}
	files := strings.Fields(out)
	if len(files) > 5 {
		files = append(files[:5], fmt.Sprintf("and %d more", len(files)-5))
	}
	return " (" + strings.Join(files, ", ") + ")"
}
