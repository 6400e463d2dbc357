// Package mcp serves Krellin's agent tools (package tools) over the Model
// Context Protocol, so any MCP agent works in a capsule: every command
// and every change it makes is one serialized, recorded action, credited
// to the agent by the name its client gives.
package mcp

import (
	"context"
	"fmt"
	"log/slog"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tools"
)

// Options configure a server.
type Options struct {
	Version string // Krellin's version, told to clients
	// Author, when set, is who actions are credited to; otherwise the
	// MCP client's name ("claude-code", "cursor", ...).
	Author string
	Log    *slog.Logger // never stdout: stdout carries the protocol
}

// NewServer returns an MCP server whose tools act through set.
func NewServer(set *tools.Set, o Options) *sdk.Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "krellin", Title: "Krellin capsule", Version: o.Version},
		&sdk.ServerOptions{
			Logger: o.Log,
			Instructions: "These tools act in a Krellin capsule: a container holding a copy of the " +
				"repository at /workspace, with no network unless you use fetch. Every command and " +
				"change is recorded as one action in the session log; reset goes back to any action.",
		})
	for _, t := range set.List() {
		s.AddTool(toolOf(t), handler(set, t, o))
	}
	s.AddReceivingMiddleware(unknownTools(set))
	return s
}

// unknownTools answers a call of a tool that does not exist with an
// error result naming the tools, which the model can act on, instead of
// the protocol error the SDK would send.
func unknownTools(set *tools.Set) sdk.Middleware {
	known := map[string]bool{}
	for _, t := range set.List() {
		known[t.Name] = true
	}
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			call, ok := req.(*sdk.CallToolRequest)
			if method != "tools/call" || !ok || call.Params == nil || known[call.Params.Name] {
				return next(ctx, method, req)
			}
			res := set.Call(ctx, call.Params.Name, nil, "")
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: res.Text}}, IsError: true}, nil
		}
	}
}

// Serve runs the server on transport until the client disconnects or ctx
// ends.
func Serve(ctx context.Context, set *tools.Set, o Options, transport sdk.Transport) error {
	if err := NewServer(set, o).Run(ctx, transport); err != nil && ctx.Err() == nil {
		return fmt.Errorf("mcp server: %w", err)
	}
	return nil
}

// toolOf describes a Krellin tool in MCP terms, with hints a client can
// use to decide what needs the user's approval.
func toolOf(t tools.Tool) *sdk.Tool {
	destructive := t.Name == "reset"
	openWorld := t.Name == "fetch"
	return &sdk.Tool{
		Name: t.Name, Description: t.Description, InputSchema: t.InputSchema,
		Annotations: &sdk.ToolAnnotations{
			ReadOnlyHint:    !t.Mutates,
			DestructiveHint: &destructive,
			OpenWorldHint:   &openWorld,
		},
	}
}

// handler calls one tool, crediting the action to the client. A failed
// call is a tool result with IsError set, which the model reads; it is
// never a protocol error.
func handler(set *tools.Set, t tools.Tool, o Options) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		author := authorOf(req.Session, o.Author)
		res := set.WithAuthor(author).Call(ctx, t.Name, req.Params.Arguments, "")
		if res.IsError {
			o.Log.Info("tool call failed", "tool", t.Name, "author", author.Name, "result", firstLine(res.Text))
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: res.Text}}, IsError: res.IsError}, nil
	}
}

// authorOf names the agent: the override, or the client's own name.
func authorOf(ss *sdk.ServerSession, override string) api.Author {
	if override != "" {
		return api.Author{Name: override, Email: "mcp@krellin.invalid"}
	}
	name := "mcp client"
	if ss != nil {
		if p := ss.InitializeParams(); p != nil && p.ClientInfo != nil && p.ClientInfo.Name != "" {
			name = p.ClientInfo.Name
			if p.ClientInfo.Version != "" {
				name += " " + p.ClientInfo.Version
			}
		}
	}
	return api.Author{Name: name, Email: "mcp@krellin.invalid"}
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
