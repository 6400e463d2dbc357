package actions

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/patch"
	"github.com/krellin/krellin/workspace"
)

// ErrRefused marks a write or patch that was refused; the workspace is
// unchanged and the refusal is recorded.
var ErrRefused = errors.New("refused")

// CleanPath checks a workspace path from a client: relative, no "..", not
// the workspace's own .git.
func CleanPath(p string) (string, error) {
	if p == "" || path.IsAbs(p) {
		return "", fmt.Errorf("%s: %w (give a path relative to the workspace)", p, workspace.ErrOutside)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("%s: %w", p, workspace.ErrOutside)
		}
	}
	c := path.Clean(p)
	if c == "." || c == ".git" || strings.HasPrefix(c, ".git/") {
		return "", fmt.Errorf("%s: %w: not a file the workspace records", p, ErrBadRequest)
	}
	return c, nil
}

// WriteFile writes r.Input to r.Path beneath root: through a temporary
// file and a rename, never following a symlink out of the workspace. An
// existing file keeps its mode.
func WriteFile(root *os.Root, r Request) (rec notes.Record) {
	rec = notes.Record{Action: Write, Path: r.Path, Input: r.Input, Start: time.Now()}
	defer func() { rec.Duration = time.Since(rec.Start) }()

	p, err := CleanPath(r.Path)
	if err == nil {
		err = writeBeneath(root, p, r.Input)
	}
	if err != nil {
		rec.Error = fmt.Errorf("%w: %w", ErrRefused, err).Error()
	}
	return rec
}

func writeBeneath(root *os.Root, p string, data []byte) error {
	perm := os.FileMode(0o644)
	fi, err := root.Lstat(p)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		// The link may point anywhere; refuse rather than follow it.
		return fmt.Errorf("%s is a symlink: %w", p, workspace.ErrOutside)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", p)
	case err == nil:
		perm = fi.Mode().Perm()
	case !errors.Is(err, os.ErrNotExist):
		return workspace.Classify(p, err)
	}
	if dir := path.Dir(p); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return workspace.Classify(p, err)
		}
	}
	tmp := path.Join(path.Dir(p), ".krellin-write-"+newID())
	if err := root.WriteFile(tmp, data, perm); err != nil {
		return workspace.Classify(p, err)
	}
	if err := root.Rename(tmp, p); err != nil {
		root.Remove(tmp)
		return workspace.Classify(p, err)
	}
	return nil
}

// ApplyPatch applies r.Input as a unified diff, all or nothing.
func ApplyPatch(root *os.Root, r Request) (rec notes.Record) {
	rec = notes.Record{Action: Patch, Input: r.Input, Start: time.Now()}
	defer func() { rec.Duration = time.Since(rec.Start) }()

	changes, err := patch.Apply(root, r.Input)
	if err != nil {
		rec.Error = fmt.Errorf("%w: %w", ErrRefused, err).Error()
		return rec
	}
	for _, c := range changes {
		rec.Files = append(rec.Files, c.Path)
	}
	return rec
}
