package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/asciicast"
	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/notes"
)

// Bounds of an interactive session's record.
const (
	maxCast      = 32 << 20                     // the asciicast transcript kept in the note
	settleTick   = time.Second                  // how often the workspace is looked at
	settleQuiet  = 2*settleTick - settleTick/10 // unchanged at two more looks: the files settled
	hangupGrace  = 5 * time.Second              // for the command to end after a hangup
	defaultShell = "/bin/sh"
)

// handleShell opens an interactive terminal in the capsule: one action,
// recorded when the command ends, with snapshot commits along the way.
// Until the connection is upgraded, errors are ordinary JSON replies;
// after, they arrive in the end frame.
func (d *Daemon) handleShell(w http.ResponseWriter, r *http.Request) {
	var req api.ShellRequest
	if !decode(w, r, &req) {
		return
	}
	if r.Header.Get("Upgrade") != api.TTYProtocol {
		fail(w, fmt.Errorf("%w: /v1/shell needs Upgrade: %s", actions.ErrBadRequest, api.TTYProtocol))
		return
	}
	t := &terminal{w: w, req: req}
	areq := api.ActionRequest{Target: req.Target, Kind: actions.Shell, Argv: req.Argv, Env: req.Env, Author: req.Author}
	if len(areq.Argv) == 0 {
		areq.Argv = []string{defaultShell}
	}
	a, err := d.do(r.Context(), areq, t.perform, io.Discard, io.Discard)
	if t.conn == nil {
		reply(w)(a, err)
		return
	}
	defer t.conn.Close()
	end := api.EndFrame{Action: &a}
	if err != nil {
		end = api.EndFrame{Error: toError(err)}
	}
	b, _ := json.Marshal(end)
	t.send(api.FrameEnd, b)
}

// terminal is one interactive session between a client and the capsule.
type terminal struct {
	w    http.ResponseWriter
	req  api.ShellRequest
	conn net.Conn      // the client, once upgraded
	in   *bufio.Reader // frames from the client
	mu   sync.Mutex    // serializes frames to the client
}

func (t *terminal) send(typ byte, p []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return api.WriteFrame(t.conn, typ, p)
}

// upgrade takes the connection over from the HTTP server.
func (t *terminal) upgrade() error {
	hj, ok := t.w.(http.Hijacker)
	if !ok {
		return fmt.Errorf("the connection cannot be upgraded")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return fmt.Errorf("upgrade connection: %w", err)
	}
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", api.TTYProtocol)
	if err := rw.Flush(); err != nil {
		conn.Close()
		return fmt.Errorf("upgrade connection: %w", err)
	}
	t.conn, t.in = conn, rw.Reader
	return nil
}

// perform runs the session; the capsule is locked and running.
func (t *terminal) perform(c *Capsule, ctx context.Context, r actions.Request, _, _ io.Writer) (notes.Record, error) {
	cols, rows := t.req.Cols, t.req.Rows
	if cols == 0 || rows == 0 {
		cols, rows = 80, 24
	}
	term := t.req.Term
	if term == "" {
		term = "xterm-256color"
	}
	eng, err := c.d.engine(ctx)
	if err != nil {
		return notes.Record{}, err
	}
	network, err := t.network(c, ctx, r)
	if err != nil {
		return notes.Record{}, err
	}
	defer network()
	env := append(append([]string{"TERM=" + term}, r.Env...), t.req.Secrets...)
	r.Secrets = append(r.Secrets, secretValues(t.req.Secrets)...)
	tty, err := eng.Interactive(ctx, c.st.Container, capsule.Exec{Argv: r.Argv, Workdir: capsule.WorkspacePath, Env: env}, cols, rows)
	if err != nil {
		return notes.Record{}, err
	}
	if err := t.upgrade(); err != nil {
		tty.Close()
		return notes.Record{}, err
	}

	rec := notes.Record{Action: actions.Shell, Argv: actions.MaskStrings(r.Argv, r.Secrets),
		Env:     actions.MaskStrings(append(r.Env, t.req.Secrets...), r.Secrets),
		Workdir: capsule.WorkspacePath, Start: time.Now()}
	if t.req.Network {
		rec.Info = append(rec.Info, "network egress for this session (--network)")
	}
	cast := asciicast.New(asciicast.Header{Width: cols, Height: rows, Title: summary(r),
		Env: map[string]string{"TERM": term, "SHELL": defaultShell}}, rec.Start, maxCast)
	ended := t.pump(c, tty, cast, r)
	rec.Interrupted = c.watch(ctx, r, ended, tty)

	code, running, err := tty.Exit(context.WithoutCancel(ctx))
	if err == nil && !running && !rec.Interrupted {
		rec.Exit = &code
	} else {
		rec.Interrupted = true
		rec.Error = "the terminal closed before the command ended (the client went away or the daemon stopped)"
	}
	// What the session left running ends with it, as after any command.
	if err := eng.Sweep(context.WithoutCancel(ctx), c.st.Container); err != nil {
		rec.Warnings = append(rec.Warnings, "could not stop what the session left running: "+err.Error())
	}
	rec.Input = cast.Bytes()
	rec.Duration = time.Since(rec.Start)
	return rec, nil
}

