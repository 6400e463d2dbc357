package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/krellin/krellin/notes"
	"github.com/krellin/krellin/workspace"
)

// EditSpec is the input of an edit: replace the one occurrence of Old in
// the file with New. It is recorded as the action's input, so a replay
// makes the same edit.
type EditSpec struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// ParseEdit reads an edit's input.
func ParseEdit(input []byte) (EditSpec, error) {
	var e EditSpec
	if err := json.Unmarshal(input, &e); err != nil {
		return e, fmt.Errorf("%w: edit input is not {\"old\":...,\"new\":...}: %v", ErrBadRequest, err)
	}
	if e.Old == "" {
		return e, fmt.Errorf("%w: edit needs the old text to replace (to create a file, write it)", ErrBadRequest)
	}
	return e, nil
}

// EditFile replaces the single occurrence of the old text in r.Path with
// the new text. It fails, changing nothing, when the old text occurs
// zero times or more than once, saying how many times.
func EditFile(root *os.Root, r Request) (rec notes.Record) {
	rec = notes.Record{Action: Edit, Path: r.Path, Input: r.Input, Start: time.Now()}
	defer func() { rec.Duration = time.Since(rec.Start) }()

	e, err := ParseEdit(r.Input)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	p, err := CleanPath(r.Path)
	if err != nil {
		rec.Error = fmt.Errorf("%w: %w", ErrRefused, err).Error()
		return rec
	}
	data, err := readBeneath(root, p)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	switch n := bytes.Count(data, []byte(e.Old)); n {
	case 1:
	case 0:
		rec.Error = fmt.Sprintf("the old text was not found in %s; nothing changed (read the file and copy the text exactly, whitespace included)", r.Path)
		return rec
	default:
		rec.Error = fmt.Sprintf("the old text matches %d times in %s; nothing changed (include more surrounding lines so it matches once)", n, r.Path)
		return rec
	}
	out := bytes.Replace(data, []byte(e.Old), []byte(e.New), 1)
	if err := writeBeneath(root, p, out); err != nil {
		rec.Error = fmt.Errorf("%w: %w", ErrRefused, err).Error()
	}
	return rec
}

// readBeneath reads a regular file beneath root without following a
// final symlink.
func readBeneath(root *os.Root, p string) ([]byte, error) {
	fi, err := root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist in the workspace (create it with a write)", p)
	case err != nil:
		return nil, workspace.Classify(p, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", p)
	case fi.Size() > MaxInput:
		return nil, fmt.Errorf("%s is %d bytes, over the %d byte edit limit", p, fi.Size(), MaxInput)
	}
	return root.ReadFile(p)
}
