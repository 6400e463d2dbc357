//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/krellin/krellin/llm/scripted"
)

// A repository whose test fails until calc.sh adds instead of
// subtracting; busybox's sh runs it in the capsule.
var askFiles = []file{
	{path: "calc.sh", data: "add() {\n\techo $(($1 - $2))\n}\n"},
	{path: "test.sh", data: ". ./calc.sh\ngot=$(add 2 3)\nif [ \"$got\" = 5 ]; then\n\techo \"ok: add 2 3 = 5\"\nelse\n\techo \"FAIL: add 2 3: want 5, got $got\"\n\texit 1\nfi\n"},
}

const askPrompt = "make the failing test in test.sh pass\n(run it with sh test.sh)"

// fixScript is the model's side of the session that fixes the test.
var fixScript = []scripted.Turn{
	{Text: "I will run the test to see how it fails.",
		Calls: []scripted.Call{{Name: "run", Args: `{"command":"sh test.sh"}`}}, InputTokens: 900, OutputTokens: 20},
	{Text: "It says add 2 3 gives -1. Let me read calc.sh.",
		Calls: []scripted.Call{{Name: "read_file", Args: `{"path":"calc.sh"}`}}, InputTokens: 1000, OutputTokens: 20},
	{Text: "add subtracts; it should add.",
		Calls:       []scripted.Call{{Name: "edit_file", Args: `{"path":"calc.sh","old_text":"$(($1 - $2))","new_text":"$(($1 + $2))"}`}},
		InputTokens: 1100, OutputTokens: 40},
	{Text: "Now the test again.",
		Calls: []scripted.Call{{Name: "run", Args: `{"command":"sh test.sh"}`}}, InputTokens: 1200, OutputTokens: 20},
	{Text: "Fixed: add in calc.sh subtracted instead of adding; sh test.sh passes now.", InputTokens: 1300, OutputTokens: 30},
}

// logEntry is the part of `krellin log --json` these tests read.
type logEntry struct {
	Seq      int    `json:"seq"`
	Commit   string `json:"commit"`
	Action   string `json:"action"`
	Status   string `json:"status"`
	Author   string `json:"author"`
	ExitCode *int   `json:"exit_code"`
	Tree     string `json:"tree"`
}

func (e *env) askLog() []logEntry {
	e.t.Helper()
	r := e.ok("log", "--json")
	var acts []logEntry
	if err := json.Unmarshal([]byte(r.stdout), &acts); err != nil {
		e.t.Fatalf("log --json: %v\n%s", err, r.stdout)
	}
	return acts
}

