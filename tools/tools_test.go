package tools

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/krellin/krellin/api"
)

// fakeDaemon serves one file and records the actions asked for.
type fakeDaemon struct {
	file []byte
	acts []api.ActionRequest
}

var _ Daemon = (*fakeDaemon)(nil)

func (f *fakeDaemon) Act(_ context.Context, req api.ActionRequest, stdout, _ io.Writer) (api.Action, error) {
	f.acts = append(f.acts, req)
	stdout.Write([]byte(strings.Repeat("x", 100<<10)))
	exit := 0
	return api.Action{Seq: len(f.acts), Status: api.StatusOK, ExitCode: &exit}, nil
}

func (f *fakeDaemon) ReadFile(context.Context, api.Target, string) (api.FileContent, error) {
	return api.FileContent{Path: "f.txt", Size: int64(len(f.file)), Content: f.file}, nil
}

func (f *fakeDaemon) ListFiles(context.Context, api.Target, string, int) (api.FileList, error) {
	return api.FileList{}, nil
}

func (f *fakeDaemon) Search(context.Context, api.SearchRequest) (api.SearchResult, error) {
	return api.SearchResult{}, nil
}

func (f *fakeDaemon) Log(context.Context, api.Target) ([]api.Action, error) { return nil, nil }

func (f *fakeDaemon) Diff(context.Context, api.DiffRequest) (string, error) { return "", nil }

func TestSet_Call(t *testing.T) {
	tests := []struct {
		name    string
		tool    string
		args    string
		want    string
		isError bool
		acts    int
	}{
		{"read numbers every line", "read_file", `{"path":"f.txt"}`, "1| a\n2| b\n3| c\n[no newline at end of file]\n", false, 0},
		{"read takes a range", "read_file", `{"path":"f.txt","start_line":2,"end_line":2}`, "2| b\n", false, 0},
		{"read past the end says so", "read_file", `{"path":"f.txt","start_line":9}`, "has 3 lines", true, 0},
		{"unknown tool names the tools", "rm_rf", `{}`, "the tools are apply_patch, diff", true, 0},
		{"misspelt argument is refused", "run", `{"comand":"ls"}`, "unknown field", true, 0},
		{"empty command is refused", "run", `{"command":" "}`, "command is empty", true, 0},
		{"edit without old text is refused", "edit_file", `{"path":"f","old_text":"","new_text":"x"}`, "old_text is empty", true, 0},
		{"reset needs a target", "reset", `{}`, "to_seq is required", true, 0},
		{"run output is cut for the model", "run", `{"command":"yes"}`, "bytes cut here", false, 1},
		{"null arguments mean none", "log", `null`, "", false, 0},
		{"log last 0 is refused", "log", `{"last":0}`, "at least 1", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDaemon{file: []byte("a\nb\nc")}
			s := New(d, api.Target{Repo: "/r"}, api.Author{Name: "agent"})
			res := s.Call(context.Background(), tt.tool, json.RawMessage(tt.args), "because")
			if res.IsError != tt.isError || !strings.Contains(res.Text, tt.want) {
				t.Fatalf("Call = %.300q (error %v), want %q (error %v)", res.Text, res.IsError, tt.want, tt.isError)
			}
			if len(d.acts) != tt.acts {
				t.Fatalf("%d actions, want %d", len(d.acts), tt.acts)
			}
			if tt.acts > 0 && (d.acts[0].Author.Name != "agent" || d.acts[0].Why != "because") {
				t.Fatalf("action author %+v why %q, want the set's author and the reason", d.acts[0].Author, d.acts[0].Why)
			}
			if len(res.Text) > maxResult+200 {
				t.Fatalf("result of %d bytes is over the %d limit", len(res.Text), maxResult)
			}
		})
	}
}

func TestSet_ListSchemas(t *testing.T) {
	s := New(&fakeDaemon{}, api.Target{}, api.Author{})
	for _, tl := range s.List() {
		var schema struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		}
		if err := json.Unmarshal(tl.InputSchema, &schema); err != nil || schema.Type != "object" {
			t.Fatalf("%s: schema %s: %v", tl.Name, tl.InputSchema, err)
		}
		for _, r := range schema.Required {
			if _, ok := schema.Properties[r]; !ok {
				t.Errorf("%s: required %q is not a property", tl.Name, r)
			}
		}
	}
}

func TestReadFile_OneHugeLine(t *testing.T) {
	d := &fakeDaemon{file: []byte(strings.Repeat("A", 3*maxResult) + "\nnext\n")}
	s := New(d, api.Target{}, api.Author{})
	res := s.Call(context.Background(), "read_file", json.RawMessage(`{"path":"f.txt"}`), "")
	if res.IsError || !strings.HasPrefix(res.Text, "1| AAAA") || !strings.Contains(res.Text, "only its first") ||
		!strings.Contains(res.Text, "start_line=2") || len(res.Text) > maxResult+200 {
		t.Fatalf("read of a huge line = %.200q... (%d bytes)", res.Text, len(res.Text))
	}
}
