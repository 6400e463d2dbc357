package patch

import (
	"bytes"
	"errors"
	"fmt"
)

// slotKind says what earlier patches in the same diff did to a path,
// mirroring git apply's table of names.
type slotKind int

const (
	toBeDeleted slotKind = iota + 1 // some patch deletes or renames it away
	wasDeleted                      // an earlier patch deleted or renamed it
	patched                         // an earlier patch left it as slot.e
)

type slot struct {
	kind slotKind
	e    entry
}

// How a diff changes symlinks, collected over all of it first as git
// apply does, to judge paths beneath them.
const (
	symlinkGoesAway = 1 << iota
	symlinkInResult
)

// removal and write are the changes to make once every file checks out:
// all removals first, then all writes, the order git apply uses.
type removal struct {
	name  string
	prune bool // also remove parent directories left empty
}

type write struct {
	name string
	e    entry
}

// checker checks each file of a diff in order against the workspace and
// the files before it, and collects what to change.
type checker struct {
	ws       *workspace
	fn       map[string]*slot
	symlinks map[string]int
	dirs     map[string]bool // parents of the files written so far

	removals []removal
	writes   []write
	changes  []FileChange
	failed   []FileError
}

func newChecker(ws *workspace, files []*filePatch) *checker {
	c := &checker{
		ws:       ws,
		fn:       map[string]*slot{},
		symlinks: map[string]int{},
		dirs:     map[string]bool{},
	}
	for _, fp := range files {
		if fp.oldName != "" && (fp.newName == "" || fp.isRename) {
			c.fn[fp.oldName] = &slot{kind: toBeDeleted}
		}
		if fp.oldName != "" && isSymlinkMode(fp.oldMode) {
			c.symlinks[fp.oldName] |= symlinkGoesAway
		}
		if fp.newName != "" && isSymlinkMode(fp.newMode) {
			c.symlinks[fp.newName] |= symlinkInResult
		}
	}
	return c
}

// check checks one file and records either its changes or why it fails.
func (c *checker) check(fp *filePatch) {
	result, err := c.checkFile(fp)
	if err != nil {
		name := fp.displayName()
		var old oldSideError
		if errors.As(err, &old) && fp.oldName != "" {
			name, err = fp.oldName, old.error
		}
		c.failed = append(c.failed, FileError{Path: name, Reason: err.Error()})
		return
	}
	c.record(fp, result)
}

// checkFile runs git apply's checks on one file and returns its new
// content.
func (c *checker) checkFile(fp *filePatch) ([]byte, error) {
	if err := checkNames(fp); err != nil {
		return nil, err
	}
	if err := checkKind(fp); err != nil {
		return nil, err
	}

	cur, err := c.preimage(fp)
	if err != nil {
		return nil, oldSideError{err}
	}
	if err := c.checkCreate(fp); err != nil {
		return nil, err
	}
	if err := settleModes(fp); err != nil {
		return nil, err
	}
	if err := c.checkTarget(fp); err != nil {
		return nil, err
	}

	result, err := applyContent(fp, cur.data)
	if err != nil {
		return nil, err
	}
	return result, checkResult(fp, result)
}

// checkKind refuses patches this package cannot apply, whatever the
// workspace holds.
func checkKind(fp *filePatch) error {
	for _, m := range []uint32{fp.oldMode, fp.newMode} {
		switch {
		case m == 0 || m&modeTypeMask == modeRegular || isSymlinkMode(m):
		case m&modeTypeMask == modeGitlink:
			return errors.New("submodule changes are not supported")
		default:
			return fmt.Errorf("unsupported file mode %o", m)
		}
	}

	// TODO(blobs): git apply can take the new content of a binary patch
	// without data from its object store when the index line names a
	// blob it has; there is no object store here, so such patches fail.
	f := fp.f
	if f.IsBinary && f.BinaryFragment == nil {
		return errors.New("binary patch has no data (make it with git diff --binary)")
	}
	if !f.IsBinary && len(f.TextFragments) == 0 && !changesMetadata(fp) {
		return errors.New("patch has no changes for this file")
	}
	return nil
}

