// Package workspace owns the directory a capsule sees at /workspace: it
// records the directory as git trees without rehashing unchanged files,
// puts it back to any recorded tree, and resolves paths so that no host
// operation leaves it.
package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrOutside reports a path that would leave the workspace.
var ErrOutside = errors.New("path leaves the workspace")

// Store is the object database trees and blobs go to.
type Store interface {
	WriteBlob(data []byte) (plumbing.Hash, error)
	WriteBlobFrom(r io.Reader, size int64) (plumbing.Hash, error)
	BlobReader(h plumbing.Hash) (io.ReadCloser, error)
	WriteRawTree(raw []byte) (plumbing.Hash, error)
	ReadBlob(h plumbing.Hash) ([]byte, error)
	Tree(h plumbing.Hash) (*object.Tree, error)
	HasObject(h plumbing.Hash) bool
}

// Workspace is one capsule's workspace directory.
type Workspace struct {
	Dir   string
	store Store
	log   func(msg string, err error)

	mu      sync.Mutex // guards everything below; one action at a time
	root    *os.Root
	files   map[string]map[string]fileState // by directory, then name
	dirs    map[string]dirState             // by path; "" is the root
	stored  map[plumbing.Hash]bool          // trees known to be in the store
	last    plumbing.Hash                   // the tree the last scan recorded
	watch   *watcher                        // nil until the first scan, or without inotify
	noWatch bool                            // inotify failed: always scan in full
}

// fileState is what a scan remembers of a file, to skip rehashing it.
type fileState struct {
	size, mtime, ctime int64
	ino                uint64
	mode               uint32
	hash               plumbing.Hash
	racy               bool // changed too close to the scan to trust
}

// dirState is what a scan learned of a directory.
type dirState struct {
	tree    plumbing.Hash // zero when nothing below it is recorded
	clean   bool          // nothing below it was left out of tree
	subdirs []string      // recorded subdirectories
}

// Open returns the workspace at dir, creating the directory if needed.
// logf, if not nil, hears about trouble that only costs speed.
func Open(dir string, store Store, logf func(msg string, err error)) (*Workspace, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}
	if logf == nil {
		logf = func(string, error) {}
	}
	w := &Workspace{Dir: dir, store: store, root: root, log: logf, stored: map[plumbing.Hash]bool{}}
	w.invalidate()
	return w, nil
}

// Close releases the workspace's directory handle.
func (w *Workspace) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watch != nil {
		w.watch.close()
		w.watch = nil
	}
	return w.root.Close()
}

// Root is the workspace as an os.Root: every path opened through it stays
// beneath the workspace, whatever symlinks it meets.
func (w *Workspace) Root() *os.Root { return w.root }

// Forget drops what scans remembered, so the next scan is a full one.
func (w *Workspace) Forget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.invalidate()
}

// cached returns what the last scan remembered of file p.
func (w *Workspace) cached(p string) fileState {
	return w.files[parentDir(p)][path.Base(p)]
}

// isOutside reports whether err is os.Root refusing a path that escapes.
func isOutside(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent"
}

// Classify turns os.Root's escape error into ErrOutside.
func Classify(path string, err error) error {
	if isOutside(err) {
		return fmt.Errorf("%s: %w", path, ErrOutside)
	}
	return err
}
