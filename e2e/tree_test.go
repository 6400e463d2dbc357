//go:build integration

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// The recorded tree of an action must be what `git add -A && git
// write-tree` makes of the same work tree. Each case runs a script in the
// capsule and the same script in a scratch clone on the host, where real
// git computes the expected tree; both sides start from the base.
func TestRecordedTreeMatchesGitAddAll(t *testing.T) {
	e := newEnv(t)
	// A tracked file inside an ignored directory: git keeps recording it.
	writeFiles(t, e.repo, []file{{path: "out/tracked.txt", data: "t\n"}})
	e.git(e.repo, "add", "-f", "out/tracked.txt")
	e.git(e.repo, "commit", "-q", "-m", "track a file in an ignored directory")
	e.up()
	scratch := filepath.Join(e.dir, "scratch")
	e.git(e.dir, "clone", "-q", e.repo, scratch)

	cases := []struct {
		name   string
		script string
	}{
		{"new files, nested directories, odd names",
			"mkdir -p a/b/c && echo one > a/b/c/one.txt && echo top > top.txt && " +
				"echo u > 'sp ace ü.txt' && mkdir -p empty/dir"},
		{"ignored files and directories at any depth",
			"echo x > x.log && mkdir -p out/deep sub/out && echo o > out/deep/o.txt && " +
				"echo s > sub/out/s.txt && echo k > sub/kept.txt"},
		{"a file named like a directory-only pattern",
			"rm -r out && echo f > out"},
		{"negation and anchored patterns added by the agent",
			"printf '!keep.log\\n/anchored.txt\\nbuild\\n' >> .gitignore && echo k > keep.log && " +
				"echo a > anchored.txt && mkdir -p d build && echo a > d/anchored.txt && " +
				"echo l > d/drop.log && echo b > build/b"},
		{"nested .gitignore",
			"mkdir -p n/m && printf 'secret\\n*.tmp\\n' > n/.gitignore && echo s > n/secret && " +
				"echo s > n/m/secret && echo p > n/public && echo s > secret && echo t > n/m/x.tmp"},
		{"double star, escaped hash, re-inclusion",
			"printf 'logs/*\\n!logs/keep\\n**/gen/**\\n\\\\#hash\\n' >> .gitignore && " +
				"mkdir -p logs a/gen/b && echo k > logs/keep && echo d > logs/drop && " +
				"echo g > a/gen/b/g && echo h > '#hash'"},
		{"tracked file inside an ignored directory",
			"echo more >> out/tracked.txt && echo new > out/new.txt"},
		// git cannot re-include a file whose parent directory is excluded,
		// even when that directory holds tracked files.
		{"no re-inclusion under an excluded directory",
			"printf '!out/keep\\n' >> .gitignore && echo k > out/keep"},
		{"executable bits set and cleared",
			"printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod +x run.sh && chmod -x bin/tool.sh"},
		{"symlinks new, dangling, to a directory, retargeted",
			"ln -s README.md readme-link && ln -s /nonexistent/target dangling && " +
				"ln -s src srcdir && rm link && ln -s src/main.txt link"},
		{"tracked file matching an ignore pattern, deletion",
			"echo more >> forced.log && rm README.md && rm -r src"},
		{"file replaced by a directory and a directory by a file",
			"rm README.md && mkdir README.md && echo in > README.md/f && rm -r src && echo now-a-file > src"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			// A new session per case puts the workspace back at the base
			// without recording a reset, which has its own test.
			e.up("--session", fmt.Sprintf("tree-%d", i))
			e.git(scratch, "reset", "-q", "--hard")
			e.git(scratch, "clean", "-qffdx")

			e.ok("run", "--", "sh", "-c", c.script)
			got := e.last().Tree
			want := expectedTree(e, scratch, c.script)
			if got != want {
				t.Errorf("recorded tree %s, git add -A gives %s\nrecorded:\n%s\ngit add -A:\n%s",
					got, want, e.git(e.repo, "ls-tree", "-r", got), e.git(scratch, "ls-tree", "-r", want))
			}
		})
	}
}

// expectedTree runs script in the scratch clone and returns the tree
// `git add -A` makes of the result.
func expectedTree(e *env, scratch, script string) string {
	e.t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir, cmd.Env = scratch, e.gitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("script in scratch clone: %v\n%s", err, out)
	}
	e.git(scratch, "add", "-A")
	return e.git(scratch, "write-tree")
}
