// Package agent is krellin's built-in agent loop: it gives a model the
// capsule's tools (the same set the MCP server serves), runs each tool
// call the model makes as its own recorded action, and records the whole
// conversation as one "ask" action, so that the session's log says why
// every action happened.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/llm"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tools"
)

// Toolbox is the part of a tool set the loop uses.
type Toolbox interface {
	List() []tools.Tool
	Call(ctx context.Context, name string, args json.RawMessage, why string) tools.Result
}

var _ Toolbox = (*tools.Set)(nil)

// Defaults for the limits.
const (
	DefaultMaxSteps       = 30
	DefaultMaxTokens      = 1_000_000
	DefaultMaxReplyTokens = 8192
)

// Options are one conversation's prompt, limits and output.
type Options struct {
	Prompt         string
	MaxSteps       int       // model turns; 0 means DefaultMaxSteps
	MaxTokens      int64     // input and output tokens over all turns; 0 means DefaultMaxTokens
	MaxReplyTokens int64     // output tokens of one turn; 0 means DefaultMaxReplyTokens
	Out            io.Writer // the model's text as it streams, made safe for a terminal; nil discards it
	Log            io.Writer // a line per tool call and result; nil discards them
}

// Result is how a conversation went.
type Result struct {
	Status   string // api.StatusOK, api.StatusInterrupted or api.StatusFailed
	Reason   string // why it stopped, when not ok
	Err      error  // the provider's error, when it failed on one
	Steps    int    // model turns taken
	Calls    int    // tool calls the model made
	NotRun   int    // of those, the ones answered without running
	Usage    llm.Usage
	Started  time.Time
	Elapsed  time.Duration // from the start to the end of the conversation
	System   string
	Messages []llm.Message // the conversation, the prompt first
}

// Run holds a conversation between p and the tools until the model
// answers without calling a tool, a limit is reached, the provider
// fails, or ctx ends (Ctrl-C): the result says which. It never returns
// an error; a failure is a Result.
func Run(ctx context.Context, p llm.Provider, tb Toolbox, o Options) Result {
	o = o.withDefaults()
	l := &loop{p: p, tb: tb, o: o, why: "prompt: " + firstLine(o.Prompt)}
	l.res.System = SystemPrompt
	l.res.Messages = []llm.Message{{Role: llm.User, Text: o.Prompt}}
	l.res.Started = time.Now()
	l.run(ctx)
	l.res.Elapsed = time.Since(l.res.Started)
	return l.res
}

