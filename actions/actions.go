// Package actions defines the kinds of action an agent can take in a
// capsule and how each one runs. Every action produces a notes.Record; the
// caller turns the workspace that results into the action's commit.
package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/notes"
)

// The action kinds.
const (
	Start = "start"
	Run   = "run"
	Fetch = "fetch"
	Write = "write"
	Patch = "patch"
	Edit  = "edit" // replace one exact occurrence of a text in a file
	Reset = "reset"
	// Recover records workspace changes found after the daemon restarted:
	// the effect of an action that was cut short before its commit.
	Recover = "recover"
	// Shell is an interactive terminal session (a shell, or an agent's
	// own CLI); its note keeps the terminal transcript as asciicast v2.
	Shell = "shell"
	// Snapshot records the workspace as it settled during a shell.
	Snapshot = "snapshot"
	// Restore puts the workspace at a recorded tree: how a replay redoes
	// what an interactive session did, which cannot be rerun.
	Restore = "restore"
	// Ask records an agent's conversation (Input) and how it ended; it
	// runs nothing.
	Ask = "ask"
)

// MaxInput bounds the content of one write or patch.
const MaxInput = 64 << 20

// DefaultTimeout applies to run and fetch when the request names none.
const DefaultTimeout = 30 * time.Minute

// ErrBadRequest marks a request that is wrong before anything runs.
var ErrBadRequest = errors.New("bad request")

// Request is one action as a client asks for it.
type Request struct {
	Kind    string
	Argv    []string      // run, fetch
	Workdir string        // run, fetch: relative to /workspace, or absolute under it
	Env     []string      // run, fetch: K=V
	Timeout time.Duration // run, fetch
	Path    string        // write
	Input   []byte        // write content, patch text
	ToSeq   int           // reset
	Why     string        // any kind: what led to it; for ask, the prompt
	Author  string        // who asked: name, and email in <>, or ""
	Status  string        // ask: ok, interrupted or failed
	Error   string        // ask: why it failed or stopped
	Took    time.Duration // ask: how long the conversation took
	Tree    string        // restore: the tree to put in place (set by replay only)

	// Set by the daemon, never by a client.
	Secrets []string // values masked in output and records
	Offline bool     // the policy allows no egress at all
}

// Box is the capsule an action runs in.
type Box interface {
	Exec(ctx context.Context, x capsule.Exec) (int, error)
	Cancel(ctx context.Context, action string) error
	Sweep(ctx context.Context) error // kill every process of the capsule's commands
	Kill(ctx context.Context) error  // remove the container: the last resort
	SetNetwork(ctx context.Context, on bool) error
}

// Check validates a request before it is queued.
func Check(r Request) error {
	if err := checkText(r); err != nil {
		return err
	}
	switch r.Kind {
	case Run, Fetch:
		if r.Timeout < 0 {
			return fmt.Errorf("%w: --timeout must be positive", ErrBadRequest)
		}
		if len(r.Argv) == 0 {
			return fmt.Errorf("%w: %s needs a command (krellin %s -- CMD [ARG...])", ErrBadRequest, r.Kind, r.Kind)
		}
		if _, err := Workdir(r.Workdir); err != nil {
			return err
		}
		for _, kv := range r.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return fmt.Errorf("%w: --env %q is not K=V", ErrBadRequest, kv)
			}
		}
	case Edit:
		if r.Path == "" {
			return fmt.Errorf("%w: edit needs a path", ErrBadRequest)
		}
		if _, err := ParseEdit(r.Input); err != nil {
			return err
		}
		fallthrough
	case Write:
		if r.Path == "" {
			return fmt.Errorf("%w: write needs a path", ErrBadRequest)
		}
		fallthrough
	case Patch:
		if len(r.Input) > MaxInput {
			return fmt.Errorf("%w: input of %d bytes is over the %d byte limit", ErrBadRequest, len(r.Input), MaxInput)
		}
	case Restore:
		if len(r.Tree) != 40 {
			return fmt.Errorf("%w: restore needs a tree hash", ErrBadRequest)
		}
	case Shell:
		if len(r.Argv) == 0 {
			return fmt.Errorf("%w: a terminal session needs a command", ErrBadRequest)
		}
	case Ask:
		if len(r.Input) > MaxInput {
			return fmt.Errorf("%w: conversation of %d bytes is over the %d byte limit", ErrBadRequest, len(r.Input), MaxInput)
		}
		if r.Took < 0 || r.Took > 7*24*time.Hour {
			return fmt.Errorf("%w: ask duration %s is not plausible", ErrBadRequest, r.Took)
		}
		switch r.Status {
		case "ok", "interrupted", "failed":
		default:
			return fmt.Errorf("%w: ask status %q is not ok, interrupted or failed", ErrBadRequest, r.Status)
		}
	case Reset:
		if r.ToSeq < 0 {
			return fmt.Errorf("%w: reset --to takes a sequence number from `krellin log`", ErrBadRequest)
		}
	default:
		return fmt.Errorf("%w: unknown action kind %q", ErrBadRequest, r.Kind)
	}
	return nil
}

