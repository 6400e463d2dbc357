// Package notes holds the full record of each action, kept as a git note
// on the action's commit: what ran, how it ended, and its output, written
// so that `git log --notes` reads well and Decode gets every byte back.
package notes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Record is everything Krellin knows about one action.
type Record struct {
	Action      string        // start, run, fetch, write, patch, reset
	Argv        []string      // run and fetch
	Workdir     string        // run and fetch, inside the capsule
	Timeout     time.Duration // run and fetch: the limit it ran under
	Env         []string      // K=V passed explicitly with the command
	Path        string        // write
	Files       []string      // patch: the paths it touched
	TargetSeq   *int          // reset
	Exit        *int          // run and fetch
	TimedOut    bool          // killed at its timeout
	Interrupted bool          // cut short by the engine or the daemon
	Error       string        // why the action failed, if it did
	Start       time.Time     // when it began
	Duration    time.Duration // how long it took
	Info        []string      // free lines: session details
	Warnings    []string      // what the operator should hear: drift, recoveries
	Why         []byte        // what led to the action: an agent's reasoning, a prompt
	Input       []byte        // write content, patch text or a conversation, exactly
	InputBlob   string        // instead of Input: the blob holding it, when the tree has it
	Stdout      Output
	Stderr      Output
}

// ErrMalformed reports a note that Decode cannot read.
var ErrMalformed = errors.New("malformed krellin note")

// Encode renders r as note text: a header a person can read, then the
// exact bytes of input and output in sections whose lengths the header
// gives.
func Encode(r Record) []byte {
	var b bytes.Buffer
	field := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }

	field("Action", r.Action)
	if r.Argv != nil {
		field("Command", ShellQuote(r.Argv))
		field("Argv", jsonText(r.Argv))
	}
	if r.Workdir != "" {
		field("Workdir", oneLine(r.Workdir))
	}
	if r.Timeout > 0 {
		field("Timeout", r.Timeout.String())
	}
	if len(r.Env) > 0 {
		field("Env", jsonText(r.Env))
	}
	if r.Path != "" {
		field("Path", strconv.Quote(r.Path))
	}
	for _, f := range r.Files {
		field("File", strconv.Quote(f))
	}
	if r.TargetSeq != nil {
		field("Target-Seq", strconv.Itoa(*r.TargetSeq))
	}
	if r.Exit != nil {
		field("Exit", strconv.Itoa(*r.Exit))
	}
	if r.TimedOut {
		field("Timed-Out", "yes")
	}
	if r.Interrupted {
		field("Interrupted", "yes")
	}
	if r.Error != "" {
		field("Error", oneLine(r.Error))
	}
	for _, s := range r.Info {
		field("Info", oneLine(s))
	}
	for _, s := range r.Warnings {
		field("Warning", oneLine(s))
	}
	field("Start", r.Start.UTC().Format(time.RFC3339Nano))
	field("Duration", r.Duration.String())
	if r.Why != nil {
		field("Why", fmt.Sprintf("%d bytes", len(r.Why)))
	}
	if r.Input != nil {
		field("Input", fmt.Sprintf("%d bytes", len(r.Input)))
	}
	if r.InputBlob != "" {
		field("Input-Blob", r.InputBlob)
	}
	if r.Action == "run" || r.Action == "fetch" || r.Stdout.Total > 0 || r.Stderr.Total > 0 {
		field("Stdout", describe(r.Stdout))
		field("Stderr", describe(r.Stderr))
	}

	if r.Why != nil {
		section(&b, "why", r.Why, nil, 0)
	}
	if r.Input != nil {
		section(&b, "input", r.Input, nil, 0)
	}
	for _, s := range []struct {
		name string
		o    Output
	}{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		if s.o.Total > 0 {
			section(&b, s.name, s.o.Head, s.o.Tail, s.o.Total)
		}
	}
	return b.Bytes()
}

// describe summarises an output stream for the header. Decode reads the
// kept lengths back from it.
func describe(o Output) string {
	s := fmt.Sprintf("%d bytes", o.Total)
	if o.Total > 0 {
		s += " sha256:" + o.SHA256
	}
	if o.Cut() {
		s += fmt.Sprintf(" kept %d+%d", len(o.Head), len(o.Tail))
	}
	return s
}

// section writes one body section. A cut stream shows where bytes were
// dropped between its head and tail.
func section(b *bytes.Buffer, name string, head, tail []byte, total int64) {
	fmt.Fprintf(b, "\n--- %s ---\n", name)
	b.Write(head)
	if total > int64(len(head)+len(tail)) {
		fmt.Fprintf(b, "\n... [%d bytes omitted] ...\n", total-int64(len(head)+len(tail)))
	}
	b.Write(tail)
	fmt.Fprintf(b, "\n--- end %s ---\n", name)
}

// jsonText encodes v without HTML escaping, so "<" reads as "<".
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// Decode reads a note written by Encode.
func Decode(note []byte) (Record, error) {
	var r Record
	header, body, _ := bytes.Cut(note, []byte("\n\n--- "))
	if len(body) > 0 {
		body = append([]byte("--- "), body...)
	}

	kept := map[string][3]int{}
	sc := bufio.NewScanner(bytes.NewReader(header))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		if err := r.set(k, v, kept); err != nil {
			return r, fmt.Errorf("%w: %s: %v", ErrMalformed, k, err)
		}
	}
	if r.Action == "" {
		return r, fmt.Errorf("%w: no Action field", ErrMalformed)
	}
	if err := r.readBody(body, kept); err != nil {
		return r, err
	}
	return r, nil
}

