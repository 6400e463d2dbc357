package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/images"
	"github.com/krellin/krellin/policy"
	"github.com/krellin/krellin/workspace"
)

// Capsule is one repository's capsule as the daemon runs it. Every action
// takes mu for its whole duration, so actions run one at a time and the
// log order is the execution order.
type Capsule struct {
	d    *Daemon
	dir  string // the capsule's own directory under KRELLIN_HOME
	repo *gitlog.Repo

	mu   sync.Mutex // serializes actions; guards everything below
	st   state
	ws   *workspace.Workspace
	tip  plumbing.Hash // newest commit of the current session
	tree plumbing.Hash // its tree
	seq  int           // its sequence number

	adopted  bool          // this daemon has taken the capsule over (see adopt)
	scanBase plumbing.Hash // set by reset: the tree the next snapshot tracks by
	secrets  []string      // secret values, masked in output and records
	secEnv   []string      // the capsule environment entries that carry them

	busy atomic.Value            // string: the action in flight, "" when idle
	view atomic.Pointer[capView] // what readers see without waiting for mu
}

// capView is a copy of a capsule's state for readers, published after
// every change so that status and log never queue behind a long action.
type capView struct {
	st      state
	tip     plumbing.Hash
	seq     int
	secrets []string // to mask what is shown before an action holds mu
}

// publish makes the current state visible to readers; the caller holds mu.
func (c *Capsule) publish() {
	c.view.Store(&capView{st: c.st, tip: c.tip, seq: c.seq, secrets: c.secrets})
}

// secretsNow returns the secret values as last published.
func (c *Capsule) secretsNow() []string { return c.current().secrets }

// current returns the last published state.
func (c *Capsule) current() capView {
	if v := c.view.Load(); v != nil {
		return *v
	}
	return capView{}
}

func (c *Capsule) statePath() string    { return filepath.Join(c.dir, "capsule.json") }
func (c *Capsule) workspaceDir() string { return filepath.Join(c.dir, "workspace") }
func (c *Capsule) gitTemplate(base string) string {
	return filepath.Join(c.dir, "git", base)
}

// openWorkspace opens the workspace directory, once.
func (c *Capsule) openWorkspace() error {
	if c.ws != nil {
		return nil
	}
	ws, err := workspace.Open(c.workspaceDir(), c.repo, func(msg string, err error) {
		c.d.log.Warn(msg, "capsule", c.st.Name, "err", err)
	})
	if err != nil {
		return err
	}
	c.ws = ws
	return nil
}

// loadSession reads the current session's tip from git.
func (c *Capsule) loadSession() error {
	if c.st.Session == "" {
		return nil
	}
	tip, err := c.repo.Tip(c.st.Session)
	if err != nil {
		return err
	}
	cm, err := c.repo.Commit(tip)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(gitlog.ParseTrailers(cm.Message)[gitlog.TrailerSeq])
	if err != nil {
		return fmt.Errorf("session %s: tip %s has no %s trailer", c.st.Session, tip, gitlog.TrailerSeq)
	}
	c.tip, c.tree, c.seq = tip, cm.TreeHash, seq
	return nil
}

// spec is the container spec for this capsule on pinned image pin.
func (c *Capsule) spec(pin images.Pin, suffix string, ws string) capsule.Spec {
	return capsule.Spec{
		Name:      containerName(c.st.Repo, c.st.ID, suffix),
		Image:     pin.Digest,
		Workspace: ws,
		Helper:    c.d.helper,
		CABundle:  c.st.CABundle,
		User:      fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		Labels: map[string]string{
			capsule.LabelCapsule: c.st.ID,
			capsule.LabelRepo:    c.st.Repo,
		},
		Memory: c.st.Policy.Memory, Pids: c.st.Policy.Pids, CPUs: c.st.Policy.CPUs,
		CapAdd: c.st.Policy.CapAdd,
		Env:    append(c.st.Policy.PassEnv(), c.secEnv...),
	}
}

// loadSecrets reads the values of the policy's secrets.
func (c *Capsule) loadSecrets() error {
	env, values, err := c.st.Policy.SecretValues()
	if err != nil {
		return err
	}
	c.secEnv, c.secrets = env, values
	return nil
}

// recreate replaces the container with a new one from the pinned digest.
func (c *Capsule) recreate(ctx context.Context, eng *capsule.Engine) ([]string, error) {
	return c.recreateWith(ctx, eng, func() error { return nil })
}