// changesMetadata reports whether a patch without hunks still does
// something: create, delete, rename, copy or change a mode.
func changesMetadata(fp *filePatch) bool {
	return fp.oldName == "" || fp.newName == "" || fp.isRename || fp.isCopy ||
		(fp.oldMode != 0 && fp.newMode != 0 && fp.oldMode != fp.newMode)
}

// preimage returns the content fp applies to: what an earlier patch left,
// or what is on disk. Renames and copies always read the disk, as in git.
func (c *checker) preimage(fp *filePatch) (entry, error) {
	if fp.oldName == "" {
		return entry{}, nil
	}
	if s := c.fn[fp.oldName]; s != nil && !fp.isRename && !fp.isCopy {
		switch s.kind {
		case wasDeleted:
			return entry{}, errors.New("was deleted or renamed by an earlier part of the patch")
		case patched:
			return c.checkOld(fp, s.e)
		}
	}

	if err := c.ws.leadingSymlink(fp.oldName, nil); err != nil {
		return entry{}, err
	}
	cur, err := c.ws.load(fp.oldName)
	if errors.Is(err, errNotExist) && fp.maybeNew {
		fp.oldName = "" // git apply then creates the file
		return entry{}, nil
	}
	if err != nil {
		return entry{}, err
	}
	return c.checkOld(fp, cur)
}

// checkOld checks the old file's type against the patch and fills in the
// modes the patch leaves out from it. A patch that does not say the file
// is a symlink may not edit one: git apply would rewrite the link's
// target from a `diff -u` patch, which is refused here on purpose.
func (c *checker) checkOld(fp *filePatch, cur entry) (entry, error) {
	switch {
	case isSymlinkMode(cur.mode) && fp.oldMode == 0 && fp.isRename && !hasContent(fp):
		// A pure rename moves the link itself, as git apply does; the
		// link is not followed.
	case isSymlinkMode(cur.mode) && !isSymlinkMode(fp.oldMode):
		if c.ws.linkLeaves(fp.oldName) {
			return entry{}, errLeaves
		}
		return entry{}, errIsSymlink
	case !isSymlinkMode(cur.mode) && isSymlinkMode(fp.oldMode):
		return entry{}, errNotSymlink
	}
	if fp.oldMode == 0 {
		fp.oldMode = cur.mode
	}
	if fp.newMode == 0 && fp.newName != "" {
		fp.newMode = cur.mode
	}
	return cur, nil
}

// checkCreate refuses to create a file over one that exists, unless
// another part of the patch deletes or renames it away.
func (c *checker) checkCreate(fp *filePatch) error {
	creates := fp.oldName == "" || fp.isRename || fp.isCopy
	if fp.newName == "" || !creates {
		return nil
	}
	if s := c.fn[fp.newName]; s != nil && (s.kind == wasDeleted || s.kind == toBeDeleted) {
		return nil
	}
	if c.ws.leadingSymlink(fp.newName, nil) != nil {
		return nil // checkTarget refuses it
	}

	exists, err := c.ws.exists(fp.newName)
	switch {
	case err != nil:
		return err
	case exists:
		return errExists
	case c.ws.isDir(fp.newName) && !c.emptied(fp.newName, true):
		return errIsDir
	}
	return nil
}

// emptied reports whether dir will be gone when the file that replaces it
// is written. git apply removes an empty directory there, and parent
// directories that its removals leave empty; a directory still holding
// something makes it fail halfway through writing, so refuse it now.
func (c *checker) emptied(dir string, top bool) bool {
	entries, err := c.ws.readDir(dir)
	if err != nil || len(entries) == 0 {
		return err == nil && top
	}
	for _, e := range entries {
		name := dir + "/" + e.Name()
		if e.IsDir() {
			if !c.emptied(name, false) {
				return false
			}
			continue
		}
		if s := c.fn[name]; s == nil || (s.kind != toBeDeleted && s.kind != wasDeleted) {
			return false
		}
	}
	return true
}

// settleModes gives the new file a mode if the patch states none, and
// refuses a change of file type within one patch.
func settleModes(fp *filePatch) error {
	if fp.newName != "" && fp.newMode == 0 {
		fp.newMode = fp.oldMode
		if fp.oldName == "" {
			fp.newMode = modeFile
		}
	}
	if fp.oldName == "" || fp.newName == "" {
		return nil
	}
	if (fp.oldMode^fp.newMode)&modeTypeMask != 0 {
		return fmt.Errorf("new mode %o does not match old mode %o", fp.newMode, fp.oldMode)
	}
	return nil
}

