// Package patch applies unified diffs to a workspace, all or nothing.
//
// It reads what `git diff`, `git diff --binary`, `git format-patch` and
// `diff -u` print and changes the files beneath an *os.Root the way
// `git apply` would: the same path rules, hunk placement and file modes.
// Every file is checked and its new content computed in memory before the
// first byte is written, and a write that fails midway is undone.
package patch

import (
	"errors"
	"os"
	"strings"
)

// FileChange describes one file a patch touched.
type FileChange struct {
	Path    string // path after the patch ("" never; for deletes the old path)
	OldPath string // set for renames and copies
	Op      string // "add", "modify", "delete", "rename", "copy", "mode"
}

// The values of FileChange.Op.
const (
	OpAdd    = "add"
	OpModify = "modify"
	OpDelete = "delete"
	OpRename = "rename"
	OpCopy   = "copy"
	OpMode   = "mode"
)

// Errors Apply wraps; test for them with errors.Is.
var (
	// ErrEmpty and ErrMalformed mean the diff could not be read at all.
	ErrEmpty     = errors.New("patch is empty")
	ErrMalformed = errors.New("malformed patch")

	// ErrNotRestored means writing failed and so did putting back what
	// was already written: the workspace is partly patched.
	ErrNotRestored = errors.New("workspace not restored")
)

// Error is returned when a patch does not apply; nothing was changed.
type Error struct{ Files []FileError }

// FileError says why one file of a patch does not apply.
type FileError struct{ Path, Reason string }

// Error lists each file that does not apply and why.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("patch does not apply")
	for i, f := range e.Files {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Path + ": " + f.Reason)
	}
	return b.String()
}

// Apply parses diff and applies it beneath root. Either every file applies
// and is written, or nothing in root changes and the error says why per file.
//
// A diff that does not fit the workspace gives an *Error. A write that
// fails after every file checked out gives the write's error, with the
// workspace restored unless the error also wraps ErrNotRestored.
func Apply(root *os.Root, diff []byte) ([]FileChange, error) {
	files, err := parse(diff)
	if err != nil {
		return nil, err
	}

	ws := newWorkspace(root)
	c := newChecker(ws, files)
	for _, fp := range files {
		c.check(fp)
	}
	if len(c.failed) > 0 {
		return nil, &Error{Files: c.failed}
	}

	if err := ws.commit(c.removals, c.writes); err != nil {
		return nil, err
	}
	return c.changes, nil
}
