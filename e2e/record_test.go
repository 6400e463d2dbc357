//go:build integration

package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunRecordsEachActionAsCommitWithNote(t *testing.T) {
	e := newEnv(t)
	base := e.git(e.repo, "rev-parse", "HEAD")
	baseTree := e.git(e.repo, "rev-parse", "HEAD^{tree}")
	session := e.up()

	t.Run("run streams stdout and stderr apart and exits with the command's status", func(t *testing.T) {
		e := e.sub(t)
		cases := []struct {
			name   string
			script string
			code   int
		}{
			{"exit 0", "echo out-0; echo err-0 >&2", 0},
			{"exit 3", "echo out-3; echo err-3 >&2; exit 3", 3},
		}
		for _, c := range cases {
			r := e.run("", "", "run", "--", "sh", "-c", c.script)
			n := strconv.Itoa(c.code)
			if r.code != c.code || r.stdout != "out-"+n+"\n" || r.stderr != "err-"+n+"\n" {
				t.Errorf("%s: want exit %d, stdout out-%s, stderr err-%s; got %s", c.name, c.code, n, n, r)
			}
		}
	})

	t.Run("output arrives while the command still runs", func(t *testing.T) {
		e := e.sub(t)
		first, total := e.timeFirstLine("echo first; sleep 3; echo second")
		if total-first < 2*time.Second {
			t.Errorf("first line came %s after start, the command ended after %s: output is not streamed",
				first, total)
		}
	})

	e.ok("run", "--", "sh", "-c", "echo made > made.txt")
	e.run("", "a note\n", "write", "notes/n.txt")

	t.Run("log --json is one array with the contract's fields", func(t *testing.T) {
		e := e.sub(t)
		checkLogJSON(t, e.ok("log", "--json").stdout)
	})

	acts := e.log("")
	t.Run("seq 0 starts the session on the base commit and pins the image", func(t *testing.T) {
		e := e.sub(t)
		s := acts[0]
		c := e.commit(s.Commit)
		want := map[string]string{"Krellin-Seq": "0", "Krellin-Action": "start",
			"Krellin-Base": base, "Krellin-Image": imageID(t, image)}
		for k, v := range want {
			if c.trailers[k] != v {
				t.Errorf("seq 0 trailer %s = %q, want %q", k, c.trailers[k], v)
			}
		}
		if s.Seq != 0 || s.Action != "start" || len(c.parents) != 1 ||
			c.parents[0] != base || c.tree != baseTree {
			t.Errorf("seq 0: %+v, parents %v, tree %s; want action start on parent %s, tree %s",
				s, c.parents, c.tree, base, baseTree)
		}
	})

	t.Run("every action is one commit chained on the previous one", func(t *testing.T) {
		e := e.sub(t)
		checkChain(e, session, acts)
		if got := e.git(e.repo, "cat-file", "blob", acts[len(acts)-2].Commit+":made.txt"); got != "made" {
			t.Errorf("the run that made made.txt recorded %q", got)
		}
	})

	t.Run("every commit has a note with the command and its output", func(t *testing.T) {
		e := e.sub(t)
		for _, a := range acts {
			note := e.git(e.repo, "notes", "--ref=krellin/"+session, "show", a.Commit)
			if a.Argv != nil && !strings.Contains(note, a.Argv[len(a.Argv)-1]) {
				t.Errorf("note of seq %d lacks its command:\n%s", a.Seq, note)
			}
		}
		note := e.git(e.repo, "notes", "--ref=krellin/"+session, "show", acts[2].Commit)
		for _, want := range []string{"out-3", "err-3", "/workspace"} {
			if !strings.Contains(note, want) {
				t.Errorf("note of seq 2 lacks %q:\n%s", want, note)
			}
		}
		if !regexp.MustCompile(`(?i)exit\W{0,4}3\b`).MatchString(note) {
			t.Errorf("note of seq 2 does not give exit status 3:\n%s", note)
		}
		readable := e.git(e.repo, "log", "--notes=krellin/"+session, "refs/krellin/"+session)
		if !strings.Contains(readable, "Notes (krellin/"+session+")") ||
			!strings.Contains(readable, "err-3") {
			t.Errorf("git log --notes does not show the notes:\n%s", readable)
		}
	})

	e.fsck()
}

// timeFirstLine runs script in the capsule and returns when its first
// line of stdout arrived and when krellin exited.
func (e *env) timeFirstLine(script string) (first, total time.Duration) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "krellin"), "run", "--", "sh", "-c", script)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	line, _ := bufio.NewReader(pipe).ReadString('\n')
	first = time.Since(start)
	io.Copy(io.Discard, pipe)
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("krellin run: %v", err)
	}
	if line != "first\n" {
		e.t.Fatalf("first line %q, want %q", line, "first\n")
	}
	return first, time.Since(start)
}

