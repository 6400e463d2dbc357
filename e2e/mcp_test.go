//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpTools is every tool `krellin mcp` must offer.
var mcpTools = []string{"apply_patch", "diff", "edit_file", "fetch", "list_files", "log",
	"read_file", "reset", "run", "search", "write_file"}

// mcpSession starts `krellin mcp` in the repository and connects the Go
// SDK's client to it as clientName.
func (e *env) mcpSession(clientName string, args ...string) *sdk.ClientSession {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	e.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "krellin"), append([]string{"mcp"}, args...)...)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := sdk.NewClient(&sdk.Implementation{Name: clientName, Version: "1.0"}, nil)
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		e.t.Fatalf("connect to krellin mcp: %v\nstderr:\n%s", err, stderr.String())
	}
	e.t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool and returns its text and whether it is an error
// result. A protocol error fails the test: failures must be results.
func call(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s(%v): protocol error %v; a failed call must be a tool result", name, args, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func TestMCP_ToolsWithGoClient(t *testing.T) {
	e := newEnv(t)
	e.up()
	cs := e.mcpSession("e2e-agent")

	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		schema, _ := json.Marshal(tl.InputSchema)
		if tl.Description == "" || !strings.Contains(string(schema), `"type":"object"`) {
			t.Errorf("tool %s: description %q, schema %s", tl.Name, tl.Description, schema)
		}
	}
	if !slices.Equal(names, mcpTools) {
		t.Fatalf("tools = %v, want %v", names, mcpTools)
	}
	before := len(e.log(""))

	steps := []struct {
		name    string
		tool    string
		args    map[string]any
		want    string // in the result text
		isError bool
		records bool // adds an action to the log
	}{
		{"run reports exit status and output", "run", map[string]any{"command": "echo out; echo err >&2; exit 3"}, "exit status 3", false, true},
		{"write creates a file", "write_file", map[string]any{"path": "notes/todo.txt", "content": "one\ntwo\nthree\n"}, "wrote 14 bytes", false, true},
		{"read numbers lines", "read_file", map[string]any{"path": "notes/todo.txt"}, "2| two", false, false},
		{"read takes a line range", "read_file", map[string]any{"path": "notes/todo.txt", "start_line": 3, "end_line": 3}, "3| three", false, false},
		{"edit replaces one match", "edit_file", map[string]any{"path": "notes/todo.txt", "old_text": "two", "new_text": "TWO"}, "edited", false, true},
		{"edit with no match fails", "edit_file", map[string]any{"path": "notes/todo.txt", "old_text": "four", "new_text": "x"}, "not found", true, true},
		{"edit with two matches fails", "edit_file", map[string]any{"path": "README.md", "old_text": "l", "new_text": "L"}, "matches 2 times", true, true},
		{"patch applies", "apply_patch", map[string]any{"patch": "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n hello\n+patched\n"}, "applied", false, true},
		{"list shows recorded files", "list_files", map[string]any{"dir": "notes"}, "notes/todo.txt", false, false},
		{"search finds lines", "search", map[string]any{"pattern": "^pat+ched$"}, "README.md:2: patched", false, false},
		{"bad regexp is a readable error", "search", map[string]any{"pattern": "("}, "not a regular expression", true, false},
		{"log lists actions", "log", map[string]any{"last": 3}, "patch", false, false},
		{"diff from the base", "diff", map[string]any{"from": 0}, "+TWO", false, false},
		{"fetch runs with network", "fetch", map[string]any{"command": "true"}, "exit status 0", false, true},
		{"read outside the workspace is refused", "read_file", map[string]any{"path": "../../etc/passwd"}, "outside", true, false},
		{"unknown argument is refused", "run", map[string]any{"cmd": "true"}, "bad arguments", true, false},
		{"unknown tool is a readable error", "rm_rf", map[string]any{}, "the tools are apply_patch", true, false},
		{"a workdir that does not exist is refused", "run", map[string]any{"command": "pwd", "workdir": "nowhere"}, "not a directory of the workspace", true, false},
		{"a workdir runs there", "run", map[string]any{"command": "pwd", "workdir": "notes"}, "/workspace/notes", false, true},
		{"reset goes back to the base", "reset", map[string]any{"to_seq": 0}, "reset to action 0", false, true},
		{"after reset the file is gone", "read_file", map[string]any{"path": "notes/todo.txt"}, "does not exist", true, false},
	}
	recorded := 0
	for _, s := range steps {
		text, isErr := call(t, cs, s.tool, s.args)
		if isErr != s.isError || !strings.Contains(text, s.want) {
			t.Errorf("%s: %s(%v) = %q (error %v), want %q (error %v)", s.name, s.tool, s.args, text, isErr, s.want, s.isError)
		}
		if s.records {
			recorded++
		}
	}

	acts := e.log("")[before:]
	if len(acts) != recorded {
		t.Fatalf("%d actions recorded, want %d (one per mutating call, none for reads): %+v", len(acts), recorded, acts)
	}
	for _, a := range acts {
		if a.Author != "e2e-agent 1.0" {
			t.Errorf("action %d (%s) author %q, want the MCP client's name", a.Seq, a.Subject, a.Author)
		}
	}
	e.fsck()
}

