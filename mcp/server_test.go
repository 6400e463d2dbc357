package mcp

import (
	"context"
	"io"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/tools"
)

// recorder is a daemon that records the actions asked of it and fails
// every read.
type recorder struct{ acts []api.ActionRequest }

var _ tools.Daemon = (*recorder)(nil)

func (r *recorder) Act(_ context.Context, req api.ActionRequest, _, _ io.Writer) (api.Action, error) {
	r.acts = append(r.acts, req)
	zero := 0
	return api.Action{Seq: len(r.acts), Status: api.StatusOK, ExitCode: &zero}, nil
}

func (r *recorder) ReadFile(context.Context, api.Target, string) (api.FileContent, error) {
	return api.FileContent{}, &api.Error{Kind: api.KindNotFound, Message: "nope.txt does not exist in the workspace"}
}

func (r *recorder) ListFiles(context.Context, api.Target, string, int) (api.FileList, error) {
	return api.FileList{}, nil
}

func (r *recorder) Search(context.Context, api.SearchRequest) (api.SearchResult, error) {
	return api.SearchResult{}, nil
}

func (r *recorder) Log(context.Context, api.Target) ([]api.Action, error) { return nil, nil }

func (r *recorder) Diff(context.Context, api.DiffRequest) (string, error) { return "", nil }

// connect serves set in memory and connects a client named name.
func connect(t *testing.T, d tools.Daemon, o Options, name string) *sdk.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := sdk.NewInMemoryTransports()
	set := tools.New(d, api.Target{Repo: "/repo"}, api.Author{Name: "unused"})
	ss, err := NewServer(set, o).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := sdk.NewClient(&sdk.Implementation{Name: name, Version: "2.1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestServer_CreditsTheClient(t *testing.T) {
	tests := []struct {
		name     string
		override string
		want     string
	}{
		{"client name and version", "", "claude-code 2.1"},
		{"override wins", "reviewer", "reviewer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &recorder{}
			cs := connect(t, d, Options{Author: tt.override}, "claude-code")
			res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "run", Arguments: map[string]any{"command": "true"}})
			if err != nil || res.IsError {
				t.Fatalf("run: %v %+v", err, res)
			}
			if len(d.acts) != 1 || d.acts[0].Author.Name != tt.want {
				t.Fatalf("actions %+v, want one by %q", d.acts, tt.want)
			}
		})
	}
}

func TestServer_FailuresAreResults(t *testing.T) {
	cs := connect(t, &recorder{}, Options{}, "agent")
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "read_file", Arguments: map[string]any{"path": "nope.txt"}})
	if err != nil {
		t.Fatalf("a failed read is a protocol error: %v", err)
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if !res.IsError || text != "nope.txt does not exist in the workspace" {
		t.Fatalf("result %q (error %v), want the daemon's message as an error result", text, res.IsError)
	}
}

func TestServer_Hints(t *testing.T) {
	cs := connect(t, &recorder{}, Options{}, "agent")
	list, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range list.Tools {
		readOnly := tl.Annotations.ReadOnlyHint
		wantRO := map[string]bool{"read_file": true, "list_files": true, "search": true, "log": true, "diff": true}[tl.Name]
		if readOnly != wantRO {
			t.Errorf("%s: read-only hint %v, want %v", tl.Name, readOnly, wantRO)
		}
		if destructive := *tl.Annotations.DestructiveHint; destructive != (tl.Name == "reset") {
			t.Errorf("%s: destructive hint %v", tl.Name, destructive)
		}
	}
}
