// Package openai is an llm.Provider for OpenAI-compatible chat
// completions with native tool calling (OpenAI, Ollama, llama.cpp's
// server, vLLM), through the official SDK's streaming API and its
// accumulator.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/krellin/krellin/llm"
)

// Provider talks to one chat completions endpoint.
type Provider struct {
	cfg llm.Config
	svc oa.ChatCompletionService
}

var _ llm.Provider = (*Provider)(nil)

// New returns a provider for a resolved configuration. The SDK's client
// constructor is not used because it reads OPENAI_API_KEY, OPENAI_BASE_URL
// and other variables from the environment: the key must come only from
// the variable the user's config names, and a local server gets none.
func New(cfg llm.Config) *Provider {
	opts := []option.RequestOption{option.WithBaseURL(cfg.BaseURL)}
	if cfg.MaxRetries != 0 {
		opts = append(opts, option.WithMaxRetries(max(cfg.MaxRetries, 0)))
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	return &Provider{cfg: cfg, svc: oa.NewChatCompletionService(opts...)}
}

func (p *Provider) Name() string  { return p.cfg.Name }
func (p *Provider) Model() string { return p.cfg.Model }

// Stream sends one chat completion request and streams the reply.
func (p *Provider) Stream(ctx context.Context, req llm.Request, onText func(string)) (llm.Reply, error) {
	params, err := p.params(req)
	if err != nil {
		return llm.Reply{}, err
	}
	sctx, idle := llm.WatchIdle(ctx, p.cfg.IdleTimeout)
	defer idle.Stop()
	stream := p.svc.NewStreaming(sctx, params, option.WithMiddleware(idle.Middleware))
	defer stream.Close()

	var acc oa.ChatCompletionAccumulator
	var usage llm.Usage
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			return llm.Checked(p.cfg, reply(&acc, usage), &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrProtocol,
				Message: fmt.Sprintf("chunk %q does not continue the reply", chunk.ID)})
		}
		for _, c := range chunk.Choices {
			if c.Index == 0 && c.Delta.Content != "" && onText != nil {
				onText(c.Delta.Content)
			}
		}
		// The accumulator adds up usage from every chunk; a server that
		// reports running totals (vLLM's continuous usage stats) would be
		// counted many times over, so the last report wins instead.
		if u := chunk.Usage; u.PromptTokens != 0 || u.CompletionTokens != 0 {
			usage = llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
		}
	}
	if err := stream.Err(); err != nil {
		if ctx.Err() == nil && llm.Fired(sctx) {
			err = llm.StalledError(p.cfg, p.cfg.IdleTimeout)
		} else {
			err = p.classify(ctx, err)
		}
		return llm.Checked(p.cfg, reply(&acc, usage), err)
	}
	if len(acc.Choices) == 0 {
		return llm.Checked(p.cfg, reply(&acc, usage), &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrProtocol, Message: "the stream ended without a reply"})
	}
	return llm.Checked(p.cfg, reply(&acc, usage), nil)
}

// reply reads the assistant turn out of the accumulator. Tool calls are
// read by their fields rather than through the SDK's union, which needs
// a "type" that some compatible servers leave out.
func reply(acc *oa.ChatCompletionAccumulator, usage llm.Usage) llm.Reply {
	r := llm.Reply{Message: llm.Message{Role: llm.Assistant}, Usage: usage}
	if len(acc.Choices) == 0 {
		return r
	}
	c := acc.Choices[0]
	r.StopReason = c.FinishReason
	r.Message.Text = c.Message.Content
	for i, tc := range c.Message.ToolCalls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", i)
		}
		r.Message.ToolCalls = append(r.Message.ToolCalls, llm.ToolCall{ID: id, Name: tc.Function.Name,
			Args: json.RawMessage(tc.Function.Arguments)})
	}
	return r
}

func (p *Provider) params(req llm.Request) (oa.ChatCompletionNewParams, error) {
	params := oa.ChatCompletionNewParams{
		Model:         shared.ChatModel(p.cfg.Model),
		StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
	}
	if req.MaxTokens > 0 {
		// OpenAI's own API wants max_completion_tokens (and refuses
		// max_tokens for its reasoning models); the compatible servers
		// know max_tokens.
		if strings.HasPrefix(p.cfg.BaseURL, "https://api.openai.com/") {
			params.MaxCompletionTokens = oa.Int(req.MaxTokens)
		} else {
			params.MaxTokens = oa.Int(req.MaxTokens)
		}
	}
	for _, t := range req.Tools {
		var schema shared.FunctionParameters
		if err := json.Unmarshal(t.Schema, &schema); err != nil {
			return params, fmt.Errorf("tool %s: schema: %w", t.Name, err)
		}
		params.Tools = append(params.Tools, oa.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: oa.String(t.Description), Parameters: schema,
		}))
	}
	if req.System != "" {
		params.Messages = append(params.Messages, oa.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		params.Messages = append(params.Messages, messages(m)...)
	}
	return params, nil
}

// messages renders one turn: a user turn with tool results becomes one
// "tool" message per result, then the user's text if any.
func messages(m llm.Message) []oa.ChatCompletionMessageParamUnion {
	var out []oa.ChatCompletionMessageParamUnion
	if m.Role == llm.Assistant {
		var a oa.ChatCompletionAssistantMessageParam
		if m.Text != "" {
			a.Content.OfString = oa.String(m.Text)
		}
		for _, tc := range m.ToolCalls {
			args := string(tc.Args)
			if !json.Valid(tc.Args) {
				args = "{}"
			}
			a.ToolCalls = append(a.ToolCalls, oa.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &oa.ChatCompletionMessageFunctionToolCallParam{ID: tc.ID,
					Function: oa.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.WireName(), Arguments: args}},
			})
		}
		return append(out, oa.ChatCompletionMessageParamUnion{OfAssistant: &a})
	}
	for _, r := range m.ToolResults {
		text := r.Text
		if r.IsError {
			// Chat completions have no error flag on a tool result.
			text = "error: " + text
		}
		out = append(out, oa.ToolMessage(text, r.CallID))
	}
	if m.Text != "" {
		out = append(out, oa.UserMessage(m.Text))
	}
	return out
}

// classify turns the SDK's errors into llm errors with a hint.
func (p *Provider) classify(ctx context.Context, err error) error {
	var apiErr *oa.Error
	if errors.As(err, &apiErr) {
		msg := apiErr.Message
		if msg == "" {
			msg = gjson.Get(apiErr.RawJSON(), "error").String()
		}
		return llm.HTTPError(p.cfg, apiErr.StatusCode, msg)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		msg := gjson.GetBytes(se.Event.Data, "error.message").String()
		if msg == "" {
			msg = gjson.GetBytes(se.Event.Data, "error").String()
		}
		return &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrServer, Message: "error in the stream: " + msg}
	}
	return llm.TransportError(ctx, p.cfg, err)
}
