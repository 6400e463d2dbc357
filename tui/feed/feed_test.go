package feed

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/krellin/krellin/api"
)

// script is a daemon that answers each Events call from a list: the
// events to send, then the error to end with.
type script struct {
	mu     sync.Mutex // guards calls and asked
	calls  []call
	asked  []string // since@epoch of each call
	pingOK bool
}

type call struct {
	events []api.StreamEvent
	err    error
	hang   bool // after the events, send nothing until cancelled
}

var _ Source = (*script)(nil)

func (s *script) Ping(context.Context) (api.Ping, error) {
	return api.Ping{PID: 7}, nil
}

func (s *script) Events(ctx context.Context, _ api.Target, since uint64, epoch string, fn func(api.StreamEvent)) (uint64, string, error) {
	s.mu.Lock()
	s.asked = append(s.asked, epoch+"@"+string(rune('0'+since)))
	if len(s.calls) == 0 {
		s.mu.Unlock()
		<-ctx.Done()
		return since, epoch, ctx.Err()
	}
	c := s.calls[0]
	s.calls = s.calls[1:]
	s.mu.Unlock()
	for _, e := range c.events {
		since, epoch = e.ID, e.Epoch
		fn(e)
	}
	if c.hang {
		<-ctx.Done()
		return since, epoch, ctx.Err()
	}
	return since, epoch, c.err
}

func TestFollow_ReconnectsAndResumes(t *testing.T) {
	firstRetry, maxRetry = time.Millisecond, 2*time.Millisecond
	down := errors.New("down")
	s := &script{calls: []call{
		{events: []api.StreamEvent{{ID: 3, Epoch: "a", Type: api.EventGap}, {ID: 4, Epoch: "a", Type: api.EventStarted}}, err: down},
		{err: down}, // still down: no second "lost"
		{events: []api.StreamEvent{{ID: 1, Epoch: "b", Type: api.EventGap}}},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	Follow(ctx, s, api.Target{}, func(u Update) {
		switch {
		case u.Event != nil:
			got = append(got, u.Event.Type)
			if u.Event.Epoch == "b" {
				cancel()
			}
		case u.Lost != nil:
			got = append(got, "lost")
		case u.Back != nil:
			got = append(got, "back")
		}
	})
	want := []string{"gap", "started", "lost", "back", "lost", "back", "gap"}
	if len(got) != len(want) {
		t.Fatalf("updates %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("updates %q, want %q", got, want)
		}
	}
	if s.asked[0] != resync+"@0" || s.asked[1] != "a@4" {
		t.Errorf("resume points %q: the first must ask for a gap, the next resume after the last event", s.asked)
	}
}

func TestFollow_ASilentStreamIsLost(t *testing.T) {
	firstRetry, maxRetry = time.Millisecond, 2*time.Millisecond
	defer func(d time.Duration) { silence = d }(silence)
	silence = 50 * time.Millisecond
	s := &script{calls: []call{
		// Heartbeats keep a quiet stream alive; then the daemon hangs.
		{events: []api.StreamEvent{{ID: 3, Epoch: "a", Type: api.EventGap}}, hang: true},
		{events: []api.StreamEvent{{ID: 4, Epoch: "a", Type: api.EventStarted}}},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	var lostErr error
	Follow(ctx, s, api.Target{}, func(u Update) {
		switch {
		case u.Event != nil:
			got = append(got, u.Event.Type)
			if u.Event.Type == api.EventStarted {
				cancel()
			}
		case u.Lost != nil:
			got = append(got, "lost")
			lostErr = u.Lost
		case u.Back != nil:
			got = append(got, "back")
		}
	})
	if want := "gap lost back started"; strings.Join(got, " ") != want {
		t.Fatalf("updates %q, want %q", got, want)
	}
	if !errors.Is(lostErr, ErrSilent) {
		t.Errorf("lost because %v, want ErrSilent", lostErr)
	}
	if s.asked[1] != "a@3" {
		t.Errorf("resumed at %q, want after the last event (a@3)", s.asked[1])
	}
}

func TestFollow_HeartbeatsKeepTheStream(t *testing.T) {
	defer func(d time.Duration) { silence = d }(silence)
	silence = 60 * time.Millisecond
	beats := make([]api.StreamEvent, 6)
	for i := range beats {
		beats[i] = api.StreamEvent{ID: 3, Epoch: "a", Type: Heartbeat}
	}
	s := &slow{every: 20 * time.Millisecond, events: beats}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	Follow(ctx, s, api.Target{}, func(u Update) {
		switch {
		case u.Event != nil:
			got = append(got, u.Event.Type)
		case u.Lost != nil:
			got = append(got, "lost")
			cancel()
		}
	})
	if n := strings.Count(strings.Join(got, " "), Heartbeat); n != len(beats) || got[len(got)-1] != "lost" {
		t.Errorf("updates %q: want every heartbeat, then lost once they stop", got)
	}
}

// slow sends its events one every so often, then hangs.
type slow struct {
	every  time.Duration
	events []api.StreamEvent
}

func (s *slow) Ping(context.Context) (api.Ping, error) { return api.Ping{}, errors.New("down") }

func (s *slow) Events(ctx context.Context, _ api.Target, since uint64, epoch string, fn func(api.StreamEvent)) (uint64, string, error) {
	for _, e := range s.events {
		select {
		case <-time.After(s.every):
		case <-ctx.Done():
			return since, epoch, ctx.Err()
		}
		fn(e)
	}
	s.events = nil
	<-ctx.Done()
	return since, epoch, ctx.Err()
}
