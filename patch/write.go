package patch

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// beforeChange, when a test sets it, runs before each change to the
// workspace and can fail it, to show that a failed write is undone.
var beforeChange func(name string) error

// commit makes the changes of a checked patch. If one fails, it undoes
// those already made, so the workspace ends as it began.
func (w *workspace) commit(removals []removal, writes []write) error {
	j := &journal{root: w.root}
	err := j.run(removals, writes)
	if err == nil {
		return nil
	}
	if uerr := j.rollback(); uerr != nil {
		return errors.Join(err, fmt.Errorf("%w: %w", ErrNotRestored, uerr))
	}
	return err
}

// journal changes the workspace step by step and remembers how to undo
// each step, keeping the originals in memory.
type journal struct {
	root *os.Root
	undo []func() error
}

func (j *journal) run(removals []removal, writes []write) error {
	for _, r := range removals {
		if err := j.remove(r.name, r.prune); err != nil {
			return fmt.Errorf("remove %s: %w", r.name, err)
		}
	}
	for _, wr := range writes {
		if err := j.write(wr.name, wr.e); err != nil {
			return fmt.Errorf("write %s: %w", wr.name, err)
		}
	}
	return nil
}

// rollback undoes every step, the latest first.
func (j *journal) rollback() error {
	var errs []error
	for i := len(j.undo) - 1; i >= 0; i-- {
		if err := j.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	j.undo = nil
	return errors.Join(errs...)
}

// remove deletes the file or symlink at name and, if prune is set, the
// parent directories it leaves empty, as git apply does.
func (j *journal) remove(name string, prune bool) error {
	saved, err := j.save(name)
	if err != nil {
		return err
	}
	if saved != nil {
		if err := j.change(name, func() error { return j.root.Remove(name) }); err != nil {
			return err
		}
		j.undo = append(j.undo, func() error { return j.restore(name, saved) })
	}
	if prune {
		j.prune(path.Dir(name))
	}
	return nil
}

// prune removes dir and its parents while they are empty.
func (j *journal) prune(dir string) {
	for ; dir != "." && dir != "/"; dir = path.Dir(dir) {
		fi, err := j.root.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return
		}
		if j.root.Remove(dir) != nil {
			return // not empty: pruning stops here
		}
		removed, saved := dir, &snapshot{mode: fi.Mode()}
		j.undo = append(j.undo, func() error { return j.restore(removed, saved) })
	}
}

// write puts e at name through a temporary file in the same directory.
func (j *journal) write(name string, e entry) error {
	if err := j.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	saved, err := j.clear(name)
	if err != nil {
		return err
	}

	tmp, err := j.temp(path.Dir(name), e)
	if err != nil {
		return err
	}
	if err := j.change(name, func() error { return j.root.Rename(tmp, name) }); err != nil {
		j.root.Remove(tmp)
		return err
	}
	j.undo = append(j.undo, func() error {
		if saved == nil {
			return j.root.Remove(name)
		}
		return j.restore(name, saved)
	})
	return nil
}

// clear saves what is at name so it can be put back, and removes it if it
// is an empty directory, which git apply replaces with the file.
func (j *journal) clear(name string) (*snapshot, error) {
	saved, err := j.save(name)
	if err != nil || saved == nil || !saved.mode.IsDir() {
		return saved, err
	}
	if err := j.change(name, func() error { return j.root.Remove(name) }); err != nil {
		return nil, err
	}
	j.undo = append(j.undo, func() error { return j.restore(name, saved) })
	return nil, nil
}

// mkdirs creates the missing directories of dir, as git apply does.
func (j *journal) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	if err := j.mkdirs(path.Dir(dir)); err != nil {
		return err
	}

	fi, err := j.root.Lstat(dir)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := j.change(dir, func() error { return j.root.Mkdir(dir, 0o777) }); err != nil {
		return err
	}
	j.undo = append(j.undo, func() error { return j.root.Remove(dir) })
	return nil
}

// temp writes e to a new temporary file or symlink in dir and returns its
// name. Files get mode 0666 or 0777 less the umask, as git apply makes them.
func (j *journal) temp(dir string, e entry) (string, error) {
	for range 10 {
		name := path.Join(dir, ".krellin-patch-"+rand.Text())
		err := j.create(name, e, createPerm(e.mode))
		if !errors.Is(err, fs.ErrExist) {
			return name, err
		}
	}
	return "", fmt.Errorf("create temporary file in %s: too many collisions", dir)
}

func createPerm(mode uint32) fs.FileMode {
	if mode&0o100 != 0 {
		return 0o777
	}
	return 0o666
}

// create makes a new file or symlink holding e; it does not replace one.
func (j *journal) create(name string, e entry, perm fs.FileMode) error {
	if isSymlinkMode(e.mode) {
		return j.root.Symlink(string(e.data), name)
	}
	f, err := j.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(e.data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		j.root.Remove(name)
	}
	return err
}

// change runs one change to the workspace, after the test hook if set.
func (j *journal) change(name string, do func() error) error {
	if beforeChange != nil {
		if err := beforeChange(name); err != nil {
			return err
		}
	}
	return do()
}

// snapshot is what a path held before the patch touched it.
type snapshot struct {
	mode fs.FileMode // type and permissions, as Lstat gives them
	data []byte      // file content or symlink target
}

// save reads what is at name, or returns nil if nothing is.
func (j *journal) save(name string) (*snapshot, error) {
	fi, err := j.root.Lstat(name)
	if isMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}

	s := &snapshot{mode: fi.Mode()}
	switch {
	case s.mode.IsRegular():
		s.data, err = j.root.ReadFile(name)
	case s.mode&fs.ModeSymlink != 0:
		var target string
		target, err = j.root.Readlink(name)
		s.data = []byte(target)
	case !s.mode.IsDir():
		err = fmt.Errorf("%s is not a regular file", name)
	}
	return s, err
}

// restore puts a snapshot back at name, replacing whatever is there.
func (j *journal) restore(name string, s *snapshot) error {
	if s.mode.IsDir() {
		if err := j.root.Remove(name); err != nil && !isMissing(err) {
			return err
		}
		if err := j.root.Mkdir(name, s.mode.Perm()); err != nil {
			return err
		}
		return j.root.Chmod(name, s.mode&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid))
	}

	e := entry{mode: modeFile, data: s.data}
	if s.mode&fs.ModeSymlink != 0 {
		e.mode = modeSymlink
	}
	tmp, err := j.temp(path.Dir(name), e)
	if err != nil {
		return err
	}
	if !isSymlinkMode(e.mode) {
		err = j.root.Chmod(tmp, s.mode&(fs.ModePerm|fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid))
	}
	if err == nil {
		err = j.root.Rename(tmp, name)
	}
	if err != nil {
		j.root.Remove(tmp)
	}
	return err
}
