package scripted

import (
	"encoding/json"
	"fmt"
	"net/http"
)

type anBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
}

type anMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anRequest struct {
	Model     string      `json:"model"`
	MaxTokens int64       `json:"max_tokens"`
	Messages  []anMessage `json:"messages"`
	Stream    bool        `json:"stream"`
}

// blocks reads a message's content, a string or a list of blocks.
func (m anMessage) blocks() ([]anBlock, error) {
	var text string
	if json.Unmarshal(m.Content, &text) == nil {
		return []anBlock{{Type: "text", Text: &text}}, nil
	}
	var bs []anBlock
	err := json.Unmarshal(m.Content, &bs)
	return bs, err
}

// checkAnthropic refuses what the Messages API refuses: a missing model,
// max_tokens or version header, turns that do not alternate, empty text
// blocks, and tool results that do not answer exactly the tool uses of
// the assistant turn before them.
func checkAnthropic(r *http.Request, body []byte) (anRequest, error) {
	var req anRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: body is not JSON: %v", errBadRequest, err)
	}
	if r.Header.Get("anthropic-version") == "" {
		return req, fmt.Errorf("%w: anthropic-version: header is required", errBadRequest)
	}
	if req.Model == "" || req.MaxTokens <= 0 || len(req.Messages) == 0 {
		return req, fmt.Errorf("%w: model, max_tokens and messages are required", errBadRequest)
	}
	if !req.Stream {
		return req, fmt.Errorf("%w: this server only streams", errBadRequest)
	}
	var pending map[string]bool
	for i, m := range req.Messages {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return req, fmt.Errorf("%w: messages.%d: roles must alternate user and assistant, starting with user", errBadRequest, i)
		}
		bs, err := m.blocks()
		if err != nil {
			return req, fmt.Errorf("%w: messages.%d.content: %v", errBadRequest, i, err)
		}
		answered := map[string]bool{}
		uses := map[string]bool{}
		for j, b := range bs {
			switch b.Type {
			case "text":
				if b.Text == nil || *b.Text == "" {
					return req, fmt.Errorf("%w: messages.%d.content.%d: text content blocks must be non-empty", errBadRequest, i, j)
				}
			case "tool_use":
				if m.Role != "assistant" || b.ID == "" || b.Name == "" || !json.Valid(b.Input) || b.Input[0] != '{' {
					return req, fmt.Errorf("%w: messages.%d.content.%d: bad tool_use block", errBadRequest, i, j)
				}
				uses[b.ID] = true
			case "tool_result":
				if m.Role != "user" || !pending[b.ToolUseID] {
					return req, fmt.Errorf("%w: messages.%d.content.%d: unexpected tool_use_id %q in tool_result blocks: each tool_result must answer a tool_use of the previous message", errBadRequest, i, j, b.ToolUseID)
				}
				answered[b.ToolUseID] = true
			default:
				return req, fmt.Errorf("%w: messages.%d.content.%d: unknown block type %q", errBadRequest, i, j, b.Type)
			}
		}
		for id := range pending {
			if !answered[id] {
				return req, fmt.Errorf("%w: messages.%d: tool_use ids were found without tool_result blocks immediately after: %s", errBadRequest, i, id)
			}
		}
		pending = uses
	}
	return req, nil
}

func (s *Server) anthropic(w http.ResponseWriter, r *http.Request) {
	body := s.record("anthropic", r)
	// The API documents x-api-key as the header for an API key; a key
	// sent any other way is refused, as a missing one would be.
	if !s.checkKey(r.Header.Get("X-Api-Key")) {
		errorReply(w, Turn{Status: 401}, anError("authentication_error", "invalid x-api-key"))
		return
	}
	req, err := checkAnthropic(r, body)
	if err != nil {
		errorReply(w, Turn{Status: 400}, anError("invalid_request_error", err.Error()))
		return
	}
	t, err := s.turn()
	if err != nil {
		errorReply(w, Turn{Status: 500}, anError("api_error", err.Error()))
		return
	}
	if t.Status != 0 {
		errorReply(w, t, anError(anErrorType(t.Status), t.Error))
		return
	}

	e := startSSE(w)
	e.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": s.id("msg_"), "type": "message", "role": "assistant", "content": []any{},
		"model": req.Model, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": t.InputTokens, "output_tokens": 1}}})
	index := 0
	if t.Text != "" {
		e.send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		e.send("ping", map[string]any{"type": "ping"})
		for _, p := range pieces(t.Text, 7) {
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "text_delta", "text": p}})
		}
	}
	if t.StreamError != "" {
		e.send("error", anError("overloaded_error", t.StreamError))
		return
	}
	if t.Hold {
		s.hold(r)
		return
	}
	if t.Text != "" {
		e.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
		index++
	}
	for _, c := range t.Calls {
		id := c.ID
		if id == "" {
			id = s.id("toolu_")
		}
		e.send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": id, "name": c.Name, "input": map[string]any{}}})
		e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
			"delta": map[string]any{"type": "input_json_delta", "partial_json": ""}})
		for _, p := range pieces(c.Args, 5) {
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
		}
		e.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	stop := "end_turn"
	switch {
	case t.Cut:
		stop = "max_tokens"
	case len(t.Calls) > 0:
		stop = "tool_use"
	}
	e.send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": t.OutputTokens}})
	e.send("message_stop", map[string]any{"type": "message_stop"})
}

func anError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg},
		"request_id": "req_scripted"}
}

func anErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}
