// Package llm is the provider-neutral view of a chat model with tool
// calling: a conversation of messages, the tools offered, and a Provider
// that streams one assistant turn at a time. The wire formats live in
// llm/openai and llm/anthropic; llm/scripted replays both for tests.
package llm

import (
	"context"
	"encoding/json"
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

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{InputTokens: u.InputTokens + o.InputTokens, OutputTokens: u.OutputTokens + o.OutputTokens}
}

// Total is input and output tokens together.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

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
