//go:build integration

package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prompt is how the busybox shell of the test image greets, as root in
// /workspace.
const prompt = "/workspace # "

// term is `krellin shell` or `krellin agent` running in its own tmux
// server, driven as a person would: keys typed, the pane read. The pane's
// shell writes krellin's exit status to a file and then waits, so the
// screen can still be read after krellin ends.
type term struct {
	*screen
	errFile  string        // krellin's stderr
	codeFile string        // krellin's exit status, once it ended
	patience time.Duration // how long expect waits for the pane
}

// termOptions says how to start a terminal.
type termOptions struct {
	cols, rows int
	env        []string // more K=V for the krellin client
	stdout     string   // a file for krellin's stdout instead of the pane
}

// startTerm runs krellin with args in the repository, in a pane of its
// own tmux server. The server carries the test's KRELLIN_HOME, so the
// harness's cleanup would stop it too; it is killed first by its own.
func (e *env) startTerm(o termOptions, args ...string) *term {
	e.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		e.t.Fatal("tmux is missing: apt-get install -y tmux")
	}
	s := &screen{e: e, sock: filepath.Join(e.dir, "shell.sock")}
	tt := &term{screen: s, errFile: filepath.Join(e.dir, "shell.err"),
		codeFile: filepath.Join(e.dir, "shell.code"), patience: 15 * time.Second}

	envs := append(e.environ(), "TERM=xterm-256color")
	argv := append([]string{filepath.Join(binDir, "krellin")}, args...)
	cmd := "env " + strings.Join(quoteAll(append(envs, o.env...)), " ") + " " +
		strings.Join(quoteAll(argv), " ") + " 2>" + tt.errFile
	if o.stdout != "" {
		cmd += " >" + o.stdout
	}
	// The status goes through a rename so that it is never read half written.
	cmd += "; echo $? >" + tt.codeFile + ".new; mv " + tt.codeFile + ".new " + tt.codeFile +
		"; exec sleep 600"
	s.tmux("new-session", "-d", "-x", strconv.Itoa(o.cols), "-y", strconv.Itoa(o.rows),
		"-s", "k", "-c", e.repo, cmd)
	e.t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return tt
}

// expect waits until the pane shows every one of want, and returns it.
func (tt *term) expect(what string, want ...string) string {
	tt.e.t.Helper()
	return tt.expectFunc(what, func(pane string) string {
		for _, w := range want {
			if !strings.Contains(pane, w) {
				return w
			}
		}
		return ""
	})
}

// expectLine waits until some line of the pane is exactly line (trailing
// spaces aside): output, as opposed to the command line that printed it.
func (tt *term) expectLine(what, line string) string {
	tt.e.t.Helper()
	return tt.expectFunc(what, func(pane string) string {
		if slices.Contains(paneLines(pane), line) {
			return ""
		}
		return "the line " + line
	})
}