func TestMCP_AuthorOverrideAndSession(t *testing.T) {
	e := newEnv(t)
	e.up()
	cs := e.mcpSession("e2e-agent", "--author", "reviewer-bot", "--session", "agent-1")
	if text, isErr := call(t, cs, "run", map[string]any{"command": "echo hi"}); isErr {
		t.Fatalf("run: %s", text)
	}
	last := e.log("agent-1")
	if a := last[len(last)-1]; a.Author != "reviewer-bot" || a.Action != "run" {
		t.Fatalf("last action of agent-1: %+v, want a run by reviewer-bot", a)
	}
	// The operator moves the capsule to another session: the agent's
	// calls fail readably instead of writing there.
	e.up("--session", "operator")
	text, isErr := call(t, cs, "run", map[string]any{"command": "echo again"})
	if !isErr || !strings.Contains(text, "agent-1") {
		t.Fatalf("run after the session switched = %q (error %v), want a readable refusal naming agent-1", text, isErr)
	}
}

// inspector returns the MCP Inspector's command-line entry point. CI
// installs it (see .ci/run) and names it in KRELLIN_MCP_INSPECTOR.
func inspector(t *testing.T) string {
	p := os.Getenv("KRELLIN_MCP_INSPECTOR")
	if p == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KRELLIN_MCP_INSPECTOR is not set; .ci/run installs the MCP Inspector and sets it")
		}
		t.Skip("set KRELLIN_MCP_INSPECTOR to the mcp-inspector binary of `npm install @modelcontextprotocol/inspector` to run this test")
	}
	return p
}

// inspect runs one MCP Inspector CLI request against `krellin mcp` and
// decodes its JSON answer.
func (e *env) inspect(bin string, args ...string) map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	argv := []string{"--cli"}
	for _, kv := range e.environ() {
		argv = append(argv, "-e", kv)
	}
	argv = append(argv, filepath.Join(binDir, "krellin"), "mcp")
	cmd := exec.CommandContext(ctx, bin, append(argv, args...)...)
	cmd.Dir, cmd.Env = e.repo, append(e.environ(), "NO_COLOR=1")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		e.t.Fatalf("inspector %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		e.t.Fatalf("inspector %v printed no JSON: %v\n%s", args, err, out)
	}
	return v
}

func TestMCP_Inspector(t *testing.T) {
	bin := inspector(t)
	e := newEnv(t)
	e.up()

	list := e.inspect(bin, "--method", "tools/list")
	var names []string
	for _, tl := range list["tools"].([]any) {
		names = append(names, tl.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, mcpTools) {
		t.Fatalf("inspector lists %v, want %v", names, mcpTools)
	}

	calls := []struct {
		tool    string
		args    []string
		want    string
		isError bool
	}{
		{"run", []string{"command=echo from-inspector"}, "from-inspector", false},
		{"fetch", []string{"command=true"}, "exit status 0", false},
		{"write_file", []string{"path=a.txt", "content=alpha\n"}, "wrote 6 bytes", false},
		{"read_file", []string{"path=a.txt"}, "1| alpha", false},
		{"edit_file", []string{"path=a.txt", "old_text=alpha", "new_text=beta"}, "edited", false},
		{"edit_file", []string{"path=a.txt", "old_text=gamma", "new_text=x"}, "not found", true},
		{"apply_patch", []string{"patch=--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-beta\n+delta\n"}, "applied", false},
		{"list_files", []string{}, "a.txt", false},
		{"search", []string{"pattern=delt"}, "a.txt:1: delta", false},
		{"log", []string{}, "6 ok patch", false},
		{"diff", []string{"from=0"}, "+delta", false},
		{"reset", []string{"to_seq=0"}, "reset to action 0", false},
	}
	start := time.Now()
	for _, c := range calls {
		args := []string{"--method", "tools/call", "--tool-name", c.tool}
		for _, a := range c.args {
			args = append(args, "--tool-arg", a)
		}
		res := e.inspect(bin, args...)
		isErr, _ := res["isError"].(bool)
		text := ""
		for _, item := range res["content"].([]any) {
			text += item.(map[string]any)["text"].(string)
		}
		if isErr != c.isError || !strings.Contains(text, c.want) {
			t.Errorf("inspector %s %v = %q (error %v), want %q (error %v)", c.tool, c.args, text, isErr, c.want, c.isError)
		}
	}
	t.Logf("%d inspector calls in %s", len(calls), time.Since(start).Round(time.Millisecond))
	for _, a := range e.log("")[1:] {
		if !strings.HasPrefix(a.Author, "inspector") {
			t.Errorf("action %d author %q, want the Inspector's client name", a.Seq, a.Author)
		}
	}
}
