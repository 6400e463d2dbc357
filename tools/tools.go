// Package tools is the set of tools an agent gets in a capsule: run a
// command, fetch, read, write, edit, patch, list, search, log, diff and
// reset. The MCP server and the built-in agent loop both serve this one
// set, so an agent sees the same tools however it connects. Every call
// that changes the workspace or runs a command is one action on the
// daemon, recorded with the agent as its author; reads record nothing.
package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/krellin/krellin/api"
)

// Tool describes one tool to a model.
type Tool struct {
	Name        string
	Description string
	InputSchema json.RawMessage // a JSON Schema for an object
	Mutates     bool            // it records an action
}

// Result is what a tool call returns to the model. A failed call is a
// result with IsError set and a message the model can act on, never a
// Go error: the conversation goes on.
type Result struct {
	Text    string
	IsError bool
}

// Daemon is the part of the API client the tools use.
type Daemon interface {
	Act(ctx context.Context, req api.ActionRequest, stdout, stderr io.Writer) (api.Action, error)
	ReadFile(ctx context.Context, t api.Target, path string) (api.FileContent, error)
	ListFiles(ctx context.Context, t api.Target, dir string, limit int) (api.FileList, error)
	Search(ctx context.Context, req api.SearchRequest) (api.SearchResult, error)
	Log(ctx context.Context, t api.Target) ([]api.Action, error)
	Diff(ctx context.Context, req api.DiffRequest) (string, error)
}

var _ Daemon = (*api.Client)(nil)

// Set is the tools bound to one capsule's session and one author.
type Set struct {
	d      Daemon
	target api.Target
	author api.Author
	tools  map[string]tool
}

// tool is a Tool with its implementation.
type tool struct {
	Tool
	call func(ctx context.Context, s *Set, args json.RawMessage, why string) Result
}

// New returns the tool set acting on target as author.
func New(d Daemon, target api.Target, author api.Author) *Set {
	s := &Set{d: d, target: target, author: author, tools: map[string]tool{}}
	for _, t := range all() {
		s.tools[t.Name] = t
	}
	return s
}

// WithAuthor returns the same tools crediting their actions to a.
func (s *Set) WithAuthor(a api.Author) *Set {
	c := *s
	c.author = a
	return &c
}

// Author is who the recorded actions are credited to.
func (s *Set) Author() api.Author { return s.author }

// List returns the tools, sorted by name.
func (s *Set) List() []Tool {
	out := make([]Tool, 0, len(s.tools))
	for _, t := range s.tools {
		out = append(out, t.Tool)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Call runs tool name with JSON arguments. Why is what led to the call
// (the model's reasoning), kept in the action's note; it may be empty.
func (s *Set) Call(ctx context.Context, name string, args json.RawMessage, why string) Result {
	t, ok := s.tools[name]
	if !ok {
		return Result{Text: fmt.Sprintf("unknown tool %q; the tools are %s", name, s.names()), IsError: true}
	}
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	return t.call(ctx, s, args, why)
}

func (s *Set) names() string {
	var ns []string
	for _, t := range s.List() {
		ns = append(ns, t.Name)
	}
	return strings.Join(ns, ", ")
}