// expectFunc polls the pane until missing reports nothing missing.
func (tt *term) expectFunc(what string, missing func(pane string) string) string {
	tt.e.t.Helper()
	deadline := time.Now().Add(tt.patience)
	for {
		pane := tt.capture()
		m := missing(pane)
		if m == "" {
			return pane
		}
		if time.Now().After(deadline) {
			tt.e.t.Fatalf("%s: the pane never showed %q:\n%s\n--- krellin stderr ---\n%s",
				what, m, pane, tt.stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// paneLines splits a captured pane into lines without trailing spaces.
func paneLines(pane string) []string {
	var out []string
	for line := range strings.Lines(pane) {
		out = append(out, strings.TrimRight(line, " \n"))
	}
	return out
}

// typeLine types text and Enter.
func (tt *term) typeLine(text string) {
	tt.e.t.Helper()
	tt.keys(text, "Enter")
}

func (tt *term) stderr() string {
	b, _ := os.ReadFile(tt.errFile)
	return string(b)
}

// exited reports krellin's exit status once it has ended.
func (tt *term) exited() (int, bool) {
	b, err := os.ReadFile(tt.codeFile)
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		tt.e.t.Fatalf("exit status file: %v", err)
	}
	return code, true
}

// wait waits for krellin to end and returns its exit status.
func (tt *term) wait() int {
	tt.e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, ok := tt.exited(); ok {
			return code
		}
		if time.Now().After(deadline) {
			tt.e.t.Fatalf("krellin still runs 30 s on:\n%s\n--- krellin stderr ---\n%s",
				tt.capture(), tt.stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clientPID finds the krellin process among the pane shell's children.
func (tt *term) clientPID() int {
	tt.e.t.Helper()
	shell, err := strconv.Atoi(strings.TrimSpace(tt.tmux("display", "-p", "-t", "k", "#{pane_pid}")))
	if err != nil {
		tt.e.t.Fatalf("pane_pid: %v", err)
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", shell, shell))
	if err != nil {
		tt.e.t.Fatalf("children of the pane's shell: %v", err)
	}
	for _, f := range strings.Fields(string(kids)) {
		pid, _ := strconv.Atoi(f)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.HasPrefix(cmdline, []byte(filepath.Join(binDir, "krellin")+"\x00")) {
			return pid
		}
	}
	tt.e.t.Fatalf("no krellin among the children (%s) of the pane's shell %d", kids, shell)
	return 0
}

// castEvent is one event line of an asciicast v2 recording.
type castEvent struct {
	at   float64
	code string
	data string
}

// castHeader is the fields of the header line the tests read.
type castHeader struct {
	Version int               `json:"version"`
	Width   int               `json:"width"`
	Height  int               `json:"height"`
	Env     map[string]string `json:"env"`
}

// readCast prints action seq's recording with `krellin show --cast` and
// checks that it is asciicast v2, as asciinema reads it: a header object,
// then [time, code, data] arrays whose times do not go back.
func (e *env) readCast(seq int) (string, castHeader, []castEvent) {
	e.t.Helper()
	raw := e.ok("show", "--cast", strconv.Itoa(seq)).stdout
	lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")

	var h castHeader
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h.Version != 2 {
		e.t.Fatalf("first line is not an asciicast v2 header (%v):\n%s", err, raw)
	}
	var evs []castEvent
	for i, line := range lines[1:] {
		var ev []json.RawMessage
		var c castEvent
		if json.Unmarshal([]byte(line), &ev) != nil || len(ev) != 3 ||
			json.Unmarshal(ev[0], &c.at) != nil || json.Unmarshal(ev[1], &c.code) != nil ||
			json.Unmarshal(ev[2], &c.data) != nil {
			e.t.Fatalf("line %d is not a [time, code, data] event: %q", i+2, line)
		}
		if len(evs) > 0 && c.at < evs[len(evs)-1].at {
			e.t.Errorf("line %d goes back in time: %v after %v", i+2, c.at, evs[len(evs)-1].at)
		}
		evs = append(evs, c)
	}
	return raw, h, evs
}

// screenText joins what a recording showed: its output events.
func screenText(evs []castEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.code == "o" {
			b.WriteString(ev.data)
		}
	}
	return b.String()
}

// actionsOf returns the actions of kind in acts.
func actionsOf(acts []action, kind string) []action {
	var out []action
	for _, a := range acts {
		if a.Action == kind {
			out = append(out, a)
		}
	}
	return out
}

// fileAt reads path from the tree of commit.
func (e *env) fileAt(commit, path string) string {
	e.t.Helper()
	return e.git(e.repo, "show", commit+":"+path)
}

func TestShell_SessionIsOneActionWithSnapshotsAndATranscript(t *testing.T) {
	e := newEnv(t)
	e.up()
	tt := e.startTerm(termOptions{cols: 100, rows: 30}, "shell")
	tt.expect("the prompt", strings.TrimSpace(prompt))

	// Files change, then settle while the shell is still open.
	tt.typeLine("echo one > notes.txt; mkdir d && echo two > d/b.txt; " +
		"echo edited >> README.md; echo typed-marker-$((6*7))")
	tt.expectLine("the first commands' output", "typed-marker-42")
	start := time.Now()
	var snaps []action
	for len(snaps) == 0 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no snapshot action 20 s after the files settled: %+v", e.log(""))
		}
		time.Sleep(200 * time.Millisecond)
		acts := e.log("")
		snaps = actionsOf(acts, "snapshot")
		if sh := actionsOf(acts, "shell"); len(sh) > 0 {
			t.Fatalf("the shell was recorded while it still ran: %+v", sh)
		}
	}
	t.Logf("a snapshot appeared %s after the files were written", time.Since(start).Round(time.Millisecond))
	if code, ok := tt.exited(); ok {
		t.Fatalf("krellin shell ended (exit %d) before it was told to", code)
	}
	if got := e.fileAt(snaps[0].Commit, "notes.txt"); got != "one" {
		t.Errorf("the snapshot's notes.txt = %q, want %q", got, "one")
	}

	// More work, then the shell ends with a status of its own.
	tt.typeLine("echo three >> notes.txt; rm src/main.txt; echo second-marker-$((1+1))")
	tt.expectLine("the second commands' output", "second-marker-2")
	tt.typeLine("exit 3")
	if code := tt.wait(); code != 3 {
		t.Fatalf("krellin shell exited %d after `exit 3`, want 3\n%s", code, tt.stderr())
	}

	acts := e.log("")
	last := acts[len(acts)-1]
	if last.Action != "shell" || intp(last.ExitCode) != "3" || last.Status != "ok" ||
		!slices.Equal(last.Argv, []string{"/bin/sh"}) {
		t.Fatalf("last action: %+v, want a shell with exit 3 and argv [/bin/sh]", last)
	}
	if n := len(actionsOf(acts, "shell")); n != 1 {
		t.Errorf("%d shell actions, want the session as one", n)
	}
	for _, a := range acts[1 : len(acts)-1] {
		if a.Action != "snapshot" {
			t.Errorf("action %d between the start and the shell is a %s, not a snapshot", a.Seq, a.Action)
		}
	}
	if want := fmt.Sprintf("session recorded as action %d", last.Seq); !strings.Contains(tt.stderr(), want) {
		t.Errorf("krellin shell's stderr does not say %q:\n%s", want, tt.stderr())
	}

	// The session's commit holds the files as the shell left them.
	want := map[string]string{"notes.txt": "one\nthree", "d/b.txt": "two", "README.md": "hello\nedited"}
	for p, w := range want {
		if got := e.fileAt(last.Commit, p); got != w {
			t.Errorf("%s at the shell's commit = %q, want %q", p, got, w)
		}
	}
	if _, _, code := e.gitRun(e.repo, "cat-file", "-e", last.Commit+":src/main.txt"); code == 0 {
		t.Error("src/main.txt, removed in the shell, is still in the shell's commit")
	}

	// The transcript: asciicast v2 of the pane's size, with what was typed.
	_, h, evs := e.readCast(last.Seq)
	if h.Width != 100 || h.Height != 30 {
		t.Errorf("cast header is %dx%d, want the pane's 100x30", h.Width, h.Height)
	}
	if h.Env["TERM"] != "xterm-256color" {
		t.Errorf("cast header TERM = %q, want the client's xterm-256color", h.Env["TERM"])
	}
	text := screenText(evs)
	for _, w := range []string{"typed-marker-42", "second-marker-2", "exit 3"} {
		if !strings.Contains(text, w) {
			t.Errorf("the cast's output never shows %q:\n%s", w, text)
		}
	}
	show := e.ok("show", strconv.Itoa(last.Seq)).stdout
	for _, w := range []string{"--- terminal (asciicast v2", "typed-marker-42", "second-marker-2", "exit 3"} {
		if !strings.Contains(show, w) {
			t.Errorf("krellin show %d does not show %q:\n%s", last.Seq, w, show)
		}
	}
	e.fsck()
}

func TestShell_AgentRunsItsCommandAndExitsWithItsStatus(t *testing.T) {
	e := newEnv(t)
	e.up()
	script := "echo agent-says-$((2+3)); printf from-agent > agent.txt; exit 7"
	tt := e.startTerm(termOptions{cols: 90, rows: 25}, "agent", "--", "sh", "-c", script)
	if code := tt.wait(); code != 7 {
		t.Fatalf("krellin agent exited %d, want the command's 7\n%s", code, tt.stderr())
	}
	tt.expectLine("the agent's output", "agent-says-5")

	last := e.last()
	if last.Action != "shell" || intp(last.ExitCode) != "7" ||
		!slices.Equal(last.Argv, []string{"sh", "-c", script}) {
		t.Fatalf("last action: %+v, want a shell with exit 7 and the agent's argv", last)
	}
	if got := e.fileAt(last.Commit, "agent.txt"); got != "from-agent" {
		t.Errorf("agent.txt at the agent's commit = %q", got)
	}
	_, h, evs := e.readCast(last.Seq)
	if h.Width != 90 || h.Height != 25 {
		t.Errorf("cast header is %dx%d, want 90x25", h.Width, h.Height)
	}
	if !strings.Contains(screenText(evs), "agent-says-5") {
		t.Errorf("the cast lacks the agent's output:\n%s", screenText(evs))
	}
	if r := e.run("", "", "show", "--cast", "0"); r.code != 2 || !strings.Contains(r.stderr, "not a terminal session") {
		t.Errorf("show --cast of the start action: %s\nwant exit 2 saying it is not a terminal session", r)
	}
}

func TestShell_BackgroundProcessesEndWithTheSession(t *testing.T) {
	e := newEnv(t)
	e.up()
	tt := e.startTerm(termOptions{cols: 100, rows: 30}, "shell")
	tt.expect("the prompt", strings.TrimSpace(prompt))

	// One child of the shell, and one in a session of its own.
	tt.typeLine("sleep 1000 & setsid sleep 999 & " +
		"until [ $(ps -o args | grep -cE '^[s]leep (1000|999)$') = 2 ]; do sleep 0.1; done; " +
		"echo both-running")
	tt.expectLine("both sleeps running", "both-running")
	tt.typeLine("exit")
	if code := tt.wait(); code != 0 {
		t.Fatalf("krellin shell exited %d after `exit`\n%s", code, tt.stderr())
	}

	if n := len(actionsOf(e.log(""), "snapshot")); n != 0 {
		t.Errorf("%d snapshot(s) of a session that changed no file", n)
	}
	ps := e.ok("run", "--", "ps", "-o", "pid,args").stdout
	if strings.Contains(ps, "sleep 1000") || strings.Contains(ps, "sleep 999") {
		t.Errorf("a process started in the shell outlived the session:\n%s", ps)
	}
}

func TestShell_SecretFromTheEnvironmentIsUsableButNeverRecorded(t *testing.T) {
	const secret = "some-secret-value-8c1f"
	sum := md5.Sum([]byte(secret))
	wantSum := hex.EncodeToString(sum[:])[:8]

	e := newEnv(t)
	session := e.up()
	tt := e.startTerm(termOptions{cols: 100, rows: 30, env: []string{"TOKEN=" + secret}},
		"shell", "--env", "TOKEN", "--env", "PLAIN=visible-value")
	// Not the prompt: the lag may keep it back.
	tt.expect("the shell's banner", "Enter 'help'")

	// The value is there: its length and hash, computed inside. The line
	// after them pushes the output through even if the screen lags
	// behind (see TestShell_SecretDoesNotHoldBackTheScreen).
	tt.typeLine(`echo "len=${#TOKEN} md5=$(echo -n "$TOKEN" | md5sum | cut -c1-8) plain=$PLAIN"; ` +
		`echo "$TOKEN"; echo end-of-output-$(printf %030d 0)`)
	want := fmt.Sprintf("len=%d md5=%s plain=visible-value", len(secret), wantSum)
	pane := tt.expectLine("the secret's length and hash, as the client passed it", want)
	tt.expectLine("the masked echo of $TOKEN", "********")
	if strings.Contains(pane, secret) {
		t.Errorf("the secret's value appears on the screen unmasked:\n%s", pane)
	}
	tt.typeLine("exit")
	if code := tt.wait(); code != 0 {
		t.Fatalf("krellin shell exited %d\n%s", code, tt.stderr())
	}

	last := e.last()
	if !slices.Contains(last.Argv, "/bin/sh") || last.Action != "shell" {
		t.Fatalf("last action: %+v", last)
	}
	// Every record a reviewer or a push could see: notes, commits, the log,
	// show, the cast and the daemon's log.
	var record strings.Builder
	for _, a := range e.log("") {
		out, _, _ := e.gitRun(e.repo, "notes", "--ref", "krellin/"+session, "show", a.Commit)
		record.WriteString(out)
		record.WriteString(e.ok("show", strconv.Itoa(a.Seq)).stdout)
	}
	record.WriteString(e.git(e.repo, "log", "--format=%B", "refs/krellin/"+session))
	record.WriteString(e.ok("log", "--json").stdout)
	cast, _, evs := e.readCast(last.Seq)
	record.WriteString(cast)
	daemonLog, _ := os.ReadFile(filepath.Join(e.home, "daemon.log"))
	record.Write(daemonLog)
	if strings.Contains(record.String(), secret) {
		t.Errorf("the secret's value is in the record:\n%s", record.String())
	}
	notes := e.git(e.repo, "notes", "--ref", "krellin/"+session, "show", last.Commit)
	if !strings.Contains(notes, "TOKEN=********") || !strings.Contains(notes, "PLAIN=visible-value") {
		t.Errorf("the note does not list TOKEN masked and PLAIN as given:\n%s", notes)
	}
	if !strings.Contains(screenText(evs), "********") {
		t.Errorf("the cast does not show the masked echo of $TOKEN:\n%s", screenText(evs))
	}
}

// A secret makes the daemon hold back the last len(secret)-1 bytes of
// the screen until more output comes, in case they start the secret.
// That is right for a record written at the end, but an interactive
// screen must not wait for output that may never come: the prompt and
// the echo of each key lag behind.
func TestShell_SecretDoesNotHoldBackTheScreen(t *testing.T) {
	e := newEnv(t)
	e.up()
	tt := e.startTerm(termOptions{cols: 100, rows: 30, env: []string{"TOKEN=some-secret-value-8c1f"}},
		"shell", "--env", "TOKEN")
	tt.expect("the shell's banner", "Enter 'help'")

	// A person waits a second or two for what they typed, not more.
	tt.patience = 3 * time.Second
	tt.typeLine("echo visible-now")
	tt.expectFunc("the output and the next prompt", func(pane string) string {
		lines := paneLines(pane)
		i := slices.Index(lines, "visible-now")
		if i < 0 {
			return "the line visible-now"
		}
		if i+1 >= len(lines) || lines[i+1] != strings.TrimSpace(prompt) {
			return "a prompt after visible-now"
		}
		return ""
	})
	tt.keys("ec")
	tt.expect("the echo of typed keys", prompt+"ec")
	tt.keys("ho", "Enter", "exit", "Enter")
	tt.wait()
}

func TestShell_KilledClientIsRecordedAsInterrupted(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		ready string // a line the session prints once its sleep runs
	}{
		{name: "shell", args: []string{"shell"}},
		// A command that ignores the hangup must not keep the capsule.
		{name: "agent ignoring SIGHUP", args: []string{"agent", "--", "sh", "-c",
			`trap "" HUP; sleep 1000 & echo bg-$((1+1)); while :; do sleep 1; done`},
			ready: "bg-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.up()
			tt := e.startTerm(termOptions{cols: 100, rows: 30}, tc.args...)
			if tc.ready == "" {
				tt.expect("the prompt", strings.TrimSpace(prompt))
				tt.typeLine("sleep 1000 & echo bg-$((1+1))")
			}
			tt.expectLine("the background sleep", "bg-2")
			killClient(t, e, tt)
		})
	}
}

// killClient kills the krellin client with SIGKILL, then checks that
// the session is recorded as interrupted within seconds, that what it
// left running is gone and that the capsule takes the next action.
func killClient(t *testing.T, e *env, tt *term) {
	t.Helper()
	if err := syscall.Kill(tt.clientPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if code := tt.wait(); code != 128+int(syscall.SIGKILL) {
		t.Errorf("the pane's shell saw krellin exit %d, want a SIGKILL", code)
	}
	var last action
	for {
		last = e.last()
		if last.Action == "shell" {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("no shell action 10 s after the client was killed: %+v", e.log(""))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("recorded %s after the kill", time.Since(killed).Round(time.Millisecond))
	if last.Status != "interrupted" || last.ExitCode != nil {
		t.Errorf("the killed session is recorded as %s with exit %s, want interrupted and none",
			last.Status, intp(last.ExitCode))
	}

	if r := e.run("", "", "run", "--", "true"); r.code != 0 {
		t.Fatalf("krellin run after the killed session: %s", r)
	}
	ps := e.ok("run", "--", "ps", "-o", "pid,args").stdout
	if strings.Contains(ps, "sleep") {
		t.Errorf("the killed session's processes still run:\n%s", ps)
	}
}

func TestShell_NeedsATerminal(t *testing.T) {
	e := newEnv(t)
	e.up()
	tip := e.git(e.repo, "rev-parse", "refs/krellin/session-1")

	for _, args := range [][]string{{"shell"}, {"agent", "--", "sh"}} {
		r := e.run("", "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "needs a terminal") {
			t.Errorf("krellin %s with stdin not a terminal: %s\nwant exit 2 saying it needs a terminal",
				strings.Join(args, " "), r)
		}
	}

	// A terminal on stdin only: output sent to a file.
	out := filepath.Join(e.dir, "shell.out")
	tt := e.startTerm(termOptions{cols: 80, rows: 24, stdout: out}, "shell")
	if code := tt.wait(); code != 2 || !strings.Contains(tt.stderr(), "needs a terminal") {
		t.Errorf("krellin shell >file: exit %d, stderr %q; want exit 2 saying it needs a terminal",
			code, tt.stderr())
	}

	if got := e.git(e.repo, "rev-parse", "refs/krellin/session-1"); got != tip {
		t.Errorf("a refused session recorded something: tip %s, was %s\n%+v", got, tip, e.log(""))
	}
}

func TestShell_ResizeIsInTheCast(t *testing.T) {
	e := newEnv(t)
	e.up()
	tt := e.startTerm(termOptions{cols: 80, rows: 24}, "shell")
	tt.expect("the prompt", strings.TrimSpace(prompt))

	tt.tmux("resize-window", "-t", "k", "-x", "120", "-y", "40")
	tt.typeLine("stty size")
	tt.expectLine("the new size inside", "40 120")
	tt.typeLine("exit")
	if code := tt.wait(); code != 0 {
		t.Fatalf("krellin shell exited %d\n%s", code, tt.stderr())
	}

	_, h, evs := e.readCast(e.last().Seq)
	if h.Width != 80 || h.Height != 24 {
		t.Errorf("cast header is %dx%d, want the size at the start, 80x24", h.Width, h.Height)
	}
	var resizes []string
	for _, ev := range evs {
		if ev.code == "r" {
			resizes = append(resizes, ev.data)
		}
	}
	if !slices.Contains(resizes, "120x40") {
		t.Errorf("the cast's resize events are %q, want one of 120x40", resizes)
	}
}
