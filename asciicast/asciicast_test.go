package asciicast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRecorder(t *testing.T) {
	start := time.Unix(1700000000, 0)
	r := New(Header{Width: 80, Height: 24, Env: map[string]string{"TERM": "xterm"}}, start, 1<<20)
	euro := []byte("€") // three bytes, split across two writes
	r.Output(start.Add(500*time.Millisecond), append([]byte("price: "), euro[:1]...))
	r.Output(start.Add(time.Second), append(euro[1:], "\x1b[1mbold\x1b[0m\r\n"...))
	r.Resize(start.Add(2*time.Second), 100, 30)

	sc := bufio.NewScanner(bytes.NewReader(r.Bytes()))
	sc.Scan()
	var h Header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != 2 || h.Width != 80 || h.Timestamp != 1700000000 {
		t.Fatalf("header %s: %+v %v", sc.Bytes(), h, err)
	}
	var got []string
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %s: %v", sc.Bytes(), err)
		}
		got = append(got, ev[1].(string)+":"+ev[2].(string))
	}
	want := []string{"o:price: ", "o:€\x1b[1mbold\x1b[0m\r\n", "r:100x30"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestRecorder_Limit(t *testing.T) {
	start := time.Now()
	r := New(Header{Width: 80, Height: 24}, start, 4096)
	for range 1000 {
		r.Output(start, []byte(strings.Repeat("x", 100)))
	}
	b := r.Bytes()
	if len(b) > 4096+200 || !strings.Contains(string(b), "recording stopped") {
		t.Fatalf("recording of %d bytes, marker present %v", len(b), strings.Contains(string(b), "recording stopped"))
	}
}
