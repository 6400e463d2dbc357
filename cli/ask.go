package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/agent"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/llm"
	"github.com/krellin/krellin/llm/anthropic"
	"github.com/krellin/krellin/llm/openai"
	"github.com/krellin/krellin/termsafe"
	"github.com/krellin/krellin/tools"
)

// exitInterrupted is the status after Ctrl-C, as shells report SIGINT.
const exitInterrupted = 130

type askOptions struct {
	provider  string
	baseURL   string
	model     string
	apiKeyEnv string
	session   string
	maxSteps  int
	maxTokens int64
}

func (a *app) askCommand() *cobra.Command {
	var o askOptions
	cmd := &cobra.Command{
		Use:   "ask [flags] PROMPT",
		Short: "Let a model work on the repository in the capsule, recording every step",
		Long: `Give PROMPT to a model along with the capsule's tools (run, fetch, read_file,
write_file, edit_file, apply_patch, list_files, search, log, diff, reset)
and let it work until it answers without calling a tool. Each tool call is
its own recorded action, credited to the model, with the model's reasoning
as its why; the whole conversation is recorded as one "ask" action at the
end, also when it stops at a limit, fails, or is interrupted with Ctrl-C.

Providers are configured in config.yaml under providers.<name> (type,
base_url, model, api_key_env, idle_timeout; see the README); the flags
override them. --max-steps and --max-tokens of 0 mean the default.
The API key is read from the variable api_key_env names, never from the
repository, and is never logged.`,
		Example: `  krellin ask "make the failing test in ./calc pass"
  krellin ask --provider anthropic --model claude-sonnet-4-5 "add a --verbose flag"
  krellin ask --provider openai --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder "fix the build"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.ask(cmd.Context(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.provider, "provider", "", "providers.<name> entry, or openai or anthropic (default: ask.provider)")
	f.StringVar(&o.baseURL, "base-url", "", "the provider's API base URL, e.g. http://127.0.0.1:11434/v1 for Ollama")
	f.StringVar(&o.model, "model", "", "the model to ask")
	f.StringVar(&o.apiKeyEnv, "api-key-env", "", "the environment variable that holds the API key")
	f.StringVar(&o.session, "session", "", "the session to work in (default: the capsule's current one)")
	f.IntVar(&o.maxSteps, "max-steps", 0, fmt.Sprintf("stop after this many model turns; 0 means the default (ask.max_steps, else %d)", agent.DefaultMaxSteps))
	f.Int64Var(&o.maxTokens, "max-tokens", 0, fmt.Sprintf("stop once the conversation has used this many tokens, input and output; 0 means the default (ask.max_tokens, else %d)", agent.DefaultMaxTokens))
	return cmd
}

func (a *app) ask(ctx context.Context, o askOptions, prompt string) error {
	if strings.TrimSpace(prompt) == "" {
		return &ExitError{Code: exitUsage, Err: errors.New("the prompt is empty\nTry: krellin ask \"what to do\"")}
	}
	limits, err := a.askLimits(o)
	if err != nil {
		return &ExitError{Code: exitUsage, Err: err}
	}
	p, err := a.provider(o)
	if err != nil {
		return &ExitError{Code: exitUsage, Err: err}
	}
	t, c, err := a.connect(ctx, o.session)
	if err != nil {
		return err
	}
	if err := checkSession(ctx, c, t); err != nil {
		return err
	}

	stderr := &lockedWriter{w: a.stderr}
	ctx, stopSignals := a.interruptible(ctx, stderr)
	defer stopSignals()
	author := api.Author{Name: fmt.Sprintf("krellin ask (%s)", p.Model())}
	opts := limits
	opts.Prompt, opts.Out, opts.Log = prompt, a.stdout, stderr
	res := agent.Run(ctx, p, tools.New(c, t, author), opts)

	act, err := agent.Record(ctx, c, t, author, p, opts, res)
	if err != nil {
		return &ExitError{Code: exitKrellin, Err: fmt.Errorf("%w (the conversation ended %s)", err, res.Status)}
	}
	fmt.Fprintf(stderr, "krellin: conversation recorded as seq %d: %s, %d model turns, %s, %d tokens in, %d out, %s\n",
		act.Seq, res.Status, res.Steps, agent.CallCount(res), res.Usage.InputTokens, res.Usage.OutputTokens, agent.Elapsed(res))
	switch res.Status {
	case api.StatusOK:
		return nil
	case api.StatusInterrupted:
		return &ExitError{Code: exitInterrupted, Err: errors.New(res.Reason)}
	}
	return &ExitError{Code: exitFailed, Err: errors.New(termsafe.Line(res.Reason))}
}

// askLimits reads the limits from the flags, else the config; 0 means
// the default. A negative limit is refused rather than quietly replaced.
func (a *app) askLimits(o askOptions) (agent.Options, error) {
	opts := agent.Options{MaxSteps: o.maxSteps, MaxTokens: o.maxTokens,
		MaxReplyTokens: a.cfg.GetInt64("ask.max_reply_tokens")}
	switch {
	case o.maxSteps < 0:
		return opts, fmt.Errorf("--max-steps %d is negative; give a number of model turns, or 0 for the default\nTry: krellin ask --max-steps 10 \"what to do\"", o.maxSteps)
	case o.maxTokens < 0:
		return opts, fmt.Errorf("--max-tokens %d is negative; give a number of tokens, or 0 for the default\nTry: krellin ask --max-tokens 200000 \"what to do\"", o.maxTokens)
	}
	if opts.MaxSteps == 0 {
		opts.MaxSteps = a.cfg.GetInt("ask.max_steps")
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = a.cfg.GetInt64("ask.max_tokens")
	}
	for key, v := range map[string]int64{"ask.max_steps": int64(opts.MaxSteps), "ask.max_tokens": opts.MaxTokens,
		"ask.max_reply_tokens": opts.MaxReplyTokens} {
		if v < 0 {
			return opts, fmt.Errorf("%s is %d in %s; use a positive number, or 0 or nothing for the default", key, v, a.configFile())
		}
	}
	return opts, nil
}

// interruptible returns a context that ends at the first SIGINT or
// SIGTERM. A second one kills krellin at once, without recording.
func (a *app) interruptible(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		select {
		case <-sctx.Done():
			stop()
			if ctx.Err() == nil {
				fmt.Fprintln(stderr, "krellin: interrupted; stopping the agent and recording the conversation (interrupt again to quit at once)")
			}
		case <-finished:
		}
	}()
	var once sync.Once
	return sctx, func() {
		once.Do(func() {
			close(finished)
			stop()
		})
	}
}

// checkSession fails before any model is asked when there is no session
// to work in.
func checkSession(ctx context.Context, c *api.Client, t api.Target) error {
	s, err := c.Status(ctx, t)
	if err != nil {
		return err
	}
	switch {
	case s.Session == "":
		return errors.New("the capsule has no session; start one with `krellin up`")
	case t.Session != "" && t.Session != s.Session:
		return fmt.Errorf("the capsule runs session %s, not %s; switch with `krellin up --session %s`", s.Session, t.Session, t.Session)
	}
	return nil
}

// provider builds the provider the flags and config ask for: the flag or
// ask.provider names a providers.<name> entry, or a wire format.
func (a *app) provider(o askOptions) (llm.Provider, error) {
	name := o.provider
	if name == "" {
		name = a.cfg.GetString("ask.provider")
	}
	configured := a.providerNames()
	if name == "" && len(configured) == 1 {
		name = configured[0]
	}
	if name == "" {
		return nil, fmt.Errorf("no provider: pass --provider %s|%s, or set ask.provider in %s", llm.OpenAI, llm.Anthropic, a.configFile())
	}
	key := "providers." + name + "."
	if !slices.Contains(configured, name) && name != llm.OpenAI && name != llm.Anthropic {
		known := strings.Join(append([]string{llm.OpenAI, llm.Anthropic}, configured...), ", ")
		return nil, fmt.Errorf("unknown provider %q: use one of %s, or add providers.%s (with type openai or anthropic) to %s", name, known, name, a.configFile())
	}
	cfg := llm.Config{Name: name, Type: a.cfg.GetString(key + "type"),
		BaseURL: first(o.baseURL, a.cfg.GetString(key+"base_url")), Model: first(o.model, a.cfg.GetString(key+"model")),
		APIKeyEnv: first(o.apiKeyEnv, a.cfg.GetString(key+"api_key_env")), MaxRetries: a.cfg.GetInt(key + "max_retries")}
	idle, err := seconds(a.cfg.Get(key + "idle_timeout"))
	if err != nil {
		return nil, fmt.Errorf("%sidle_timeout in %s: %w; use a duration such as 120s", key, a.configFile(), err)
	}
	cfg.IdleTimeout = idle
	cfg, err = cfg.Resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Type == llm.Anthropic {
		return anthropic.New(cfg), nil
	}
	return openai.New(cfg), nil
}

// providerNames lists the providers.<name> entries of the config.
func (a *app) providerNames() []string {
	var names []string
	for n := range a.cfg.GetStringMap("providers") {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (a *app) configFile() string {
	if f := a.cfg.ConfigFileUsed(); f != "" {
		return f
	}
	return "config.yaml (in KRELLIN_HOME or ~/.config/krellin)"
}

// seconds reads a duration from the config: a plain number is seconds,
// a string may also be a Go duration ("90s", "2m"); nothing is 0.
func seconds(v any) (time.Duration, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		return time.Duration(v) * time.Second, nil
	case int64:
		return time.Duration(v) * time.Second, nil
	case float64:
		return time.Duration(v * float64(time.Second)), nil
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(f * float64(time.Second)), nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", v)
		}
		return d, nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// lockedWriter lets the agent's log and the interrupt notice share
// stderr.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
