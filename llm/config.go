package llm

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Wire formats a provider can speak.
const (
	OpenAI    = "openai"    // chat completions: OpenAI, Ollama, llama.cpp, vLLM
	Anthropic = "anthropic" // the Messages API
)

// Config says how to reach one provider. It comes from the user's config
// (providers.<name>) and the command line, never from a repository.
type Config struct {
	Name       string // the providers.<name> entry, or the wire format's name
	Type       string // OpenAI or Anthropic; defaults to Name
	BaseURL    string // defaults to the vendor's own API
	Model      string
	APIKeyEnv  string // the variable holding the key; defaults by Type
	APIKey     string // read from APIKeyEnv by Resolve; never logged
	MaxRetries int    // on 429, 5xx and lost connections; negative means none
	// IdleTimeout is how long the provider may send nothing, before the
	// reply starts or between its chunks, before the turn fails; 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout allows for a slow model reading a long prompt.
const DefaultIdleTimeout = 120 * time.Second

// ErrConfig marks a configuration that cannot work as given.
var ErrConfig = errors.New("provider")

var defaults = map[string]struct{ baseURL, keyEnv string }{
	OpenAI:    {"https://api.openai.com/v1", "OPENAI_API_KEY"},
	Anthropic: {"https://api.anthropic.com", "ANTHROPIC_API_KEY"},
}

// Resolve fills in defaults, checks the configuration and reads the API
// key with getenv from APIKeyEnv, which must then be set. The vendor's
// own API defaults to its usual variable; any other server (Ollama,
// llama.cpp, vLLM) gets a key only when its variable is named, so that
// an OPENAI_API_KEY in the environment never goes to some other host.
func (c Config) Resolve(getenv func(string) string) (Config, error) {
	if c.Type == "" {
		c.Type = c.Name
	}
	d, ok := defaults[c.Type]
	if !ok {
		return c, fmt.Errorf("%w %s: unknown type %q; use %s or %s (set providers.%s.type)",
			ErrConfig, c.Name, c.Type, OpenAI, Anthropic, c.Name)
	}
	if c.Model == "" {
		return c, fmt.Errorf("%w %s: no model; pass --model or set providers.%s.model", ErrConfig, c.Name, c.Name)
	}
	if c.BaseURL == "" {
		c.BaseURL = d.baseURL
	}
	if c.IdleTimeout < 0 {
		return c, fmt.Errorf("%w %s: idle_timeout %s is negative; set providers.%s.idle_timeout to a duration such as 120s",
			ErrConfig, c.Name, c.IdleTimeout, c.Name)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%w %s: base URL %q is not an http or https URL", ErrConfig, c.Name, c.BaseURL)
	}
	if c.APIKeyEnv == "" && c.BaseURL == d.baseURL {
		c.APIKeyEnv = d.keyEnv
	}
	if c.APIKeyEnv == "" {
		return c, nil
	}
	c.APIKey = strings.TrimSpace(getenv(c.APIKeyEnv))
	if c.APIKey == "" {
		return c, fmt.Errorf("%w %s: the API key variable $%s is not set; export it, or name another variable with --api-key-env or providers.%s.api_key_env",
			ErrConfig, c.Name, c.APIKeyEnv, c.Name)
	}
	return c, nil
}
