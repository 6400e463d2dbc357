// Package feed follows the daemon's event stream across daemon restarts:
// it reconnects with backoff, resumes from the last event it saw, and
// says when the daemon went away and when it is back. A stream silent
// for longer than three of the daemon's heartbeats counts as lost too.
// `krellin log --follow` and the TUI both read the stream through it.
package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/krellin/krellin/api"
)

// Source is the part of api.Client a follower needs.
type Source interface {
	Ping(ctx context.Context) (api.Ping, error)
	Events(ctx context.Context, t api.Target, since uint64, epoch string, fn func(api.StreamEvent)) (uint64, string, error)
}

var _ Source = (*api.Client)(nil)

// Update is one thing the follower reports: an event, or a change of
// connection (exactly one of the fields is set).
type Update struct {
	Event *api.StreamEvent
	// Lost is why the stream ended, reported once per outage.
	Lost error
	// Back is the answer of a daemon reached again after an outage.
	Back *api.Ping
}

// resync is an epoch no daemon has. Starting from it makes the daemon
// open the stream with a gap event, so a follower's first event tells it
// that it is subscribed and must load the log: nothing recorded between
// loading the log and subscribing can be missed.
const resync = "resync"

// Heartbeat is the type of the event the daemon sends every 15 s on an
// otherwise quiet stream. It carries the last event's id, not a new one;
// followers pass it on and readers skip it.
const Heartbeat = api.EventHeartbeat

// silence is how long a stream may send nothing, heartbeats included,
// before the follower gives up on it: three missed heartbeats.
var silence = 45 * time.Second

// ErrSilent is why a stream that stopped sending was dropped.
var ErrSilent = errors.New("no heartbeat from the daemon")

// Backoff bounds the wait between reconnection attempts.
var (
	firstRetry = 100 * time.Millisecond
	maxRetry   = 2 * time.Second
)

// Follow streams the events of t.Repo (every capsule when empty) to fn
// until ctx ends, across daemon restarts, and returns ctx's error. fn
// runs on Follow's goroutine; the stream waits while it does.
func Follow(ctx context.Context, src Source, t api.Target, fn func(Update)) error {
	since, epoch := uint64(0), resync
	wait := firstRetry
	lost := false
	for {
		var err error
		since, epoch, err = watch(ctx, src, t, since, epoch, func(e api.StreamEvent) {
			wait = firstRetry
			fn(Update{Event: &e})
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !lost {
			lost = true
			fn(Update{Lost: err})
		}
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
		wait = min(2*wait, maxRetry)
		if p, err := src.Ping(ctx); err == nil {
			lost = false
			fn(Update{Back: &p})
		}
	}
}

// watch is one connection to the stream. It cancels the connection when
// the daemon sends nothing for longer than silence: a daemon that hangs,
// or a connection that died without a word, looks just like a quiet one
// otherwise. Time spent in fn does not count.
func watch(ctx context.Context, src Source, t api.Target, since uint64, epoch string, fn func(api.StreamEvent)) (uint64, string, error) {
	conn, cancel := context.WithCancel(ctx)
	defer cancel()
	dog := time.AfterFunc(silence, cancel)
	defer dog.Stop()
	since, epoch, err := src.Events(conn, t, since, epoch, func(e api.StreamEvent) {
		dog.Stop()
		fn(e)
		dog.Reset(silence)
	})
	if ctx.Err() == nil && conn.Err() != nil {
		err = fmt.Errorf("%w for %s", ErrSilent, silence)
	}
	return since, epoch, err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
