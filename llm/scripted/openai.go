package scripted

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// oaMessage is a chat completions message as the server reads it.
type oaMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string  `json:"name"`
			Arguments *string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

type oaRequest struct {
	Model         string      `json:"model"`
	Messages      []oaMessage `json:"messages"`
	Stream        bool        `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// checkOpenAI refuses what the chat completions API refuses: no model or
// messages, and tool messages that do not answer the calls before them.
func checkOpenAI(body []byte) (oaRequest, error) {
	var req oaRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: body is not JSON: %v", errBadRequest, err)
	}
	if req.Model == "" || len(req.Messages) == 0 {
		return req, fmt.Errorf("%w: model and messages are required", errBadRequest)
	}
	if !req.Stream {
		return req, fmt.Errorf("%w: this server only streams", errBadRequest)
	}
	pending := map[string]bool{}
	for i, m := range req.Messages {
		switch m.Role {
		case "tool":
			if !pending[m.ToolCallID] {
				return req, fmt.Errorf("%w: messages[%d]: role 'tool' must answer a preceding 'tool_calls' (id %q)", errBadRequest, i, m.ToolCallID)
			}
			delete(pending, m.ToolCallID)
			continue
		case "system", "developer", "user", "assistant":
		default:
			return req, fmt.Errorf("%w: messages[%d]: unknown role %q", errBadRequest, i, m.Role)
		}
		if len(pending) > 0 {
			return req, fmt.Errorf("%w: messages[%d]: an assistant message with 'tool_calls' must be followed by tool messages answering each 'tool_call_id'", errBadRequest, i)
		}
		for _, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || tc.Function.Arguments == nil {
				return req, fmt.Errorf("%w: messages[%d]: a tool call needs id, type function, name and arguments", errBadRequest, i)
			}
			pending[tc.ID] = true
		}
	}
	return req, nil
}

func (s *Server) openai(w http.ResponseWriter, r *http.Request) {
	body := s.record("openai", r)
	if !s.checkKey(bearer(r)) {
		errorReply(w, Turn{Status: 401}, oaError("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
		return
	}
	req, err := checkOpenAI(body)
	if err != nil {
		errorReply(w, Turn{Status: 400}, oaError(err.Error(), "invalid_request_error", ""))
		return
	}
	t, err := s.turn()
	if err != nil {
		errorReply(w, Turn{Status: 500}, oaError(err.Error(), "server_error", ""))
		return
	}
	if t.Status != 0 {
		errorReply(w, t, oaError(t.Error, "error", ""))
		return
	}

	id := s.id("chatcmpl-")
	created := time.Now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_scripted",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
		if req.StreamOptions.IncludeUsage {
			c["usage"] = nil
		}
		return c
	}
	e := startSSE(w)
	e.send("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
	for _, p := range pieces(t.Text, 7) {
		e.send("", chunk(map[string]any{"content": p}, nil))
	}
	if t.StreamError != "" {
		e.send("", oaError(t.StreamError, "server_error", ""))
		return
	}
	if t.Hold {
		s.hold(r)
		return
	}
	for i, c := range t.Calls {
		callID := c.ID
		if callID == "" {
			callID = s.id("call_")
		}
		e.send("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": callID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": ""}}}}, nil))
		for _, p := range pieces(c.Args, 5) {
			e.send("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i,
				"function": map[string]any{"arguments": p}}}}, nil))
		}
	}
	finish := "stop"
	switch {
	case t.Cut:
		finish = "length"
	case len(t.Calls) > 0:
		finish = "tool_calls"
	}
	e.send("", chunk(map[string]any{}, finish))
	if req.StreamOptions.IncludeUsage {
		e.send("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": map[string]any{"prompt_tokens": t.InputTokens, "completion_tokens": t.OutputTokens,
				"total_tokens": t.InputTokens + t.OutputTokens}})
	}
	e.send("", []byte("[DONE]"))
}

func oaError(msg, typ, code string) map[string]any {
	var c any
	if code != "" {
		c = code
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}}
}
