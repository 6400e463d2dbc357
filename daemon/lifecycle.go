package daemon

import (
	"context"
	"fmt"
	"os"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/capsule"
)

// Down stops a repository's capsule. History and workspace stay.
func (d *Daemon) Down(ctx context.Context, t api.Target) (api.Status, error) {
	eng, c, err := d.existing(ctx, t)
	if err != nil {
		return api.Status{}, err
	}
	c.mu.Lock()
	if c.st.Container != "" {
		err = eng.Stop(ctx, c.st.Container)
	}
	c.publish()
	c.mu.Unlock()
	if err != nil {
		return api.Status{}, err
	}
	return d.Status(ctx, t)
}

// Rm removes a repository's capsule: its container, workspace and state.
// The recorded history stays in the repository under refs/krellin/.
func (d *Daemon) Rm(ctx context.Context, t api.Target) (api.Status, error) {
	eng, c, err := d.existing(ctx, t)
	if err != nil {
		return api.Status{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := api.Status{Repo: c.st.Repo, Capsule: c.st.Name, Session: c.st.Session, State: "removed"}
	if err := c.removeContainer(ctx, eng); err != nil {
		return s, err
	}
	if c.ws != nil {
		c.ws.Close()
	}
	if err := removeAllWritable(c.dir); err != nil {
		return s, fmt.Errorf("remove capsule directory: %w", err)
	}
	d.forget(c)
	return s, nil
}

// removeAllWritable removes dir, first giving back write permission the
// capsule may have taken from directories in the workspace.
func removeAllWritable(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	chmodDirs(root, ".")
	root.Close()
	return os.RemoveAll(dir)
}

func chmodDirs(root *os.Root, p string) {
	root.Chmod(p, 0o755)
	f, err := root.Open(p)
	if err != nil {
		return
	}
	ents, _ := f.ReadDir(-1)
	f.Close()
	for _, e := range ents {
		if e.IsDir() {
			chmodDirs(root, p+"/"+e.Name())
		}
	}
}

// existing reaches the engine, then the repository's existing capsule.
func (d *Daemon) existing(ctx context.Context, t api.Target) (*capsule.Engine, *Capsule, error) {
	eng, err := d.engine(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := d.capsuleFor(t.Repo, false)
	return eng, c, err
}
