package gitlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Ref name prefixes Krellin owns in the user's repository.
const (
	SessionPrefix = "refs/krellin/"
	NotesPrefix   = "refs/notes/krellin/"
)

// SessionRef is the ref holding a session's actions.
func SessionRef(session string) string { return SessionPrefix + session }

// NotesRef is the notes ref holding a session's action records.
func NotesRef(session string) string { return NotesPrefix + session }

var sessionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// CheckSession reports whether name can be a session (and a ref) name.
func CheckSession(name string) error {
	if !sessionName.MatchString(name) || strings.Contains(name, "..") ||
		strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("%q: %w (use letters, digits, '.', '_' and '-')", name, ErrBadSession)
	}
	return nil
}

// Tip returns the newest commit of a session.
func (r *Repo) Tip(session string) (plumbing.Hash, error) {
	if err := CheckSession(session); err != nil {
		return plumbing.ZeroHash, err
	}
	r.mu.Lock()
	h, err := r.readRef(SessionRef(session))
	r.mu.Unlock()
	if err != nil {
		return h, err
	}
	if h.IsZero() {
		return h, fmt.Errorf("session %q: %w (see `krellin sessions`)", session, ErrUnknownSession)
	}
	return h, nil
}

// Sessions lists the session names recorded in the repository.
func (r *Repo) Sessions() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	refs, err := r.git.References()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	var names []string
	refs.ForEach(func(ref *plumbing.Reference) error {
		if n := ref.Name().String(); strings.HasPrefix(n, SessionPrefix) {
			names = append(names, strings.TrimPrefix(n, SessionPrefix))
		}
		return nil
	})
	sort.Strings(names)
	return names, nil
}

// readRef returns a ref's value, or the zero hash when it does not
// exist; the caller holds r.mu.
func (r *Repo) readRef(name string) (plumbing.Hash, error) {
	ref, err := r.git.Storer.Reference(plumbing.ReferenceName(name))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", name, err)
	}
	return ref.Hash(), nil
}

// casRef moves ref name from old to new the way git does: take name.lock
// exclusively, check the current value, write, fsync, rename. A zero old
// means the ref must not exist yet.
func (r *Repo) casRef(name string, new, old plumbing.Hash) error {
	path := filepath.Join(r.CommonDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("update %s: %w (%s exists)", name, ErrRefLocked, lock)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(lock)
		}
	}()

	cur, err := r.readRef(name)
	if err != nil {
		return err
	}
	if cur != old {
		return fmt.Errorf("update %s: %w (expected %s, found %s)", name, ErrRefMoved, short(old), short(cur))
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	if err := os.Rename(lock, path); err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	committed = true
	return syncDir(filepath.Dir(path))
}

// ClearStaleLocks removes ref lock files a killed daemon left behind under
// Krellin's own ref prefixes. Call it only while no other Krellin process
// writes to this repository.
func (r *Repo) ClearStaleLocks() error {
	for _, prefix := range []string{SessionPrefix, NotesPrefix} {
		dir := filepath.Join(r.CommonDir, filepath.FromSlash(prefix))
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") {
				return os.Remove(p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear stale locks: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}
