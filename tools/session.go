package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/notes"
)

type logArgs struct {
	Last *int `json:"last"`
}

func showLog(ctx context.Context, s *Set, raw json.RawMessage, _ string) Result {
	var a logArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	if a.Last != nil && *a.Last < 1 {
		return errorf("last must be at least 1; leave it out for the whole log")
	}
	log, err := s.d.Log(ctx, s.target)
	if err != nil {
		return failed(err)
	}
	if a.Last != nil && *a.Last < len(log) {
		log = log[len(log)-*a.Last:]
	}
	var b strings.Builder
	for _, e := range log {
		fmt.Fprintf(&b, "%d %s %s", e.Seq, e.Status, e.Subject)
		if e.Author != "" && e.Author != "krellin" {
			b.WriteString(" [" + e.Author + "]")
		}
		b.WriteString("\n")
	}
	return Result{Text: capText(b.String())}
}

type diffArgs struct {
	From *int `json:"from"`
	To   *int `json:"to"`
}

func showDiff(ctx context.Context, s *Set, raw json.RawMessage, _ string) Result {
	var a diffArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	point := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	d, err := s.d.Diff(ctx, api.DiffRequest{Target: s.target, From: point(a.From), To: point(a.To)})
	if err != nil {
		return failed(err)
	}
	if d == "" {
		return Result{Text: "no changes"}
	}
	return Result{Text: capText(d)}
}

type resetArgs struct {
	ToSeq *int `json:"to_seq"`
}

func reset(ctx context.Context, s *Set, raw json.RawMessage, why string) Result {
	var a resetArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	if a.ToSeq == nil {
		return errorf("to_seq is required: the sequence number from the log to go back to (0 for the base)")
	}
	req := s.request(actions.Reset, why)
	req.ToSeq = *a.ToSeq
	return s.act(ctx, req, fmt.Sprintf("workspace reset to action %d", *a.ToSeq))
}

// request starts an action request from this set.
func (s *Set) request(kind, why string) api.ActionRequest {
	a := s.author
	return api.ActionRequest{Target: s.target, Kind: kind, Author: &a, Why: why}
}

// act runs a file or session action and reports how it went.
func (s *Set) act(ctx context.Context, req api.ActionRequest, done string) Result {
	// File and session actions write no output.
	a, err := s.d.Act(ctx, req, io.Discard, io.Discard)
	if err != nil {
		return failed(err)
	}
	if a.Status != api.StatusOK {
		return Result{Text: fmt.Sprintf("%s (recorded as failed action %d)", a.Error, a.Seq), IsError: true}
	}
	msg := fmt.Sprintf("%s; recorded as action %d", done, a.Seq)
	if len(a.Files) > 0 {
		msg += "; files: " + strings.Join(a.Files, ", ")
	}
	return Result{Text: msg}
}

// decode reads a call's arguments; unknown fields are refused, so a
// misspelt argument is not silently dropped.
func decode(raw json.RawMessage, v any) (Result, bool) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf("bad arguments: %v", err), false
	}
	return Result{}, true
}

func errorf(format string, args ...any) Result {
	return Result{Text: fmt.Sprintf(format, args...), IsError: true}
}

// failed turns a daemon error into a result the model can read.
func failed(err error) Result {
	return Result{Text: err.Error(), IsError: true}
}

// capText keeps the head and tail of a long text.
func capText(s string) string {
	if len(s) <= maxResult {
		return s
	}
	half := maxResult / 2
	return s[:half] + fmt.Sprintf("\n[... %d bytes cut ...]\n", len(s)-2*half) + s[len(s)-half:]
}

// capture keeps the head and tail of a command's output for the model.
func capture() *notes.Capture { return notes.NewCaptureSize(maxResult/2, maxResult/2) }

// text renders a capture, saying where bytes were cut.
func text(c *notes.Capture) string {
	o := c.Output()
	if !o.Cut() {
		return string(o.Head) + string(o.Tail)
	}
	cut := o.Total - int64(len(o.Head)+len(o.Tail))
	return string(o.Head) + fmt.Sprintf("\n[... %d bytes cut here; run the command again with its output filtered (grep, head, tail) to see more ...]\n", cut) + string(o.Tail)
}