func (o Options) withDefaults() Options {
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.MaxReplyTokens <= 0 {
		o.MaxReplyTokens = DefaultMaxReplyTokens
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// loop is one conversation in progress.
type loop struct {
	p   llm.Provider
	tb  Toolbox
	o   Options
	why string // the prompt's line in every call's why
	res Result
}

func (l *loop) run(ctx context.Context) {
	defs := toolDefs(l.tb.List())
	for {
		switch {
		case l.res.Steps >= l.o.MaxSteps:
			l.stop(api.StatusFailed, fmt.Sprintf("stopped at the step limit: %d model turns (--max-steps)", l.o.MaxSteps))
			return
		case l.overTokens():
			l.stopAtTokens()
			return
		}
		reply, err := l.turn(ctx, defs)
		if err != nil {
			l.failed(ctx, err)
			return
		}
		if len(reply.Message.ToolCalls) == 0 {
			l.res.Status = api.StatusOK
			return
		}

		// A reply that took the conversation over its token limit does
		// not get its tools run: the model would never see the results.
		over := l.overTokens()
		l.res.Messages = append(l.res.Messages, l.callTools(ctx, reply, over))
		switch {
		case over:
			l.stopAtTokens()
			return
		case ctx.Err() != nil:
			l.stop(api.StatusInterrupted, "stopped by the user (interrupt) while running tools")
			return
		}
	}
}

func (l *loop) overTokens() bool { return l.res.Usage.Total() >= l.o.MaxTokens }

func (l *loop) stopAtTokens() {
	l.stop(api.StatusFailed, fmt.Sprintf("stopped at the token limit: %d tokens used of %d (--max-tokens)",
		l.res.Usage.Total(), l.o.MaxTokens))
}

// turn asks the model for its next turn, streaming its text, and adds
// the turn (or as much as arrived) to the conversation.
func (l *loop) turn(ctx context.Context, defs []llm.Tool) (llm.Reply, error) {
	l.res.Steps++
	ended := true // the output ends a line
	onText := func(s string) {
		io.WriteString(l.o.Out, termsafe.Text(s))
		ended = strings.HasSuffix(s, "\n")
	}
	r, err := l.p.Stream(ctx, llm.Request{System: l.res.System, Messages: l.res.Messages, Tools: defs,
		MaxTokens: l.o.MaxReplyTokens}, onText)
	if !ended {
		io.WriteString(l.o.Out, "\n")
	}
	l.res.Usage = l.res.Usage.Add(r.Usage)
	if err != nil {
		// Tool calls of a cut-off turn never ran; its text is kept.
		if r.Message.Text != "" {
			l.res.Messages = append(l.res.Messages, llm.Message{Role: llm.Assistant, Text: r.Message.Text})
		}
		return r, err
	}
	l.res.Messages = append(l.res.Messages, r.Message)
	return r, nil
}

// callTools runs a turn's tool calls one after another and returns the
// message that answers them. Every call gets a line on the log. Calls
// after an interrupt or past the token limit, of a reply cut off at its
// token limit, with no tool name or with arguments that are not JSON are
// not run, but still answered.
func (l *loop) callTools(ctx context.Context, reply llm.Reply, overTokens bool) llm.Message {
	why := l.why
	if t := strings.TrimSpace(reply.Message.Text); t != "" {
		why = t + "\n\n" + l.why
	}
	out := llm.Message{Role: llm.User}
	for _, c := range reply.Message.ToolCalls {
		name := c.Name
		if name == "" {
			name = "(no name)"
		}
		fmt.Fprintf(l.o.Log, "→ %s %s\n", termsafe.Line(name), termsafe.Line(oneLine(string(c.Args), 160)))
		l.res.Calls++

		res := tools.Result{IsError: true}
		res.Text = l.notRun(ctx, reply, c, overTokens)
		if res.Text != "" {
			l.res.NotRun++
			fmt.Fprintf(l.o.Log, "  %s\n", termsafe.Line(oneLine(res.Text, 160)))
		} else {
			res = l.tb.Call(ctx, c.Name, c.Args, why)
			mark := ""
			if res.IsError {
				mark = "error: "
			}
			fmt.Fprintf(l.o.Log, "  %s%s\n", mark, termsafe.Line(oneLine(res.Text, 160)))
		}
		out.ToolResults = append(out.ToolResults, llm.ToolResult{CallID: c.ID, Name: c.Name, Text: res.Text, IsError: res.IsError})
	}
	return out
}

// notRun says why call c is not to be run, told to the model; "" means
// it runs.
func (l *loop) notRun(ctx context.Context, reply llm.Reply, c llm.ToolCall, overTokens bool) string {
	switch {
	case ctx.Err() != nil:
		return "not run: the user interrupted the conversation"
	case overTokens:
		return fmt.Sprintf("not run: the token limit was reached (%d tokens used of %d)", l.res.Usage.Total(), l.o.MaxTokens)
	case reply.Cut():
		return fmt.Sprintf("not run: your reply was cut off at its token limit (%d), so the arguments may be incomplete; make the call again with less in it", l.o.MaxReplyTokens)
	case c.Name == "":
		return "not run: the call names no tool; call one of the tools offered by its name"
	case !json.Valid(c.Args):
		return fmt.Sprintf("not run: the arguments are not valid JSON (%s); call %s again with a JSON object", cut(string(c.Args), 200), c.Name)
	}
	return ""
}

// failed ends the conversation on a provider error, or an interrupt that
// came while the model was answering.
func (l *loop) failed(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		l.stop(api.StatusInterrupted, "stopped by the user (interrupt) while the model was answering")
		return
	}
	l.res.Err = err
	l.stop(api.StatusFailed, err.Error())
}

func (l *loop) stop(status, reason string) {
	l.res.Status, l.res.Reason = status, reason
}

func toolDefs(ts []tools.Tool) []llm.Tool {
	out := make([]llm.Tool, 0, len(ts))
	for _, t := range ts {
		out = append(out, llm.Tool{Name: t.Name, Description: t.Description, Schema: t.InputSchema})
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return cut(s, 100)
}

// oneLine shows s on one line of at most n bytes.
func oneLine(s string, n int) string {
	return cut(strings.Join(strings.Fields(s), " "), n)
}

// cut shortens s to about n bytes, marking that it did.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