// checkTarget refuses to write beneath a symlink, one on disk or one the
// patch creates, as git apply does; and where a file and a directory
// would collide, which git apply only finds out halfway through writing.
func (c *checker) checkTarget(fp *filePatch) error {
	name := fp.newName
	if name == "" {
		return nil
	}
	for _, dir := range parents(name) {
		if c.symlinks[dir]&symlinkInResult != 0 {
			return errBeyondSymlink
		}
	}
	goesAway := func(dir string) bool { return c.symlinks[dir]&symlinkGoesAway != 0 }
	if err := c.ws.leadingSymlink(name, goesAway); err != nil {
		return err
	}

	if c.dirs[name] {
		return errIsDir
	}
	return c.checkParents(name)
}

// checkParents refuses a path whose parent is a file on disk that the
// patch does not remove, or a file an earlier part of the patch writes.
func (c *checker) checkParents(name string) error {
	for _, dir := range parents(name) {
		if s := c.fn[dir]; s != nil {
			if s.kind == patched {
				return fmt.Errorf("parent %s is a file", dir)
			}
			continue // removed before anything is written
		}
		fi, err := c.ws.root.Lstat(dir)
		if err != nil {
			return nil // missing: created when written
		}
		if !fi.IsDir() {
			return fmt.Errorf("parent %s is not a directory", dir)
		}
	}
	return nil
}

func applyContent(fp *filePatch, img []byte) ([]byte, error) {
	if fp.f.IsBinary {
		return applyBinary(fp, img)
	}
	return applyText(img, fp.f.TextFragments)
}

// checkResult refuses results that cannot be written as the patch says.
func checkResult(fp *filePatch, result []byte) error {
	switch {
	case fp.newName == "" && len(result) > 0:
		return errors.New("removal patch leaves file contents")
	case fp.newName == "" || !isSymlinkMode(fp.newMode):
		return nil
	case len(result) == 0:
		return errors.New("symlink target is empty")
	case bytes.IndexByte(result, 0) >= 0:
		return errors.New("symlink target contains a NUL byte")
	}
	return checkSymlinkName(fp.newName)
}

// record notes what fp leaves behind for later files and what to write.
func (c *checker) record(fp *filePatch, result []byte) {
	if fp.newName != "" {
		e := entry{mode: fp.newMode, data: result}
		c.fn[fp.newName] = &slot{kind: patched, e: e}
		c.writes = append(c.writes, write{name: fp.newName, e: e})
		for _, dir := range parents(fp.newName) {
			c.dirs[dir] = true
		}
	}
	if fp.newName == "" || fp.isRename {
		c.fn[fp.oldName] = &slot{kind: wasDeleted}
		c.removals = append(c.removals, removal{name: fp.oldName, prune: true})
	}
	c.changes = append(c.changes, change(fp))
}

// change describes what fp did.
func change(fp *filePatch) FileChange {
	switch {
	case fp.oldName == "":
		return FileChange{Path: fp.newName, Op: OpAdd}
	case fp.newName == "":
		return FileChange{Path: fp.oldName, Op: OpDelete}
	case fp.isRename:
		return FileChange{Path: fp.newName, OldPath: fp.oldName, Op: OpRename}
	case fp.isCopy:
		return FileChange{Path: fp.newName, OldPath: fp.oldName, Op: OpCopy}
	case !hasContentChange(fp) && fp.oldMode != fp.newMode:
		return FileChange{Path: fp.newName, Op: OpMode}
	}
	return FileChange{Path: fp.newName, Op: OpModify}
}

func hasContentChange(fp *filePatch) bool {
	return len(fp.f.TextFragments) > 0 || fp.f.BinaryFragment != nil
}

// oldSideError marks a problem with the file a patch starts from, which is
// reported under its old name (a rename's source, not its destination).
type oldSideError struct{ error }

func (e oldSideError) Unwrap() error { return e.error }

// hasContent reports whether a file patch changes content.
func hasContent(fp *filePatch) bool {
	return len(fp.f.TextFragments) > 0 || fp.f.BinaryFragment != nil
}
