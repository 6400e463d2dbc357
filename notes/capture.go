package notes

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Default limits for how much of one output stream a note keeps.
const (
	HeadBytes = 32 << 10
	TailBytes = 32 << 10
)

// Output is what a note keeps of one output stream: all of it when it is
// small, otherwise its head and tail, always with the total size and a hash
// of the whole stream.
type Output struct {
	Total  int64  // bytes the command wrote
	SHA256 string // hex hash of all Total bytes
	Head   []byte // the first bytes (all of them when nothing was cut)
	Tail   []byte // the last bytes; empty unless the stream was cut
}

// Cut reports whether bytes between Head and Tail were dropped.
func (o Output) Cut() bool {
	return o.Total > int64(len(o.Head)+len(o.Tail))
}

// Capture is an io.Writer that keeps a bounded head and tail of a stream
// and hashes all of it. Memory stays at HeadBytes+TailBytes whatever the
// stream's size. It is safe for concurrent use.
type Capture struct {
	mu    sync.Mutex // guards everything below
	head  []byte
	tail  []byte // ring buffer of up to tailMax bytes
	start int    // index of the oldest byte in tail once it is full
	total int64
	sum   hash.Hash

	headMax, tailMax int
}

// NewCapture returns a Capture with the default limits.
func NewCapture() *Capture { return NewCaptureSize(HeadBytes, TailBytes) }

// NewCaptureSize returns a Capture keeping head and tail bytes.
func NewCaptureSize(head, tail int) *Capture {
	return &Capture{headMax: head, tailMax: tail, sum: sha256.New()}
}

// Write keeps what fits in the head, then rolls the rest through the tail.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	n := len(p)
	c.sum.Write(p)
	c.total += int64(n)
	if room := c.headMax - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	c.roll(p)
	return n, nil
}

// roll appends p to the tail ring, dropping the oldest bytes.
func (c *Capture) roll(p []byte) {
	if len(p) >= c.tailMax {
		c.tail = append(c.tail[:0], p[len(p)-c.tailMax:]...)
		c.start = 0
		return
	}
	for len(p) > 0 {
		if len(c.tail) < c.tailMax {
			k := min(c.tailMax-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(c.tail[c.start:], p)
		c.start = (c.start + k) % c.tailMax
		p = p[k:]
	}
}

// Output returns what was captured so far.
func (c *Capture) Output() Output {
	c.mu.Lock()
	defer c.mu.Unlock()

	tail := make([]byte, 0, len(c.tail))
	tail = append(tail, c.tail[c.start:]...)
	tail = append(tail, c.tail[:c.start]...)
	o := Output{
		Total:  c.total,
		SHA256: hex.EncodeToString(c.sum.Sum(nil)),
		Head:   append([]byte(nil), c.head...),
		Tail:   tail,
	}
	if len(o.Tail) == 0 {
		o.Tail = nil
	}
	return o
}
