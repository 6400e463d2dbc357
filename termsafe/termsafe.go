// Package termsafe makes text a capsule produced safe to draw on a
// terminal: escape sequences and other control characters become visible
// caret notation, so recorded output cannot move the cursor, hide lines,
// retitle the window or forge what follows it.
package termsafe

import (
	"fmt"
	"strings"
)

// Text keeps newlines and tabs and neutralises every other control
// character; invalid UTF-8 becomes U+FFFD.
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
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
