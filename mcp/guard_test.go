package mcp

import (
	"bytes"
	"strings"
	"testing"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		passed bool
		answer string // in the error reply
	}{
		{"a request passes", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, true, ""},
		{"a notification passes", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, true, ""},
		{"a batch passes", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, true, ""},
		{"CRLF passes", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r", true, ""},
		{"not JSON", `{not json`, false, `"code":-32700`},
		{"not UTF-8", "\xff\xfe", false, `"code":-32700`},
		{"an empty batch", `[]`, false, "empty batch"},
		{"a batch of numbers", `[1]`, false, "a JSON object"},
		{"a string", `"x"`, false, "a JSON object"},
		{"old version keeps its id", `{"jsonrpc":"1.0","id":7,"method":"ping"}`, false, `"id":7`},
		{"no method, no id", `{"jsonrpc":"2.0"}`, false, "method or an id"},
		{"over the limit", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 200) + `"}}`, false, "over the 100 byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pass, out bytes.Buffer
			in := tt.line + "\n" + `{"jsonrpc":"2.0","id":9,"method":"ping"}` + "\n"
			if err := filter(strings.NewReader(in), &pass, &out, 100); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(pass.String()), "\n")
			want := 1
			if tt.passed {
				want = 2
			}
			if len(lines) != want || !strings.Contains(lines[len(lines)-1], `"id":9`) {
				t.Fatalf("passed %q, want %d lines ending with the next message", pass.String(), want)
			}
			if tt.passed != (out.Len() == 0) || !strings.Contains(out.String(), tt.answer) {
				t.Fatalf("answered %q, want %q", out.String(), tt.answer)
			}
		})
	}
}
