package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// Git file modes, as patches state them.
const (
	modeTypeMask = 0o170000
	modeRegular  = 0o100000
	modeFile     = 0o100644
	modeExec     = 0o100755
	modeSymlink  = 0o120000
	modeGitlink  = 0o160000
)

func isSymlinkMode(m uint32) bool { return m&modeTypeMask == modeSymlink }

// Reasons a file does not apply, kept as values so they can be compared.
var (
	errLeaves        = errors.New("leaves the workspace")
	errBeyondSymlink = errors.New("is beyond a symbolic link")
	errIsSymlink     = errors.New("is a symlink")
	errNotSymlink    = errors.New("is not a symlink")
	errIsDir         = errors.New("is a directory")
	errNotExist      = errors.New("does not exist")
	errExists        = errors.New("already exists")
)

// entry is what a path holds: a git mode and the file's content or the
// symlink's target.
type entry struct {
	mode uint32
	data []byte
}

// workspace reads and writes files beneath the root, and only through it.
type workspace struct {
	root *os.Root

	// escapes is the error os.Root gives for a path that leaves it. The
	// os package does not export it, so it is learnt from a path that must
	// escape and then matched with errors.Is.
	escapes error
}

func newWorkspace(root *os.Root) *workspace {
	_, err := root.Lstat("..")
	return &workspace{root: root, escapes: errors.Unwrap(err)}
}

// classify turns a failed lookup into a reason for a file error.
func (w *workspace) classify(err error) error {
	switch {
	case w.escapes != nil && errors.Is(err, w.escapes):
		return errLeaves
	case isMissing(err):
		return errNotExist
	}
	return err
}

// isMissing is true for errors that mean nothing is at a path, including
// a parent that is a file, as git treats both.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// load reads the file or symlink at name.
//
// TODO(attributes): git apply converts line endings and runs filters that
// .gitattributes asks for when it reads and writes files in a repository;
// this package patches bytes as they are, so a workspace relying on eol
// conversion may see hunks fail where git apply succeeds.
func (w *workspace) load(name string) (entry, error) {
	fi, err := w.root.Lstat(name)
	if err != nil {
		return entry{}, w.classify(err)
	}

	m := fi.Mode()
	switch {
	case m.IsRegular():
		data, err := w.root.ReadFile(name)
		if err != nil {
			return entry{}, fmt.Errorf("read: %w", w.classify(err))
		}
		return entry{mode: regularMode(m), data: data}, nil
	case m&fs.ModeSymlink != 0:
		target, err := w.root.Readlink(name)
		if err != nil {
			return entry{}, fmt.Errorf("read link: %w", w.classify(err))
		}
		return entry{mode: modeSymlink, data: []byte(target)}, nil
	case m.IsDir():
		return entry{}, errIsDir
	}
	return entry{}, errors.New("is not a regular file")
}

// regularMode is the git mode of a regular file: executable if its owner
// may execute it.
func regularMode(m fs.FileMode) uint32 {
	if m&0o100 != 0 {
		return modeExec
	}
	return modeFile
}

// leadingSymlink returns a reason if a parent directory of name is a
// symlink on disk, as git apply refuses to read or write through one.
// skip says which directories not to look at.
func (w *workspace) leadingSymlink(name string, skip func(dir string) bool) error {
	for _, dir := range parents(name) {
		if skip != nil && skip(dir) {
			continue
		}
		fi, err := w.root.Lstat(dir)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := w.root.Stat(dir); err != nil && errors.Is(err, w.escapes) {
			return errLeaves
		}
		return errBeyondSymlink
	}
	return nil
}

// parents lists the directories above name, outermost first: "a", "a/b"
// for "a/b/c".
func parents(name string) []string {
	var dirs []string
	for i := range len(name) {
		if name[i] == '/' {
			dirs = append(dirs, name[:i])
		}
	}
	return dirs
}

// exists reports whether anything but a directory is at name, the test
// git apply makes before creating a file.
func (w *workspace) exists(name string) (bool, error) {
	fi, err := w.root.Lstat(name)
	if isMissing(err) {
		return false, nil
	}
	if err != nil {
		return false, w.classify(err)
	}
	return !fi.IsDir(), nil
}

func (w *workspace) isDir(name string) bool {
	fi, err := w.root.Lstat(name)
	return err == nil && fi.IsDir()
}

func (w *workspace) readDir(name string) ([]fs.DirEntry, error) {
	f, err := w.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// linkLeaves reports whether the symlink name points outside the
// workspace, judged from its target text alone (nothing is followed).
func (w *workspace) linkLeaves(name string) bool {
	target, err := w.root.Readlink(name)
	if err != nil {
		return false
	}
	if path.IsAbs(target) {
		return true
	}
	p := path.Join(path.Dir(name), target)
	return p == ".." || strings.HasPrefix(p, "../")
}
