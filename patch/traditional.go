package patch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// traditionalNamer names the files of `diff -u` patches the way git apply
// does. The library keeps the "--- " and "+++ " names whole and picks the
// old name when the new one starts with it; git apply instead strips a
// number of leading components first (one, or none when the first header
// that tells names a file without a directory), cuts off the timestamp
// diff appends, and only then prefers the shorter name.
//
// TODO(strip): git apply also strips the guessed number of components from
// "diff --git" headers later in the same input; those always strip one
// here, which only matters for inputs that mix both kinds of header.
type traditionalNamer struct {
	strip int  // leading components to strip
	known bool // strip was guessed from an earlier header and is fixed
}

func newTraditionalNamer() *traditionalNamer {
	return &traditionalNamer{strip: 1}
}

// name sets the names and kind of fp from its "--- " and "+++ " lines.
func (n *traditionalNamer) name(fp *filePatch, oldLine, newLine string) error {
	n.guess(oldLine, newLine)
	fp.oldName, fp.newName = "", ""

	var name string
	switch {
	case isDevNull(oldLine):
		name = findName(newLine, "", n.strip)
		fp.newName = name
	case isDevNull(newLine):
		name = findName(oldLine, "", n.strip)
		fp.oldName = name
	default:
		name = findName(newLine, findName(oldLine, "", n.strip), n.strip)
		fp.oldName, fp.newName = name, name
		if hasEpochTimestamp(oldLine) {
			fp.oldName = ""
		} else if hasEpochTimestamp(newLine) {
			fp.newName = ""
		}
	}
	if name == "" {
		return fmt.Errorf("cannot find a file name in %q", strings.TrimSpace(oldLine))
	}
	return checkTraditionalKind(fp)
}

// guess fixes how many components to strip from the first header whose
// names both allow a guess, as git apply does.
func (n *traditionalNamer) guess(oldLine, newLine string) {
	if n.known {
		return
	}
	p, q := guessStrip(oldLine), guessStrip(newLine)
	if p < 0 {
		p = q
	}
	if p >= 0 && p == q {
		n.strip, n.known = p, true
	}
}

// guessStrip is 0 for a plain file name and -1 (no guess) otherwise.
func guessStrip(line string) int {
	if isDevNull(line) {
		return -1
	}
	name := findName(line, "", 0)
	if name == "" || strings.Contains(name, "/") {
		return -1
	}
	return 0
}

// checkTraditionalKind refuses hunks that contradict a creation or
// deletion, and marks a one-hunk, additions-only patch as maybe creating
// its file, as git apply does.
func checkTraditionalKind(fp *filePatch) error {
	var oldLines, newLines int64
	for _, frag := range fp.f.TextFragments {
		oldLines += frag.OldLines
		newLines += frag.NewLines
	}
	if fp.oldName == "" && oldLines > 0 {
		return fmt.Errorf("%s: new file depends on old contents", fp.newName)
	}
	if fp.newName == "" && newLines > 0 {
		return fmt.Errorf("%s: deleted file still has contents", fp.oldName)
	}
	fp.maybeNew = fp.oldName != "" && fp.newName != "" &&
		oldLines == 0 && len(fp.f.TextFragments) == 1
	return nil
}

func isDevNull(line string) bool {
	return len(line) > 9 && strings.HasPrefix(line, "/dev/null") && isCSpace(line[9])
}

// isCSpace matches C's isspace.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// findName reads the file name on a header line, strips strip leading
// components, and returns def instead when def is a shorter prefix of it
// (so "f" wins over "f.orig") or when the line names nothing usable.
func findName(line, def string, strip int) string {
	line, _, _ = strings.Cut(line, "\n")
	if strings.HasPrefix(line, `"`) {
		if name, ok := quotedName(line, strip); ok {
			return name
		}
	}
	if end, ok := timestampStart(line); ok {
		return plainName(line[:end], def, strip, false)
	}
	return plainName(line, def, strip, true)
}

