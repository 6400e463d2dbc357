package daemon

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/images"
	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/policy"
	"github.com/krellin/krellin/workspace"
)

// Up creates or reuses a repository's capsule and starts or resumes a
// session on it. The engine is reached first, so a missing engine changes
// nothing on the host.
func (d *Daemon) Up(ctx context.Context, req api.UpRequest) (api.UpResponse, error) {
	eng, err := d.engine(ctx)
	if err != nil {
		return api.UpResponse{}, err
	}
	c, err := d.capsuleFor(req.Repo, true)
	if err != nil {
		return api.UpResponse{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.publish()

	if req.CABundle != "" {
		if _, err := os.Stat(req.CABundle); err != nil {
			return api.UpResponse{}, fmt.Errorf("%w: CA bundle: %v", actions.ErrBadRequest, err)
		}
		c.st.CABundle = req.CABundle
	}
	resp := api.UpResponse{Capsule: c.st.Name}
	switched := false

	switch {
	case req.Session == "" && req.From == "" && req.Image == "" && c.st.Session != "":
		resp.Resumed = true
	case req.Session != "" && c.sessionExists(req.Session):
		if err := c.applyPolicy(req); err != nil {
			return resp, err
		}
		if req.From != "" || req.Image != "" {
			return resp, fmt.Errorf("%w: session %s exists; --from and --image only apply to a new session", actions.ErrBadRequest, req.Session)
		}
		if err := c.switchTo(ctx, req.Session); err != nil {
			return resp, err
		}
		resp.Resumed, switched = true, true
	default:
		ref := req.Image
		if ref == "" {
			ref = req.DefaultImage
		}
		pin, err := images.Resolve(ctx, eng, ref)
		if err != nil {
			return resp, err
		}
		plan, err := c.planSession(req, pin)
		if err != nil {
			return resp, err
		}
		if err := c.applyPolicy(req); err != nil {
			return resp, err
		}
		if err := c.removeContainer(ctx, eng); err != nil {
			return resp, err
		}
		if err := c.startSession(plan); err != nil {
			return resp, err
		}
		resp.Created = true
	}

	// A new or switched-to session gets a fresh container: no recovery
	// warning for the one switchTo removed on purpose.
	warn, err := c.ensureContainer(ctx, resp.Created || switched)
	if err != nil {
		return resp, err
	}
	resp.Session, resp.Base, resp.Warnings = c.st.Session, c.st.Base, warn
	resp.Image, resp.ImageRef = c.st.Pin.Digest, c.st.Pin.Ref
	return resp, c.st.save(c.statePath())
}

func (c *Capsule) sessionExists(name string) bool {
	_, err := c.repo.Tip(name)
	return err == nil
}

// ensureContainer recreates the container when a session starts or it is
// not running; a running capsule on the same session is left alone.
func (c *Capsule) ensureContainer(ctx context.Context, fresh bool) ([]string, error) {
	eng, err := c.d.engine(ctx)
	if err != nil {
		return nil, err
	}
	if fresh {
		return c.recreate(ctx, eng)
	}
	note, err := c.ensureRunning(ctx, eng)
	if err != nil || note == "" {
		return nil, err
	}
	return []string{note}, nil
}

// sessionPlan is a new session, checked before anything changes.
type sessionPlan struct {
	name string
	base plumbing.Hash
	tree plumbing.Hash
	pin  images.Pin
}

// planSession validates a new session's name and base.
func (c *Capsule) planSession(req api.UpRequest, pin images.Pin) (sessionPlan, error) {
	name := req.Session
	if name == "" {
		name = c.nextSessionName()
	}
	if err := gitlog.CheckSession(name); err != nil {
		return sessionPlan{}, fmt.Errorf("%w: %v", actions.ErrBadRequest, err)
	}
	if c.sessionExists(name) {
		return sessionPlan{}, fmt.Errorf("%w: session %s exists already", actions.ErrBadRequest, name)
	}
	from := req.From
	if from == "" {
		from = "HEAD"
	}
	base, err := c.repo.Resolve(from)
	if err != nil {
		return sessionPlan{}, fmt.Errorf("%w: %v (give --from a commit, branch or tag)", actions.ErrBadRequest, err)
	}
	bc, err := c.repo.Commit(base)
	if err != nil {
		return sessionPlan{}, err
	}
	return sessionPlan{name: name, base: base, tree: bc.TreeHash, pin: pin}, nil
}

// startSession records seq 0 of a new session and puts the workspace at
// its base. The container must be gone.
func (c *Capsule) startSession(p sessionPlan) error {
	if err := c.placeWorkspace(p.tree, p.base.String()); err != nil {
		return err
	}
	start := time.Now()
	rec := notes.Record{Action: actions.Start, Start: start, Info: []string{
		"session " + p.name + " on " + p.base.String(),
		"image " + p.pin.Ref + " pinned to " + p.pin.Digest,
		"policy " + c.st.Policy.Summary(),
	}}
	overrides := c.st.Policy.Overrides()
	for _, o := range overrides {
		rec.Warnings = append(rec.Warnings, "override: "+o)
	}
	commit := gitlog.Commit{
		Tree: p.tree, Parent: p.base,
		Subject: fmt.Sprintf("start session %s on %s", p.name, p.base.String()[:12]),
		Trailers: []gitlog.Trailer{
			{Key: gitlog.TrailerSeq, Value: "0"},
			{Key: gitlog.TrailerAction, Value: actions.Start},
			{Key: gitlog.TrailerBase, Value: p.base.String()},
			{Key: gitlog.TrailerImage, Value: p.pin.Digest},
			{Key: trailerImageRef, Value: p.pin.Ref},
			{Key: "Krellin-Policy", Value: c.st.Policy.Summary()},
		},
		Author: gitlog.Signature("krellin", "krellin@localhost", start),
	}
	for _, o := range overrides {
		commit.Trailers = append(commit.Trailers, gitlog.Trailer{Key: "Krellin-Override", Value: o})
	}
	h, err := c.repo.Append(p.name, plumbing.ZeroHash, commit, notes.Encode(rec))
	if err != nil {
		return err
	}
	c.st.Session, c.st.Pin, c.st.Base = p.name, p.pin, p.base.String()
	c.tip, c.tree, c.seq = h, p.tree, 0
	c.adopted = true
	return nil
}

// trailerImageRef records the image reference the user named.
const trailerImageRef = "Krellin-Image-Ref"

// switchTo makes an existing session current: workspace at its tip, the
// image pinned at its start.
func (c *Capsule) switchTo(ctx context.Context, name string) error {
	entries, err := c.repo.Entries(name)
	if err != nil {
		return err
	}
	first, last := entries[0], entries[len(entries)-1]
	pin := images.Pin{Ref: first.Trailers[trailerImageRef], Digest: first.Trailers[gitlog.TrailerImage]}
	eng, err := c.d.engine(ctx)
	if err != nil {
		return err
	}
	if _, err := images.Check(ctx, eng, pin); err != nil {
		return err
	}
	if err := c.removeContainer(ctx, eng); err != nil {
		return err
	}
	if err := c.placeWorkspace(last.Tree, first.Trailers[gitlog.TrailerBase]); err != nil {
		return err
	}
	c.st.Session, c.st.Pin, c.st.Base = name, pin, first.Trailers[gitlog.TrailerBase]
	c.tip, c.tree, c.seq = last.Commit, last.Tree, last.Seq
	c.adopted = true
	return nil
}

// placeWorkspace puts the workspace at tree and its .git at base. The
// container must be gone or stopped: nothing may write meanwhile.
func (c *Capsule) placeWorkspace(tree plumbing.Hash, base string) error {
	if err := c.openWorkspace(); err != nil {
		return err
	}
	if err := c.ws.Reset(c.tree, tree); err != nil {
		return err
	}
	tmpl := c.gitTemplate(base)
	if _, err := os.Stat(tmpl); err != nil {
		err := c.repo.WithStorer(func(s storage.Storer) error {
			return workspace.BuildGitDir(tmpl+".tmp", s, plumbing.NewHash(base))
		})
		if err != nil {
			os.RemoveAll(tmpl + ".tmp")
			return err
		}
		if err := os.Rename(tmpl+".tmp", tmpl); err != nil {
			return err
		}
	}
	return c.ws.ResetGitDir(tmpl)
}

// nextSessionName picks session-N, one past the highest in the repository.
func (c *Capsule) nextSessionName() string {
	names, _ := c.repo.Sessions()
	taken := map[string]bool{}
	for _, n := range names {
		taken[n] = true
	}
	for i := 1; ; i++ {
		if n := fmt.Sprintf("session-%d", i); !taken[n] {
			return n
		}
	}
}

// applyPolicy sets the power the capsule gets from now on: the user's
// policy, lowered by what the repository's .krellin.yaml asks, raised only
// by an override on the command line.
func (c *Capsule) applyPolicy(req api.UpRequest) error {
	user := policy.Default()
	if c.d.policy != nil {
		p, err := c.d.policy()
		if err != nil {
			return fmt.Errorf("%w: %v", actions.ErrBadRequest, err)
		}
		user = p
	}
	repo, err := policy.Repo(c.st.Repo)
	if err != nil {
		return fmt.Errorf("%w: %v", actions.ErrBadRequest, err)
	}
	p := user.Restrict(repo)
	if req.AllowNetwork {
		p.Network = policy.NetworkAlways
	}
	c.st.Policy = p
	return c.loadSecrets()
}
