package patch

import (
	"bytes"
	"fmt"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// applyText applies a file's hunks to img in patch order.
//
// The library applies a hunk only at the exact line its header names, and
// sorts hunks by that line first. git apply instead applies hunks one after
// another, looking for each outward from its line so a patch still applies
// after lines were added or removed above it; it never matches lines an
// earlier hunk wrote, and it pins a hunk without leading context to the
// start of the file and one without trailing context to the end. So the
// position is found here, git's way, and the library applies a copy of
// the hunk that names that exact line.
func applyText(img []byte, frags []*gitdiff.TextFragment) ([]byte, error) {
	lines := splitLines(string(img))
	written := make([]bool, len(lines))
	for i, frag := range frags {
		h := newHunk(frag)
		pos := h.find(lines, written)
		if pos < 0 {
			return nil, fmt.Errorf("hunk %d (line %d) does not apply", i+1, frag.OldPosition)
		}

		out, err := applyAt(img, frag, pos)
		if err != nil {
			return nil, fmt.Errorf("hunk %d (line %d): %w", i+1, frag.OldPosition, err)
		}
		img = out
		lines = splice(lines, pos, len(h.old), h.new)
		written = splice(written, pos, len(h.old), trues(len(h.new)))
	}
	return img, nil
}

// hunk is what finding a fragment's place needs.
type hunk struct {
	old, new       []string // the lines before and after
	start          int64    // where to start looking, 0-based
	atStart, atEnd bool     // must match at the start or end of the file
}

func newHunk(frag *gitdiff.TextFragment) hunk {
	h := hunk{
		start:   max(frag.NewPosition-1, 0),
		atStart: frag.OldPosition <= 1,
		atEnd:   frag.TrailingContext == 0,
	}
	for _, l := range frag.Lines {
		if l.Old() {
			h.old = append(h.old, l.Line)
		}
		if l.New() {
			h.new = append(h.new, l.Line)
		}
	}
	return h
}

// find returns the first line where h matches, trying its own line and
// then one further away at a time, below before above, as git apply does;
// -1 if it matches nowhere.
func (h hunk) find(lines []string, written []bool) int {
	n := len(lines)
	if len(h.old) > n {
		return -1
	}

	line := int(min(h.start, int64(n)))
	if h.atStart {
		line = 0
	} else if h.atEnd && n-len(h.old) >= 0 {
		line = n - len(h.old)
	}

	below, above := line, line
	for try := line; ; {
		if h.matches(lines, written, try) {
			return try
		}
		switch {
		case below < n && (below-line <= line-above || above == 0):
			below++
			try = below
		case above > 0:
			above--
			try = above
		default:
			return -1
		}
	}
}

// matches reports whether h's old lines are at lines[at:], unwritten.
func (h hunk) matches(lines []string, written []bool, at int) bool {
	end := at + len(h.old)
	switch {
	case end > len(lines):
		return false
	case h.atEnd && end != len(lines):
		return false
	case h.atStart && at != 0:
		return false
	}
	for i, want := range h.old {
		if written[at+i] || lines[at+i] != want {
			return false
		}
	}
	return true
}

// applyAt has the library apply frag with its old lines at line pos.
func applyAt(img []byte, frag *gitdiff.TextFragment, pos int) ([]byte, error) {
	moved := *frag
	moved.OldPosition = int64(pos) + 1

	var out bytes.Buffer
	a := gitdiff.NewTextApplier(&out, bytes.NewReader(img))
	if err := a.ApplyFragment(&moved); err != nil {
		return nil, err
	}
	if err := a.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// splice replaces s[at:at+n] with with.
func splice[T any](s []T, at, n int, with []T) []T {
	out := make([]T, 0, len(s)-n+len(with))
	out = append(out, s[:at]...)
	out = append(out, with...)
	return append(out, s[at+n:]...)
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
