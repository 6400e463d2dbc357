package termsafe

import "testing"

func TestText_NeutralisesControls(t *testing.T) {
	tests := []struct{ in, text, line string }{
		{"plain\n", "plain\n", `plain\n`},
		{"a\x1b[8mhidden", "a^[[8mhidden", "a^[[8mhidden"},
		{"\x1b]0;title\x07", "^[]0;title^G", "^[]0;title^G"},
		{"cr\rover", "cr^Mover", "cr^Mover"},
		{"tab\there", "tab\there", `tab\there`},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{"c1\u009bx", `c1\u009bx`, `c1\u009bx`},
		{"del\x7f", "del^?", "del^?"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.text {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
		}
	}
}

func TestText_ShowsInvisibleFormatCharacters(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"right-to-left override", "file\u202Etxt.exe", "file<U+202E>txt.exe"},
		{"every bidi embedding and override", "\u202A\u202B\u202C\u202D\u202E", "<U+202A><U+202B><U+202C><U+202D><U+202E>"},
		{"bidi isolates", "\u2066a\u2067b\u2068c\u2069", "<U+2066>a<U+2067>b<U+2068>c<U+2069>"},
		{"zero-width and marks", "a\u200Bb\u200Cc\u200Dd\u200Ee\u200Ff", "a<U+200B>b<U+200C>c<U+200D>d<U+200E>e<U+200F>f"},
		{"line and paragraph separators", "one\u2028two\u2029three", "one<U+2028>two<U+2029>three"},
		{"byte order mark", "\uFEFFstart", "<U+FEFF>start"},
		{"word joiner and soft hyphen", "a\u2060b\u00ADc", "a<U+2060>b<U+00AD>c"},
		{"visible text untouched", "héllo wörld ✓ 日本", "héllo wörld ✓ 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Line(tt.in); got != tt.want {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Line(Line(tt.in)); again != tt.want {
				t.Errorf("Line is not idempotent on %q: %q", tt.in, again)
			}
		})
	}
}
