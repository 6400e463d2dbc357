package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/llm"
	"github.com/krellin/krellin/llm/anthropic"
	"github.com/krellin/krellin/llm/openai"
	"github.com/krellin/krellin/llm/scripted"
	"github.com/krellin/krellin/tools"
)

// fakeTools is a Toolbox that records calls and answers from a table.
type fakeTools struct {
	mu      sync.Mutex // guards calls
	calls   []fakeCall
	answers map[string]tools.Result
	during  func(name string) // runs inside each call
}

type fakeCall struct {
	name, args, why string
}

var _ Toolbox = (*fakeTools)(nil)

func (f *fakeTools) List() []tools.Tool {
	schema := json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}}}`)
	return []tools.Tool{{Name: "run", Description: "run a command", InputSchema: schema},
		{Name: "read_file", Description: "read a file", InputSchema: schema}}
}

func (f *fakeTools) Call(ctx context.Context, name string, args json.RawMessage, why string) tools.Result {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{name, string(args), why})
	f.mu.Unlock()
	if f.during != nil {
		f.during(name)
	}
	if r, ok := f.answers[name]; ok {
		return r
	}
	return tools.Result{Text: "ok"}
}

// providers makes a provider of each wire format for a scripted server.
var providers = []struct {
	name string
	new  func(*scripted.Server) llm.Provider
}{
	{"openai", func(s *scripted.Server) llm.Provider {
		return openai.New(llm.Config{Name: "openai", Type: "openai", BaseURL: s.URL + "/v1", Model: "m1", MaxRetries: -1})
	}},
	{"anthropic", func(s *scripted.Server) llm.Provider {
		return anthropic.New(llm.Config{Name: "anthropic", Type: "anthropic", BaseURL: s.URL, Model: "m1", MaxRetries: -1})
	}},
}

// silent is a provider of wire format name whose idle timeout is d.
func silent(name string, s *scripted.Server, d time.Duration) llm.Provider {
	if name == "anthropic" {
		return anthropic.New(llm.Config{Name: name, Type: name, BaseURL: s.URL, Model: "m1", MaxRetries: -1, IdleTimeout: d})
	}
	return openai.New(llm.Config{Name: name, Type: name, BaseURL: s.URL + "/v1", Model: "m1", MaxRetries: -1, IdleTimeout: d})
}

func serve(t *testing.T, script ...scripted.Turn) *scripted.Server {
	t.Helper()
	s, err := scripted.Start(script...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func call(name, args string) []scripted.Call { return []scripted.Call{{Name: name, Args: args}} }

func TestRun(t *testing.T) {
	for _, pv := range providers {
		t.Run(pv.name, func(t *testing.T) {
			t.Run("a multi-step conversation runs each call and ends on a plain answer", func(t *testing.T) {
				s := serve(t,
					scripted.Turn{Text: "First I run the tests.", Calls: call("run", `{"command":"sh test.sh"}`), InputTokens: 100, OutputTokens: 10},
					scripted.Turn{Calls: call("read_file", `{"path":"calc.sh"}`), InputTokens: 150, OutputTokens: 5},
					scripted.Turn{Text: "Fixed: the test passes.", InputTokens: 200, OutputTokens: 7})
				tb := &fakeTools{answers: map[string]tools.Result{
					"run":       {Text: "exit status 1\nFAIL: want 4, got 5", IsError: true},
					"read_file": {Text: "1| echo $((2+3))"}}}
				var out, log bytes.Buffer
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "fix the test\nplease", Out: &out, Log: &log})

				if r.Status != api.StatusOK || r.Reason != "" || r.Steps != 3 || r.Calls != 2 {
					t.Fatalf("result %+v", r)
				}
				if r.Started.IsZero() || r.Elapsed <= 0 {
					t.Errorf("started %s, elapsed %s", r.Started, r.Elapsed)
				}
				if r.Usage != (llm.Usage{InputTokens: 450, OutputTokens: 22}) {
					t.Errorf("usage %+v", r.Usage)
				}
				if len(tb.calls) != 2 || tb.calls[0].name != "run" || tb.calls[1].name != "read_file" ||
					!jsonSame(tb.calls[0].args, `{"command":"sh test.sh"}`) {
					t.Fatalf("calls %+v", tb.calls)
				}
				if want := "First I run the tests.\n\nprompt: fix the test"; tb.calls[0].why != want {
					t.Errorf("why of call 1 %q, want %q", tb.calls[0].why, want)
				}
				if want := "prompt: fix the test"; tb.calls[1].why != want {
					t.Errorf("why of call 2 %q, want %q", tb.calls[1].why, want)
				}
				if got := out.String(); got != "First I run the tests.\nFixed: the test passes.\n" {
					t.Errorf("streamed text %q", got)
				}
				for _, want := range []string{`→ run {"command":"sh test.sh"}`, "error: exit status 1 FAIL: want 4, got 5", "→ read_file"} {
					if !strings.Contains(log.String(), want) {
						t.Errorf("tool log lacks %q:\n%s", want, log.String())
					}
				}
				// The last request carries both results back.
				reqs := s.Requests()
				last := string(reqs[len(reqs)-1].Body)
				for _, want := range []string{"FAIL: want 4, got 5", "echo $((2+3))", "fix the test", SystemPrompt[:40]} {
					if !strings.Contains(last, jsonText(want)) {
						t.Errorf("the last request lacks %q", want)
					}
				}
			})

			t.Run("calls of a reply cut off at its limit are answered without running", func(t *testing.T) {
				s := serve(t, scripted.Turn{Calls: call("run", `{"command":`), Cut: true}, scripted.Turn{Text: "giving up"})
				tb := &fakeTools{}
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "x"})
				if r.Status != api.StatusOK || len(tb.calls) != 0 {
					t.Fatalf("result %+v, calls %+v", r, tb.calls)
				}
				res := r.Messages[2].ToolResults[0]
				if !res.IsError || !strings.Contains(res.Text, "cut off at its token limit") {
					t.Errorf("result %+v", res)
				}
			})

			t.Run("the step limit stops a model that keeps calling tools", func(t *testing.T) {
				s := serve(t, scripted.Turn{Calls: call("run", `{"command":"true"}`)},
					scripted.Turn{Calls: call("run", `{"command":"true"}`)}, scripted.Turn{Text: "never reached"})
				r := Run(context.Background(), pv.new(s), &fakeTools{}, Options{Prompt: "x", MaxSteps: 2})
				if r.Status != api.StatusFailed || !strings.Contains(r.Reason, "step limit: 2 model turns") || r.Calls != 2 {
					t.Fatalf("result %+v", r)
				}
				if n := len(s.Requests()); n != 2 {
					t.Errorf("%d requests, want 2", n)
				}
			})

			t.Run("the token limit stops before the next turn", func(t *testing.T) {
				s := serve(t, scripted.Turn{Calls: call("run", `{"command":"true"}`), InputTokens: 500, OutputTokens: 100},
					scripted.Turn{Calls: call("run", `{"command":"true"}`), InputTokens: 300, OutputTokens: 100},
					scripted.Turn{Text: "never reached"})
				tb := &fakeTools{}
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "x", MaxTokens: 1000})
				if r.Status != api.StatusFailed || !strings.Contains(r.Reason, "token limit: 1000 tokens used of 1000") {
					t.Fatalf("result %+v", r)
				}
				if len(s.Requests()) != 2 || len(tb.calls) != 1 {
					t.Errorf("%d requests and %d calls run, want 2 and 1", len(s.Requests()), len(tb.calls))
				}
			})

			t.Run("a reply that goes over the token limit does not get its calls run", func(t *testing.T) {
				s := serve(t, scripted.Turn{Calls: []scripted.Call{{Name: "run", Args: `{"command":"rm -rf build"}`},
					{Name: "run", Args: `{"command":"true"}`}}, InputTokens: 900, OutputTokens: 200},
					scripted.Turn{Text: "never reached"})
				tb := &fakeTools{}
				var log bytes.Buffer
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "x", MaxTokens: 1000, Log: &log})
				if r.Status != api.StatusFailed || !strings.Contains(r.Reason, "token limit: 1100 tokens used of 1000") {
					t.Fatalf("result %+v", r)
				}
				if len(tb.calls) != 0 || r.Calls != 2 || r.NotRun != 2 || len(s.Requests()) != 1 {
					t.Fatalf("calls run %+v, result %+v", tb.calls, r)
				}
				for _, res := range r.Messages[len(r.Messages)-1].ToolResults {
					if !res.IsError || !strings.HasPrefix(res.Text, "not run: the token limit was reached") {
						t.Errorf("result %+v", res)
					}
				}
				if n := strings.Count(log.String(), "not run: the token limit was reached"); n != 2 {
					t.Errorf("the log says %d times that a call was not run:\n%s", n, log.String())
				}
			})

			t.Run("usage that cannot be true fails the conversation at once", func(t *testing.T) {
				huge := scripted.Turn{Calls: call("run", `{"command":"true"}`), InputTokens: 1 << 62, OutputTokens: 1 << 62}
				s := serve(t, huge, huge, huge, huge)
				tb := &fakeTools{}
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "x", MaxTokens: 1000, MaxSteps: 4})
				if r.Status != api.StatusFailed || !errors.Is(r.Err, llm.ErrProtocol) || !strings.Contains(r.Reason, "cannot be right") {
					t.Fatalf("result %+v", r)
				}
				if r.Steps != 1 || len(tb.calls) != 0 || r.Usage.Total() < 0 {
					t.Errorf("%d turns, calls %+v, usage %+v: want one turn, no call run, no negative total", r.Steps, tb.calls, r.Usage)
				}
			})

			t.Run("every call gets a log line and the count says which did not run", func(t *testing.T) {
				s := serve(t, scripted.Turn{Text: "Four calls.", Calls: []scripted.Call{
					{Name: "run", Args: `{"command":"true"}`},
					{Name: "run", Args: `{"command":"tr`},
					{Name: "", Args: `{"command":"true"}`},
					{Name: "read_file", Args: `{"path":"a"}`}}},
					scripted.Turn{Text: "done"})
				tb := &fakeTools{}
				var log bytes.Buffer
				r := Run(context.Background(), pv.new(s), tb, Options{Prompt: "x", Log: &log})
				if r.Status != api.StatusOK || r.Calls != 4 || r.NotRun != 2 || len(tb.calls) != 2 {
					t.Fatalf("result %+v, calls run %+v", r, tb.calls)
				}
				if n := strings.Count(log.String(), "→ "); n != 4 {
					t.Errorf("%d call lines, want 4:\n%s", n, log.String())
				}
				for _, want := range []string{`→ run {"command":"tr`, "not run: the arguments are not valid JSON",
					"→ (no name)", "not run: the call names no tool"} {
					if !strings.Contains(log.String(), want) {
						t.Errorf("the log lacks %q:\n%s", want, log.String())
					}
				}
				if got := CallCount(r); got != "4 tool calls (2 not run)" {
					t.Errorf("count %q", got)
				}
			})

			t.Run("a provider that goes silent fails the conversation saying so", func(t *testing.T) {
				s := serve(t, scripted.Turn{Text: "Let me think", Hold: true})
				r := Run(context.Background(), silent(pv.name, s, 200*time.Millisecond), &fakeTools{}, Options{Prompt: "x"})
				if r.Status != api.StatusFailed || !errors.Is(r.Err, llm.ErrStalled) || !strings.Contains(r.Reason, "sent nothing for 0.2s") {
					t.Fatalf("result %+v", r)
				}
				if last := r.Messages[len(r.Messages)-1]; last.Text != "Let me think" {
					t.Errorf("last message %+v", last)
				}
			})

			t.Run("an interrupt while the model answers keeps what it said", func(t *testing.T) {
				s := serve(t, scripted.Turn{Text: "Let me think", Hold: true})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				out := &cancelAt{text: "Let me think", cancel: cancel}
				r := Run(ctx, pv.new(s), &fakeTools{}, Options{Prompt: "x", Out: out})
				if r.Status != api.StatusInterrupted || !strings.Contains(r.Reason, "interrupt") {
					t.Fatalf("result %+v", r)
				}
				if last := r.Messages[len(r.Messages)-1]; last.Role != llm.Assistant || last.Text != "Let me think" {
					t.Errorf("last message %+v", last)
				}
			})

			t.Run("an interrupt while tools run answers the calls left without running them", func(t *testing.T) {
				s := serve(t, scripted.Turn{Calls: []scripted.Call{{Name: "run", Args: `{"command":"sleep 9"}`},
					{Name: "run", Args: `{"command":"true"}`}}})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				tb := &fakeTools{during: func(string) { cancel() }}
				r := Run(ctx, pv.new(s), tb, Options{Prompt: "x"})
				if r.Status != api.StatusInterrupted || len(tb.calls) != 1 {
					t.Fatalf("result %+v, calls %+v", r, tb.calls)
				}
				results := r.Messages[len(r.Messages)-1].ToolResults
				if len(results) != 2 || !strings.Contains(results[1].Text, "not run") {
					t.Errorf("results %+v", results)
				}
			})

			t.Run("a provider failure ends the conversation with its error", func(t *testing.T) {
				s := serve(t, scripted.Turn{Status: 500, Error: "the model fell over"})
				r := Run(context.Background(), pv.new(s), &fakeTools{}, Options{Prompt: "x"})
				if r.Status != api.StatusFailed || !errors.Is(r.Err, llm.ErrServer) || !strings.Contains(r.Reason, "the model fell over") {
					t.Fatalf("result %+v", r)
				}
			})
		})
	}
}

