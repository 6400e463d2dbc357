package patch

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// filePatch is one file's change as git apply sees it.
type filePatch struct {
	f       *gitdiff.File
	oldName string // "" when the patch creates the file
	newName string // "" when the patch deletes the file

	isRename, isCopy bool

	// oldMode and newMode are git modes (0o100644, 0o120000, ...) as the
	// patch states them; 0 means the patch does not say.
	oldMode, newMode uint32

	// maybeNew marks a `diff -u` patch that only adds lines in one hunk.
	// Like git apply, it creates the file if the file is missing and
	// edits it otherwise.
	maybeNew bool
}

// displayName is the name to report a file's problems under.
func (fp *filePatch) displayName() string {
	if fp.newName != "" {
		return fp.newName
	}
	return fp.oldName
}

// parse reads every file of diff with the library, then fixes up the names
// of `diff -u` files, which the library takes differently from git apply.
func parse(diff []byte) ([]*filePatch, error) {
	if len(bytes.TrimSpace(diff)) == 0 {
		return nil, ErrEmpty
	}

	files, _, err := gitdiff.Parse(bytes.NewReader(diff))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no file headers found", ErrMalformed)
	}

	headers := scanHeaders(splitLines(string(diff)))
	if len(headers) != len(files) {
		return nil, fmt.Errorf("%w: %d file headers but %d files",
			ErrMalformed, len(headers), len(files))
	}

	namer := newTraditionalNamer()
	out := make([]*filePatch, len(files))
	for i, f := range files {
		fp, err := fromFile(f, headers[i], namer)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		out[i] = fp
	}
	return out, nil
}

// fromFile builds a filePatch from the library's file and its header.
func fromFile(f *gitdiff.File, h header, namer *traditionalNamer) (*filePatch, error) {
	fp := &filePatch{
		f:        f,
		oldName:  f.OldName,
		newName:  f.NewName,
		isRename: f.IsRename,
		isCopy:   f.IsCopy,
		oldMode:  uint32(f.OldMode),
		newMode:  uint32(f.NewMode),
	}
	if f.IsNew {
		fp.oldName = ""
	}
	if f.IsDelete {
		fp.newName = ""
	}
	if h.traditional {
		if err := namer.name(fp, h.oldLine, h.newLine); err != nil {
			return nil, err
		}
	}

	if fp.oldName == "" && fp.newName == "" {
		return nil, errors.New("file header names no file")
	}
	if (fp.oldName == "" || fp.newName == "") && (fp.isRename || fp.isCopy) {
		return nil, fmt.Errorf("%s: rename or copy without both names", fp.displayName())
	}
	return fp, nil
}

// header is what scanHeaders found at the start of one file of a diff.
type header struct {
	traditional      bool   // a `diff -u` header rather than "diff --git"
	oldLine, newLine string // for traditional: the text after "--- " and "+++ "
}

// scanHeaders finds the file headers of a diff in order, stepping over hunk
// and binary bodies the way the library's parser does, so header i belongs
// to the library's file i. The library does not keep the raw "--- " and
// "+++ " lines, and git apply needs them to name a `diff -u` file.
func scanHeaders(lines []string) []header {
	var hs []header
	for i := 0; i < len(lines); {
		switch {
		case strings.HasPrefix(lines[i], "diff --git "):
			hs = append(hs, header{})
			i = skipGitHeader(lines, i+1)
			i = skipBody(lines, i)
		case isTraditionalHeader(lines, i):
			hs = append(hs, header{true, lines[i][4:], lines[i+1][4:]})
			i = skipBody(lines, i+2)
		default:
			i++
		}
	}
	return hs
}

// gitHeaderPrefixes are the extended header lines the library reads after
// "diff --git"; any other line ends the header.
var gitHeaderPrefixes = []string{
	"--- ", "+++ ", "old mode ", "new mode ", "deleted file mode ",
	"new file mode ", "copy from ", "copy to ", "rename old ", "rename new ",
	"rename from ", "rename to ", "similarity index ",
	"dissimilarity index ", "index ",
}

func skipGitHeader(lines []string, i int) int {
	for ; i < len(lines); i++ {
		if !hasAnyPrefix(lines[i], gitHeaderPrefixes) {
			break
		}
	}
	return i
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isTraditionalHeader reports whether lines[i] starts a `diff -u` file by
// the library's rule: "--- ", "+++ ", then something like a hunk header.
func isTraditionalHeader(lines []string, i int) bool {
	const shortestHunkHeader = "@@ -1 +1 @@\n"
	return i+2 < len(lines) &&
		strings.HasPrefix(lines[i], "--- ") &&
		strings.HasPrefix(lines[i+1], "+++ ") &&
		len(lines[i+2]) >= len(shortestHunkHeader) &&
		strings.HasPrefix(lines[i+2], "@@ -")
}

// skipBody steps over a file's hunks or, if it has none, its binary data.
func skipBody(lines []string, i int) int {
	start := i
	for i < len(lines) && strings.HasPrefix(lines[i], "@@ -") {
		i = skipHunk(lines, i)
	}
	if i > start {
		return i
	}
	return skipBinary(lines, i)
}

// skipHunk steps over one hunk, counting lines as the header says.
func skipHunk(lines []string, i int) int {
	old, new, ok := hunkCounts(lines[i])
	i++
	if !ok {
		return i
	}
	for (old > 0 || new > 0) && i < len(lines) {
		switch lines[i][0] {
		case ' ', '\n':
			old--
			new--
		case '-':
			old--
		case '+':
			new--
		case '\\':
		default:
			return i
		}
		i++
	}
	if i < len(lines) && isNoNewlineMarker(lines[i]) {
		i++
	}
	return i
}

// hunkCounts reads the old and new line counts of "@@ -a,b +c,d @@".
func hunkCounts(line string) (old, new int64, ok bool) {
	ranges, _, found := strings.Cut(line[len("@@ -"):], " @@")
	if !found {
		return 0, 0, false
	}
	o, n, found := strings.Cut(ranges, " +")
	if !found {
		return 0, 0, false
	}
	old, okOld := rangeCount(o)
	new, okNew := rangeCount(n)
	return old, new, okOld && okNew
}

func rangeCount(r string) (int64, bool) {
	_, count, found := strings.Cut(r, ",")
	if !found {
		return 1, true
	}
	n, err := strconv.ParseInt(count, 10, 64)
	return n, err == nil
}

func isNoNewlineMarker(line string) bool {
	return len(line) >= 12 && strings.HasPrefix(line, "\\ ")
}

// skipBinary steps over "GIT binary patch" data: a forward and an optional
// reverse fragment, each ended by a blank line.
func skipBinary(lines []string, i int) int {
	if i >= len(lines) {
		return i
	}
	if isBinaryNoData(lines[i]) {
		return i + 1
	}
	if lines[i] != "GIT binary patch\n" {
		return i
	}
	i++
	for range 2 {
		if i >= len(lines) || !isBinaryFragmentHeader(lines[i]) {
			break
		}
		for i++; i < len(lines) && lines[i] != "\n"; i++ {
		}
		i++
	}
	return i
}

func isBinaryNoData(line string) bool {
	return strings.HasSuffix(line, " differ\n") &&
		(strings.HasPrefix(line, "Binary files ") || strings.HasPrefix(line, "Files "))
}

func isBinaryFragmentHeader(line string) bool {
	kind, _, found := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return found && (kind == "literal" || kind == "delta")
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
