// Package asciicast records a terminal session in the asciicast v2
// format (a JSON header line, then one [time, code, data] line per
// event), which asciinema plays back. A recording is bounded: past its
// limit, output is no longer kept and a marker says so.
package asciicast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Header is the first line of a recording.
type Header struct {
	Version   int               `json:"version"`
	Width     uint              `json:"width"`
	Height    uint              `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// Recorder builds a recording in memory. It is not safe for concurrent
// use.
type Recorder struct {
	start   time.Time
	buf     bytes.Buffer
	pending []byte // the start of a UTF-8 sequence split across writes
	limit   int
	full    bool
}

// New starts a recording of a cols×rows terminal, keeping at most limit
// bytes.
func New(h Header, start time.Time, limit int) *Recorder {
	h.Version, h.Timestamp = 2, start.Unix()
	r := &Recorder{start: start, limit: limit}
	line, _ := json.Marshal(h)
	r.buf.Write(line)
	r.buf.WriteByte('\n')
	return r
}

// Output records what the terminal showed at time t.
func (r *Recorder) Output(t time.Time, p []byte) {
	data := append(r.pending, p...)
	cut := completeUTF8(data)
	r.pending = append([]byte(nil), data[cut:]...)
	if cut > 0 {
		r.event(t, "o", string(data[:cut]))
	}
}

// Resize records a change of terminal size.
func (r *Recorder) Resize(t time.Time, cols, rows uint) {
	r.event(t, "r", fmt.Sprintf("%dx%d", cols, rows))
}

// Bytes returns the recording so far.
func (r *Recorder) Bytes() []byte {
	if len(r.pending) > 0 {
		r.event(time.Now(), "o", string(r.pending))
		r.pending = nil
	}
	return r.buf.Bytes()
}

func (r *Recorder) event(t time.Time, code, data string) {
	if r.full {
		return
	}
	line, _ := json.Marshal([]any{t.Sub(r.start).Seconds(), code, data})
	if r.buf.Len()+len(line) > r.limit {
		r.full = true
		line, _ = json.Marshal([]any{t.Sub(r.start).Seconds(), "m", "recording stopped: over its size limit"})
	}
	r.buf.Write(line)
	r.buf.WriteByte('\n')
}

// completeUTF8 returns how much of p ends on a whole UTF-8 sequence:
// an incomplete sequence at the end waits for the next write.
func completeUTF8(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if !utf8.RuneStart(p[i]) {
			continue
		}
		if !utf8.FullRune(p[i:]) {
			return i
		}
		break
	}
	return len(p)
}
