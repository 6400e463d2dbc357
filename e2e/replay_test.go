//go:build integration

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReplayMatchesAndReportsDivergence(t *testing.T) {
	e := newEnv(t)

	t.Run("a replay of runs, a write and a reset matches seq by seq", func(t *testing.T) {
		e := e.sub(t)
		session := e.up("--session", "orig")
		e.ok("run", "--", "sh", "-c", "echo a > a.txt && mkdir -p d && echo x > d/x")
		e.run("", "bee\n", "write", "b.txt")
		if r := e.run("", "", "run", "--", "sh", "-c", "cat a.txt b.txt > c.txt; exit 2"); r.code != 2 {
			t.Fatalf("want exit 2: %s", r)
		}
		e.ok("reset", "--to", "1")
		e.ok("run", "--", "sh", "-c", "ls -R > listing.txt")

		r := e.run("", "", "replay")
		if r.code != 0 || !strings.Contains(r.stdout, "every exit status and tree matched") {
			t.Fatalf("want a matching replay: %s", r)
		}
		orig, rep := e.log(session), e.log(session+"-replay-1")
		if len(rep) != len(orig) {
			t.Fatalf("replay has %d actions, the original %d", len(rep), len(orig))
		}
		for i := range orig {
			o, g := orig[i], rep[i]
			if g.Seq != o.Seq || g.Action != o.Action || g.Tree != o.Tree ||
				intp(g.ExitCode) != intp(o.ExitCode) {
				t.Errorf("seq %d: replay %s tree %s exit %s, original %s tree %s exit %s",
					o.Seq, g.Action, g.Tree, intp(g.ExitCode), o.Action, o.Tree, intp(o.ExitCode))
			}
		}
		if rep[0].Base != orig[0].Base || rep[0].Image != orig[0].Image {
			t.Errorf("replay started on %s/%s, the original on %s/%s",
				rep[0].Base, rep[0].Image, orig[0].Base, orig[0].Image)
		}
	})

	// A replay runs in a fresh container, whose hostname is its new,
	// random container ID. A command that compares the hostname with the
	// original container's succeeds in the original and deterministically
	// fails in the replay: the chance that two container IDs share their
	// first 12 hex digits is 2^-48.
	t.Run("a divergence is reported with its seq and what differed", func(t *testing.T) {
		e := e.sub(t)
		e.up("--session", "div")
		host := strings.TrimSpace(e.ok("run", "--", "hostname").stdout)
		e.ok("run", "--", "sh", "-c", `test "$(hostname)" = "$1"`, "sh", host)
		e.ok("run", "--", "sh", "-c", "hostname > host.txt")

		r := e.run("", "", "replay")
		if r.code != 1 {
			t.Fatalf("want exit 1 for a diverging replay: %s", r)
		}
		wants := []string{"DIVERGED at seq 2", "exit 1, was exit 0", "output hashes differ at seq [1"}
		for _, want := range wants {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("replay report lacks %q:\n%s", want, r.stdout)
			}
		}

		r = e.run("", "", "replay", "--json", "--into", "div-json")
		var rep struct {
			Matched    bool `json:"matched"`
			DivergedAt *int `json:"diverged_at"`
			Steps      []struct {
				Seq       int  `json:"seq"`
				ExitMatch bool `json:"exit_match"`
				TreeMatch bool `json:"tree_match"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
			t.Fatalf("replay --json: %v\n%s", err, r)
		}
		if rep.Matched || rep.DivergedAt == nil || *rep.DivergedAt != 2 || len(rep.Steps) != 3 ||
			rep.Steps[1].ExitMatch || rep.Steps[2].TreeMatch {
			t.Errorf("want a report diverging at seq 2 (exit) and 3 (tree), got %+v", rep)
		}
		if got := len(e.log("div-json")); got != 4 {
			t.Errorf("the diverging replay recorded %d actions, want all 4", got)
		}
	})
	e.fsck()
}