// cancelAt cancels once the text written to it reaches text.
type cancelAt struct {
	buf    strings.Builder
	text   string
	cancel func()
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.text) {
		c.cancel()
	}
	return len(p), nil
}

// fakeRecorder keeps the request it was asked to record.
type fakeRecorder struct {
	req    api.ActionRequest
	ctxErr error
}

func (f *fakeRecorder) Act(ctx context.Context, req api.ActionRequest, _, _ io.Writer) (api.Action, error) {
	f.req, f.ctxErr = req, ctx.Err()
	return api.Action{Seq: 7, Action: "ask", Status: req.Status}, nil
}

func TestRecord_KeepsTheConversationAfterAnInterrupt(t *testing.T) {
	r := Result{Status: api.StatusInterrupted, Reason: "stopped by the user", Steps: 2, Calls: 2, NotRun: 1, System: SystemPrompt,
		Usage:   llm.Usage{InputTokens: 10, OutputTokens: 3},
		Started: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), Elapsed: 12340 * time.Millisecond,
		Messages: []llm.Message{
			{Role: llm.User, Text: "fix the test"},
			{Role: llm.Assistant, Text: "Running it.", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "run", Args: json.RawMessage(`{"command":"sh test.sh"}`)}}},
			{Role: llm.User, ToolResults: []llm.ToolResult{{CallID: "c1", Name: "run", Text: strings.Repeat("x", 5000), IsError: true}}},
			{Role: llm.Assistant, Text: "Now I"},
		}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &fakeRecorder{}
	p := openai.New(llm.Config{Name: "openai", Model: "m1", BaseURL: "http://127.0.0.1:1/v1"})
	author := api.Author{Name: "krellin ask (m1)"}
	a, err := Record(ctx, rec, api.Target{Repo: "/r", Session: "s"}, author, p, Options{Prompt: "fix the test"}, r)
	if err != nil || a.Seq != 7 {
		t.Fatal(a, err)
	}
	q := rec.req
	if rec.ctxErr != nil || q.Kind != "ask" || q.Why != "fix the test" || q.Status != api.StatusInterrupted ||
		q.Error != "stopped by the user" || q.Author == nil || q.Author.Name != author.Name || q.Session != "s" {
		t.Fatalf("request %+v (ctx %v)", q, rec.ctxErr)
	}
	text := string(q.Input)
	for _, want := range []string{
		"krellin ask with m1 (openai)", "status: interrupted after 2 model turns and 2 tool calls (1 not run); 10 tokens in, 3 out",
		"time: started 2025-03-04T05:06:07Z, took 12.3s\n",
		"=== user ===\nfix the test", "=== assistant, turn 1 ===\nRunning it.\n-> call run [c1] {\"command\":\"sh test.sh\"}",
		"=== result of run [c1], an error ===", "[1000 more bytes not shown", "=== assistant, turn 2 ===\nNow I",
		"=== end ===\ninterrupted: stopped by the user",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
}

func jsonSame(a, b string) bool {
	return gjson.Parse(a).Get("@ugly").Raw == gjson.Parse(b).Get("@ugly").Raw
}

// jsonText is s as it appears inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
