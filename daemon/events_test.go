package daemon

import (
	"testing"

	"github.com/krellin/krellin/api"
)

func TestBus_Resume(t *testing.T) {
	b := newBus()
	for range 5 {
		b.publish(api.StreamEvent{Type: api.EventQueued})
	}
	tests := []struct {
		name     string
		since    uint64
		epoch    string
		wantFrom uint64 // first ID sent; 0 for none
		wantGap  bool
	}{
		{"no epoch starts from now", 3, "", 0, false},
		{"same epoch resumes after since", 3, b.epoch, 4, false},
		{"from the start", 0, b.epoch, 1, false},
		{"another daemon's epoch is a gap", 3, "other", 0, true},
		{"a future ID is a gap", 99, b.epoch, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since, gap := b.resumePoint(tt.since, tt.epoch)
			events, lost, _ := b.after(since, maxEvents)
			if (gap || lost) != tt.wantGap {
				t.Fatalf("gap %v, want %v", gap || lost, tt.wantGap)
			}
			var first uint64
			if len(events) > 0 {
				first = events[0].ID
			}
			if first != tt.wantFrom {
				t.Fatalf("first event %d, want %d", first, tt.wantFrom)
			}
		})
	}
}

func TestBus_EvictsAndReportsGap(t *testing.T) {
	b := newBus()
	for range maxEvents + 10 {
		b.publish(api.StreamEvent{Type: api.EventOutput})
	}
	events, lost, last := b.after(0, maxEvents)
	if !lost || len(events) != maxEvents || last != maxEvents+10 {
		t.Fatalf("after(0): %d events, lost %v, last %d; want %d, true, %d", len(events), lost, last, maxEvents, maxEvents+10)
	}
	if events[0].ID != 11 {
		t.Fatalf("oldest kept event %d, want 11", events[0].ID)
	}
	if events, lost, _ := b.after(maxEvents, maxEvents); lost || len(events) != 10 {
		t.Fatalf("after a kept ID: %d events, lost %v; want 10, false", len(events), lost)
	}
}

func TestBus_AfterSendsInBatches(t *testing.T) {
	b := newBus()
	for range 10 {
		b.publish(api.StreamEvent{Type: api.EventOutput})
	}
	events, _, last := b.after(0, 4)
	if len(events) != 4 || last != 4 {
		t.Fatalf("first batch: %d events, last %d; want 4, 4", len(events), last)
	}
	events, _, last = b.after(last, 4)
	if events[0].ID != 5 || last != 8 {
		t.Fatalf("second batch starts at %d, last %d; want 5, 8", events[0].ID, last)
	}
}
