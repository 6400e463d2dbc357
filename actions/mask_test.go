package actions

import (
	"bytes"
	"strings"
	"testing"
)

func TestMasker_HidesSecretsAcrossWrites(t *testing.T) {
	secrets := []string{"hunter2-token", "s3cr3t"}
	in := "a hunter2-token b s3cr3t c hunter2-tok"
	for chunk := 1; chunk <= len(in); chunk++ {
		var out bytes.Buffer
		w, flush := NewMasker(&out, secrets)
		for i := 0; i < len(in); i += chunk {
			w.Write([]byte(in[i:min(i+chunk, len(in))]))
		}
		flush()
		want := "a " + Masked + " b " + Masked + " c hunter2-tok"
		if out.String() != want {
			t.Fatalf("chunk %d: got %q, want %q", chunk, out.String(), want)
		}
	}
}

func TestMasker_HoldsBackOnlyWhatCouldBeASecret(t *testing.T) {
	tests := []struct {
		write string
		want  string // written through at once
	}{
		{"echo visible-now\r\n$ ", "echo visible-now\r\n$ "},
		{"prompt s3", "prompt "},
		{"ends with hunter2-to", "ends with "},
		{"x s3cr3", "x "},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		w, flush := NewMasker(&out, []string{"hunter2-token", "s3cr3t"})
		w.Write([]byte(tt.write))
		if out.String() != tt.want {
			t.Errorf("write %q: %q went through, want %q", tt.write, out.String(), tt.want)
		}
		flush()
		if out.String() != tt.write {
			t.Errorf("write %q: after flush %q", tt.write, out.String())
		}
	}
}

func TestMaskStrings(t *testing.T) {
	got := MaskStrings([]string{"curl", "-H", "Authorization: tok123"}, []string{"tok123"})
	if strings.Contains(strings.Join(got, " "), "tok123") {
		t.Fatalf("secret left in %v", got)
	}
}
