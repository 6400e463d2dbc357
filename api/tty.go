package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// ShellRequest opens an interactive terminal in the capsule (POST
// /v1/shell, upgraded to the krellin-tty protocol). An empty Argv is the
// capsule's shell. The session is one recorded action.
type ShellRequest struct {
	Target
	Argv []string `json:"argv,omitempty"`
	Env  []string `json:"env,omitempty"`
	Cols uint     `json:"cols"`
	Rows uint     `json:"rows"`
	Term string   `json:"term,omitempty"` // TERM inside the capsule
	// Secrets are K=V entries set like Env whose values are masked in
	// the record: credentials passed from the operator's environment.
	Secrets []string `json:"secrets,omitempty"`
	// Network gives the session egress for its duration only, as fetch
	// has; a policy of network: never refuses it.
	Network bool    `json:"network,omitempty"`
	Author  *Author `json:"author,omitempty"`
}

// TTYProtocol is the Upgrade token of an interactive terminal.
const TTYProtocol = "krellin-tty"

// Frames of the krellin-tty protocol: one type byte, a 4-byte big-endian
// length, the payload.
const (
	FrameData   = 'd' // both ways: keys typed, or screen output
	FrameResize = 'r' // client to daemon: 2+2 bytes, columns then rows
	FrameEnd    = 'e' // daemon to client: the recorded Action, or {"error":...}
)

// maxFrame bounds one frame's payload.
const maxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	hdr := make([]byte, 5, 5+len(payload))
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	_, err := w.Write(append(hdr, payload...))
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("terminal frame of %d bytes is over the %d limit", n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// ResizePayload encodes a terminal size.
func ResizePayload(cols, rows uint) []byte {
	p := make([]byte, 4)
	binary.BigEndian.PutUint16(p, uint16(min(cols, 65535)))
	binary.BigEndian.PutUint16(p[2:], uint16(min(rows, 65535)))
	return p
}

// ParseResize decodes a terminal size.
func ParseResize(p []byte) (cols, rows uint, ok bool) {
	if len(p) != 4 {
		return 0, 0, false
	}
	return uint(binary.BigEndian.Uint16(p)), uint(binary.BigEndian.Uint16(p[2:])), true
}

// EndFrame is the payload of the last frame.
type EndFrame struct {
	Action *Action `json:"action,omitempty"`
	Error  *Error  `json:"error,omitempty"`
}

// TTYConn is an open terminal in a capsule.
type TTYConn struct {
	net.Conn
	R *bufio.Reader
}

// Shell opens an interactive terminal in the capsule. The caller writes
// data and resize frames, reads data frames until the end frame.
func (c *Client) Shell(ctx context.Context, req ShellRequest) (*TTYConn, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %v", ErrNoDaemon, c.Socket, err)
	}
	hreq, _ := http.NewRequestWithContext(ctx, "POST", "http://krellin/v1/shell", bytes.NewReader(body))
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Connection", "Upgrade")
	hreq.Header.Set("Upgrade", TTYProtocol)
	if err := hreq.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open terminal: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hreq)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open terminal: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		return nil, readError(resp)
	}
	return &TTYConn{Conn: conn, R: br}, nil
}

// ErrTTYClosed reports a terminal the daemon closed without an end frame.
var ErrTTYClosed = errors.New("the daemon closed the terminal without a result (did it stop? `krellin log` shows what was recorded)")
