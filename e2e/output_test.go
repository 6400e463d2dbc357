//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Helpers for the Rob* tests. Every name starts with rob so that nothing
// clashes with the shared harness.

// robEnviron is the harness's environment for krellin plus one setting
// for the race runtime: without it every race-built client sleeps a
// second before it exits (TSan's atexit_sleep_ms), which would swamp the
// timings these tests measure.
func (e *env) robEnviron() []string {
	return append(e.environ(), "GORACE=atexit_sleep_ms=0")
}

// robExec runs krellin in the repository with stdin and stdout as given
// (nil: empty stdin, stdout kept in the result) and returns what it did.
// It makes no testing.T calls, so goroutines may use it.
func (e *env) robExec(stdin io.Reader, stdout io.Writer, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "krellin"), args...)
	cmd.Dir, cmd.Env = e.repo, e.robEnviron()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("krellin %s: no answer after %s\n%s", strings.Join(args, " "), commandTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("krellin %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// robRun is robExec with empty stdin that fails the test when krellin
// cannot be started or does not answer.
func (e *env) robRun(args ...string) result {
	e.t.Helper()
	r, err := e.robExec(nil, nil, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// robOK is robRun that also wants exit status 0.
func (e *env) robOK(args ...string) result {
	e.t.Helper()
	r := e.robRun(args...)
	if r.code != 0 {
		e.t.Fatalf("krellin %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// robNote returns the note of commit in session byte for byte.
func (e *env) robNote(session, commit string) []byte {
	e.t.Helper()
	blob := e.git(e.repo, "notes", "--ref=krellin/"+session, "list", commit)
	out, errOut, code := e.gitRun(e.repo, "cat-file", "blob", blob)
	if code != 0 {
		e.t.Fatalf("note of %s: %s", commit, errOut)
	}
	return []byte(out)
}

// robStream is one output stream as a note records it, read by the
// format the note's header announces (docs/design.md): the total, the
// hash of everything, and the bytes kept at the head and at the tail.
type robStream struct {
	total      int64
	sha        string
	head, tail []byte
	cut        bool
}

var robStreamHeader = regexp.MustCompile(`^(\d+) bytes(?: sha256:([0-9a-f]{64}))?(?: kept (\d+)\+(\d+))?$`)

// robParseNote reads stream name ("stdout" or "stderr") out of a note.
// It is written from the documented shape, independently of package
// notes, so that a change of format shows here.
func robParseNote(t *testing.T, note []byte, name string) robStream {
	t.Helper()
	header, _, _ := bytes.Cut(note, []byte("\n\n--- "))
	key := strings.ToUpper(name[:1]) + name[1:] + ": "
	var s robStream
	var head, tail int64 = -1, 0
	for line := range strings.Lines(string(header)) {
		v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), key)
		if !ok {
			continue
		}
		m := robStreamHeader.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("note header %q does not read as N bytes sha256:H [kept A+B]", line)
		}
		s.total, _ = strconv.ParseInt(m[1], 10, 64)
		s.sha = m[2]
		head = s.total
		if m[3] != "" {
			s.cut = true
			head, _ = strconv.ParseInt(m[3], 10, 64)
			tail, _ = strconv.ParseInt(m[4], 10, 64)
		}
	}
	if head < 0 {
		t.Fatalf("note has no %s header:\n%s", name, header)
	}
	if s.total == 0 {
		return s
	}
	open := []byte("\n--- " + name + " ---\n")
	i := bytes.Index(note, open)
	if i < 0 {
		t.Fatalf("note has no %s section", name)
	}
	body := note[i+len(open):]
	if int64(len(body)) < head {
		t.Fatalf("%s section is shorter than its header's %d bytes", name, head)
	}
	s.head, body = body[:head], body[head:]
	if s.cut {
		marker := regexp.MustCompile(`^\n\.\.\. \[(\d+) bytes omitted\] \.\.\.\n`).FindSubmatch(body)
		if marker == nil {
			t.Fatalf("cut %s section has no omission marker after its head: %q", name, body[:min(len(body), 60)])
		}
		if n, _ := strconv.ParseInt(string(marker[1]), 10, 64); n != s.total-head-tail {
			t.Errorf("%s: marker says %d bytes omitted, header says %d-%d-%d", name, n, s.total, head, tail)
		}
		body = body[len(marker[0]):]
		if int64(len(body)) < tail {
			t.Fatalf("%s section is shorter than its tail's %d bytes", name, tail)
		}
		s.tail, body = body[:tail], body[tail:]
	}
	if end := "\n--- end " + name + " ---\n"; !bytes.HasPrefix(body, []byte(end)) {
		t.Errorf("%s section does not end where its header says: %q", name, body[:min(len(body), 60)])
	}
	return s
}

// robRef is what a reference run of a command printed: its size, hash,
// and the first and last bytes, enough to check any head and tail a note
// keeps.
type robRef struct {
	total      int64
	sha        string
	head, tail []byte
}

// robRefKeep bounds the head and tail a robRef holds.
const robRefKeep = 1 << 20

// robSink hashes a stream and keeps its head and tail.
type robSink struct {
	h          hash.Hash
	n          int64
	head, tail []byte
}

func newRobSink() *robSink { return &robSink{h: sha256.New()} }

func (s *robSink) Write(p []byte) (int, error) {
	s.h.Write(p)
	s.n += int64(len(p))
	if room := robRefKeep - len(s.head); room > 0 {
		s.head = append(s.head, p[:min(room, len(p))]...)
	}
	s.tail = append(s.tail, p...)
	if len(s.tail) > 2*robRefKeep {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-robRefKeep:]...)
	}
	return len(p), nil
}

func (s *robSink) ref() robRef {
	tail := s.tail
	if len(tail) > robRefKeep {
		tail = tail[len(tail)-robRefKeep:]
	}
	return robRef{total: s.n, sha: hex.EncodeToString(s.h.Sum(nil)), head: s.head, tail: tail}
}

// robLocal runs argv on this machine, wanting exit status code, and
// returns what it printed.
func robLocal(t *testing.T, argv []string, code int) robRef {
	t.Helper()
	sink := newRobSink()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = sink
	err := cmd.Run()
	if got := cmd.ProcessState.ExitCode(); got != code {
		t.Fatalf("local %v: %v, want exit %d", argv, err, code)
	}
	return sink.ref()
}

// robMatches says how a recorded stream differs from the reference, or
// "" when its total, hash, head and tail all agree.
func robMatches(s robStream, ref robRef) string {
	var bad []string
	if s.total != ref.total {
		bad = append(bad, fmt.Sprintf("total %d, want %d", s.total, ref.total))
	}
	if s.sha != ref.sha {
		bad = append(bad, fmt.Sprintf("sha256 %s, want %s", s.sha, ref.sha))
	}
	if len(s.head) > len(ref.head) || !bytes.Equal(s.head, ref.head[:min(len(s.head), len(ref.head))]) {
		bad = append(bad, fmt.Sprintf("head (%d bytes) is not the start of the output", len(s.head)))
	}
	if len(s.tail) > len(ref.tail) || !bytes.HasSuffix(ref.tail, s.tail) {
		bad = append(bad, fmt.Sprintf("tail (%d bytes) is not the end of the output", len(s.tail)))
	}
	if !s.cut && int64(len(s.head)) != ref.total {
		bad = append(bad, fmt.Sprintf("not cut, but keeps %d of %d bytes", len(s.head), ref.total))
	}
	if s.cut && int64(len(s.head)+len(s.tail)) >= s.total {
		bad = append(bad, "marked cut, but keeps everything")
	}
	return strings.Join(bad, "; ")
}

// robAction is an element of `krellin log --json` with the output
// summaries, which the harness's action type leaves out.
type robAction struct {
	action
	Files  []string      `json:"files"`
	Stdout *robOutputSum `json:"stdout"`
	Stderr *robOutputSum `json:"stderr"`
}

type robOutputSum struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	Cut    bool   `json:"cut"`
}

// robLog reads the current session's log with robAction's fields.
func (e *env) robLog() []robAction {
	e.t.Helper()
	r := e.robOK("log", "--json")
	var acts []robAction
	if err := json.Unmarshal([]byte(r.stdout), &acts); err != nil {
		e.t.Fatalf("log --json: %v\n%s", err, r.stdout)
	}
	return acts
}

// robLast is the newest action of the current session.
func (e *env) robLast() robAction {
	e.t.Helper()
	acts := e.robLog()
	return acts[len(acts)-1]
}

// robStatus is `krellin status --json`.
func (e *env) robStatus() status {
	e.t.Helper()
	r := e.robOK("status", "--json")
	var s status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return s
}

func TestRobHugeOutputKeepsDaemonMemoryBounded(t *testing.T) {
	e := newEnv(t)
	session := e.up()
	e.robOK("run", "--", "true")
	pid := e.daemonPID()
	if pid == 0 || !alive(pid) {
		t.Fatalf("no running daemon in %s/daemon.pid", e.home)
	}
	base := peakKiB(t, pid)
	t.Logf("daemon %d: VmHWM %d KiB after a trivial action", pid, base)

	// seq 1e8 takes minutes to stream through a race-built client here;
	// 2e7 (169 MB) shows the same.
	cases := []struct {
		name string
		argv []string
		code int
	}{
		{"500 MB of yes", []string{"sh", "-c", "yes | head -c 500000000"}, 0},
		{"seq 20000000, exit 3 kept", []string{"sh", "-c", "seq 20000000; exit 3"}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			ref := robLocal(t, c.argv, c.code)
			sink := newRobSink()
			r, err := e.robExec(nil, sink, append([]string{"run", "--"}, c.argv...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes in %s", c.name, sink.n, r.took.Round(time.Millisecond))
			if r.code != c.code {
				t.Errorf("want exit %d: %s", c.code, r)
			}
			if got := sink.ref(); got.total != ref.total || got.sha != ref.sha {
				t.Errorf("the client printed %d bytes, sha256 %s; the command here prints %d, %s",
					got.total, got.sha, ref.total, ref.sha)
			}

			peak := peakKiB(t, pid)
			t.Logf("daemon VmHWM %d KiB (%+d KiB over the baseline)", peak, peak-base)
			if grow := peak - base; grow > 64<<10 {
				t.Errorf("daemon peak memory grew by %d MiB streaming %d MB: want under 64 MiB",
					grow>>10, ref.total/1e6)
			}
			if got := e.daemonPID(); got != pid || !alive(pid) {
				t.Fatalf("the daemon (pid %d) is gone; pid file says %d", pid, got)
			}

			acts := e.robLog()
			a := acts[len(acts)-1]
			if a.Status != "ok" || intp(a.ExitCode) != strconv.Itoa(c.code) {
				t.Errorf("log: status %q exit %s, want ok, exit %d", a.Status, intp(a.ExitCode), c.code)
			}
			if a.Stdout == nil || a.Stdout.Bytes != ref.total || a.Stdout.SHA256 != ref.sha || !a.Stdout.Cut {
				t.Errorf("log --json stdout %+v, want %d bytes, sha256 %s, cut", a.Stdout, ref.total, ref.sha)
			}
			note := e.robNote(session, a.Commit)
			if d := robMatches(robParseNote(t, note, "stdout"), ref); d != "" {
				t.Errorf("note: %s", d)
			}
			if !bytes.Contains(note, []byte("Exit: "+strconv.Itoa(c.code)+"\n")) {
				t.Errorf("note does not give exit %d", c.code)
			}
			if len(note) > 256<<10 {
				t.Errorf("note of %d output bytes is %d bytes: want head and tail only", ref.total, len(note))
			}
		})
	}

	t.Run("log and git log --notes stay fast and small", func(t *testing.T) {
		e := e.sub(t)
		r := e.robOK("log")
		if r.took > 5*time.Second || !strings.Contains(r.stdout, "yes") {
			t.Errorf("krellin log: want the actions within 5s: %s", r)
		}
		start := time.Now()
		out := e.git(e.repo, "log", "--notes=krellin/"+session, "refs/krellin/"+session)
		took := time.Since(start)
		t.Logf("krellin log %s, git log --notes %s (%d bytes)", r.took.Round(time.Millisecond),
			took.Round(time.Millisecond), len(out))
		if took > 5*time.Second || len(out) > 1<<20 || !strings.Contains(out, "bytes omitted") {
			t.Errorf("git log --notes: %d bytes after %s, want under 1 MiB within 5s with the omission marked",
				len(out), took)
		}
	})
}

func TestRobBinaryOutputIsKeptExactly(t *testing.T) {
	e := newEnv(t)
	session := e.up()
	pid := e.daemonPID()

	// Bytes that are not UTF-8, a NUL, a lone CR and terminal escapes,
	// written as printf escapes: krellin refuses argv that is not UTF-8.
	nasty := "\xff\xfe\xc3\x28 not utf-8 \x00nul\r\x1b[31mred\x1b]0;title\x07 \xc2\x9b2J \x7f\xe2\x82"
	format := `\377\376\303\050 not utf-8 \000nul\r\033[31mred\033]0;title\007 \302\2332J \177\342\202`
	cases := []struct {
		name   string
		argv   []string
		stream string
		cut    bool
	}{
		{"100000 random bytes on stdout", []string{"head", "-c", "100000", "/dev/urandom"}, "stdout", true},
		{"40000 random bytes on stderr", []string{"sh", "-c", "head -c 40000 /dev/urandom >&2"}, "stderr", false},
		{"invalid UTF-8 and escapes", []string{"printf", format}, "stdout", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			var out, errOut bytes.Buffer
			cmd := exec.Command(filepath.Join(binDir, "krellin"), append([]string{"run", "--"}, c.argv...)...)
			cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = e.repo, e.robEnviron(), &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Fatalf("krellin run: %v\n%s", err, errOut.Bytes())
			}
			got := out.Bytes()
			if c.stream == "stderr" {
				// The client's own messages go to stderr too; the run
				// prints none on success without a terminal.
				got = errOut.Bytes()
			}
			if c.name == "invalid UTF-8 and escapes" && string(got) != nasty {
				t.Fatalf("the client printed %q, want %q", got, nasty)
			}
			sum := sha256.Sum256(got)
			ref := robRef{total: int64(len(got)), sha: hex.EncodeToString(sum[:]), head: got, tail: got}

			a := e.robLast()
			note := e.robNote(session, a.Commit)
			s := robParseNote(t, note, c.stream)
			if d := robMatches(s, ref); d != "" {
				t.Errorf("note differs from the bytes printed: %s", d)
			}
			if s.cut != c.cut {
				t.Errorf("note cut %v, want %v for %d bytes", s.cut, c.cut, len(got))
			}

			raw := e.robOK("show", "--raw", strconv.Itoa(a.Seq)).stdout
			if !strings.Contains(raw, string(append(s.head, s.tail...))) {
				t.Errorf("show --raw does not print the kept bytes exactly")
			}
			shown := e.robOK("show", strconv.Itoa(a.Seq)).stdout
			if bad := robUnsafeForTerminal(shown); bad != "" {
				t.Errorf("show without --raw prints %s:\n%q", bad, shown)
			}
		})
	}

	t.Run("nothing crashed", func(t *testing.T) {
		e := e.sub(t)
		e.robOK("log")
		e.robLog()
		if got := e.daemonPID(); pid == 0 || got != pid || !alive(pid) {
			t.Errorf("daemon pid %d before, %d after: the daemon restarted", pid, got)
		}
		e.fsck()
	})
}

