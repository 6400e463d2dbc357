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
