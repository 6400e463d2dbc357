// Package anthropic is an llm.Provider for the Anthropic Messages API,
// through the official SDK's streaming API and its accumulator
// (Message.Accumulate).
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/krellin/krellin/llm"
)

// defaultMaxTokens is the reply limit when the caller gives none; the
// Messages API requires one.
const defaultMaxTokens = 8192

// Provider talks to one Messages API endpoint.
type Provider struct {
	cfg    llm.Config
	client sdk.Client
}

var _ llm.Provider = (*Provider)(nil)

// New returns a provider for a resolved configuration. The environment
// defaults are off: the key comes only from the variable the user's
// config names, never from ANTHROPIC_API_KEY behind its back or a
// profile on disk, and a local server gets none.
func New(cfg llm.Config) *Provider {
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithoutOpenTelemetry(),
		option.WithBaseURL(cfg.BaseURL),
	}
	if cfg.MaxRetries != 0 {
		opts = append(opts, option.WithMaxRetries(max(cfg.MaxRetries, 0)))
	}
	if cfg.APIKey != "" {
		// The API documents x-api-key for API keys. This SDK's WithAPIKey
		// sends the key as a bearer token instead, so the header is set by
		// hand, as the SDK's own Foundry client does.
		opts = append(opts, option.WithHeader("X-Api-Key", cfg.APIKey))
	}
	return &Provider{cfg: cfg, client: sdk.NewClient(opts...)}
}

func (p *Provider) Name() string  { return p.cfg.Name }
func (p *Provider) Model() string { return p.cfg.Model }

// Stream sends one Messages request and streams the reply.
func (p *Provider) Stream(ctx context.Context, req llm.Request, onText func(string)) (llm.Reply, error) {
	params, err := p.params(req)
	if err != nil {
		return llm.Reply{}, err
	}
	sctx, idle := llm.WatchIdle(ctx, p.cfg.IdleTimeout)
	defer idle.Stop()
	stream := p.client.Messages.NewStreaming(sctx, params, option.WithMiddleware(idle.Middleware))
	defer stream.Close()

	var acc sdk.Message
	// The accumulator replaces tool input that is not valid JSON with {}
	// when the block stops, and the tool would run with no arguments;
	// the input as the model wrote it is kept here, by block index.
	inputs := map[int64]*strings.Builder{}
	for stream.Next() {
		ev := stream.Current()
		if err := acc.Accumulate(ev); err != nil {
			return llm.Checked(p.cfg, reply(acc, inputs), &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrProtocol, Message: err.Error()})
		}
		if ev.Type != "content_block_delta" {
			continue
		}
		switch ev.Delta.Type {
		case "text_delta":
			if onText != nil {
				onText(ev.Delta.Text)
			}
		case "input_json_delta":
			if inputs[ev.Index] == nil {
				inputs[ev.Index] = &strings.Builder{}
			}
			inputs[ev.Index].WriteString(ev.Delta.PartialJSON)
		}
	}
	if err := stream.Err(); err != nil {
		if ctx.Err() == nil && llm.Fired(sctx) {
			err = llm.StalledError(p.cfg, p.cfg.IdleTimeout)
		} else {
			err = p.classify(ctx, err)
		}
		return llm.Checked(p.cfg, reply(acc, inputs), err)
	}
	if acc.ID == "" {
		return llm.Checked(p.cfg, reply(acc, inputs), &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrProtocol, Message: "the stream ended without a message"})
	}
	return llm.Checked(p.cfg, reply(acc, inputs), nil)
}

// reply reads the assistant turn out of the accumulated message and the
// tool inputs as streamed. Blocks other than text and tool use
// (thinking) are not carried over.
func reply(m sdk.Message, inputs map[int64]*strings.Builder) llm.Reply {
	r := llm.Reply{Message: llm.Message{Role: llm.Assistant}, StopReason: string(m.StopReason),
		Usage: llm.Usage{InputTokens: m.Usage.InputTokens, OutputTokens: m.Usage.OutputTokens}}
	var text []string
	for i, b := range m.Content {
		switch b.Type {
		case "text":
			text = append(text, b.Text)
		case "tool_use":
			args := b.Input
			if in, ok := inputs[int64(i)]; ok && in.Len() > 0 {
				args = json.RawMessage(in.String())
			}
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			r.Message.ToolCalls = append(r.Message.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Args: args})
		}
	}
	r.Message.Text = strings.Join(text, "\n\n")
	return r
}

func (p *Provider) params(req llm.Request) (sdk.MessageNewParams, error) {
	params := sdk.MessageNewParams{Model: sdk.Model(p.cfg.Model), MaxTokens: req.MaxTokens}
	if params.MaxTokens <= 0 {
		params.MaxTokens = defaultMaxTokens
	}
	if req.System != "" {
		params.System = []sdk.TextBlockParam{{Text: req.System}}
	}
	for _, t := range req.Tools {
		var schema struct {
			Properties any      `json:"properties"`
			Required   []string `json:"required"`
		}
		if err := json.Unmarshal(t.Schema, &schema); err != nil {
			return params, fmt.Errorf("tool %s: schema: %w", t.Name, err)
		}
		tool := sdk.ToolParam{Name: t.Name, Description: sdk.String(t.Description),
			InputSchema: sdk.ToolInputSchemaParam{Properties: schema.Properties, Required: schema.Required}}
		params.Tools = append(params.Tools, sdk.ToolUnionParam{OfTool: &tool})
	}
	for _, m := range req.Messages {
		params.Messages = append(params.Messages, message(m))
	}
	return params, nil
}

// message renders one turn as content blocks. Empty text blocks are left
// out: the API refuses them.
func message(m llm.Message) sdk.MessageParam {
	var blocks []sdk.ContentBlockParamUnion
	if m.Role == llm.Assistant {
		if m.Text != "" {
			blocks = append(blocks, sdk.NewTextBlock(m.Text))
		}
		for _, tc := range m.ToolCalls {
			args := tc.Args
			if !json.Valid(args) {
				args = json.RawMessage("{}")
			}
			blocks = append(blocks, sdk.NewToolUseBlock(tc.ID, args, tc.WireName()))
		}
		return sdk.NewAssistantMessage(blocks...)
	}
	for _, r := range m.ToolResults {
		blocks = append(blocks, sdk.NewToolResultBlock(r.CallID, r.Text, r.IsError))
	}
	if m.Text != "" {
		blocks = append(blocks, sdk.NewTextBlock(m.Text))
	}
	return sdk.NewUserMessage(blocks...)
}

// classify turns the SDK's errors into llm errors with a hint. An error
// event inside a stream carries the stream's 200 status, so its kind
// comes from the error's type.
func (p *Provider) classify(ctx context.Context, err error) error {
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) {
		return llm.TransportError(ctx, p.cfg, err)
	}
	if apiErr.StatusCode >= 400 {
		return llm.HTTPError(p.cfg, apiErr.StatusCode, apiErr.Message)
	}
	e := &llm.Error{Provider: p.cfg.Name, Kind: llm.ErrServer, Message: "error in the stream: " + apiErr.Message}
	switch apiErr.Type() {
	case "rate_limit_error":
		e.Kind = llm.ErrRateLimit
	case "authentication_error", "permission_error":
		e.Kind = llm.ErrAuth
	case "invalid_request_error", "not_found_error":
		e.Kind = llm.ErrBadRequest
	}
	if e.Message == "error in the stream: " {
		e.Message += string(apiErr.Type())
	}
	return e
}
