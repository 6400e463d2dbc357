package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/krellin/krellin/llm"
	"github.com/krellin/krellin/llm/anthropic"
	"github.com/krellin/krellin/llm/openai"
	"github.com/krellin/krellin/llm/scripted"
)

// wire is one wire format under test.
type wire struct {
	name    string
	baseURL func(*scripted.Server) string
	new     func(llm.Config) llm.Provider
}

var wires = []wire{
	{llm.OpenAI, func(s *scripted.Server) string { return s.URL + "/v1" },
		func(c llm.Config) llm.Provider { return openai.New(c) }},
	{llm.Anthropic, func(s *scripted.Server) string { return s.URL },
		func(c llm.Config) llm.Provider { return anthropic.New(c) }},
}

// start serves script and returns a provider of wire w for it, with
// retries off unless the test sets them.
func start(t *testing.T, w wire, key string, retries int, script ...scripted.Turn) (llm.Provider, *scripted.Server) {
	t.Helper()
	return startWith(t, w, func(c *llm.Config) {
		c.APIKey = key
		if retries != 0 {
			c.MaxRetries = retries
		}
	}, script...)
}

// startWith is start with the configuration as edit leaves it.
func startWith(t *testing.T, w wire, edit func(*llm.Config), script ...scripted.Turn) (llm.Provider, *scripted.Server) {
	t.Helper()
	s, err := scripted.Start(script...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	cfg := llm.Config{Name: w.name, Type: w.name, BaseURL: w.baseURL(s), Model: "scripted-1",
		APIKeyEnv: "TEST_KEY", MaxRetries: -1}
	edit(&cfg)
	return w.new(cfg), s
}

var tools = []llm.Tool{{Name: "run", Description: "run a command",
	Schema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}`)}}

func TestProvider_Stream(t *testing.T) {
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			t.Run("text and tool calls arrive split across chunks and are put together", func(t *testing.T) {
				args1 := `{"command":"sh test.sh 2>&1 | grep -v \"ok\"\nexit 0"}`
				args2 := `{"command":"echo héllo wörld"}`
				p, s := start(t, w, "k-123", 0, scripted.Turn{Text: "Let me run the tests first.",
					Calls:       []scripted.Call{{Name: "run", Args: args1}, {Name: "run", Args: args2}},
					InputTokens: 120, OutputTokens: 34})
				var deltas []string
				r, err := p.Stream(context.Background(), llm.Request{System: "be brief", Tools: tools,
					Messages: []llm.Message{{Role: llm.User, Text: "fix it"}}}, func(s string) { deltas = append(deltas, s) })
				if err != nil {
					t.Fatal(err)
				}
				if len(deltas) < 2 || strings.Join(deltas, "") != "Let me run the tests first." {
					t.Errorf("text deltas %q", deltas)
				}
				if r.Message.Text != "Let me run the tests first." {
					t.Errorf("text %q", r.Message.Text)
				}
				if len(r.Message.ToolCalls) != 2 {
					t.Fatalf("tool calls %+v", r.Message.ToolCalls)
				}
				for i, want := range []string{args1, args2} {
					tc := r.Message.ToolCalls[i]
					if tc.Name != "run" || tc.ID == "" || !jsonEqual(tc.Args, want) {
						t.Errorf("call %d: %s %s %s, want run %s", i, tc.ID, tc.Name, tc.Args, want)
					}
				}
				if r.Usage != (llm.Usage{InputTokens: 120, OutputTokens: 34}) {
					t.Errorf("usage %+v", r.Usage)
				}
				req := s.Requests()[0]
				if got := gjson.GetBytes(req.Body, "model").String(); got != "scripted-1" {
					t.Errorf("model %q", got)
				}
				if !strings.Contains(string(req.Body), "be brief") || !strings.Contains(string(req.Body), `"command"`) {
					t.Errorf("system prompt or tool schema missing from the request: %s", req.Body)
				}
			})

			t.Run("tool results go back answering their calls", func(t *testing.T) {
				p, s := start(t, w, "", 0, scripted.Turn{Text: "All green."})
				conv := []llm.Message{
					{Role: llm.User, Text: "fix it"},
					{Role: llm.Assistant, Text: "Running.", ToolCalls: []llm.ToolCall{
						{ID: "call_a", Name: "run", Args: json.RawMessage(`{"command":"true"}`)},
						{ID: "call_b", Name: "run", Args: json.RawMessage(`{"command":"false"}`)}}},
					{Role: llm.User, ToolResults: []llm.ToolResult{
						{CallID: "call_a", Name: "run", Text: "exit status 0"},
						{CallID: "call_b", Name: "run", Text: "exit status 1", IsError: true}}},
					{Role: llm.Assistant, ToolCalls: []llm.ToolCall{
						{ID: "call_c", Name: "run", Args: json.RawMessage(`{"command":`)}}}, // cut off
					{Role: llm.User, ToolResults: []llm.ToolResult{
						{CallID: "call_c", Name: "run", Text: "arguments are not JSON", IsError: true}}},
				}
				r, err := p.Stream(context.Background(), llm.Request{Tools: tools, Messages: conv}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.Message.Text != "All green." || len(r.Message.ToolCalls) != 0 {
					t.Errorf("reply %+v", r.Message)
				}
				body := string(s.Requests()[0].Body)
				for _, want := range []string{"call_a", "call_b", "call_c", "exit status 0", "exit status 1"} {
					if !strings.Contains(body, want) {
						t.Errorf("request lacks %q: %s", want, body)
					}
				}
				if h := s.Requests()[0].Header; h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" {
					t.Errorf("a key was sent without one configured: %v", h)
				}
			})

			t.Run("the configured key is sent and nothing from the environment", func(t *testing.T) {
				t.Setenv("OPENAI_API_KEY", "leaked-openai")
				t.Setenv("ANTHROPIC_API_KEY", "leaked-anthropic")
				t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/")
				t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1/")
				p, s := start(t, w, "k-right", 0, scripted.Turn{Text: "hi"})
				s.Key = "k-right"
				if _, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.User, Text: "x"}}}, nil); err != nil {
					t.Fatal(err)
				}
				h := s.Requests()[0].Header
				if strings.Contains(h.Get("Authorization")+h.Get("X-Api-Key"), "leaked") {
					t.Errorf("a key from the environment was sent: %v", h)
				}
				// Each API's documented header: a bearer token for OpenAI,
				// x-api-key for Anthropic, and only that one.
				auth, apiKey := "Bearer k-right", ""
				if w.name == llm.Anthropic {
					auth, apiKey = "", "k-right"
				}
				if h.Get("Authorization") != auth || h.Get("X-Api-Key") != apiKey {
					t.Errorf("Authorization %q X-Api-Key %q, want %q %q", h.Get("Authorization"), h.Get("X-Api-Key"), auth, apiKey)
				}
			})

			t.Run("tool arguments that are not JSON come back as the model wrote them", func(t *testing.T) {
				bad := `{"command": "ls", "path": "/tmp"`
				p, _ := start(t, w, "", 0, scripted.Turn{Calls: []scripted.Call{{Name: "run", Args: bad},
					{Name: "run", Args: `{"command":"true"}`}, {Name: "run", Args: ""}}})
				r, err := p.Stream(context.Background(), llm.Request{Tools: tools,
					Messages: []llm.Message{{Role: llm.User, Text: "x"}}}, nil)
				if err != nil {
					t.Fatal(err)
				}
				calls := r.Message.ToolCalls
				if len(calls) != 3 {
					t.Fatalf("tool calls %+v", calls)
				}
				if string(calls[0].Args) != bad || !jsonEqual(calls[1].Args, `{"command":"true"}`) {
					t.Errorf("arguments %s and %s, want %s as sent and the valid ones", calls[0].Args, calls[1].Args, bad)
				}
				if w.name == llm.Anthropic && string(calls[2].Args) != "{}" {
					t.Errorf("a call with no input has arguments %s, want {}", calls[2].Args)
				}
			})
		})
	}
}

func TestProvider_Errors(t *testing.T) {
	user := []llm.Message{{Role: llm.User, Text: "x"}}
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			cases := []struct {
				name  string
				key   string // sent; the server wants "k-right"
				turn  scripted.Turn
				kind  error
				wants []string // in the error's text
			}{
				{"a wrong key is an auth error naming the variable", "k-wrong", scripted.Turn{Text: "never"},
					llm.ErrAuth, []string{"HTTP 401", "$TEST_KEY"}},
				{"429 is a rate limit", "k-right", scripted.Turn{Status: 429, Error: "slow down please"},
					llm.ErrRateLimit, []string{"HTTP 429", "slow down please", "try again"}},
				{"500 is a server failure", "k-right", scripted.Turn{Status: 500, Error: "boom"},
					llm.ErrServer, []string{"HTTP 500", "boom"}},
				{"an error inside the stream is a server failure", "k-right", scripted.Turn{Text: "partial", StreamError: "overloaded now"},
					llm.ErrServer, []string{"overloaded now"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p, s := start(t, w, c.key, 0, c.turn)
					s.Key = "k-right"
					_, err := p.Stream(context.Background(), llm.Request{Messages: user}, nil)
					t.Log(err)
					if !errors.Is(err, c.kind) {
						t.Fatalf("error %v, want kind %v", err, c.kind)
					}
					for _, want := range c.wants {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q lacks %q", err, want)
						}
					}
					if strings.Contains(err.Error(), c.key) {
						t.Errorf("the error shows the key: %v", err)
					}
				})
			}

			t.Run("usage that cannot be true fails the turn and is not counted", func(t *testing.T) {
				for _, u := range []llm.Usage{
					{InputTokens: 1 << 62, OutputTokens: 1 << 62},
					{InputTokens: 9223372036854775800, OutputTokens: 5},
					{InputTokens: -1000, OutputTokens: 5},
					{InputTokens: 10, OutputTokens: -5},
					{InputTokens: llm.MaxReplyUsage + 1},
				} {
					p, _ := start(t, w, "", 0, scripted.Turn{Text: "hi", InputTokens: u.InputTokens, OutputTokens: u.OutputTokens})
					r, err := p.Stream(context.Background(), llm.Request{Messages: user}, nil)
					if !errors.Is(err, llm.ErrProtocol) || !strings.Contains(err.Error(), "cannot be right") {
						t.Errorf("usage %+v: error %v, want a protocol error", u, err)
					}
					if r.Usage != (llm.Usage{}) || r.Message.Text != "hi" {
						t.Errorf("usage %+v: reply %+v, want the text and no usage", u, r)
					}
				}
			})

			t.Run("a stream that stalls fails after the idle timeout and keeps the text so far", func(t *testing.T) {
				p, _ := startWith(t, w, func(c *llm.Config) { c.IdleTimeout = 300 * time.Millisecond },
					scripted.Turn{Text: "thinking about it", Hold: true})
				begin := time.Now()
				r, err := p.Stream(context.Background(), llm.Request{Messages: user}, nil)
				t.Log(err)
				if !errors.Is(err, llm.ErrStalled) || !strings.Contains(err.Error(), "sent nothing for 0.3s") ||
					!strings.Contains(err.Error(), "idle_timeout") {
					t.Fatalf("error %v, want one saying the provider sent nothing for 0.3s", err)
				}
				if took := time.Since(begin); took > 5*time.Second {
					t.Errorf("took %s", took)
				}
				if r.Message.Text != "thinking about it" {
					t.Errorf("partial text %q", r.Message.Text)
				}
			})

			t.Run("a server that never answers the request fails after the idle timeout", func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						defer c.Close()
					}
				}()
				base := "http://" + ln.Addr().String()
				p := w.new(llm.Config{Name: w.name, Type: w.name, BaseURL: base + "/v1", Model: "m", MaxRetries: -1,
					IdleTimeout: 200 * time.Millisecond})
				_, err = p.Stream(context.Background(), llm.Request{Messages: user}, nil)
				if !errors.Is(err, llm.ErrStalled) {
					t.Fatalf("error %v, want the provider went silent", err)
				}
			})

			t.Run("a 429 is retried after the time the server asks", func(t *testing.T) {
				p, s := start(t, w, "", 1, scripted.Turn{Status: 429, Error: "later", RetryAfter: 10 * time.Millisecond},
					scripted.Turn{Text: "done"})
				r, err := p.Stream(context.Background(), llm.Request{Messages: user}, nil)
				if err != nil || r.Message.Text != "done" || len(s.Requests()) != 2 {
					t.Fatalf("reply %+v, err %v, %d requests", r.Message, err, len(s.Requests()))
				}
			})

			t.Run("a server that is not there is unreachable", func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				ln.Close()
				p := w.new(llm.Config{Name: w.name, Type: w.name, BaseURL: "http://" + addr + "/v1", Model: "m", MaxRetries: -1})
				_, err = p.Stream(context.Background(), llm.Request{Messages: user}, nil)
				t.Log(err)
				if !errors.Is(err, llm.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
					t.Fatalf("error %v, want unreachable naming %s", err, addr)
				}
			})

			t.Run("cancelling stops the stream and keeps the text so far", func(t *testing.T) {
				p, s := start(t, w, "", 0, scripted.Turn{Text: "thinking about it", Hold: true})
				ctx, cancel := context.WithCancel(context.Background())
				var got strings.Builder
				done := make(chan struct{})
				var r llm.Reply
				var err error
				go func() {
					defer close(done)
					r, err = p.Stream(ctx, llm.Request{Messages: user}, func(s string) {
						got.WriteString(s)
						if got.String() == "thinking about it" {
							cancel()
						}
					})
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					s.Close()
					t.Fatal("the stream did not stop when cancelled")
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
				if r.Message.Text != "thinking about it" {
					t.Errorf("partial text %q", r.Message.Text)
				}
			})
		})
	}
}

func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
