package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrNoDaemon reports that nothing answers on the socket.
var ErrNoDaemon = errors.New("no krellin daemon answers")

// Client talks to a daemon over its Unix socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{Socket: socket, http: &http.Client{Transport: tr}}
}

// Ping checks the daemon answers within a second.
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var p Ping
	err := c.do(ctx, "GET", "/v1/ping", nil, nil, &p)
	return p, err
}

// Up starts or reuses the repository's capsule.
func (c *Client) Up(ctx context.Context, req UpRequest) (UpResponse, error) {
	var out UpResponse
	return out, c.do(ctx, "POST", "/v1/up", nil, req, &out)
}

// Log lists a session's actions.
func (c *Client) Log(ctx context.Context, t Target) ([]Action, error) {
	var out []Action
	return out, c.do(ctx, "GET", "/v1/log", query(t), nil, &out)
}

// Show returns one action in full.
func (c *Client) Show(ctx context.Context, t Target, seq int) (Detail, error) {
	q := query(t)
	q.Set("seq", strconv.Itoa(seq))
	var out Detail
	return out, c.do(ctx, "GET", "/v1/show", q, nil, &out)
}

// Diff returns the diff between two points of a session.
func (c *Client) Diff(ctx context.Context, req DiffRequest) (string, error) {
	var out struct{ Diff string }
	err := c.do(ctx, "POST", "/v1/diff", nil, req, &out)
	return out.Diff, err
}

// Sessions lists a repository's sessions.
func (c *Client) Sessions(ctx context.Context, t Target) ([]Session, error) {
	var out []Session
	return out, c.do(ctx, "GET", "/v1/sessions", query(t), nil, &out)
}

// Status describes the repository's capsule.
func (c *Client) Status(ctx context.Context, t Target) (Status, error) {
	var out Status
	return out, c.do(ctx, "GET", "/v1/status", query(t), nil, &out)
}

// Down stops the repository's capsule.
func (c *Client) Down(ctx context.Context, t Target) (Status, error) {
	var out Status
	return out, c.do(ctx, "POST", "/v1/down", nil, t, &out)
}

// Rm removes the repository's capsule.
func (c *Client) Rm(ctx context.Context, t Target) (Status, error) {
	var out Status
	return out, c.do(ctx, "POST", "/v1/rm", nil, t, &out)
}

// Act runs an action, copying its output to stdout and stderr live.
func (c *Client) Act(ctx context.Context, req ActionRequest, stdout, stderr io.Writer) (Action, error) {
	var out Action
	err := c.stream(ctx, "/v1/actions", req, func(e Event) {
		switch e.Type {
		case "output":
			w := stdout
			if e.Stream == "stderr" {
				w = stderr
			}
			w.Write(e.Data)
		case "action":
			out = *e.Action
		}
	})
	return out, err
}

// Replay replays a session, calling progress for each event; it returns
// the final report.
func (c *Client) Replay(ctx context.Context, req ReplayRequest, progress func(Event)) (json.RawMessage, error) {
	var report json.RawMessage
	err := c.stream(ctx, "/v1/replay", req, func(e Event) {
		if e.Type == "report" {
			report = e.Report
		}
		progress(e)
	})
	return report, err
}

// stream posts body and hands each NDJSON event to fn until "done".
func (c *Client) stream(ctx context.Context, path string, body any, fn func(Event)) error {
	resp, err := c.send(ctx, "POST", path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("read daemon stream: %w", err)
		}
		switch e.Type {
		case "error":
			return e.Error
		case "done":
			return nil
		}
		fn(e)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read daemon stream: %w", err)
	}
	return errDropped
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read daemon reply: %w", err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://krellin" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	switch {
	case err == nil:
		return resp, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errDropped
	}
	return nil, fmt.Errorf("%w on %s: %v", ErrNoDaemon, c.Socket, err)
}

// errDropped reports a daemon that went away in the middle of a request.
var errDropped = errors.New("the daemon closed the connection mid-request (did it stop? see daemon.log in KRELLIN_HOME); `krellin log` shows what was recorded")

func readError(resp *http.Response) error {
	var body struct{ Error *Error }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == nil {
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	return body.Error
}

func query(t Target) url.Values {
	q := url.Values{}
	q.Set("repo", t.Repo)
	if t.Session != "" {
		q.Set("session", t.Session)
	}
	return q
}

// Capsules describes every capsule the daemon knows.
func (c *Client) Capsules(ctx context.Context) ([]Status, error) {
	var out []Status
	return out, c.do(ctx, "GET", "/v1/capsules", nil, nil, &out)
}

// ReadFile reads a file of the live workspace.
func (c *Client) ReadFile(ctx context.Context, t Target, path string) (FileContent, error) {
	q := query(t)
	q.Set("path", path)
	var out FileContent
	return out, c.do(ctx, "GET", "/v1/file", q, nil, &out)
}

// ListFiles lists the recorded files under dir ("" for all), at most
// limit of them (0 for the daemon's default).
func (c *Client) ListFiles(ctx context.Context, t Target, dir string, limit int) (FileList, error) {
	q := query(t)
	q.Set("dir", dir)
	q.Set("limit", strconv.Itoa(limit))
	var out FileList
	return out, c.do(ctx, "GET", "/v1/files", q, nil, &out)
}

// Search finds lines matching a regular expression in the recorded files.
func (c *Client) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	var out SearchResult
	return out, c.do(ctx, "POST", "/v1/search", nil, req, &out)
}

// Events follows the event stream of the capsule of t.Repo (of every
// capsule when t.Repo is empty), from the event after since in epoch
// (since 0 and epoch "" mean only new events), calling fn for each until
// ctx ends or the daemon goes away. It returns the last event's ID and
// epoch, to resume from.
func (c *Client) Events(ctx context.Context, t Target, since uint64, epoch string, fn func(StreamEvent)) (uint64, string, error) {
	q := url.Values{}
	if t.Repo != "" {
		q = query(t)
	}
	q.Set("since", strconv.FormatUint(since, 10))
	q.Set("epoch", epoch)
	resp, err := c.send(ctx, "GET", "/v1/events", q, nil)
	if err != nil {
		return since, epoch, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return since, epoch, readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var e StreamEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return since, epoch, fmt.Errorf("read event stream: %w", err)
		}
		since, epoch = e.ID, e.Epoch
		fn(e)
	}
	if ctx.Err() != nil {
		return since, epoch, ctx.Err()
	}
	return since, epoch, errDropped
}