// askEnv is a test repository with the failing test, a session on it,
// and a scripted model.
func askEnv(t *testing.T, script ...scripted.Turn) (*env, *scripted.Server) {
	e := newEnv(t)
	writeFiles(t, e.repo, askFiles)
	e.git(e.repo, "add", "-A")
	e.git(e.repo, "commit", "-q", "-m", "calc with a failing test")
	e.up()
	s, err := scripted.Start(script...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return e, s
}

// askArgs are the flags that point krellin ask at s in a wire format.
func askArgs(s *scripted.Server, wire string) []string {
	base := s.URL
	if wire == "openai" {
		base += "/v1"
	}
	return []string{"ask", "--provider", wire, "--base-url", base, "--model", "scripted-1"}
}

func TestAskFixesAFailingTestAndReplays(t *testing.T) {
	for _, wire := range []string{"openai", "anthropic"} {
		t.Run(wire, func(t *testing.T) {
			e, s := askEnv(t, fixScript...)

			r := e.run("", "", append(askArgs(s, wire), askPrompt)...)
			if r.code != 0 {
				t.Fatalf("krellin ask: %s", r)
			}
			for _, want := range []string{"I will run the test", "Fixed: add in calc.sh"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks the streamed %q:\n%s", want, r)
				}
			}
			for _, want := range []string{`→ run {"command":"sh test.sh"}`, "→ edit_file", "conversation recorded as seq 4: ok, 5 model turns, 4 tool calls, 5500 tokens in, 130 out"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r)
				}
			}

			// Each tool call that acts is one action by the agent, in order;
			// the read recorded nothing; the conversation comes last.
			acts := e.askLog()
			kinds := []string{}
			for _, a := range acts[1:] {
				kinds = append(kinds, a.Action+":"+a.Status)
				if a.Author != "krellin ask (scripted-1)" {
					t.Errorf("seq %d is by %q, want the agent", a.Seq, a.Author)
				}
			}
			if got := strings.Join(kinds, " "); got != "run:ok edit:ok run:ok ask:ok" {
				t.Fatalf("actions %s, want run edit run ask", got)
			}
			if intp(acts[1].ExitCode) != "1" || intp(acts[3].ExitCode) != "0" {
				t.Errorf("the test exited %s then %s, want 1 then 0", intp(acts[1].ExitCode), intp(acts[3].ExitCode))
			}

			// show explains a tool action and holds the conversation.
			show := e.ok("show", "2").stdout
			for _, want := range []string{"--- why ---", "add subtracts; it should add.", "prompt: make the failing test in test.sh pass"} {
				if !strings.Contains(show, want) {
					t.Errorf("show 2 lacks %q:\n%s", want, show)
				}
			}
			show = e.ok("show", "4").stdout
			for _, want := range []string{
				"=== user ===\nmake the failing test in test.sh pass",
				`-> call run [`, `{"command":"sh test.sh"}`,
				"FAIL: add 2 3: want 5, got -1",
				"1| add() {",
				"ok: add 2 3 = 5",
				"=== end ===\nok",
			} {
				if !strings.Contains(show, want) {
					t.Errorf("show 4 (the conversation) lacks %q:\n%s", want, show)
				}
			}

			// The model got every tool result back.
			reqs := s.Requests()
			if len(reqs) != 5 {
				t.Fatalf("%d requests to the model, want 5", len(reqs))
			}
			for i, want := range []string{"FAIL: add 2 3: want 5, got -1", `1| add() {`, "edited calc.sh", "ok: add 2 3 = 5"} {
				if !bytes.Contains(reqs[i+1].Body, []byte(jsonInner(want))) {
					t.Errorf("request %d lacks the tool result %q", i+2, want)
				}
			}

			// The test passes in the capsule, and the session replays.
			if r := e.run("", "", "run", "--", "sh", "test.sh"); r.code != 0 || !strings.Contains(r.stdout, "ok: add 2 3 = 5") {
				t.Errorf("the test still fails in the capsule: %s", r)
			}
			r = e.run("", "", "replay")
			if r.code != 0 || !strings.Contains(r.stdout, "every exit status and tree matched") {
				t.Fatalf("replay: %s", r)
			}
			orig := e.askLog()
			rep := e.log(e.status().Session + "-replay-1")
			if len(rep) != len(orig) {
				t.Fatalf("replay has %d actions, the original %d", len(rep), len(orig))
			}
			for i := range orig {
				if rep[i].Tree != orig[i].Tree || rep[i].Action != orig[i].Action {
					t.Errorf("seq %d: replay %s %s, original %s %s", i, rep[i].Action, rep[i].Tree, orig[i].Action, orig[i].Tree)
				}
			}
		})
	}
}

