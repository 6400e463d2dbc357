package daemon

import (
	"fmt"
	"io"
	"net/url"

	"crypto/rand"
	"encoding/hex"
	"github.com/krellin/krellin/actions"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
)

// Bounds of the event buffer: a client that falls further behind, or
// reconnects later, is told of a gap and reloads the durable log.
const (
	maxEvents     = 20000
	maxEventBytes = 16 << 20
	// sendBatch bounds what one follower holds while it writes, so a
	// follower that stops reading pins little memory.
	sendBatch = 256
	// heartbeat is how often a quiet stream says it is alive; a follower
	// that cannot take an event within writeTimeout is dropped.
	heartbeat    = 15 * time.Second
	writeTimeout = 30 * time.Second
)

// bus keeps the daemon's recent events and wakes the clients following
// them. Events are numbered within one daemon run, named by epoch.
type bus struct {
	epoch string

	mu    sync.Mutex // guards everything below
	next  uint64     // the ID of the next event
	ring  []api.StreamEvent
	bytes int
	subs  map[chan struct{}]bool
}

func newBus() *bus {
	b := make([]byte, 6)
	rand.Read(b)
	return &bus{epoch: hex.EncodeToString(b), next: 1, subs: map[chan struct{}]bool{}}
}

// publish numbers e, keeps it and wakes every follower.
func (b *bus) publish(e api.StreamEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.ID, e.Epoch, e.Time = b.next, b.epoch, time.Now().UTC().Format(time.RFC3339Nano)
	b.next++
	b.ring = append(b.ring, e)
	b.bytes += eventSize(e)
	for len(b.ring) > maxEvents || b.bytes > maxEventBytes {
		b.bytes -= eventSize(b.ring[0])
		b.ring[0] = api.StreamEvent{}
		b.ring = b.ring[1:]
	}
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func eventSize(e api.StreamEvent) int {
	n := 256 + len(e.Data) + len(e.Message) + len(e.Report) + len(e.Summary) + len(e.Repo)
	if a := e.Action; a != nil {
		n += 512 + len(a.Subject) + len(a.Error)
		for _, s := range append(append(a.Argv, a.Env...), a.Info...) {
			n += len(s)
		}
	}
	return n
}

// after returns up to limit kept events after ID since, the ID of the
// last one returned (or of the newest event, when none are), and whether
// some events after since are no longer kept.
func (b *bus) after(since uint64, limit int) (events []api.StreamEvent, gap bool, last uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last = b.next - 1
	if since >= last {
		return nil, false, last
	}
	if len(b.ring) == 0 || b.ring[0].ID > since+1 {
		gap = true
	}
	first := 0
	if len(b.ring) > 0 && since >= b.ring[0].ID {
		first = int(since - b.ring[0].ID + 1)
	}
	end := min(len(b.ring), first+limit)
	events = append([]api.StreamEvent(nil), b.ring[first:end]...)
	if len(events) > 0 {
		last = events[len(events)-1].ID
	}
	return events, gap, last
}

func (b *bus) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	return ch
}

func (b *bus) unsubscribe(ch chan struct{}) {
	b.mu.Lock()
	delete(b.subs, ch)
	b.mu.Unlock()
}

// resumePoint turns a client's since and epoch into the ID to send
// after, and whether the client must be told of a gap first: events of
// another daemon run are gone. No epoch means "from now".
func (b *bus) resumePoint(since uint64, epoch string) (uint64, bool) {
	b.mu.Lock()
	now := b.next - 1
	b.mu.Unlock()
	switch {
	case epoch == "":
		return now, false
	case epoch != b.epoch || since > now:
		return now, true
	}
	return since, false
}

