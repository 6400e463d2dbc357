package mcp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// MaxMessage bounds one message from the client: room for a file write
// at the daemon's input limit, JSON-escaped.
const MaxMessage = 160 << 20

// JSON-RPC error codes for messages that never reach the server.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
)

// Guarded returns a transport over in and out that keeps serving when the
// client sends a line that is not a JSON-RPC message, or one too large:
// the SDK's own transport ends the session on the first such line, and
// the agent would lose every tool. Such lines are answered with a
// JSON-RPC error and dropped; the rest pass through unchanged.
func Guarded(in io.Reader, out io.Writer) sdk.Transport {
	w := &lockedWriter{w: out}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(filter(in, pw, w, MaxMessage)) }()
	return &sdk.IOTransport{Reader: pr, Writer: w, MaxLineLength: -1}
}

// lockedWriter lets the guard's answers and the server's messages share
// stdout without interleaving; each writes whole lines.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) Close() error { return nil }

// filter copies well-formed lines from in to pass and answers the others
// on out, until in ends. Lines over max bytes are answered, not kept.
func filter(in io.Reader, pass io.Writer, out io.Writer, max int) error {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		line, tooLong, err := readLine(br, max)
		if tooLong {
			reply(out, nil, codeInvalidRequest, fmt.Sprintf("message over the %d byte limit; send less in one call (write a large file in parts, or with a command)", max))
		} else if len(bytes.TrimSpace(line)) > 0 {
			if id, code, msg := check(line); code != 0 {
				reply(out, id, code, msg)
			} else if _, werr := pass.Write(append(line, '\n')); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// readLine reads one line without its newline. A line over max is
// consumed and reported, not returned.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// check says what is wrong with a line, if anything: not JSON, or not a
// JSON-RPC 2.0 message. Batches pass; the server checks their members.
func check(line []byte) (id json.RawMessage, code int, msg string) {
	if !json.Valid(line) {
		return nil, codeParseError, "parse error: the message is not JSON"
	}
	trimmed := bytes.TrimSpace(line)
	if trimmed[0] != '[' {
		return checkOne(trimmed)
	}
	var batch []json.RawMessage
	json.Unmarshal(trimmed, &batch)
	if len(batch) == 0 {
		return nil, codeInvalidRequest, "invalid request: an empty batch"
	}
	for _, m := range batch {
		if _, code, msg := checkOne(m); code != 0 {
			return nil, code, msg
		}
	}
	return nil, 0, ""
}

// checkOne checks one message: an object with "jsonrpc": "2.0" and a
// method (a request or notification) or an id (a response).
func checkOne(raw []byte) (id json.RawMessage, code int, msg string) {
	var m struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
	}
	if bytes.TrimSpace(raw)[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, codeInvalidRequest, "invalid request: a message is a JSON object"
	}
	switch {
	case m.JSONRPC != "2.0":
		return m.ID, codeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`
	case m.Method == nil && len(m.ID) == 0:
		return nil, codeInvalidRequest, "invalid request: a message needs a method or an id"
	}
	return nil, 0, ""
}

// reply writes a JSON-RPC error response.
func reply(out io.Writer, id json.RawMessage, code int, msg string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": id,
		"error": map[string]any{"code": code, "message": msg},
	})
	out.Write(append(b, '\n'))
}
