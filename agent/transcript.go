package agent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/llm"
)

// maxShown bounds one tool call's arguments or result in a transcript;
// the action a call recorded keeps all of it.
const maxShown = 4000

// Transcript renders a conversation for people: what the ask action's
// note holds, and what `krellin show` prints for it.
func Transcript(r Result, provider, model string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "krellin ask with %s (%s)\n", model, provider)
	fmt.Fprintf(&b, "status: %s after %d model turns and %s; %d tokens in, %d out\n",
		r.Status, r.Steps, CallCount(r), r.Usage.InputTokens, r.Usage.OutputTokens)
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, "time: started %s, took %s\n", r.Started.Format(time.RFC3339), Elapsed(r))
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Reason)
	}
	section(&b, "system")
	b.WriteString(r.System + "\n")

	step := 0
	for _, m := range r.Messages {
		switch {
		case m.Role == llm.Assistant:
			step++
			section(&b, fmt.Sprintf("assistant, turn %d", step))
			if m.Text != "" {
				b.WriteString(strings.TrimRight(m.Text, "\n") + "\n")
			}
			for _, c := range m.ToolCalls {
				fmt.Fprintf(&b, "-> call %s [%s] %s\n", c.Name, c.ID, shown(string(c.Args)))
			}
		case len(m.ToolResults) > 0:
			for _, res := range m.ToolResults {
				head := fmt.Sprintf("result of %s [%s]", res.Name, res.CallID)
				if res.IsError {
					head += ", an error"
				}
				section(&b, head)
				b.WriteString(strings.TrimRight(shown(res.Text), "\n") + "\n")
			}
			if m.Text != "" {
				section(&b, "user")
				b.WriteString(m.Text + "\n")
			}
		default:
			section(&b, "user")
			b.WriteString(strings.TrimRight(m.Text, "\n") + "\n")
		}
	}
	section(&b, "end")
	if r.Reason != "" {
		fmt.Fprintf(&b, "%s: %s\n", r.Status, r.Reason)
	} else {
		fmt.Fprintf(&b, "%s\n", r.Status)
	}
	return []byte(b.String())
}

// CallCount says how many tool calls the model made: "4 tool calls (2
// not run)".
func CallCount(r Result) string {
	s := fmt.Sprintf("%d tool calls", r.Calls)
	if r.NotRun > 0 {
		s += fmt.Sprintf(" (%d not run)", r.NotRun)
	}
	return s
}

// Elapsed is how long the conversation took, to a tenth of a second.
func Elapsed(r Result) string {
	return r.Elapsed.Round(100 * time.Millisecond).String()
}

func section(b *strings.Builder, name string) {
	fmt.Fprintf(b, "\n=== %s ===\n", name)
}

// shown cuts s to maxShown bytes, saying how much was left out.
func shown(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return strings.ToValidUTF8(s[:maxShown], "") +
		fmt.Sprintf("\n[%d more bytes not shown; the recorded action has all of it]", len(s)-maxShown)
}

// Recorder records an action; *api.Client fits.
type Recorder interface {
	Act(ctx context.Context, req api.ActionRequest, stdout, stderr io.Writer) (api.Action, error)
}

var _ Recorder = (*api.Client)(nil)

// recordTimeout bounds recording the conversation, which also happens
// after an interrupt.
const recordTimeout = 30 * time.Second

// Record records the conversation as one ask action on t, credited to
// author, with the prompt as its why. It runs even when ctx has ended,
// so that an interrupted conversation is kept too.
func Record(ctx context.Context, rec Recorder, t api.Target, author api.Author, p llm.Provider, o Options, r Result) (api.Action, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	req := api.ActionRequest{Target: t, Kind: "ask", Why: o.Prompt, Author: &author,
		Input: Transcript(r, p.Name(), p.Model()), Status: r.Status, Error: r.Reason,
		DurationMS: r.Elapsed.Milliseconds()}
	a, err := rec.Act(ctx, req, io.Discard, io.Discard)
	if err != nil {
		return a, fmt.Errorf("record the conversation: %w", err)
	}
	return a, nil
}
