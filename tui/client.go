// Package tui is `krellin tui`, the operator's view of the daemon: every
// capsule and its sessions, the selected session's action log live as
// actions start, stream output and finish, each action in detail with
// its diff, and keys to run, reset, replay, stop and remove. It reaches
// the daemon only through Client, follows the event stream across
// daemon restarts (package feed) and draws nothing a capsule wrote
// without sanitising it (package termsafe).
//
// Components live in subpackages (capsules, actions, detail, prompt);
// keys holds the one key map, theme the styles. All I/O happens in
// tea.Cmds that return messages.
package tui

import (
	"context"
	"encoding/json"
	"io"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/feed"
)

// Client is the part of the daemon's API the TUI uses.
type Client interface {
	feed.Source
	Capsules(ctx context.Context) ([]api.Status, error)
	Sessions(ctx context.Context, t api.Target) ([]api.Session, error)
	Log(ctx context.Context, t api.Target) ([]api.Action, error)
	Show(ctx context.Context, t api.Target, seq int) (api.Detail, error)
	Act(ctx context.Context, req api.ActionRequest, stdout, stderr io.Writer) (api.Action, error)
	Replay(ctx context.Context, req api.ReplayRequest, progress func(api.Event)) (json.RawMessage, error)
	Down(ctx context.Context, t api.Target) (api.Status, error)
	Rm(ctx context.Context, t api.Target) (api.Status, error)
}

var _ Client = (*api.Client)(nil)
