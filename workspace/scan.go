package workspace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/sys/unix"

	"github.com/krellin/krellin/gitlog"
)

// racyWindow: a file modified this close to a scan may change again within
// the same timestamp tick, so its hash is not trusted on the next scan.
const racyWindow = time.Second

// scan is one pass over the workspace. A full scan reads every directory
// (and hashes only files whose stat changed); an incremental one reads
// only the directories inotify reported, reusing the recorded trees of all
// others.
type scan struct {
	w        *Workspace
	start    time.Time
	prev     plumbing.Hash   // the tree recorded last
	tracked  map[string]bool // paths in prev, loaded on first need
	full     bool
	dirty    map[string]bool // directories to read again
	above    map[string]bool // directories with a dirty one below
	excluded map[string]bool // ignored directories kept for tracked files
}

// Snapshot records the workspace as a tree, the way `git add -A` would see
// it: .gitignore'd files are left out unless prev, the tree recorded last,
// already tracks them; .git directories are never recorded. It reads only
// what changed: directories inotify reported since the last scan, and in
// them only files whose size, times, inode or mode changed.
func (w *Workspace) Snapshot(prev plumbing.Hash) (plumbing.Hash, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snapshot(prev)
}

func (w *Workspace) snapshot(prev plumbing.Hash) (plumbing.Hash, error) {
	s, err := w.plan(prev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !s.full && len(s.dirty) == 0 {
		return w.last, nil
	}
	st, err := s.dir("", nil)
	if err != nil {
		w.invalidate()
		return plumbing.ZeroHash, err
	}
	tree := st.tree
	if tree.IsZero() {
		if tree, err = w.emptyTree(); err != nil {
			return tree, err
		}
	}
	w.last = tree
	return tree, nil
}

// plan decides between a full and an incremental scan.
func (w *Workspace) plan(prev plumbing.Hash) (*scan, error) {
	s := &scan{w: w, start: time.Now(), prev: prev, full: true,
		dirty: map[string]bool{}, above: map[string]bool{}, excluded: map[string]bool{}}
	if w.watch == nil {
		w.startWatching()
	}
	if w.watch == nil {
		return s, nil
	}
	ch, err := w.watch.drain()
	if err != nil {
		return nil, err
	}
	if ch.full || w.last.IsZero() || prev != w.last {
		w.restartWatching()
		return s, nil
	}
	s.full, s.dirty = false, ch.dirty
	for d := range ch.dirty {
		for p := d; p != ""; {
			p = parentDir(p)
			s.above[p] = true
		}
	}
	return s, nil
}

// startWatching sets up inotify; without it every scan is a full one.
func (w *Workspace) startWatching() {
	if w.noWatch {
		return
	}
	wt, err := newWatcher()
	if err != nil {
		w.noWatch = true
		return
	}
	w.watch = wt
}

// restartWatching drops every watch; the full scan adds them again.
func (w *Workspace) restartWatching() {
	if w.watch != nil {
		w.watch.close()
		w.watch = nil
	}
	w.startWatching()
}

// invalidate forgets everything, so the next scan is a full one.
func (w *Workspace) invalidate() {
	w.files = map[string]map[string]fileState{}
	w.dirs = map[string]dirState{}
	w.last = plumbing.ZeroHash
}

func (w *Workspace) emptyTree() (plumbing.Hash, error) {
	h, raw := gitlog.EncodeTree(nil)
	if !w.stored[h] {
		if _, err := w.store.WriteRawTree(raw); err != nil {
			return h, err
		}
		w.stored[h] = true
	}
	return h, nil
}

// isTracked reports whether p is in tree prev, which makes it recorded
// even when a .gitignore matches it. Only ignored paths are asked about,
// so the previous tree is loaded only when one turns up.
func (s *scan) isTracked(p string) (bool, error) {
	if s.tracked == nil {
		t, err := s.w.trackedPaths(s.prev)
		if err != nil {
			return false, err
		}
		s.tracked = t
	}
	return s.tracked[p], nil
}

// trackedPaths lists every path in tree prev and every directory above one.
func (w *Workspace) trackedPaths(prev plumbing.Hash) (map[string]bool, error) {
	out := map[string]bool{}
	if prev.IsZero() {
		return out, nil
	}
	return out, w.walkTree(prev, "", func(p string, e object.TreeEntry) error {
		out[p] = true
		return nil
	})
}

// walkTree calls fn for every entry below tree h, directories included.
func (w *Workspace) walkTree(h plumbing.Hash, prefix string, fn func(string, object.TreeEntry) error) error {
	t, err := w.store.Tree(h)
	if err != nil {
		return err
	}
	w.stored[h] = true
	for _, e := range t.Entries {
		p := path.Join(prefix, e.Name)
		if err := fn(p, e); err != nil {
			return err
		}
		if e.Mode == filemode.Dir {
			if err := w.walkTree(e.Hash, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// dir records directory rel and returns its state.
func (s *scan) dir(rel string, ignores []gitignore.Pattern) (dirState, error) {
	if ds, ok := s.w.dirs[rel]; ok && !s.full && !s.dirty[rel] && !s.above[rel] {
		return ds, nil
	}
	f, err := s.w.root.Open(dirName(rel))
	if errors.Is(err, fs.ErrPermission) && rel != "" {
		// The capsule took away our access: not recorded, and not clean,
		// so a reset puts it back.
		s.w.forgetTree(rel)
		return dirState{}, nil
	}
	if err != nil {
		return dirState{}, fmt.Errorf("scan %s: %w", dirName(rel), err)
	}
	defer f.Close()
	if s.w.watch != nil {
		if err := s.w.watch.add(f, rel); err != nil {
			s.w.log("inotify unavailable, scanning in full", err)
			s.w.watch.close()
			s.w.watch, s.w.noWatch = nil, true
		}
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return dirState{}, fmt.Errorf("scan %s: %w", dirName(rel), err)
	}
	ignores = s.readIgnore(rel, ignores)
	matcher := gitignore.NewMatcher(ignores)

	old, files := s.w.files[rel], map[string]fileState{}
	ds := dirState{clean: true}
	var es []object.TreeEntry
	for _, name := range names {
		e, ok, clean, err := s.entry(f, rel, name, ignores, matcher, old, files)
		if err != nil {
			return dirState{}, err
		}
		ds.clean = ds.clean && clean
		if ok {
			es = append(es, e)
			if e.Mode == filemode.Dir {
				ds.subdirs = append(ds.subdirs, name)
			}
		}
	}
	s.forgetGone(rel, ds.subdirs)
	s.w.files[rel] = files
	return s.finishDir(rel, es, ds)
}

// entry records one name of directory rel. ok is false when nothing is
// recorded for it (ignored, an empty directory, a fifo); clean is false
// when something below it was left out.
func (s *scan) entry(f *os.File, rel, name string, ignores []gitignore.Pattern, m gitignore.Matcher,
	old, files map[string]fileState) (e object.TreeEntry, ok, clean bool, err error) {
	p := path.Join(rel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(int(f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return e, false, false, nil // vanished or unreadable: not recorded
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if skip, err := s.skip(p, name, isDir, m); err != nil || skip {
		return e, false, false, err
	}
	// Permissions a checkout would not give make the entry unclean, so a
	// reset visits it even though the recorded tree cannot show them.
	normal := st.Mode&0o7777 == checkoutPerm(st.Mode)

	e.Name = name
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		ds, err := s.dir(p, ignores)
		if err != nil || ds.tree.IsZero() {
			return e, false, ds.clean && normal, err
		}
		e.Mode, e.Hash = filemode.Dir, ds.tree
		return e, true, ds.clean && normal, nil
	case unix.S_IFREG:
		e.Mode = filemode.Regular
		if st.Mode&0o100 != 0 {
			e.Mode = filemode.Executable
		}
	case unix.S_IFLNK:
		e.Mode = filemode.Symlink
	default:
		return e, false, false, nil
	}
	state, err := s.fileHash(p, &st, old[name])
	if errors.Is(err, fs.ErrPermission) {
		return e, false, false, nil // unreadable: not recorded, not clean
	}
	if err != nil {
		return e, false, false, err
	}
	files[name] = state
	e.Hash = state.hash
	if state.racy {
		files[name] = fileState{}
	}
	return e, true, normal || e.Mode == filemode.Symlink, nil
}

// checkoutPerm is the permission a checkout gives an entry of this type.
func checkoutPerm(mode uint32) uint32 {
	switch {
	case mode&unix.S_IFMT == unix.S_IFDIR:
		return 0o755
	case mode&unix.S_IFMT == unix.S_IFLNK:
		return mode & 0o7777
	case mode&0o100 != 0:
		return 0o755
	}
	return 0o644
}

// skip reports whether p is left out of the tree: a .git directory, an
// ignored path that the previous tree does not track, or an untracked path
// below an ignored directory (git never re-includes those, whatever a
// negated pattern says).
func (s *scan) skip(p, name string, isDir bool, m gitignore.Matcher) (bool, error) {
	if name == ".git" {
		return true, nil
	}
	if !s.underExcluded(p) && !m.Match(split(p), isDir) {
		return false, nil
	}
	tracked, err := s.isTracked(p)
	if tracked && isDir {
		s.excluded[p] = true
	}
	return !tracked, err
}

// underExcluded reports whether a directory above p is ignored but kept
// for the tracked files in it.
func (s *scan) underExcluded(p string) bool {
	if len(s.excluded) == 0 {
		return false
	}
	for d := parentDir(p); d != ""; d = parentDir(d) {
		if s.excluded[d] {
			return true
		}
	}
	return false
}

// fileHash returns a file's state with its blob hash, reading the file
// only if its stat differs from old.
func (s *scan) fileHash(p string, st *unix.Stat_t, old fileState) (fileState, error) {
	fs := fileState{
		size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
		ino: st.Ino, mode: st.Mode,
	}
	if !old.hash.IsZero() {
		fs.hash = old.hash
		if old == fs {
			return fs, nil
		}
	}
	h, err := s.store(p, st)
	if err != nil {
		return fs, err
	}
	fs.hash = h
	fs.racy = s.start.Sub(time.Unix(0, fs.mtime)) < racyWindow || s.start.Sub(time.Unix(0, fs.ctime)) < racyWindow
	return fs, nil
}

// store hashes a file (or a symlink's target) and writes its blob if the
// store lacks it. Files are streamed twice, hashing then writing, so
// memory stays small whatever their size.
func (s *scan) store(p string, st *unix.Stat_t) (plumbing.Hash, error) {
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := s.w.root.Readlink(p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, []byte(t))
		if !s.w.store.HasObject(h) {
			_, err = s.w.store.WriteBlob([]byte(t))
		}
		return h, err
	}
	f, err := s.w.root.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", p, fs.ErrPermission)
	}
	hasher := plumbing.NewHasher(plumbing.BlobObject, fi.Size())
	if _, err := io.CopyN(hasher, f, fi.Size()); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", p, err)
	}
	h := hasher.Sum()
	if s.w.store.HasObject(h) {
		return h, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return h, err
	}
	if _, err := s.w.store.WriteBlobFrom(f, fi.Size()); err != nil {
		return h, err
	}
	return h, nil
}

// forgetGone drops what was remembered below subdirectories of rel that
// are no longer recorded.
func (s *scan) forgetGone(rel string, now []string) {
	keep := map[string]bool{}
	for _, n := range now {
		keep[n] = true
	}
	for _, n := range s.w.dirs[rel].subdirs {
		if !keep[n] {
			s.w.forgetTree(path.Join(rel, n))
		}
	}
}

// forgetTree drops the remembered state of rel and everything below it.
func (w *Workspace) forgetTree(rel string) {
	for _, n := range w.dirs[rel].subdirs {
		w.forgetTree(path.Join(rel, n))
	}
	delete(w.dirs, rel)
	delete(w.files, rel)
}

// finishDir encodes a directory's tree and stores it if it is new.
func (s *scan) finishDir(rel string, es []object.TreeEntry, ds dirState) (dirState, error) {
	if len(es) > 0 {
		gitlog.SortEntries(es)
		h, raw := gitlog.EncodeTree(es)
		if !s.w.stored[h] {
			if _, err := s.w.store.WriteRawTree(raw); err != nil {
				return dirState{}, err
			}
			s.w.stored[h] = true
		}
		ds.tree = h
	}
	s.w.dirs[rel] = ds
	return ds, nil
}

// readIgnore adds the patterns of rel/.gitignore. A .gitignore that is a
// symlink is not followed, as git does not follow it either.
func (s *scan) readIgnore(rel string, ps []gitignore.Pattern) []gitignore.Pattern {
	p := path.Join(rel, ".gitignore")
	f, err := s.w.root.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return ps
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return ps
	}
	domain := split(rel)
	out := append([]gitignore.Pattern(nil), ps...)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, gitignore.ParsePattern(line, domain))
	}
	return out
}

func split(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func dirName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}