func TestRobProcessControl(t *testing.T) {
	e := newEnv(t)
	session := e.up()

	t.Run("a background child holding stdout does not hold the run", func(t *testing.T) {
		e := e.sub(t)
		cases := []struct {
			name, script, stdout string
		}{
			{"sleep in the background", "sleep 1000 &", ""},
			{"tail -f holding stdout", "tail -f /dev/null & echo started", "started\n"},
		}
		for _, c := range cases {
			r := e.robRun("run", "--timeout", "10s", "--", "sh", "-c", c.script)
			if r.code != 0 || r.stdout != c.stdout || r.took > 4*time.Second {
				t.Errorf("%s: want exit 0 printing %q within 4s: %s", c.name, c.stdout, r)
			}
			if a := e.robLast(); a.Status != "ok" || a.TimedOut {
				t.Errorf("%s: recorded as %s (timed out %v), want ok", c.name, a.Status, a.TimedOut)
			}
		}
	})

	t.Run("a timeout kills a writer blocked on a fifo, with its output kept", func(t *testing.T) {
		e := e.sub(t)
		r := e.robRun("run", "--timeout", "5s", "--", "sh", "-c",
			"mkfifo p; (while :; do echo x; sleep 1; done) > p & cat p")
		lines := strings.Count(r.stdout, "x\n")
		if r.code != 124 || r.took < 4500*time.Millisecond || r.took > 9*time.Second || lines < 3 {
			t.Errorf("want exit 124 after about 5s with the x lines printed so far: %s", r)
		}
		a := e.robLast()
		if a.Status != "timed-out" || !a.TimedOut || intp(a.ExitCode) != "124" ||
			a.DurationMS < 4900 || a.DurationMS > 8000 {
			t.Errorf("recorded %s, timed out %v, exit %s after %dms; want timed-out, 124, about 5000ms",
				a.Status, a.TimedOut, intp(a.ExitCode), a.DurationMS)
		}
		s := robParseNote(t, e.robNote(session, a.Commit), "stdout")
		if n := strings.Count(string(s.head), "x\n"); n < 3 || n != lines {
			t.Errorf("note keeps %d x lines, the client saw %d", n, lines)
		}
	})

	t.Run("no process or zombie is left behind", func(t *testing.T) {
		e := e.sub(t)
		r := e.robOK("run", "--", "ps", "-o", "pid,stat,comm")
		procs := robProcesses(t, r.stdout)
		// What belongs: the init, krellin-exec idling as the container's
		// command, krellin-exec running this action, and ps itself.
		want := map[string]int{"docker-init": 1, "krellin-exec": 2, "ps": 1}
		got := map[string]int{}
		for _, p := range procs {
			got[p.comm]++
			if strings.HasPrefix(p.stat, "Z") {
				t.Errorf("zombie: %+v", p)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("processes in the capsule %v, want only %v:\n%s", got, want, r.stdout)
		}
	})

	t.Run("stdin is empty", func(t *testing.T) {
		e := e.sub(t)
		r, err := e.robExec(strings.NewReader("the client's stdin must not reach the command\n"), nil,
			"run", "--", "cat")
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 0 || r.stdout != "" || r.took > 3*time.Second {
			t.Errorf("cat: want exit 0 at once with no output: %s", r)
		}
		r = e.robRun("run", "--timeout", "20s", "--", "sh", "-c", `read line; echo "read:$?:$line"`)
		if r.code != 0 || r.stdout != "read:1:\n" || r.took > 3*time.Second {
			t.Errorf("read: want EOF at once (read:1:): %s", r)
		}
	})
}

// robProc is one line of busybox `ps -o pid,stat,comm`.
type robProc struct {
	pid        int
	stat, comm string
}

func robProcesses(t *testing.T, out string) []robProc {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	var procs []robProc
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] == "PID" {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("ps line %q", sc.Text())
		}
		procs = append(procs, robProc{pid: pid, stat: f[1], comm: f[2]})
	}
	if len(procs) == 0 {
		t.Fatalf("ps listed nothing:\n%s", out)
	}
	return procs
}

// robUnsafeForTerminal names the first thing in s a terminal would
// act on (a control character other than newline and tab, or a C1
// control) or that is not UTF-8, or returns "".
func robUnsafeForTerminal(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for i, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0) {
			return fmt.Sprintf("control character %U at byte %d", r, i)
		}
	}
	return ""
}
