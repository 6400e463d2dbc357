package actions

import (
	"bytes"
	"io"
	"strings"
)

// Masked is what a secret value becomes in output and records.
const Masked = "********"

// masker replaces secret values in a stream with Masked, also when a value
// arrives split across writes: it holds back the last few bytes that could
// be the start of one.
type masker struct {
	w       io.Writer
	secrets [][]byte
	longest int
	pending []byte
}

// NewMasker wraps w so that secret values never reach it, also when split
// across writes; call flush at the end. With no secrets it returns w.
func NewMasker(w io.Writer, secrets []string) (io.Writer, func()) {
	m := &masker{w: w}
	for _, s := range secrets {
		if s != "" {
			m.secrets = append(m.secrets, []byte(s))
			m.longest = max(m.longest, len(s))
		}
	}
	if len(m.secrets) == 0 {
		return w, func() {}
	}
	return m, m.flush
}

func (m *masker) Write(p []byte) (int, error) {
	m.pending = append(m.pending, p...)
	m.pending = m.replace(m.pending)
	keep := m.partial(m.pending)
	if out := len(m.pending) - keep; out > 0 {
		if _, err := m.w.Write(m.pending[:out]); err != nil {
			return 0, err
		}
		m.pending = append(m.pending[:0], m.pending[out:]...)
	}
	return len(p), nil
}

// partial returns the length of the longest end of b that could be the
// start of a secret: only that much is held back, so output that cannot
// be part of a secret reaches the writer at once.
func (m *masker) partial(b []byte) int {
	for k := min(len(b), m.longest-1); k > 0; k-- {
		for _, s := range m.secrets {
			if len(s) > k && bytes.HasPrefix(s, b[len(b)-k:]) {
				return k
			}
		}
	}
	return 0
}

// flush writes what was held back.
func (m *masker) flush() {
	if len(m.pending) > 0 {
		m.w.Write(m.pending)
		m.pending = nil
	}
}

func (m *masker) replace(b []byte) []byte {
	for _, s := range m.secrets {
		b = bytes.ReplaceAll(b, s, []byte(Masked))
	}
	return b
}

// MaskStrings masks secret values in recorded text fields.
func MaskStrings(ss []string, secrets []string) []string {
	if len(secrets) == 0 || ss == nil {
		return ss
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		for _, v := range secrets {
			if v != "" {
				s = strings.ReplaceAll(s, v, Masked)
			}
		}
		out[i] = s
	}
	return out
}
