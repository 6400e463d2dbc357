package workspace

import (
	"fmt"
	"io"
	"os"
	"path"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/sys/unix"
)

// Reset makes the workspace exactly tree target: files not in it go,
// ignored and untracked ones included; files that differ are rewritten.
// Directories whose recorded tree already equals the target, with nothing
// left out below them, are skipped without being read. The workspace's
// own .git directory is left alone; see ResetGitDir. prev is the tree
// recorded last, which tells tracked files from untracked ones.
func (w *Workspace) Reset(prev, target plumbing.Hash) error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if _, err := w.snapshot(prev); err != nil {
		return fmt.Errorf("reset workspace: %w", err)
	}
	if err := w.reconcile("", target); err != nil {
		w.invalidate()
		return fmt.Errorf("reset workspace: %w", err)
	}
	// The disk is the target now; what reconcile touched reported itself
	// through inotify, so the next scan reads only that, judging
	// tracked files by the target.
	w.last = target
	return nil
}

// reconcile makes directory rel equal to tree h.
func (w *Workspace) reconcile(rel string, h plumbing.Hash) error {
	// The capsule may have taken permissions away; a checkout has 0755.
	// A directory's own mode is seen only by its parent's scan, so it is
	// set on every directory visited, skipped or not.
	if err := w.root.Chmod(dirName(rel), 0o755); err != nil {
		return err
	}
	if ds, ok := w.dirs[rel]; ok && ds.clean && ds.tree == h {
		return nil
	}
	want := map[string]object.TreeEntry{}
	if !h.IsZero() {
		t, err := w.store.Tree(h)
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			want[e.Name] = e
		}
	}
	if err := w.prune(rel, want); err != nil {
		return err
	}
	for _, e := range want {
		if err := w.place(path.Join(rel, e.Name), e); err != nil {
			return err
		}
	}
	return nil
}

// prune removes what directory rel holds that tree entries want lacks, or
// holds with another type.
func (w *Workspace) prune(rel string, want map[string]object.TreeEntry) error {
	f, err := w.root.Open(dirName(rel))
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := path.Join(rel, name)
		if p == ".git" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		e, ok := want[name]
		if ok && sameKind(e.Mode, st.Mode) {
			continue
		}
		if err := w.remove(p); err != nil {
			return err
		}
	}
	return nil
}

func sameKind(m filemode.FileMode, mode uint32) bool {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return m == filemode.Dir || m == filemode.Submodule
	case unix.S_IFREG:
		return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
	case unix.S_IFLNK:
		return m == filemode.Symlink
	}
	return false
}

// remove deletes p and everything below it, first making directories
// writable where the capsule took the write bit away.
func (w *Workspace) remove(p string) error {
	w.forget(p)
	if err := w.root.RemoveAll(p); err == nil {
		return nil
	}
	w.makeWritable(p)
	if err := w.root.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// makeWritable adds owner rwx to p and every directory below it.
func (w *Workspace) makeWritable(p string) {
	fi, err := w.root.Lstat(p)
	if err != nil || !fi.IsDir() {
		return
	}
	w.root.Chmod(p, 0o755)
	f, err := w.root.Open(p)
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		w.makeWritable(path.Join(p, n))
	}
}

// place makes p equal to tree entry e.
func (w *Workspace) place(p string, e object.TreeEntry) error {
	switch e.Mode {
	case filemode.Dir:
		if err := w.root.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		return w.reconcile(p, e.Hash)
	case filemode.Submodule:
		if err := w.root.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		return nil
	}
	if fs := w.cached(p); !fs.hash.IsZero() && fs.hash == e.Hash && modeOf(fs.mode) == e.Mode {
		if perm := checkoutPerm(fs.mode); e.Mode != filemode.Symlink && fs.mode&0o7777 != perm {
			w.forget(p)
			return w.root.Chmod(p, os.FileMode(perm))
		}
		return nil
	}
	return w.writeEntry(p, e)
}

func modeOf(mode uint32) filemode.FileMode {
	switch {
	case mode&unix.S_IFMT == unix.S_IFLNK:
		return filemode.Symlink
	case mode&0o100 != 0:
		return filemode.Executable
	}
	return filemode.Regular
}

// writeEntry writes a file or symlink from its blob, replacing what is
// there through a temporary name and a rename.
func (w *Workspace) writeEntry(p string, e object.TreeEntry) error {
	w.forget(p)
	tmp := path.Join(path.Dir(p), ".krellin-tmp-"+path.Base(p))
	w.root.Remove(tmp)
	if err := w.writeBlob(tmp, e); err != nil {
		w.root.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := w.root.Rename(tmp, p); err != nil {
		w.root.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// forget drops what scans remembered of p, a file or a directory.
func (w *Workspace) forget(p string) {
	delete(w.files[parentDir(p)], path.Base(p))
	w.forgetTree(p)
}

// writeBlob creates name from tree entry e's blob, streaming it.
func (w *Workspace) writeBlob(name string, e object.TreeEntry) error {
	if e.Mode == filemode.Symlink {
		target, err := w.store.ReadBlob(e.Hash)
		if err != nil {
			return err
		}
		return w.root.Symlink(string(target), name)
	}
	perm := os.FileMode(0o644)
	if e.Mode == filemode.Executable {
		perm = 0o755
	}
	rd, err := w.store.BlobReader(e.Hash)
	if err != nil {
		return err
	}
	defer rd.Close()
	f, err := w.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rd); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