// set stores one header field.
func (r *Record) set(k, v string, kept map[string][3]int) error {
	var err error
	switch k {
	case "Action":
		r.Action = v
	case "Argv":
		err = json.Unmarshal([]byte(v), &r.Argv)
	case "Workdir":
		r.Workdir = v
	case "Input-Blob":
		r.InputBlob = v
	case "Timeout":
		r.Timeout, err = time.ParseDuration(v)
	case "Env":
		err = json.Unmarshal([]byte(v), &r.Env)
	case "Path":
		r.Path, err = strconv.Unquote(v)
	case "File":
		var f string
		f, err = strconv.Unquote(v)
		r.Files = append(r.Files, f)
	case "Target-Seq":
		r.TargetSeq, err = atoiPtr(v)
	case "Exit":
		r.Exit, err = atoiPtr(v)
	case "Timed-Out":
		r.TimedOut = v == "yes"
	case "Interrupted":
		r.Interrupted = v == "yes"
	case "Error":
		r.Error = v
	case "Info":
		r.Info = append(r.Info, v)
	case "Warning":
		r.Warnings = append(r.Warnings, v)
	case "Start":
		r.Start, err = time.Parse(time.RFC3339Nano, v)
	case "Duration":
		r.Duration, err = time.ParseDuration(v)
	case "Input", "Why":
		var n int
		_, err = fmt.Sscanf(v, "%d bytes", &n)
		if n < 0 {
			err = errors.New("negative length")
		}
		kept[strings.ToLower(k)] = [3]int{n, 0, 0}
	case "Stdout", "Stderr":
		err = parseOutput(v, k, r, kept)
	}
	return err
}

func atoiPtr(v string) (*int, error) {
	n, err := strconv.Atoi(v)
	return &n, err
}

// parseOutput reads "N bytes sha256:H kept A+B" into the record.
func parseOutput(v, k string, r *Record, kept map[string][3]int) error {
	o := &r.Stdout
	if k == "Stderr" {
		o = &r.Stderr
	}
	f := strings.Fields(v)
	if len(f) < 2 {
		return errors.New("short output field")
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return errors.New("bad byte count")
	}
	o.Total = n
	a, b, cut := int(n), 0, 0
	for i := 2; i < len(f); i++ {
		switch {
		case strings.HasPrefix(f[i], "sha256:"):
			o.SHA256 = strings.TrimPrefix(f[i], "sha256:")
		case f[i] == "kept" && i+1 < len(f):
			if _, err := fmt.Sscanf(f[i+1], "%d+%d", &a, &b); err != nil {
				return err
			}
			if a < 0 || b < 0 || int64(a)+int64(b) >= n {
				return errors.New("kept more than the total")
			}
			cut = 1
			i++
		}
	}
	kept[strings.ToLower(k)] = [3]int{a, b, cut}
	return nil
}

// readBody takes the exact bytes of each section, using the lengths the
// header announced.
func (r *Record) readBody(body []byte, kept map[string][3]int) error {
	for len(body) > 0 {
		line, rest, ok := bytes.Cut(body, []byte("\n"))
		if !ok {
			return fmt.Errorf("%w: truncated section", ErrMalformed)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(string(line), "--- "), " ---")
		k, ok := kept[name]
		if !ok {
			return fmt.Errorf("%w: unknown section %q", ErrMalformed, name)
		}
		head, tail, rest, err := takeSection(rest, name, k[0], k[1], k[2] == 1)
		if err != nil {
			return err
		}
		switch name {
		case "input":
			r.Input = head
		case "why":
			r.Why = head
		case "stdout":
			r.Stdout.Head, r.Stdout.Tail = head, tail
		case "stderr":
			r.Stderr.Head, r.Stderr.Tail = head, tail
		}
		body = bytes.TrimPrefix(rest, []byte("\n"))
	}
	return nil
}

// takeSection cuts one section's head and tail bytes off b.
func takeSection(b []byte, name string, nHead, nTail int, cut bool) (head, tail, rest []byte, err error) {
	bad := fmt.Errorf("%w: section %s is shorter than its header says", ErrMalformed, name)
	if len(b) < nHead {
		return nil, nil, nil, bad
	}
	head, b = b[:nHead], b[nHead:]
	if cut {
		_, after, ok := bytes.Cut(b, []byte(" bytes omitted] ...\n"))
		if !ok || len(after) < nTail {
			return nil, nil, nil, bad
		}
		tail, b = after[:nTail], after[nTail:]
	}
	end := "\n--- end " + name + " ---\n"
	if !bytes.HasPrefix(b, []byte(end)) {
		return nil, nil, nil, bad
	}
	return head, tail, b[len(end):], nil
}

// ShellQuote renders argv the way a person would type it in sh.
func ShellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	if strings.IndexFunc(a, unicode.IsControl) >= 0 {
		return strconv.Quote(a)
	}
	safe := true
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune("-_./=:,+@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
