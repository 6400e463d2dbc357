package tui

import (
	"context"
	"fmt"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tui/capsules"
	"github.com/krellin/krellin/tui/feed"
)

// inboxSize is how many follower updates may wait for the model.
const inboxSize = 1024

// maxBatch bounds the updates handed to the model in one message, so a
// chatty command cannot starve key presses.
const maxBatch = 256

// follow starts the event follower, which feeds the inbox until ctx ends.
func follow(ctx context.Context, c Client, inbox chan<- feed.Update) tea.Cmd {
	return func() tea.Msg {
		go feed.Follow(ctx, c, api.Target{}, func(u feed.Update) {
			select {
			case inbox <- u:
			case <-ctx.Done():
			}
		})
		return nil
	}
}

// next waits for the follower's next updates.
func next(ctx context.Context, inbox <-chan feed.Update) tea.Cmd {
	return func() tea.Msg {
		var batch feedMsg
		select {
		case u := <-inbox:
			batch = append(batch, u)
		case <-ctx.Done():
			return nil
		}
		for len(batch) < maxBatch {
			select {
			case u := <-inbox:
				batch = append(batch, u)
			default:
				return batch
			}
		}
		return batch
	}
}

// loadCapsules lists the capsules and each one's sessions.
func loadCapsules(ctx context.Context, c Client, asOf uint64) tea.Cmd {
	return func() tea.Msg {
		caps, err := c.Capsules(ctx)
		if err != nil {
			return errMsg{"list capsules", err}
		}
		var entries []capsules.Entry
		for _, st := range caps {
			ss, err := c.Sessions(ctx, api.Target{Repo: st.Repo})
			if err != nil || len(ss) == 0 {
				// Still show the capsule, from its status.
				ss = []api.Session{{Name: st.Session, Base: st.Base, Image: st.Image, Actions: st.Actions, Current: true}}
			}
			for _, s := range ss {
				entries = append(entries, capsules.Entry{Capsule: st, Session: s})
			}
		}
		return capsulesMsg{entries, asOf}
	}
}

func loadLog(ctx context.Context, c Client, t api.Target) tea.Cmd {
	return func() tea.Msg {
		acts, err := c.Log(ctx, t)
		if err != nil {
			return errMsg{"load the log of " + t.Session, err}
		}
		return logMsg{t, acts}
	}
}

func loadDetail(ctx context.Context, c Client, t api.Target, seq int) tea.Cmd {
	return func() tea.Msg {
		d, err := c.Show(ctx, t, seq)
		if err != nil {
			return errMsg{fmt.Sprintf("show seq %d", seq), err}
		}
		return detailMsg{t, d}
	}
}

// act runs an action; its row and output arrive on the event stream.
func act(ctx context.Context, c Client, req api.ActionRequest) tea.Cmd {
	return func() tea.Msg {
		a, err := c.Act(ctx, req, io.Discard, io.Discard)
		if err != nil {
			return errMsg{req.Kind, err}
		}
		text := fmt.Sprintf("seq %d %s: %s", a.Seq, a.Status, termsafe.Line(a.Subject))
		if a.Error != "" {
			text += ": " + termsafe.Line(a.Error)
		}
		return doneMsg{text}
	}
}

func down(ctx context.Context, c Client, t api.Target) tea.Cmd {
	return func() tea.Msg {
		st, err := c.Down(ctx, api.Target{Repo: t.Repo})
		if err != nil {
			return errMsg{"stop", err}
		}
		return doneMsg{fmt.Sprintf("capsule %s %s", st.Capsule, termsafe.Line(st.State))}
	}
}

func remove(ctx context.Context, c Client, t api.Target) tea.Cmd {
	return func() tea.Msg {
		st, err := c.Rm(ctx, api.Target{Repo: t.Repo})
		if err != nil {
			return errMsg{"remove", err}
		}
		return doneMsg{fmt.Sprintf("capsule %s removed; its sessions stay under refs/krellin/", st.Capsule)}
	}
}

// runReplay reruns a session; its progress arrives on the event stream.
func runReplay(ctx context.Context, c Client, t api.Target) tea.Cmd {
	return func() tea.Msg {
		rep, err := c.Replay(ctx, api.ReplayRequest{Target: t}, func(api.Event) {})
		if err != nil {
			return errMsg{"replay", err}
		}
		return replayMsg{rep}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}