// plainName is findName for an unquoted name. Without a timestamp to mark
// its end, the name ends at any white space but a space.
func plainName(s, def string, strip int, stopAtSpace bool) string {
	start, end := -1, len(s)
	if strip == 0 {
		start = 0
	}
	for i := 0; i < len(s); i++ {
		if stopAtSpace && s[i] != ' ' && isCSpace(s[i]) {
			end = i
			break
		}
		if s[i] == '/' {
			strip--
			if strip == 0 {
				start = i + 1
			}
		}
	}
	if start < 0 || start >= end {
		return squashSlashes(def)
	}
	name := s[start:end]
	if def != "" && len(def) < len(name) && strings.HasPrefix(name, def) {
		return squashSlashes(def)
	}
	return squashSlashes(name)
}

// quotedName reads a C-quoted name and strips strip leading components.
func quotedName(s string, strip int) (string, bool) {
	name, ok := unquoteC(s)
	if !ok {
		return "", false
	}
	for ; strip > 0; strip-- {
		_, rest, found := strings.Cut(name, "/")
		if !found {
			return "", false
		}
		name = rest
	}
	return squashSlashes(name), true
}

// unquoteC decodes the C-style quoted string at the start of s, the form
// git uses for names with unusual bytes. Text after the closing quote is
// ignored.
func unquoteC(s string) (string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), true
		case '\\':
			n, width, ok := unescapeC(s[i+1:])
			if !ok {
				return "", false
			}
			b.WriteByte(n)
			i += width
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// cEscapes maps the letter after a backslash to the byte it stands for.
var cEscapes = map[byte]byte{
	'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
	'v': '\v', '\\': '\\', '"': '"',
}

// unescapeC decodes one escape after a backslash: a letter or three octal
// digits. It returns the byte and how many characters it used.
func unescapeC(s string) (byte, int, bool) {
	if s == "" {
		return 0, 0, false
	}
	if c, ok := cEscapes[s[0]]; ok {
		return c, 1, true
	}
	if len(s) < 3 || s[0] < '0' || s[0] > '3' {
		return 0, 0, false
	}
	n, err := strconv.ParseUint(s[:3], 8, 8)
	if err != nil {
		return 0, 0, false
	}
	return byte(n), 3, true
}

func squashSlashes(s string) string {
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	return s
}

// timestampRE matches the modification time diff writes after a name:
// "2024-01-31 12:00:00.123456789 +0000", with or without the fraction and
// the zone, after a tab or spaces.
var timestampRE = regexp.MustCompile(
	`[\t ](?:\d\d)?\d\d-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4}| [+-]\d\d:\d\d)?$`)

// timestampStart returns where the name before a trailing timestamp ends:
// before the one tab, or before all the spaces, that separate them.
func timestampStart(line string) (int, bool) {
	loc := timestampRE.FindStringIndex(line)
	if loc == nil || loc[0] == 0 {
		return 0, false
	}
	if line[loc[0]] == '\t' {
		return loc[0], true
	}
	return len(strings.TrimRight(line[:loc[0]+1], " ")), true
}

// epochRE matches the time and zone of a timestamp on the epoch's day.
var epochRE = regexp.MustCompile(
	`^([0-2][0-9]):([0-5][0-9]):00(?:\.0+)? ([-+])([0-2][0-9]):?([0-5][0-9])\n`)

// hasEpochTimestamp reports whether a header line ends in the Unix epoch
// in any zone, which GNU diff -N writes for a file that does not exist.
func hasEpochTimestamp(line string) bool {
	tab := strings.LastIndexByte(line, '\t')
	if tab < 0 {
		return false
	}
	stamp := line[tab+1:]
	epochHour := 0
	switch {
	case strings.HasPrefix(stamp, "1969-12-31 "):
		epochHour = 24
	case strings.HasPrefix(stamp, "1970-01-01 "):
	default:
		return false
	}
	m := epochRE.FindStringSubmatch(stamp[len("1970-01-01 "):])
	if m == nil {
		return false
	}
	zone := atoi(m[4])*60 + atoi(m[5])
	if m[3] == "-" {
		zone = -zone
	}
	return atoi(m[1])*60+atoi(m[2])-zone == epochHour*60
}

// atoi reads digits a regexp has already checked.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