// checkText refuses text fields that are not valid UTF-8: the API carries
// them as JSON strings, which cannot hold such bytes exactly, and a record
// that silently changed them would not be the command that ran.
func checkText(r Request) error {
	fields := append(append([]string{r.Path, r.Workdir, r.Author}, r.Argv...), r.Env...)
	for _, f := range fields {
		if !utf8.ValidString(f) {
			return fmt.Errorf("%w: %q is not valid UTF-8; Krellin records commands and paths exactly and cannot carry these bytes", ErrBadRequest, f)
		}
		if strings.ContainsRune(f, 0) {
			return fmt.Errorf("%w: %q contains a NUL byte", ErrBadRequest, f)
		}
	}
	return nil
}

// Workdir resolves a run's working directory inside the capsule.
func Workdir(dir string) (string, error) {
	if dir == "" {
		return capsule.WorkspacePath, nil
	}
	p := dir
	if !path.IsAbs(p) {
		p = path.Join(capsule.WorkspacePath, p)
	}
	p = path.Clean(p)
	if p != capsule.WorkspacePath && !strings.HasPrefix(p, capsule.WorkspacePath+"/") {
		return "", fmt.Errorf("%w: --workdir %s is outside %s", ErrBadRequest, dir, capsule.WorkspacePath)
	}
	return p, nil
}

// Exec runs a run or fetch action, streaming its output to stdout and
// stderr as it comes. Fetch has network egress for exactly its duration.
func Exec(ctx context.Context, box Box, r Request, stdout, stderr io.Writer) (rec notes.Record) {
	rec = notes.Record{Action: r.Kind, Argv: MaskStrings(r.Argv, r.Secrets), Start: time.Now()}
	rec.Workdir, _ = Workdir(r.Workdir)
	rec.Env = MaskStrings(r.Env, r.Secrets)
	outCap, errCap := notes.NewCapture(), notes.NewCapture()
	outW, flushOut := NewMasker(io.MultiWriter(outCap, orDiscard(stdout)), r.Secrets)
	errW, flushErr := NewMasker(io.MultiWriter(errCap, orDiscard(stderr)), r.Secrets)
	defer func() {
		flushOut()
		flushErr()
		rec.Duration = time.Since(rec.Start)
		rec.Stdout, rec.Stderr = outCap.Output(), errCap.Output()
	}()

	if r.Kind == Fetch && r.Offline {
		rec.Error = "refused: the capsule's policy allows no network (network: never)"
		return rec
	}
	if r.Kind == Fetch {
		if err := box.SetNetwork(ctx, true); err != nil {
			rec.Error = "turn network on: " + err.Error()
			return rec
		}
		defer func() {
			if err := box.SetNetwork(context.WithoutCancel(ctx), false); err != nil {
				rec.Error = joinErr(rec.Error, "turn network off: "+err.Error())
			}
		}()
	}

	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rec.Timeout = timeout
	x := capsule.Exec{
		Argv: r.Argv, Workdir: rec.Workdir, Env: r.Env, Timeout: timeout, ID: newID(),
		Stdout: outW,
		Stderr: errW,
	}
	code, err := runCancellable(ctx, box, x)
	switch {
	case err != nil:
		rec.Interrupted, rec.Error = true, err.Error()
	case ctx.Err() != nil:
		rec.Exit, rec.Interrupted, rec.Error = &code, true, "stopped: the client went away or the daemon is stopping"
	default:
		rec.Exit = &code
		// krellin-exec exits 124 at the timeout; a command that stopped or
		// killed krellin-exec is ended by the daemon's backstop instead.
		rec.TimedOut = time.Since(rec.Start) >= timeout && (code == capsule.TimeoutExit || code >= 128)
	}
	return rec
}

// Grace periods for a command that does not end when it should.
var (
	// backstop: how long past its timeout a command may take before the
	// daemon steps in (krellin-exec itself enforces the timeout).
	backstop = 3 * time.Second
	// escalate: how long each step of stopping waits before the next.
	escalate = 2 * time.Second
)

// runCancellable runs x. If ctx ends, or the command outlives its timeout
// (krellin-exec was stopped or killed by the command), it stops it in
// steps: ask krellin-exec, kill every process of the capsule's commands,
// then remove the container. It always returns, with the status if there
// is one. A status from a signal sweeps up anything left behind.
func runCancellable(ctx context.Context, box Box, x capsule.Exec) (int, error) {
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	bg := context.WithoutCancel(ctx)
	go func() {
		code, err := box.Exec(bg, x)
		done <- result{code, err}
	}()
	wait := func(d time.Duration) (result, bool) {
		select {
		case r := <-done:
			return r, true
		case <-time.After(d):
			return result{}, false
		}
	}

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = stop(bg, box, x.ID, wait)
	case <-time.After(x.Timeout + backstop):
		r = stop(bg, box, x.ID, wait)
	}
	if r.err == nil && r.code >= 128 {
		box.Sweep(bg)
	}
	return r.code, r.err
}

// stop ends a command that will not end by itself, in steps.
func stop[R any](ctx context.Context, box Box, id string, wait func(time.Duration) (R, bool)) R {
	box.Cancel(ctx, id)
	if r, ok := wait(escalate); ok {
		return r
	}
	box.Sweep(ctx)
	if r, ok := wait(escalate); ok {
		return r
	}
	box.Kill(ctx)
	r, _ := wait(time.Hour)
	return r
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
