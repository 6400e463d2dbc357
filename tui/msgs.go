package tui

import (
	"encoding/json"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tui/capsules"
	"github.com/krellin/krellin/tui/feed"
)

// errMsg is a request that failed; op says which, for the status line.
type errMsg struct {
	op  string
	err error
}

// capsulesMsg is the capsule list with every capsule's sessions, as
// asked for when the model had seen asOf events.
type capsulesMsg struct {
	entries []capsules.Entry
	asOf    uint64
}

// logMsg is a session's recorded actions.
type logMsg struct {
	target api.Target
	acts   []api.Action
}

// detailMsg is one action in full.
type detailMsg struct {
	target api.Target
	detail api.Detail
}

// feedMsg is what the event follower reported since the last one.
type feedMsg []feed.Update

// doneMsg is the answer to an action, stop or remove the operator asked for.
type doneMsg struct{ text string }

// promptDoneMsg is the answer to the prompt's command id: a doneMsg or
// an errMsg.
type promptDoneMsg struct {
	id  int
	msg tea.Msg
}

// replayMsg is a finished replay's report.
type replayMsg struct{ report json.RawMessage }

// tickMsg redraws the elapsed time of the action in flight.
type tickMsg time.Time
