// Package termsafe makes text a capsule produced safe to draw on a
// terminal: escape sequences and other control characters become visible
// caret notation, so recorded output cannot move the cursor, hide lines,
// retitle the window or forge what follows it. Invisible format
// characters (bidi overrides, zero-width spaces, the byte order mark)
// and the Unicode line and paragraph separators are shown as <U+XXXX>,
// so text cannot read differently on screen from what it is.
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
)

// Text keeps newlines and tabs and neutralises every other control
// character and every invisible format character; invalid UTF-8 becomes
// U+FFFD.
func Text(s string) string { return clean(s, true) }

// Line is Text for a single line: newlines and tabs are shown as \n and \t.
func Line(s string) string { return clean(s, false) }

func clean(s string, multiline bool) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteByte('^')
			b.WriteRune(r + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		case invisible(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// invisible reports whether r changes how text around it is drawn
// without being drawn itself: format characters (category Cf: bidi
// embeddings, overrides and isolates, zero-width spaces and joiners,
// the byte order mark) and the line and paragraph separators, which
// some terminals and editors break lines at.
func invisible(r rune) bool {
	return r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}
