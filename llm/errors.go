package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Kinds of provider failure, for errors.Is.
var (
	ErrAuth        = errors.New("the provider refused the API key")
	ErrRateLimit   = errors.New("the provider is rate limiting")
	ErrServer      = errors.New("the provider failed")
	ErrBadRequest  = errors.New("the provider rejected the request")
	ErrUnreachable = errors.New("the provider cannot be reached")
	ErrProtocol    = errors.New("the provider's reply could not be read")
	ErrStalled     = errors.New("the provider went silent")
)

// Error is a failed call to a provider. Its text names the provider, what
// went wrong and what to do; it never holds the API key.
type Error struct {
	Provider string
	Kind     error  // one of the Err kinds above
	Status   int    // the HTTP status, 0 when there was none
	Message  string // the provider's own words, shortened
	Hint     string // what to do next
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider + ": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Kind.Error())
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrAuth) and the like work.
func (e *Error) Is(target error) bool { return e.Kind == target }

// KindOf classifies an HTTP status.
func KindOf(status int) error {
	switch {
	case status == 401 || status == 403:
		return ErrAuth
	case status == 429:
		return ErrRateLimit
	case status >= 500:
		return ErrServer
	}
	return ErrBadRequest
}

// HTTPError builds the error for a provider's error reply, with a hint
// that fits its kind.
func HTTPError(c Config, status int, message string) *Error {
	e := &Error{Provider: c.Name, Kind: KindOf(status), Status: status, Message: c.clean(message)}
	switch e.Kind {
	case ErrAuth:
		e.Hint = c.keyHint()
	case ErrRateLimit:
		e.Hint = "wait and try again, or use another model or key"
	case ErrServer:
		e.Hint = "try again later"
	case ErrBadRequest:
		if status == 404 {
			e.Hint = fmt.Sprintf("check the base URL (%s) and the model (%s)", c.BaseURL, c.Model)
		}
	}
	return e
}

// TransportError classifies an error that came without an HTTP reply:
// the context's own error is returned as it is.
func TransportError(ctx context.Context, c Config, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return &Error{Provider: c.Name, Kind: ErrUnreachable, Message: c.clean(oe.Error()),
			Hint: fmt.Sprintf("is a server answering at %s? (--base-url, providers.%s.base_url)", c.BaseURL, c.Name)}
	}
	return &Error{Provider: c.Name, Kind: ErrProtocol, Message: c.clean(err.Error())}
}

func (c Config) keyHint() string {
	if c.APIKey == "" {
		return fmt.Sprintf("no key was sent: name the variable that holds it with --api-key-env or providers.%s.api_key_env", c.Name)
	}
	return fmt.Sprintf("check the key in $%s", c.APIKeyEnv)
}

// clean shortens a provider's message to one line and masks the key.
func (c Config) clean(s string) string {
	if c.APIKey != "" {
		s = strings.ReplaceAll(s, c.APIKey, "********")
	}
	s = strings.TrimRight(strings.Join(strings.Fields(s), " "), ".")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}
