package daemon

import (
	"io"

	"crypto/rand"
	"encoding/hex"
	"github.com/krellin/krellin/actions"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/krellin/krellin/api"
)

// Bounds of the event buffer: a client that falls further behind, or
// reconnects later, is told of a gap and reloads the durable log.
const (
	maxEvents     = 20000
	maxEventBytes = 32 << 20
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
	return 256 + len(e.Data) + len(e.Message) + len(e.Report)
}

// after returns the kept events after ID since, and whether some events
// after since are no longer kept.
func (b *bus) after(since uint64) (events []api.StreamEvent, gap bool, last uint64) {
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
	return append([]api.StreamEvent(nil), b.ring[first:]...), gap, last
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

// handleEvents streams events as NDJSON until the client goes away.
func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, _ := strconv.ParseUint(q.Get("since"), 10, 64)
	repo := q.Get("repo")
	ch := d.events.subscribe()
	defer d.events.unsubscribe(ch)

	s := newStream(w)
	since, gap := d.events.resumePoint(since, q.Get("epoch"))
	for {
		events, lost, last := d.events.after(since)
		if gap || lost {
			s.encode(api.StreamEvent{ID: since, Epoch: d.events.epoch, Type: api.EventGap, Repo: repo,
				Time:    time.Now().UTC().Format(time.RFC3339Nano),
				Message: "some events are no longer kept; reload the log"})
			gap = false
		}
		for _, e := range events {
			if repo == "" || e.Repo == repo {
				s.encode(e)
			}
		}
		since = last
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
}

// actionEvent is the template of one action's events.
type actionEvent struct{ api.StreamEvent }

// event starts the events of action r on c.
func (c *Capsule) event(r actions.Request, who *api.Author) actionEvent {
	v := c.current()
	e := api.StreamEvent{Repo: v.st.Repo, Capsule: v.st.Name, Session: v.st.Session,
		Summary: summary(actions.Request{Kind: r.Kind, Argv: r.Argv, Path: r.Path, ToSeq: r.ToSeq, Secrets: c.secretsNow()})}
	if who != nil {
		e.Author = who.Name
	}
	return actionEvent{e}
}

func (a actionEvent) with(typ string) api.StreamEvent {
	e := a.StreamEvent
	e.Type = typ
	return e
}

// output tees w into output events.
func (a actionEvent) output(b *bus, stream string, w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		e := a.with(api.EventOutput)
		e.Stream, e.Data = stream, append([]byte(nil), p...)
		b.publish(e)
		return w.Write(p)
	})
}

// stateEvent announces a capsule's change of state.
func (d *Daemon) stateEvent(repo, session, state, msg string) {
	d.events.publish(api.StreamEvent{Type: api.EventState, Repo: repo, Session: session, State: state, Message: msg})
}