func TestAskInterruptedRecordsTheConversation(t *testing.T) {
	for _, wire := range []string{"openai", "anthropic"} {
		t.Run(wire, func(t *testing.T) {
			e, s := askEnv(t,
				scripted.Turn{Text: "First a note.", Calls: []scripted.Call{{Name: "run", Args: `{"command":"echo one > one.txt"}`}}},
				scripted.Turn{Text: "Now I think for a long time", Hold: true})

			cmd := exec.Command(filepath.Join(binDir, "krellin"), append(askArgs(s, wire), "write one.txt, then think")...)
			cmd.Dir, cmd.Env = e.repo, e.environ()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			deadline := time.Now().Add(time.Minute)
			for len(s.Requests()) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // let the held turn's text arrive
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatalf("krellin ask did not stop after SIGINT\n%s\n%s", stdout.String(), stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d, want 130\n%s\n%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
			}

			acts := e.askLog()
			if len(acts) != 3 || acts[1].Action != "run" || acts[1].Status != "ok" ||
				acts[2].Action != "ask" || acts[2].Status != "interrupted" {
				t.Fatalf("log %+v, want the run and an interrupted ask", acts)
			}
			show := e.ok("show", "2").stdout
			for _, want := range []string{"Now I think for a long time", "stopped by the user (interrupt)", "echo one > one.txt"} {
				if !strings.Contains(show, want) {
					t.Errorf("the interrupted conversation lacks %q:\n%s", want, show)
				}
			}
			if r := e.ok("run", "--", "cat", "one.txt"); strings.TrimSpace(r.stdout) != "one" {
				t.Errorf("the first call's work is lost: %s", r)
			}
		})
	}
}

func TestAskInterruptedWhileAToolRuns(t *testing.T) {
	e, s := askEnv(t, scripted.Turn{Text: "This takes a while.",
		Calls: []scripted.Call{{Name: "run", Args: `{"command":"echo started > started.txt; sleep 60"}`}}})

	cmd := exec.Command(filepath.Join(binDir, "krellin"), append(askArgs(s, "openai"), "wait a minute")...)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ws := e.workspace()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(ws, "started.txt")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("krellin ask did not stop after SIGINT\n%s\n%s", stdout.String(), stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || time.Since(start) > 20*time.Second {
		t.Errorf("exit %d after %s, want 130 within seconds\n%s", code, time.Since(start), stderr.String())
	}
	acts := e.askLog()
	if len(acts) != 3 || acts[1].Action != "run" || acts[1].Status != "interrupted" ||
		acts[2].Action != "ask" || acts[2].Status != "interrupted" {
		t.Fatalf("log %+v, want an interrupted run and an interrupted ask", acts)
	}
	if r := e.ok("run", "--", "cat", "started.txt"); strings.TrimSpace(r.stdout) != "started" {
		t.Errorf("what the interrupted command wrote is lost: %s", r)
	}
}

func TestAskErrorsSayWhatToDo(t *testing.T) {
	e, s := askEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"an unknown provider", []string{"ask", "--provider", "nosuch", "--model", "m", "x"}, 2,
			[]string{`unknown provider "nosuch"`, "providers.nosuch"}},
		{"a key variable that is not set", []string{"ask", "--provider", "anthropic", "--model", "m", "--api-key-env", "KRELLIN_TEST_NO_KEY", "x"}, 2,
			[]string{"$KRELLIN_TEST_NO_KEY is not set", "--api-key-env"}},
		{"a negative step limit", append(askArgs(s, "openai"), "--max-steps", "-1", "x"), 2,
			[]string{"--max-steps -1 is negative", "0 for the default"}},
		{"a negative token limit", append(askArgs(s, "anthropic"), "--max-tokens", "-5", "x"), 2,
			[]string{"--max-tokens -5 is negative", "Try: krellin ask --max-tokens"}},
		{"a base URL nothing answers on", append(askArgs(s, "openai")[:3], "--base-url", "http://"+closed+"/v1", "--model", "m", "x"), 1,
			[]string{"cannot be reached", closed, "--base-url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run("", "", c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d: %s", r.code, c.code, r)
			}
			for _, want := range c.wants {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, r)
				}
			}
		})
	}
	// Only the unreachable provider got as far as a conversation.
	acts := e.askLog()
	if len(acts) != 2 || acts[1].Action != "ask" || acts[1].Status != "failed" {
		t.Errorf("log %+v, want one failed ask", acts)
	}
}

