// Package gitlog keeps a session's action log as git history in the user's
// repository: one commit per action on refs/krellin/<session>, the action's
// record as a note under refs/notes/krellin/<session>. It writes objects and
// those refs only; the user's work tree, index, HEAD, branches and config
// are never touched.
package gitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
)

// Errors callers test with errors.Is.
var (
	ErrNotRepo        = errors.New("not a git repository")
	ErrUnknownSession = errors.New("unknown session")
	ErrBadSession     = errors.New("invalid session name")
	ErrRefMoved       = errors.New("ref moved under us")
	ErrRefLocked      = errors.New("ref is locked")
	ErrUnknownRev     = errors.New("unknown revision")
	ErrNoDir          = errors.New("no such directory")
)

// Repo is a user's repository, opened for writing session history.
type Repo struct {
	Top       string // the work tree's top level
	CommonDir string // where objects and shared refs live

	// mu serializes every use of git: go-git's storage is not safe for
	// concurrent use (it loads pack indexes lazily), and the daemon reads
	// a session while an action records. Methods lock; their lower-case
	// helpers expect the lock held.
	mu  sync.Mutex
	git *git.Repository
}

// Open finds the repository containing dir.
func Open(dir string) (*Repo, error) {
	top, err := FindTop(dir)
	if err != nil {
		return nil, err
	}
	g, err := git.PlainOpenWithOptions(top, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", top, err)
	}
	common, err := commonDir(top)
	if err != nil {
		return nil, err
	}
	return &Repo{Top: top, CommonDir: common, git: g}, nil
}

// FindTop returns the top level of the work tree containing dir, the way
// `git rev-parse --show-toplevel` does.
func FindTop(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("%s: %w (run krellin inside a git repository, or pass -C DIR)", abs, ErrNotRepo)
		}
	}
}

// commonDir follows a .git file (worktrees, submodules) to the directory
// that holds the objects and shared refs.
func commonDir(top string) (string, error) {
	dot := filepath.Join(top, ".git")
	fi, err := os.Stat(dot)
	if err != nil {
		return "", fmt.Errorf("open repository: %w", err)
	}
	gitDir := dot
	if !fi.IsDir() {
		b, err := os.ReadFile(dot)
		if err != nil {
			return "", fmt.Errorf("read .git file: %w", err)
		}
		p := strings.TrimSpace(strings.TrimPrefix(string(b), "gitdir:"))
		if !filepath.IsAbs(p) {
			p = filepath.Join(top, p)
		}
		gitDir = p
	}
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		p := strings.TrimSpace(string(b))
		if !filepath.IsAbs(p) {
			p = filepath.Join(gitDir, p)
		}
		return filepath.Clean(p), nil
	}
	return gitDir, nil
}

// WithStorer runs fn with the object database, holding the repository.
func (r *Repo) WithStorer(fn func(storage.Storer) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.git.Storer)
}

// Resolve turns a revision (HEAD, a branch, a sha) into a commit hash.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, ErrUnknownRev)
	}
	return *h, nil
}

// Commit reads one commit. Its fields are loaded; use the repository's
// methods, not the commit's, to read further objects.
func (r *Repo) Commit(h plumbing.Hash) (*object.Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commit(h)
}

func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	c, err := r.git.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c, nil
}

// Tree reads one tree. Its entries are loaded; FindEntry and WalkFiles
// read further down.
func (r *Repo) Tree(h plumbing.Hash) (*object.Tree, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tree(h)
}

func (r *Repo) tree(h plumbing.Hash) (*object.Tree, error) {
	t, err := r.git.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t, nil
}