// handleEvents streams events as NDJSON until the client goes away, or
// stops taking them.
func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, epoch, repo, err := d.eventsQuery(q)
	if err != nil {
		fail(w, err)
		return
	}
	ch := d.events.subscribe()
	defer d.events.unsubscribe(ch)

	s := newStream(w)
	rc := http.NewResponseController(w)
	since, gap := d.events.resumePoint(since, epoch)
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		events, lost, last := d.events.after(since, sendBatch)
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if gap || lost {
			s.encode(d.notice(api.EventGap, since, repo, "some events are no longer kept; reload the log"))
			gap = false
		}
		for _, e := range events {
			if repo == "" || e.Repo == repo {
				s.encode(e)
			}
		}
		if s.failed() {
			return
		}
		since = last
		if len(events) == sendBatch {
			continue // more are waiting
		}
		select {
		case <-ch:
		case <-beat.C:
			rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			s.encode(d.notice(api.EventHeartbeat, since, repo, ""))
		case <-r.Context().Done():
			return
		}
	}
}

// notice is an event of the stream itself, not kept: a gap or a heartbeat.
func (d *Daemon) notice(typ string, id uint64, repo, msg string) api.StreamEvent {
	return api.StreamEvent{ID: id, Epoch: d.events.epoch, Type: typ, Repo: repo,
		Time: time.Now().UTC().Format(time.RFC3339Nano), Message: msg}
}

// eventsQuery reads and checks the stream's parameters. The repository
// is named by its top level, as the CLI resolves it.
func (d *Daemon) eventsQuery(q url.Values) (since uint64, epoch, repo string, err error) {
	if v := q.Get("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, "", "", fmt.Errorf("%w: since=%q is not an event number", actions.ErrBadRequest, v)
		}
	}
	epoch = q.Get("epoch")
	if since > 0 && epoch == "" {
		return 0, "", "", fmt.Errorf("%w: since=%d needs the epoch of the stream it came from", actions.ErrBadRequest, since)
	}
	if repo = q.Get("repo"); repo != "" {
		top, err := gitlog.FindTop(repo)
		if err != nil {
			return 0, "", "", fmt.Errorf("%w: repo=%q: %v", actions.ErrBadRequest, repo, err)
		}
		repo = top
	}
	return since, epoch, repo, nil
}

// actionEvent is the template of one action's events.
type actionEvent struct {
	api.StreamEvent
	live *liveBudget // shared by the action's output streams
}

// liveBudget bounds how much of one action's output goes on the event
// stream: followers see the start of a flood and a note that it was cut,
// and the daemon does not spend its time and memory on the rest, which
// the action's note keeps anyway.
type liveBudget struct {
	mu   sync.Mutex // guards left
	left int
}

// maxLiveOutput is the output of one action put on the event stream.
const maxLiveOutput = 1 << 20

// take returns how much of n bytes may go out, and whether this call used
// the budget up.
func (l *liveBudget) take(n int) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left <= 0 {
		return 0, false
	}
	k := min(n, l.left)
	l.left -= k
	return k, l.left == 0
}

// event starts the events of action r on c.
func (c *Capsule) event(r actions.Request, who *api.Author) actionEvent {
	v := c.current()
	e := api.StreamEvent{Repo: v.st.Repo, Capsule: v.st.Name, Session: v.st.Session,
		Summary: summary(actions.Request{Kind: r.Kind, Argv: r.Argv, Path: r.Path, ToSeq: r.ToSeq, Secrets: c.secretsNow()})}
	if who != nil {
		e.Author = who.Name
	}
	return actionEvent{StreamEvent: e, live: &liveBudget{left: maxLiveOutput}}
}

func (a actionEvent) with(typ string) api.StreamEvent {
	e := a.StreamEvent
	e.Type = typ
	return e
}

// output tees w into output events, up to the action's live budget.
func (a actionEvent) output(b *bus, stream string, w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if k, spent := a.live.take(len(p)); k > 0 {
			e := a.with(api.EventOutput)
			e.Stream, e.Data = stream, append([]byte(nil), p[:k]...)
			if spent {
				e.Message = fmt.Sprintf("live output stops after %d MiB; the action's note keeps the whole output", maxLiveOutput>>20)
			}
			b.publish(e)
		}
		return w.Write(p)
	})
}

// stateEvent announces a capsule's change of state.
func (d *Daemon) stateEvent(repo, capsule, session, state, msg string) {
	d.events.publish(api.StreamEvent{Type: api.EventState, Repo: repo, Capsule: capsule,
		Session: session, State: state, Message: msg})
}
