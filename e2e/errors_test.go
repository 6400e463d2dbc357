//go:build integration

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badPatch has a context line README.md does not have.
const badPatch = `--- a/README.md
+++ b/README.md
@@ -1,1 +1,1 @@
-this line is not in the file
+replacement
`

func TestBadInputFailsClearlyAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.up()
	ws := e.workspace()
	notRepo := filepath.Join(e.dir, "not-a-repo")
	if err := os.Mkdir(notRepo, 0o755); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		stdin    string
		args     []string
		code     int      // 0 means any failure
		stderr   []string // what the message must name
		recorded bool     // the failure is recorded as an action
	}{
		{name: "not a git repository", args: []string{"-C", notRepo, "up", "--image", image},
			stderr: []string{notRepo, "not a git repository"}},
		{name: "unknown session in log", args: []string{"log", "--session", "nope"},
			stderr: []string{"nope", "unknown session"}},
		{name: "unknown session in replay", args: []string{"replay", "nope"},
			stderr: []string{"nope", "unknown session"}},
		{name: "image that does not exist", args: []string{"up", "--image", "does/not:exist"},
			stderr: []string{"does/not:exist", "not found locally"}},
		{name: "show an action that does not exist", args: []string{"show", "999"},
			stderr: []string{"999"}},
		{name: "reset to an action that does not exist", args: []string{"reset", "--to", "999"},
			stderr: []string{"999"}},
		{name: "invalid session name", args: []string{"up", "--session", "no/such name"},
			stderr: []string{"no/such name"}},
		{name: "patch that does not apply", stdin: badPatch, args: []string{"patch"},
			code: 1, stderr: []string{"does not apply"}, recorded: true},
		{name: "run without a command", args: []string{"run"},
			code: 2, stderr: []string{"Try:"}},
		{name: "run with an empty command after --", args: []string{"run", "--"},
			code: 2, stderr: []string{"Try:"}},
		{name: "write without a path", args: []string{"write"},
			code: 2, stderr: []string{"Try:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			refs, files, acts := e.refs(), snapshot(t, ws), e.log("")

			r := e.run("", c.stdin, c.args...)
			if r.code == 0 || (c.code != 0 && r.code != c.code) {
				t.Errorf("want exit %d (0: any failure): %s", c.code, r)
			}
			for _, s := range c.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("the message does not say %q: %s", s, r)
				}
			}

			if d := diffSnapshots(files, snapshot(t, ws)); d != "" {
				t.Errorf("the workspace changed:\n%s", d)
			}
			now := e.log("")
			if !c.recorded {
				if got := e.refs(); got != refs {
					t.Errorf("refs changed:\nbefore:\n%s\nafter:\n%s", refs, got)
				}
				return
			}
			last, prev := now[len(now)-1], acts[len(acts)-1]
			if len(now) != len(acts)+1 || last.Status != "failed" ||
				last.Error == "" || last.Tree != prev.Tree {
				t.Errorf("want one failed action on tree %s, log has %d -> %d actions, last %+v",
					prev.Tree, len(acts), len(now), last)
			}
		})
	}
	if ents, _ := os.ReadDir(notRepo); len(ents) != 0 {
		t.Errorf("krellin wrote into a directory that is not a repository: %v", ents)
	}
}

func TestEngineDownFailsFastAndChangesNothing(t *testing.T) {
	const nowhere = "/tmp/nonexistent.sock"
	if exists(nowhere) {
		t.Fatalf("%s exists; this test needs it not to", nowhere)
	}
	e := newEnvWithDocker(t, "unix://"+nowhere)
	refs := e.refs()
	for _, args := range [][]string{
		{"up", "--image", image},
		{"run", "--", "true"},
		{"reset"},
		{"replay"},
	} {
		r := e.run("", "", args...)
		msg := strings.ToLower(r.stderr)
		if r.code == 0 || r.took > 10*time.Second {
			t.Errorf("%s: want a failure within 10s: %s", args[0], r)
		}
		if !strings.Contains(msg, "docker engine") || !strings.Contains(msg, "start") {
			t.Errorf("%s: the message does not say the Docker engine is unreachable and how to start it: %s",
				args[0], r)
		}
	}
	if got := e.refs(); got != refs {
		t.Errorf("refs changed with no engine:\nbefore:\n%s\nafter:\n%s", refs, got)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.home, "capsules")); len(ents) != 0 {
		t.Errorf("a capsule was set up with no engine: %v", ents)
	}
}
