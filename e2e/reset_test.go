//go:build integration

package e2e

import (
	"strconv"
	"testing"
)

// messUp changes the capsule every way an agent might: new, changed,
// deleted and re-moded tracked files (one of them ignored yet tracked),
// ignored files, untracked and empty directories, and files outside
// /workspace.
const messUp = `echo new > new.txt && mkdir -p untracked/deep emptydir && echo u > untracked/deep/u &&
mkdir -p out && echo x > out/x && echo l > debug.log && echo changed > README.md &&
rm src/main.txt forced.log && chmod -x bin/tool.sh && rm link && ln -s nowhere link &&
touch /tmp/marker && { touch /bin/ke2e-marker 2>/dev/null; true; }`

func TestResetRestoresRecordedTreeAndContainer(t *testing.T) {
	e := newEnv(t)
	base := e.git(e.repo, "rev-parse", "HEAD")
	e.up()
	ws := e.workspace()
	e.ok("run", "--", "sh", "-c", messUp)
	messed := e.last()
	e.run("", "written\n", "write", "w/written.txt")

	t.Run("reset puts the workspace at the base, container and all", func(t *testing.T) {
		e := e.sub(t)
		before, oldTip := e.status(), e.last()
		e.ok("reset")
		checkResetCommit(e, oldTip, 0, e.git(e.repo, "rev-parse", base+"^{tree}"))

		want := snapshot(t, e.archive(base))
		if d := diffSnapshots(want, snapshot(t, ws)); d != "" {
			t.Errorf("workspace after reset differs from the base tree:\n%s", d)
		}
		if after := e.status(); after.Container == before.Container || after.Container == "" {
			t.Errorf("container %q before reset, %q after: want a new one",
				before.Container, after.Container)
		}
		r := e.run("", "", "run", "--", "sh", "-c", "test ! -e /tmp/marker && test ! -e /bin/ke2e-marker")
		if r.code != 0 {
			t.Errorf("files outside /workspace survived the reset: %s", r)
		}
	})

	t.Run("reset --to N gives the tree of N", func(t *testing.T) {
		e := e.sub(t)
		oldTip := e.last()
		e.ok("reset", "--to", strconv.Itoa(messed.Seq))

		// The tree of N holds what git would add: the ignored out/x and
		// debug.log were never recorded, so they are not brought back.
		want := snapshot(t, e.archive(messed.Commit))
		if d := diffSnapshots(want, snapshot(t, ws)); d != "" {
			t.Errorf("workspace after reset --to %d differs from its tree:\n%s", messed.Seq, d)
		}
		checkResetCommit(e, oldTip, messed.Seq, messed.Tree)

		// What the workspace holds now records as that same tree.
		e.ok("run", "--", "true")
		if got := e.last().Tree; got != messed.Tree {
			t.Errorf("a run after reset --to %d recorded tree %s, want %s", messed.Seq, got, messed.Tree)
		}
	})
	e.fsck()
}

// checkResetCommit checks that the newest action is a reset to seq,
// recorded on top of oldTip with tree want.
func checkResetCommit(e *env, oldTip action, seq int, want string) {
	e.t.Helper()
	got := e.last()
	c := e.commit(got.Commit)
	if got.Seq != oldTip.Seq+1 || got.Action != "reset" ||
		len(c.parents) != 1 || c.parents[0] != oldTip.Commit {
		e.t.Errorf("reset recorded as %+v with parents %v; want seq %d, action reset, parent %s",
			got, c.parents, oldTip.Seq+1, oldTip.Commit)
	}
	if c.trailers["Krellin-Action"] != "reset" || c.trailers["Krellin-Seq"] != strconv.Itoa(got.Seq) {
		e.t.Errorf("reset commit trailers %v", c.trailers)
	}
	if got.Tree != want || c.tree != want {
		e.t.Errorf("reset to seq %d recorded tree %s (git: %s), want %s\nrecorded:\n%s\nwant:\n%s",
			seq, got.Tree, c.tree, want,
			e.git(e.repo, "ls-tree", "-r", c.tree), e.git(e.repo, "ls-tree", "-r", want))
	}
}
