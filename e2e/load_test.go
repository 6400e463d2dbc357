//go:build integration

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRobTwentyClientsFiveHundredRuns(t *testing.T) {
	const clients, runs = 20, 25
	e := newEnv(t)
	session := e.up()
	ws := e.robStatus().Workspace
	start := e.robLast().Seq

	// Each run appends its token: the file's lines are the order in which
	// the runs reached the disk.
	var wg sync.WaitGroup
	failed := make(chan string, clients*runs)
	for c := range clients {
		wg.Go(func() {
			for i := range runs {
				tok := fmt.Sprintf("c%02d-%02d", c, i)
				r, err := e.robExec(nil, nil, "run", "--", "sh", "-c", `echo "$1" >> tokens.txt`, "sh", tok)
				if err != nil || r.code != 0 {
					failed <- fmt.Sprintf("%s: %v %s", tok, err, r)
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("client run failed: %s", f)
	}

	acts := e.robLog()
	if got := len(acts) - 1 - start; got != clients*runs {
		t.Fatalf("the session has %d new actions, want %d", got, clients*runs)
	}
	var order []string
	for i, a := range acts {
		if a.Seq != i {
			t.Errorf("action %d has seq %d: want seqs without gaps", i, a.Seq)
		}
		if a.Seq <= start {
			continue
		}
		order = append(order, a.Argv[len(a.Argv)-1])
		if a.Status != "ok" || a.Tree == acts[i-1].Tree {
			t.Errorf("seq %d (%s): status %s, tree %s unchanged: want ok with its token recorded",
				a.Seq, order[len(order)-1], a.Status, a.Tree)
		}
	}
	robCheckClientOrder(t, order, clients, runs)

	b, err := os.ReadFile(filepath.Join(ws, "tokens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(string(b)); !slices.Equal(lines, order) {
		t.Errorf("tokens.txt and the log order differ:\nfile: %v\nlog:  %v", lines, order)
	}
	tip := acts[len(acts)-1].Commit
	recorded := strings.Fields(e.git(e.repo, "cat-file", "blob", tip+":tokens.txt"))
	if !slices.Equal(recorded, order) {
		t.Errorf("the tip's tokens.txt and the log order differ")
	}

	// One note per commit, all on the notes ref.
	notes := strings.Count(e.git(e.repo, "notes", "--ref=krellin/"+session, "list"), "\n") + 1
	if notes != len(acts) {
		t.Errorf("%d notes for %d actions", notes, len(acts))
	}
	plain := make([]action, len(acts))
	for i, a := range acts {
		plain[i] = a.action
	}
	checkChain(e, session, plain)
	e.fsck()
}

// robCheckClientOrder wants all clients*runs tokens exactly once, each
// client's in the order it sent them.
func robCheckClientOrder(t *testing.T, order []string, clients, runs int) {
	t.Helper()
	next := make([]int, clients)
	for _, tok := range order {
		var c, i int
		if _, err := fmt.Sscanf(tok, "c%d-%d", &c, &i); err != nil || c >= clients {
			t.Errorf("unexpected token %q in the log", tok)
			continue
		}
		if i != next[c] {
			t.Errorf("client %d: token %d recorded when %d was due", c, i, next[c])
		}
		next[c] = i + 1
	}
	for c, n := range next {
		if n != runs {
			t.Errorf("client %d: %d of its %d runs recorded", c, n, runs)
		}
	}
}

// robLines is "1\n2\n...n\n" with line k replaced when repl has it.
func robLines(n int, repl map[int]string) string {
	var b strings.Builder
	for k := 1; k <= n; k++ {
		if s, ok := repl[k]; ok {
			b.WriteString(s + "\n")
			continue
		}
		b.WriteString(strconv.Itoa(k) + "\n")
	}
	return b.String()
}

// robLinePatch is a unified diff of f replacing line k of 1..100 by s.
func robLinePatch(k int, s string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- a/f\n+++ b/f\n@@ -%d,7 +%d,7 @@\n", k-3, k-3)
	for j := k - 3; j <= k+3; j++ {
		if j == k {
			fmt.Fprintf(&b, "-%d\n+%s\n", j, s)
			continue
		}
		fmt.Fprintf(&b, " %d\n", j)
	}
	return b.String()
}

// robRace starts every call at the same moment and waits for all.
func robRace(calls ...func()) {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for _, call := range calls {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-gate
			call()
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
}

func TestRobConcurrentEditsOfOneFile(t *testing.T) {
	e := newEnv(t)
	base := robLines(100, nil)
	writeFiles(t, e.repo, []file{{path: "f", data: base}})
	e.git(e.repo, "add", "f")
	e.git(e.repo, "commit", "-q", "-m", "seq 1 100 > f")
	session := e.up()
	ws := e.robStatus().Workspace

	t.Run("two patches at once: both apply, or the later is refused and recorded", func(t *testing.T) {
		e := e.sub(t)
		before := len(e.robLog())
		patches := map[int]string{50: "fifty", 75: "seventy-five"}
		res := map[int]result{}
		var mu sync.Mutex
		var calls []func()
		for k, s := range patches {
			calls = append(calls, func() {
				r, err := e.robExec(strings.NewReader(robLinePatch(k, s)), nil, "patch")
				if err != nil {
					r.code, r.stderr = -1, err.Error()
				}
				mu.Lock()
				res[k] = r
				mu.Unlock()
			})
		}
		robRace(calls...)

		acts := e.robLog()
		if len(acts) != before+2 {
			t.Fatalf("log grew from %d to %d actions, want 2 patches", before, len(acts))
		}
		applied := map[int]string{}
		for _, a := range acts[before:] {
			k := 50
			if strings.Contains(string(e.robNote(session, a.Commit)), "+seventy-five") {
				k = 75
			}
			if want := res[k].code == 0; a.Action != "patch" || (a.Status == "ok") != want {
				t.Errorf("patch of line %d: client exit %d, recorded %s %s", k, res[k].code, a.Action, a.Status)
			}
			if a.Status == "ok" {
				applied[k] = patches[k]
			}
			// Each commit holds what was on disk after it, in log order.
			if got := e.git(e.repo, "cat-file", "blob", a.Commit+":f") + "\n"; got != robLines(100, applied) {
				t.Errorf("seq %d: f does not hold exactly the patches applied so far %v", a.Seq, applied)
			}
		}
		if len(applied) == 0 || len(applied) == 1 && acts[before].Status != "ok" {
			t.Errorf("want both patches, or the first applied and the later refused; got %v", applied)
		}
		robCheckFile(t, ws, "f", robLines(100, applied))
	})

	t.Run("a write racing a reset: the log order is the final content", func(t *testing.T) {
		e := e.sub(t)
		for round := range 3 {
			before := len(e.robLog())
			written := fmt.Sprintf("written in round %d\n", round)
			var w, r result
			robRace(
				func() { w, _ = e.robExec(strings.NewReader(written), nil, "write", "f") },
				func() { r, _ = e.robExec(nil, nil, "reset") },
			)
			if w.code != 0 || r.code != 0 {
				t.Fatalf("round %d: write %s\nreset %s", round, w, r)
			}
			acts := e.robLog()
			if len(acts) != before+2 {
				t.Fatalf("round %d: log grew from %d to %d actions, want 2", round, before, len(acts))
			}
			last := acts[len(acts)-1].Action
			want := base
			if last == "write" {
				want = written
			}
			t.Logf("round %d: %s then %s", round, acts[before].Action, last)
			robCheckFile(t, ws, "f", want)
			if got := e.git(e.repo, "cat-file", "blob", acts[len(acts)-1].Commit+":f") + "\n"; got != want {
				t.Errorf("round %d: the tip records f as %q, want %q", round, got, want)
			}
		}
	})
	e.fsck()
}

// robCheckFile wants file rel under root to hold want.
func robCheckFile(t *testing.T, root, rel, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", rel, b, want)
	}
}