// network turns egress on for the session when asked, and returns what
// turns it off again.
func (t *terminal) network(c *Capsule, ctx context.Context, r actions.Request) (func(), error) {
	if !t.req.Network {
		return func() {}, nil
	}
	if r.Offline {
		return nil, fmt.Errorf("%w: the capsule's policy allows no network (network: never)", actions.ErrRefused)
	}
	if err := c.SetNetwork(ctx, true); err != nil {
		return nil, fmt.Errorf("turn network on: %w", err)
	}
	return func() {
		if err := c.SetNetwork(context.WithoutCancel(ctx), false); err != nil {
			c.d.log.Warn("turn network off after session", "capsule", c.st.Name, "err", err)
		}
	}, nil
}

// pumped says how the session's streams ended.
type pumped struct {
	output chan struct{} // closed when the command's output ends
	client chan struct{} // closed when the client hangs up
	cast   chan struct{} // closed once the recorder is no longer written
}

// pump copies keys from the client to the command and the screen from
// the command to the client, the recording and the event stream.
func (t *terminal) pump(c *Capsule, tty *capsule.TTY, cast *asciicast.Recorder, r actions.Request) pumped {
	p := pumped{output: make(chan struct{}), client: make(chan struct{}), cast: make(chan struct{})}
	var castMu sync.Mutex // guards cast between the two pumps
	ev := c.event(r, nil)
	live := ev.output(c.d.events, "stdout", io.Discard)
	screen := writerFunc(func(b []byte) (int, error) {
		castMu.Lock()
		cast.Output(time.Now(), b)
		castMu.Unlock()
		t.send(api.FrameData, b)
		live.Write(b)
		return len(b), nil
	})
	go func() {
		defer close(p.output)
		masked, flush := actions.NewMasker(screen, r.Secrets)
		io.Copy(masked, tty)
		flush()
	}()
	go func() {
		defer close(p.client)
		for {
			typ, data, err := api.ReadFrame(t.in)
			if err != nil {
				return
			}
			switch typ {
			case api.FrameData:
				tty.Write(data)
			case api.FrameResize:
				if cols, rows, ok := api.ParseResize(data); ok {
					tty.Resize(context.Background(), cols, rows)
					castMu.Lock()
					cast.Resize(time.Now(), cols, rows)
					castMu.Unlock()
				}
			}
		}
	}()
	go func() {
		<-p.output
		castMu.Lock()
		close(p.cast)
		castMu.Unlock()
	}()
	return p
}

// watch waits for the session to end, recording snapshot commits when
// the workspace settles. It reports whether the session was cut short.
func (c *Capsule) watch(ctx context.Context, r actions.Request, p pumped, tty *capsule.TTY) bool {
	tick := time.NewTicker(settleTick)
	defer tick.Stop()
	var s settle
	for {
		select {
		case <-p.output:
			<-p.cast
			return false
		case <-p.client:
			tty.Close()
			c.waitOutput(p)
			return true
		case <-ctx.Done():
			tty.Close()
			c.waitOutput(p)
			return true
		case <-tick.C:
			c.settleStep(&s, r)
		}
	}
}

func (c *Capsule) waitOutput(p pumped) {
	select {
	case <-p.output:
		<-p.cast
	case <-time.After(hangupGrace):
	}
}

// settle tracks the workspace between ticks.
type settle struct {
	tree  string    // the tree at the last look
	since time.Time // when it became that tree
}

// settleStep looks at the workspace and records a snapshot commit when it
// differs from the last recorded tree and has not changed for a while.
func (c *Capsule) settleStep(s *settle, r actions.Request) {
	tree, err := c.ws.Snapshot(c.tree)
	if err != nil {
		c.d.log.Warn("snapshot during session", "capsule", c.st.Name, "err", err)
		return
	}
	now := time.Now()
	if tree.String() != s.tree {
		s.tree, s.since = tree.String(), now
		return
	}
	if tree == c.tree || now.Sub(s.since) < settleQuiet {
		return
	}
	snap := actions.Request{Kind: actions.Snapshot, Author: r.Author, Argv: r.Argv, Secrets: r.Secrets}
	rec := notes.Record{Action: actions.Snapshot, Start: now,
		Info: []string{"the workspace settled while " + summary(r) + " ran"}}
	a, err := c.record(snap, rec)
	if err != nil {
		c.d.log.Warn("record snapshot", "capsule", c.st.Name, "err", err)
		return
	}
	c.publish()
	e := c.event(snap, nil).with(api.EventFinished)
	e.Action = &a
	c.d.events.publish(e)
}

// secretValues returns the values of K=V entries.
func secretValues(kvs []string) []string {
	var out []string
	for _, kv := range kvs {
		if _, v, ok := strings.Cut(kv, "="); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}