func TestAskFailsOnUsageThatCannotBeTrue(t *testing.T) {
	for _, wire := range []string{"openai", "anthropic"} {
		t.Run(wire, func(t *testing.T) {
			// Each turn's count would wrap a plain int64 sum negative.
			huge := scripted.Turn{Text: "Running it.", Calls: []scripted.Call{{Name: "run", Args: `{"command":"touch ran.txt"}`}},
				InputTokens: 1 << 62, OutputTokens: 1 << 62}
			if wire == "anthropic" {
				huge.InputTokens, huge.OutputTokens = 9223372036854775800, 10
			}
			e, s := askEnv(t, huge, huge, huge)
			r := e.run("", "", append(askArgs(s, wire), "--max-tokens", "1000", "x")...)
			if r.code != 1 || !strings.Contains(r.stderr, "cannot be right") || !strings.Contains(r.stderr, "0 tokens in, 0 out") {
				t.Fatalf("want a failure naming the impossible usage: %s", r)
			}
			if len(s.Requests()) != 1 || strings.Contains(r.stderr, "→ run") {
				t.Errorf("%d requests, want 1 and no tool run: %s", len(s.Requests()), r)
			}
			acts := e.askLog()
			if len(acts) != 2 || acts[1].Action != "ask" || acts[1].Status != "failed" {
				t.Fatalf("log %+v, want only a failed ask", acts)
			}
		})
	}
}

func TestAskShowsAndCountsCallsItDidNotRun(t *testing.T) {
	for _, wire := range []string{"openai", "anthropic"} {
		t.Run(wire, func(t *testing.T) {
			e, s := askEnv(t,
				scripted.Turn{Text: "Four calls.", Calls: []scripted.Call{
					{Name: "run", Args: `{"command":"echo one > one.txt"}`},
					{Name: "run", Args: `{"command":"echo two > two.txt"`},
					{Name: "", Args: `{"command":"echo three > three.txt"}`},
					{Name: "read_file", Args: `{"path":"calc.sh"}`}}},
				scripted.Turn{Text: "Done."})
			r := e.run("", "", append(askArgs(s, wire), "x")...)
			if r.code != 0 {
				t.Fatalf("krellin ask: %s", r)
			}
			for _, want := range []string{
				`→ run {"command":"echo two > two.txt"`, "not run: the arguments are not valid JSON",
				"→ (no name)", "not run: the call names no tool", "→ read_file",
				"4 tool calls (2 not run)",
			} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r)
				}
			}
			if n := strings.Count(r.stderr, "→ "); n != 4 {
				t.Errorf("%d call lines, want 4:\n%s", n, r)
			}
			acts := e.askLog()
			if len(acts) != 3 || acts[1].Action != "run" || acts[2].Action != "ask" {
				t.Fatalf("log %+v, want the one run and the ask", acts)
			}
			show := e.ok("show", "2").stdout
			for _, want := range []string{"2 model turns and 4 tool calls (2 not run)", "time: started ", ", took "} {
				if !strings.Contains(show, want) {
					t.Errorf("the conversation lacks %q:\n%s", want, show)
				}
			}
		})
	}
}

func TestAskStopsWhenTheProviderGoesSilent(t *testing.T) {
	for _, wire := range []string{"openai", "anthropic"} {
		t.Run(wire, func(t *testing.T) {
			e, s := askEnv(t, scripted.Turn{Text: "Let me think about", Hold: true})
			config := "providers:\n  openai:\n    idle_timeout: 1\n  anthropic:\n    idle_timeout: 500ms\n"
			if err := os.WriteFile(filepath.Join(e.home, "config.yaml"), []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"openai": "sent nothing for 1s", "anthropic": "sent nothing for 0.5s"}[wire]
			r := e.run("", "", append(askArgs(s, wire), "x")...)
			if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "providers."+wire+".idle_timeout") {
				t.Fatalf("want a failure saying %q: %s", want, r)
			}
			if r.took > 30*time.Second {
				t.Errorf("took %s", r.took)
			}
			acts := e.askLog()
			if len(acts) != 2 || acts[1].Status != "failed" {
				t.Fatalf("log %+v, want a failed ask", acts)
			}
			if show := e.ok("show", "1").stdout; !strings.Contains(show, "Let me think about") {
				t.Errorf("the conversation lost the text that arrived:\n%s", show)
			}
		})
	}
}

// jsonInner is s as it appears inside a JSON string.
func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
