package workspace

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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

// scan is one pass over the workspace.
type scan struct {
	w       *Workspace
	start   time.Time
	tracked map[string]bool // paths in the previous tree, and their parent dirs
	files   map[string]fileState
	dirs    map[string]dirState
}

// Snapshot records the workspace as a tree, the way `git add -A` would see
// it: .gitignore'd files are left out unless prev, the tree recorded last,
// already tracks them; .git directories are never recorded. Only files
// whose size, times, inode or mode changed since the last scan are read.
func (w *Workspace) Snapshot(prev plumbing.Hash) (plumbing.Hash, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snapshot(prev)
}

func (w *Workspace) snapshot(prev plumbing.Hash) (plumbing.Hash, error) {
	tracked, err := w.trackedPaths(prev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	s := &scan{w: w, start: time.Now(), tracked: tracked,
		files: map[string]fileState{}, dirs: map[string]dirState{}}
	st, err := s.dir("", nil)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	w.files, w.dirs = s.files, s.dirs
	if st.tree.IsZero() {
		return w.emptyTree()
	}
	return st.tree, nil
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
	f, err := s.w.root.Open(dirName(rel))
	if err != nil {
		return dirState{}, fmt.Errorf("scan %s: %w", dirName(rel), err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return dirState{}, fmt.Errorf("scan %s: %w", dirName(rel), err)
	}
	ignores = s.readIgnore(rel, ignores)
	matcher := gitignore.NewMatcher(ignores)

	clean := true
	var es []object.TreeEntry
	for _, name := range names {
		p := path.Join(rel, name)
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			clean = false // vanished or unreadable: not recorded
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if name == ".git" || (!s.tracked[p] && matcher.Match(split(p), isDir)) {
			clean = false
			continue
		}
		e, ok, entryClean, err := s.entry(p, name, &st, ignores)
		if err != nil {
			return dirState{}, err
		}
		clean = clean && entryClean
		if ok {
			es = append(es, e)
		}
	}
	return s.finishDir(rel, es, clean)
}

// entry records one directory entry. ok is false when nothing is recorded
// for it (an empty directory, a fifo).
func (s *scan) entry(p, name string, st *unix.Stat_t, ignores []gitignore.Pattern) (e object.TreeEntry, ok, clean bool, err error) {
	e.Name = name
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		ds, err := s.dir(p, ignores)
		if err != nil || ds.tree.IsZero() {
			return e, false, ds.clean, err
		}
		e.Mode, e.Hash = filemode.Dir, ds.tree
		return e, true, ds.clean, nil
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
	e.Hash, err = s.fileHash(p, st)
	return e, err == nil, true, err
}

// fileHash returns a file's blob hash, reading it only if it changed.
func (s *scan) fileHash(p string, st *unix.Stat_t) (plumbing.Hash, error) {
	fs := fileState{
		size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
		ino: st.Ino, mode: st.Mode,
	}
	if old, ok := s.w.files[p]; ok && !old.hash.IsZero() {
		fs.hash = old.hash
		if old == fs {
			s.files[p] = fs
			return fs.hash, nil
		}
	}
	data, err := s.read(p, st)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h := plumbing.ComputeHash(plumbing.BlobObject, data)
	if !s.w.store.HasObject(h) {
		if _, err := s.w.store.WriteBlob(data); err != nil {
			return h, err
		}
	}
	fs.hash = h
	if s.start.Sub(time.Unix(0, fs.mtime)) < racyWindow || s.start.Sub(time.Unix(0, fs.ctime)) < racyWindow {
		fs.hash = plumbing.ZeroHash // racy: hash it again next time
	}
	s.files[p] = fs
	return h, nil
}

// read returns a file's content, or a symlink's target.
func (s *scan) read(p string, st *unix.Stat_t) ([]byte, error) {
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := s.w.root.Readlink(p)
		return []byte(t), err
	}
	f, err := s.w.root.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// finishDir encodes a directory's tree and stores it if it is new.
func (s *scan) finishDir(rel string, es []object.TreeEntry, clean bool) (dirState, error) {
	if len(es) == 0 {
		s.dirs[rel] = dirState{clean: clean}
		return s.dirs[rel], nil
	}
	gitlog.SortEntries(es)
	h, raw := gitlog.EncodeTree(es)
	if !s.w.stored[h] {
		if _, err := s.w.store.WriteRawTree(raw); err != nil {
			return dirState{}, err
		}
		s.w.stored[h] = true
	}
	s.dirs[rel] = dirState{tree: h, clean: clean}
	return s.dirs[rel], nil
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
