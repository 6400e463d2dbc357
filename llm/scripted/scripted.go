// Package scripted is a chat model for tests: an HTTP server on
// 127.0.0.1 that answers OpenAI chat completions and Anthropic Messages
// requests from a script of turns, streaming each turn in the wire
// format it was asked in, as the real APIs do (tool call arguments split
// across chunks included). It records every request so that tests can
// check what a client sent, tool results included.
package scripted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Call is a tool call in a scripted turn. Args is the JSON text of the
// arguments; it is streamed in small pieces.
type Call struct {
	ID   string // made up when empty
	Name string
	Args string
}

// Turn is one scripted reply.
type Turn struct {
	Text         string
	Calls        []Call
	InputTokens  int64
	OutputTokens int64

	// Status, when set, answers with this HTTP error status and Error as
	// the message instead of a stream.
	Status int
	Error  string
	// RetryAfter is sent with an error status, so that a client retries
	// quickly.
	RetryAfter time.Duration
	// StreamError ends the stream with an error event after the text.
	StreamError string
	// Cut ends the turn as a reply cut off at its token limit
	// (finish_reason length, stop_reason max_tokens).
	Cut bool
	// Hold keeps the stream open after the text until the client goes
	// away or the server closes, never finishing the turn.
	Hold bool
}

// Request is one request the server got.
type Request struct {
	Format string // "openai" or "anthropic"
	Path   string
	Header http.Header
	Body   []byte
}

// Server serves a script.
type Server struct {
	URL string // http://127.0.0.1:PORT, without a path
	// Key, when set, is the only API key accepted; other requests get 401.
	Key string

	ln   net.Listener
	srv  *http.Server
	stop chan struct{} // closed by Close, releases held streams
	ids  atomic.Int64  // numbers replies and tool calls

	mu       sync.Mutex // guards script, next and requests
	script   []Turn
	next     int
	requests []Request
}

// Start serves script on a new port of 127.0.0.1.
func Start(script ...Turn) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("scripted: listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln, stop: make(chan struct{}), script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.openai)
	mux.HandleFunc("POST /chat/completions", s.openai)
	mux.HandleFunc("POST /v1/messages", s.anthropic)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server, ending any held stream.
func (s *Server) Close() {
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// Add appends turns to the script.
func (s *Server) Add(turns ...Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, turns...)
}

// Requests returns the requests so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// record keeps a request and returns its body.
func (s *Server) record(format string, r *http.Request) []byte {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Format: format, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	return body
}

// turn returns the next turn of the script.
func (s *Server) turn() (Turn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.script) {
		return Turn{}, fmt.Errorf("scripted: the script has only %d turns", len(s.script))
	}
	s.next++
	return s.script[s.next-1], nil
}

// hold waits until the client goes away or the server closes.
func (s *Server) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.stop:
	}
}

// pieces splits s into chunks of about n bytes, on rune boundaries.
func pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		i := n
		for i < len(s) && !utf8Start(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// id returns a new identifier with prefix, unique within the server.
func (s *Server) id(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, s.ids.Add(1))
}

// sse writes server-sent events and flushes each one.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return sse{w: w, f: f}
}

// send writes one event; an empty name writes a data-only event.
func (e sse) send(name string, data any) {
	b, ok := data.([]byte)
	if !ok {
		b, _ = json.Marshal(data)
	}
	if name != "" {
		fmt.Fprintf(e.w, "event: %s\n", name)
	}
	fmt.Fprintf(e.w, "data: %s\n\n", b)
	if e.f != nil {
		e.f.Flush()
	}
}

// errorReply writes an HTTP error in a wire format's shape.
func errorReply(w http.ResponseWriter, t Turn, body any) {
	w.Header().Set("Content-Type", "application/json")
	if t.RetryAfter > 0 {
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(t.RetryAfter.Milliseconds(), 10))
	}
	w.WriteHeader(t.Status)
	json.NewEncoder(w).Encode(body)
}

// checkKey reports whether the request carries the key, when one is set.
func (s *Server) checkKey(got string) bool {
	return s.Key == "" || got == s.Key
}

// errBadRequest marks a request that does not follow the wire format.
var errBadRequest = errors.New("bad request")

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}
