package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// errIdle is the cause an Idle watch cancels its context with.
var errIdle = errors.New("idle timeout")

// Idle fails a streamed reply when the provider sends nothing for a
// while: a server that keeps the connection open but stops writing would
// otherwise hold the conversation forever. Any byte of the response
// counts as a sign of life, keep-alive comments and pings included, so a
// slow model that says it is still working is not cut off.
type Idle struct {
	timeout time.Duration
	timer   *time.Timer
}

// WatchIdle starts the clock: the returned context is cancelled when
// timeout passes without a call to Touch or a byte read through a body
// Middleware wrapped. A timeout of 0 means DefaultIdleTimeout. Call Stop
// when the reply is over.
func WatchIdle(ctx context.Context, timeout time.Duration) (context.Context, *Idle) {
	if timeout <= 0 {
		timeout = DefaultIdleTimeout
	}
	ctx, cancel := context.WithCancelCause(ctx)
	w := &Idle{timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() { cancel(errIdle) })
	return ctx, w
}

// Touch restarts the clock.
func (w *Idle) Touch() { w.timer.Reset(w.timeout) }

// Stop stops the clock for good.
func (w *Idle) Stop() { w.timer.Stop() }

// Fired reports whether ctx, from WatchIdle, ended because of the idle
// timeout rather than its parent ending.
func Fired(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errIdle)
}

// Middleware fits both SDKs' option.WithMiddleware: it restarts the clock
// when a response arrives and on every read of its body that returns
// data.
func (w *Idle) Middleware(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	resp, err := next(req)
	w.Touch()
	if resp != nil && resp.Body != nil {
		resp.Body = &touchingBody{ReadCloser: resp.Body, w: w}
	}
	return resp, err
}

type touchingBody struct {
	io.ReadCloser
	w *Idle
}

func (b *touchingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.Touch()
	}
	return n, err
}

// StalledError is the error for a reply the idle timeout cut off.
func StalledError(c Config, timeout time.Duration) *Error {
	if timeout <= 0 {
		timeout = DefaultIdleTimeout
	}
	return &Error{Provider: c.Name, Kind: ErrStalled,
		Message: fmt.Sprintf("it sent nothing for %gs", timeout.Seconds()),
		Hint:    fmt.Sprintf("try again, or raise providers.%s.idle_timeout if the model is slow to start", c.Name)}
}
