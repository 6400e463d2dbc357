// Package daemon is Krellin's control plane: it owns one capsule per
// repository, runs every action on it one at a time, records each as a
// commit with its note, and serves the API in package api over a Unix
// socket.
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/policy"
)

// Config is how a daemon is set up.
type Config struct {
	Home   string // KRELLIN_HOME: state, capsules, workspaces
	Socket string // the API socket path
	Helper string // host path of the static krellin-exec binary
	Log    *slog.Logger
	// Policy reads the user's policy; it is called at each session start
	// so that config changes apply. Nil means policy.Default.
	Policy func() (policy.Policy, error)
}

// Daemon serves the capsules of every repository a client names.
type Daemon struct {
	home   string
	socket string
	helper string
	log    *slog.Logger
	policy func() (policy.Policy, error)

	mu       sync.Mutex // guards capsules and eng
	capsules map[string]*Capsule

	events *bus // recent events for followers; safe for concurrent use
	eng    *capsule.Engine
}

// New returns a daemon for cfg; Serve starts it.
func New(cfg Config) (*Daemon, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(cfg.Home, "capsules"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	helper, err := installHelper(cfg.Helper, filepath.Join(cfg.Home, "bin"))
	if err != nil {
		return nil, err
	}
	return &Daemon{
		home: cfg.Home, socket: cfg.Socket, helper: helper, policy: cfg.Policy,
		log:      cfg.Log.With("subsystem", "daemon"),
		capsules: map[string]*Capsule{}, events: newBus(),
	}, nil
}

// engine returns a live engine connection, reconnecting after the engine
// went away. It fails within seconds when no engine answers.
func (d *Daemon) engine(ctx context.Context) (*capsule.Engine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.eng != nil {
		if err := d.eng.Ping(ctx); err == nil {
			return d.eng, nil
		}
		d.eng.Close()
		d.eng = nil
	}
	eng, err := capsule.Connect(ctx)
	if err != nil {
		return nil, err
	}
	d.eng = eng
	return eng, nil
}

// capsuleFor returns the capsule of repository top, loading its saved
// state. With create false, a repository without a capsule is an error.
func (d *Daemon) capsuleFor(top string, create bool) (*Capsule, error) {
	repo, err := gitlog.Open(top)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.capsules[repo.Top]; ok {
		return c, nil
	}

	id := capsuleID(d.home + "\x00" + repo.Top)
	c := &Capsule{d: d, dir: filepath.Join(d.home, "capsules", id), repo: repo}
	c.busy.Store("")
	st, err := loadState(c.statePath())
	switch {
	case err == nil:
		c.st = st
		if c.st.Policy.Memory == 0 {
			c.st.Policy = policy.Default()
		}
	case errors.Is(err, os.ErrNotExist) && create:
		c.st = state{ID: id, Name: containerName(repo.Top, id, ""), Repo: repo.Top, Policy: policy.Default()}
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: no capsule for %s (start one with `krellin up`)", errNotFound, repo.Top)
	default:
		return nil, err
	}
	if err := repo.ClearStaleLocks(); err != nil {
		return nil, err
	}
	if err := c.loadSession(); err != nil {
		return nil, err
	}
	if c.st.Session != "" {
		if err := c.openWorkspace(); err != nil {
			return nil, err
		}
		if err := c.loadSecrets(); err != nil {
			return nil, err
		}
	}
	c.publish()
	d.capsules[repo.Top] = c
	return c, nil
}

// forget drops a capsule from memory after it was removed.
func (d *Daemon) forget(c *Capsule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.capsules, c.st.Repo)
}

var errNotFound = errors.New("not found")

// installHelper copies krellin-exec into the state directory under a name
// made from its hash, so capsules keep a stable mount source when the
// build directory is cleaned or Krellin is upgraded.
func installHelper(src, dir string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("krellin-exec helper: %w (install it next to krellin, or set KRELLIN_EXEC)", err)
	}
	sum := sha256.Sum256(data)
	dst := filepath.Join(dir, "krellin-exec-"+hex.EncodeToString(sum[:])[:16])
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install krellin-exec: %w", err)
	}
	if err := writeFileAtomic(dst, data, 0o555); err != nil {
		return "", fmt.Errorf("install krellin-exec: %w", err)
	}
	return dst, nil
}
