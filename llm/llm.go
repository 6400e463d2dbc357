// Package llm is the provider-neutral view of a chat model with tool
// calling: a conversation of messages, the tools offered, and a Provider
// that streams one assistant turn at a time. The wire formats live in
// llm/openai and llm/anthropic; llm/scripted replays both for tests.
package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// Role says who wrote a message.
type Role string

const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one turn of a conversation. A user turn holds text, or the
// results of the previous turn's tool calls, or both; an assistant turn
// holds text, tool calls, or both.
type Message struct {
	Role        Role
	Text        string
	ToolCalls   []ToolCall   // assistant only
	ToolResults []ToolResult // user only, one per call of the turn before
}

// ToolCall is the model asking for one tool to run. Args is the JSON
// object the model wrote, byte for byte; it may be invalid when the
// model was cut off.
type ToolCall struct {
	ID   string
	Name string
	Args json.RawMessage
}

// UnnamedTool stands in for the name of a call the model made without
// one when the conversation goes back to the provider, which refuses an
// empty name. The call itself is never run.
const UnnamedTool = "unnamed_tool"

// WireName is the call's name as sent back to the provider.
func (c ToolCall) WireName() string {
	if c.Name == "" {
		return UnnamedTool
	}
	return c.Name
}

// ToolResult answers one ToolCall.
type ToolResult struct {
	CallID  string
	Name    string
	Text    string
	IsError bool
}

// Tool is a tool offered to the model. Schema is a JSON Schema for an
// object.
type Tool struct {
	Name        string
	Description string
	Schema      json.RawMessage
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// MaxReplyUsage bounds the input or output tokens one reply can
// plausibly use; a provider reporting more is broken or hostile.
const MaxReplyUsage = 1_000_000_000_000

// Add returns the sum of two usages. It saturates instead of wrapping,
// so that no count a provider reports can bring a total back under a
// limit.
func (u Usage) Add(o Usage) Usage {
	return Usage{InputTokens: addSat(u.InputTokens, o.InputTokens), OutputTokens: addSat(u.OutputTokens, o.OutputTokens)}
}

// Total is input and output tokens together, saturating like Add.
func (u Usage) Total() int64 { return addSat(u.InputTokens, u.OutputTokens) }

// CheckUsage refuses a reply's usage that cannot be true: a negative
// count, or more than MaxReplyUsage tokens either way. Such counts would
// make a token limit meaningless, so they fail the turn.
func CheckUsage(c Config, u Usage) error {
	ok := func(n int64) bool { return n >= 0 && n <= MaxReplyUsage }
	if ok(u.InputTokens) && ok(u.OutputTokens) {
		return nil
	}
	return &Error{Provider: c.Name, Kind: ErrProtocol,
		Message: fmt.Sprintf("it reported %d input and %d output tokens for one reply, which cannot be right (a count must be between 0 and %d)",
			u.InputTokens, u.OutputTokens, int64(MaxReplyUsage)),
		Hint: fmt.Sprintf("check that %s is a model server you trust", c.BaseURL)}
}

// Checked is how a provider ends Stream: usage that CheckUsage refuses
// is not counted, and it fails the turn unless err already does.
func Checked(c Config, r Reply, err error) (Reply, error) {
	if uerr := CheckUsage(c, r.Usage); uerr != nil {
		r.Usage = Usage{}
		if err == nil {
			err = uerr
		}
	}
	return r, err
}

func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// Request is one call to a model: everything the model sees.
type Request struct {
	System    string
	Messages  []Message
	Tools     []Tool
	MaxTokens int64 // for this reply; 0 leaves the provider's default
}

// Reply is one assistant turn.
type Reply struct {
	Message    Message
	Usage      Usage
	StopReason string // as the provider said it: stop, tool_calls, end_turn, ...
}

// Cut reports whether the reply stopped at its token limit, which leaves
// the last tool call's arguments incomplete.
func (r Reply) Cut() bool {
	return r.StopReason == "length" || r.StopReason == "max_tokens"
}

// Provider streams assistant turns from a model.
type Provider interface {
	// Name is the provider as configured ("openai", "anthropic", or the
	// name of a providers.<name> entry).
	Name() string
	// Model is the model asked.
	Model() string
	// Stream sends req and calls onText with each piece of assistant
	// text as it arrives. It returns the whole turn. On an error after
	// streaming began, the reply holds what had arrived.
	Stream(ctx context.Context, req Request, onText func(string)) (Reply, error)
}