// checkLogJSON checks the shape docs/log-json.md promises: a single
// array, seq 0 the start, every object with the fields always present,
// and start, run and write actions with their own.
func checkLogJSON(t *testing.T, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var objs []map[string]json.RawMessage
	if err := dec.Decode(&objs); err != nil {
		t.Fatalf("log --json is not a JSON array of objects: %v\n%s", err, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("log --json has more after the array:\n%s", out)
	}
	common := []string{"seq", "commit", "parent", "tree", "action", "subject", "status",
		"time", "duration_ms", "author"}
	extra := map[string][]string{
		"start": {"base", "image"},
		"run":   {"exit_code", "argv", "workdir", "stdout", "stderr"},
		"write": {"path"},
	}
	for i, o := range objs {
		var seq int
		var kind string
		json.Unmarshal(o["seq"], &seq)
		json.Unmarshal(o["action"], &kind)
		if seq != i {
			t.Errorf("object %d has seq %d", i, seq)
		}
		if (i == 0) != (kind == "start") {
			t.Errorf("object %d has action %q; only seq 0 is the start", i, kind)
		}
		for _, k := range append(common, extra[kind]...) {
			if _, ok := o[k]; !ok {
				t.Errorf("seq %d (%s) has no %q field", seq, kind, k)
			}
		}
	}
}

// checkChain checks the session's git history against its log: one commit
// per action, each the child of the one before, with the trailers.
func checkChain(e *env, session string, acts []action) {
	e.t.Helper()
	revs := strings.Fields(e.git(e.repo, "rev-list", "--reverse", "refs/krellin/"+session))
	// rev-list also walks into the user's history below the base.
	revs = revs[len(revs)-len(acts):]
	for i, a := range acts {
		if revs[i] != a.Commit {
			e.t.Fatalf("commit %d of refs/krellin/%s is %s, the log says seq %d is %s",
				i, session, revs[i], a.Seq, a.Commit)
		}
		if i == 0 {
			continue
		}
		c := e.commit(a.Commit)
		if len(c.parents) != 1 || c.parents[0] != acts[i-1].Commit || c.tree != a.Tree {
			e.t.Errorf("seq %d: parents %v, tree %s; want parent %s, tree %s",
				a.Seq, c.parents, c.tree, acts[i-1].Commit, a.Tree)
		}
		want := map[string]string{"Krellin-Seq": strconv.Itoa(a.Seq), "Krellin-Action": a.Action}
		if a.Action == "run" || a.Action == "fetch" {
			want["Krellin-Exit"] = intp(a.ExitCode)
		}
		for k, v := range want {
			if c.trailers[k] != v {
				e.t.Errorf("seq %d trailer %s = %q, want %q", a.Seq, k, c.trailers[k], v)
			}
		}
	}
}

func TestRunThatChangesNothingAddsOneCommit(t *testing.T) {
	e := newEnv(t)
	ref := "refs/krellin/" + e.up()
	cases := []struct {
		name string
		argv []string
		code int
	}{
		{"true", []string{"true"}, 0},
		{"output only", []string{"sh", "-c", "echo hi; echo oops >&2"}, 0},
		{"failing command", []string{"sh", "-c", "exit 7"}, 7},
		{"touch of a tracked file", []string{"touch", "README.md"}, 0},
		{"same content rewritten", []string{"sh", "-c", "cat README.md > t && mv t README.md"}, 0},
		{"ignored files only", []string{"sh", "-c", "mkdir -p out && echo x > out/x && echo y > y.log"}, 0},
		{"empty directories only", []string{"mkdir", "-p", "empty/dir"}, 0},
	}
	before := e.log("")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			prev := before[len(before)-1]
			count, _ := strconv.Atoi(e.git(e.repo, "rev-list", "--count", ref))

			r := e.run("", "", append([]string{"run", "--"}, c.argv...)...)
			if r.code != c.code {
				t.Fatalf("want exit %d: %s", c.code, r)
			}
			after := e.log("")
			if len(after) != len(before)+1 {
				t.Fatalf("log grew from %d to %d actions, want one more", len(before), len(after))
			}
			got := after[len(after)-1]
			gc := e.commit(got.Commit)
			if len(gc.parents) != 1 || gc.parents[0] != prev.Commit ||
				gc.tree != prev.Tree || got.Tree != prev.Tree {
				t.Errorf("new commit: parents %v, tree %s (log: %s); want parent %s and its tree %s",
					gc.parents, gc.tree, got.Tree, prev.Commit, prev.Tree)
			}
			if now := e.git(e.repo, "rev-list", "--count", ref); now != strconv.Itoa(count+1) {
				t.Errorf("%s has %s commits, want %d", ref, now, count+1)
			}
			before = after
		})
	}
}
