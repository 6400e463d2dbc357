package notes

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

func capture(data []byte, head, tail int) Output {
	c := NewCaptureSize(head, tail)
	for len(data) > 0 {
		k := min(len(data), 7)
		c.Write(data[:k])
		data = data[k:]
	}
	return c.Output()
}

func TestCapture_KeepsHeadTailAndHash(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		head, cut bool
	}{
		{"empty", nil, false, false},
		{"small", []byte("hello\n"), true, false},
		{"exactly fits", bytes.Repeat([]byte("x"), 20), true, false},
		{"cut", []byte(strings.Repeat("0123456789", 10)), true, true},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, '\n', 0x1b, '[', '2', 'J'}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := capture(tt.data, 10, 10)
			sum := sha256.Sum256(tt.data)
			if o.Total != int64(len(tt.data)) || o.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("total %d hash %s; want %d %x", o.Total, o.SHA256, len(tt.data), sum)
			}
			if o.Cut() != tt.cut {
				t.Fatalf("Cut() = %v, want %v", o.Cut(), tt.cut)
			}
			if !tt.cut && !bytes.Equal(append(o.Head, o.Tail...), tt.data) {
				t.Fatalf("kept %q, want all of %q", append(o.Head, o.Tail...), tt.data)
			}
			if tt.cut && (!bytes.Equal(o.Head, tt.data[:10]) || !bytes.Equal(o.Tail, tt.data[len(tt.data)-10:])) {
				t.Fatalf("head %q tail %q", o.Head, o.Tail)
			}
		})
	}
}

func TestEncodeDecode_RoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("line\n"), 50000)
	recs := []Record{
		{Action: "start", Start: time.Unix(100, 5).UTC(), Info: []string{"session s on abc"}},
		{Action: "run", Argv: []string{"sh", "-c", "echo 'a' > b\nls"}, Workdir: "/workspace/x",
			Env: []string{"A=1", "B=x y"}, Timeout: time.Minute, Exit: intp(3), Start: time.Unix(200, 0).UTC(),
			Duration: 1500 * time.Millisecond, Stdout: capture([]byte("out\n"), HeadBytes, TailBytes),
			Stderr: capture([]byte{0xff, 0, '\n', '-', '-', '-', ' '}, HeadBytes, TailBytes)},
		{Action: "run", Argv: []string{"yes"}, Exit: intp(0), TimedOut: true, Start: time.Unix(300, 0).UTC(),
			Stdout: capture(big, HeadBytes, TailBytes)},
		{Action: "write", Path: "a b/\"q\".txt", Input: []byte("\n--- end input ---\n"), Start: time.Unix(1, 0).UTC()},
		{Action: "patch", Files: []string{"a", "b"}, Error: "refused: x\ny", Input: []byte("diff"), Start: time.Unix(1, 0).UTC()},
		{Action: "reset", TargetSeq: intp(0), Interrupted: true, Start: time.Unix(1, 0).UTC()},
	}
	for _, r := range recs {
		t.Run(r.Action, func(t *testing.T) {
			got, err := Decode(Encode(r))
			if err != nil {
				t.Fatal(err)
			}
			if r.Error != "" {
				r.Error = oneLine(r.Error)
			}
			normalize(&r)
			normalize(&got)
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

// normalize folds the equivalent ways an uncut stream can be split.
func normalize(r *Record) {
	for _, o := range []*Output{&r.Stdout, &r.Stderr} {
		if !o.Cut() {
			o.Head, o.Tail = append(append([]byte(nil), o.Head...), o.Tail...), nil
		}
		if len(o.Head) == 0 {
			o.Head = nil
		}
	}
}

func TestEncode_ReadsWellInGitLog(t *testing.T) {
	r := Record{Action: "run", Argv: []string{"go", "test", "./..."}, Workdir: "/workspace", Exit: intp(1),
		Start: time.Unix(0, 0), Stdout: capture([]byte("FAIL\n"), HeadBytes, TailBytes)}
	text := string(Encode(r))
	for _, want := range []string{"Command: go test ./...\n", "Exit: 1\n", "--- stdout ---\nFAIL\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("note lacks %q:\n%s", want, text)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(Record{Action: "run", Argv: []string{"x"}, Exit: intp(0), Stdout: capture([]byte("hi"), 4, 4)}))
	f.Add(Encode(Record{Action: "write", Path: "p", Input: []byte("abc")}))
	f.Add([]byte("Action: run\nStdout: 5 bytes kept 1+1\n\n--- stdout ---\n"))
	f.Fuzz(func(t *testing.T, note []byte) {
		r, err := Decode(note)
		if err != nil {
			return
		}
		if _, err := Decode(Encode(r)); err != nil {
			t.Fatalf("re-encoding a decoded note fails: %v", err)
		}
	})
}