// recreateWith removes the container, runs between while nothing runs in
// the capsule, then creates a new container from the pinned digest. The
// pin is checked first, so drift fails before anything is removed.
func (c *Capsule) recreateWith(ctx context.Context, eng *capsule.Engine, between func() error) ([]string, error) {
	warn, err := images.Check(ctx, eng, c.st.Pin)
	if err != nil {
		return nil, err
	}
	if err := c.removeContainer(ctx, eng); err != nil {
		return nil, err
	}
	if err := between(); err != nil {
		return nil, err
	}
	id, err := eng.Create(ctx, c.spec(c.st.Pin, "", c.workspaceDir()))
	if err != nil {
		return nil, err
	}
	c.st.Container = id
	if err := c.st.save(c.statePath()); err != nil {
		return nil, err
	}
	if c.st.Policy.Network == policy.NetworkAlways {
		if err := eng.SetNetwork(ctx, id, true); err != nil {
			return nil, err
		}
	}
	c.d.log.Info("capsule created", "capsule", c.st.Name, "container", id[:12], "image", c.st.Pin.Digest)
	return nonEmpty(warn), nil
}

// removeContainer removes the capsule's container, also one that a
// previous daemon created but did not record.
func (c *Capsule) removeContainer(ctx context.Context, eng *capsule.Engine) error {
	found, err := eng.Find(ctx, capsule.LabelCapsule, c.st.ID)
	if err != nil {
		return err
	}
	for _, s := range found {
		if err := eng.Remove(ctx, s.ID); err != nil {
			return err
		}
	}
	if c.st.Container != "" {
		if err := eng.Remove(ctx, c.st.Container); err != nil {
			return err
		}
	}
	c.st.Container = ""
	return nil
}

// ensureRunning checks the container and recovers it from the pinned
// digest when it is gone or stopped. It returns a line saying what it did,
// for the next action's record, or "".
func (c *Capsule) ensureRunning(ctx context.Context, eng *capsule.Engine) (string, error) {
	if c.st.Container != "" {
		s, err := eng.Inspect(ctx, c.st.Container)
		if err == nil && s.Running {
			return "", nil
		}
		if err != nil && !errors.Is(err, capsule.ErrNoContainer) {
			return "", err
		}
	}
	why := "container was missing"
	if c.st.Container != "" {
		why = "container was not running"
	}
	warn, err := c.recreate(ctx, eng)
	if err != nil {
		return "", fmt.Errorf("recover capsule: %w", err)
	}
	msg := fmt.Sprintf("recovered capsule: %s; recreated from %s", why, c.st.Pin.Digest)
	for _, w := range warn {
		msg += "; " + w
	}
	return msg, nil
}

// Exec runs a command in the container (actions.Box).
func (c *Capsule) Exec(ctx context.Context, x capsule.Exec) (int, error) {
	eng, err := c.d.engine(ctx)
	if err != nil {
		return -1, err
	}
	return eng.Run(ctx, c.st.Container, x)
}

// Cancel stops a running command (actions.Box).
func (c *Capsule) Cancel(ctx context.Context, action string) error {
	eng, err := c.d.engine(ctx)
	if err != nil {
		return err
	}
	return eng.Cancel(ctx, c.st.Container, action)
}

// Sweep kills every process of the capsule's commands (actions.Box).
func (c *Capsule) Sweep(ctx context.Context) error {
	eng, err := c.d.engine(ctx)
	if err != nil {
		return err
	}
	return eng.Sweep(ctx, c.st.Container)
}

// Kill removes the container; the next action recreates it from the
// pinned digest and says so (actions.Box).
func (c *Capsule) Kill(ctx context.Context) error {
	eng, err := c.d.engine(ctx)
	if err != nil {
		return err
	}
	c.d.log.Warn("removing a capsule whose command would not stop", "capsule", c.st.Name)
	return eng.Remove(ctx, c.st.Container)
}

// SetNetwork turns egress on or off (actions.Box). A policy of network
// always keeps it on.
func (c *Capsule) SetNetwork(ctx context.Context, on bool) error {
	if !on && c.st.Policy.Network == policy.NetworkAlways {
		return nil
	}
	eng, err := c.d.engine(ctx)
	if err != nil {
		return err
	}
	return eng.SetNetwork(ctx, c.st.Container, on)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
