package llm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfig_Resolve(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": "sk-1", "MY_KEY": " sk-2\n"}
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name    string
		in      Config
		wantURL string
		wantKey string
		wantErr string // part of the error; "" for none
	}{
		{name: "openai defaults to its API and OPENAI_API_KEY",
			in: Config{Name: "openai", Model: "m"}, wantURL: "https://api.openai.com/v1", wantKey: "sk-1"},
		{name: "a named key variable is read and trimmed",
			in: Config{Name: "openai", Model: "m", APIKeyEnv: "MY_KEY"}, wantURL: "https://api.openai.com/v1", wantKey: "sk-2"},
		{name: "anthropic's own API needs its key",
			in: Config{Name: "anthropic", Model: "m"}, wantErr: "the API key variable $ANTHROPIC_API_KEY is not set"},
		{name: "a local server needs no key",
			in: Config{Name: "ollama", Type: "openai", Model: "m", BaseURL: "http://127.0.0.1:11434/v1"}, wantURL: "http://127.0.0.1:11434/v1"},
		{name: "a local server gets no key from the default variable",
			in: Config{Name: "vllm", Type: "openai", Model: "m", BaseURL: "http://10.1.2.3:8000/v1"}, wantURL: "http://10.1.2.3:8000/v1"},
		{name: "a named variable that is unset is an error even for a local server",
			in: Config{Name: "ollama", Type: "openai", Model: "m", BaseURL: "http://localhost:11434/v1", APIKeyEnv: "NOPE"}, wantErr: "$NOPE is not set"},
		{name: "an unknown type says which exist",
			in: Config{Name: "gemini", Model: "m"}, wantErr: `unknown type "gemini"; use openai or anthropic`},
		{name: "a model is required",
			in: Config{Name: "openai"}, wantErr: "provider openai: no model; pass --model or set providers.openai.model"},
		{name: "a base URL must be http or https",
			in: Config{Name: "openai", Model: "m", BaseURL: "127.0.0.1:8080"}, wantErr: "is not an http or https URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.in.Resolve(getenv)
			if c.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.BaseURL != c.wantURL || got.APIKey != c.wantKey {
				t.Errorf("base URL %q key %q, want %q %q", got.BaseURL, got.APIKey, c.wantURL, c.wantKey)
			}
		})
	}
}

func TestConfig_ResolveIdleTimeout(t *testing.T) {
	local := Config{Name: "ollama", Type: "openai", Model: "m", BaseURL: "http://127.0.0.1:11434/v1"}
	got, err := local.Resolve(func(string) string { return "" })
	if err != nil || got.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("idle timeout %s (%v), want the default %s", got.IdleTimeout, err, DefaultIdleTimeout)
	}
	local.IdleTimeout = -time.Second
	if _, err := local.Resolve(func(string) string { return "" }); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "idle_timeout") {
		t.Errorf("a negative idle timeout gave %v", err)
	}
}
