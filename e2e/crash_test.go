//go:build integration

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// robTry is one action the client loop sent and what the client saw.
type robTry struct {
	kind string // run, write or patch
	key  string // the run's token, or the path written or created
	r    result
	err  error
	ack  bool // the client reported success
}

// robSeqLine is how write and patch acknowledge an action.
var robSeqLine = regexp.MustCompile(`^seq \d+ `)

// robSend runs attempt i and says whether the client reported success.
func (e *env) robSend(i int) robTry {
	var t robTry
	switch i % 3 {
	case 0:
		// The token reaches the disk before the action is recorded, so a
		// kill in the sleep leaves a change that no commit holds yet.
		t.kind, t.key = "run", fmt.Sprintf("tok-%02d", i)
		t.r, t.err = e.robExec(nil, nil, "run", "--", "sh", "-c",
			`echo "$1" >> tokens.txt; sleep 0.2; echo "$1"`, "sh", t.key)
		t.ack = t.err == nil && t.r.code == 0 && t.r.stdout == t.key+"\n"
	case 1:
		t.kind, t.key = "write", fmt.Sprintf("w/%02d.txt", i)
		t.r, t.err = e.robExec(strings.NewReader(t.key+"\n"), nil, "write", t.key)
		t.ack = t.err == nil && t.r.code == 0 && robSeqLine.MatchString(t.r.stdout)
	default:
		t.kind, t.key = "patch", fmt.Sprintf("p/%02d.txt", i)
		patch := fmt.Sprintf("--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+%s\n", t.key, t.key)
		t.r, t.err = e.robExec(strings.NewReader(patch), nil, "patch")
		t.ack = t.err == nil && t.r.code == 0 && robSeqLine.MatchString(t.r.stdout)
	}
	return t
}

// robDaemons lists the running daemons of this test's KRELLIN_HOME.
func (e *env) robDaemons() []int {
	var pids []int
	for _, pid := range e.processes() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 2 && filepath.Base(args[0]) == "krellin" && args[1] == "daemon" && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// robKiller SIGKILLs the test's daemon up to n times until stop closes,
// and returns how many times it killed. Each kill comes at a random
// moment while a client is talking to the daemon, so that most land in
// an action: while it runs, while it is recorded, or while it answers.
func (e *env) robKiller(rng *rand.Rand, n int, stop <-chan struct{}) int {
	killed := 0
	for killed < n {
		select {
		case <-stop:
			return killed
		case <-time.After(time.Duration(300+rng.IntN(2500)) * time.Millisecond):
		}
		pid := e.daemonPID()
		if pid == 0 || !e.robClientRunning(pid, stop) {
			continue
		}
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
		if !slices.Contains(e.robDaemons(), pid) || syscall.Kill(pid, syscall.SIGKILL) != nil {
			continue
		}
		for deadline := time.Now().Add(10 * time.Second); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		killed++
	}
	return killed
}

// robClientRunning waits until a client of daemon pid runs, and reports
// false when stop closes or the daemon is gone first.
func (e *env) robClientRunning(pid int, stop <-chan struct{}) bool {
	for {
		procs := e.processes()
		if !slices.Contains(procs, pid) {
			return false
		}
		if len(procs) > len(e.robDaemons()) {
			return true
		}
		select {
		case <-stop:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestRobDaemonSIGKILLAtRandomMoments(t *testing.T) {
	const tries, kills = 60, 10
	e := newEnv(t)
	session := e.up()
	first := e.robStatus()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	stop := make(chan struct{})
	killed := make(chan int)
	go func() { killed <- e.robKiller(rand.New(rand.NewPCG(seed, 1)), kills, stop) }()
	var sent []robTry
	for i := range tries {
		sent = append(sent, e.robSend(i))
	}
	close(stop)
	nKills := <-killed

	acked := 0
	for _, s := range sent {
		if s.ack {
			acked++
		}
	}
	t.Logf("%d kills; %d of %d actions acknowledged", nKills, acked, tries)
	for _, s := range sent {
		if !s.ack {
			t.Logf("not acknowledged: %s %s: %v exit %d: %s", s.kind, s.key, s.err, s.r.code,
				strings.TrimSpace(s.r.stderr))
		}
	}
	if nKills < kills/2 {
		t.Errorf("only %d kills landed during the loop; the test proves little", nKills)
	}

	// The next command restarts the daemon and takes the capsule over.
	e.robOK("run", "--", "true")
	if d := e.robDaemons(); len(d) != 1 {
		t.Errorf("want one daemon running, found %v", d)
	}
	st := e.robStatus()
	if st.State != "running" || st.Container != first.Container {
		t.Errorf("capsule %s is %q; want the original %s found again, running",
			st.Container, st.State, first.Container)
	}
	label := docker(t, "", "inspect", "-f", `{{index .Config.Labels "dev.krellin.capsule"}}`, first.Container)
	ids := strings.Fields(docker(t, "", "ps", "-aq", "--filter", "label=dev.krellin.capsule="+label))
	if len(ids) != 1 {
		t.Errorf("capsule %s has containers %v, want exactly one", label, ids)
	}

	e.fsck()
	robFsckStrict(e)
	acts := e.robLog()
	for _, a := range acts {
		if a.Action == "recover" {
			t.Logf("seq %d: recover (%s)", a.Seq, a.Status)
		}
	}
	robCheckLog(e, session, acts)
	robCheckTries(e, sent, acts, nKills)
	robCheckTokens(e, sent, acts)

	// Nothing in the workspace escaped the record.
	if d := diffSnapshots(snapshot(t, e.archive(acts[len(acts)-1].Commit)), snapshot(t, st.Workspace)); d != "" {
		t.Errorf("the workspace differs from the tip's tree:\n%s", d)
	}
}

// robFsckStrict runs git fsck --strict, which also checks object formats.
func robFsckStrict(e *env) {
	e.t.Helper()
	out, errOut, code := e.gitRun(e.repo, "fsck", "--strict", "--no-dangling", "--no-progress")
	if code != 0 || strings.TrimSpace(out+errOut) != "" {
		e.t.Errorf("git fsck --strict: exit %d\n%s%s", code, out, errOut)
	}
}

// robCheckLog wants seqs without gaps, each commit chained on the one
// before, and a note on every commit.
func robCheckLog(e *env, session string, acts []robAction) {
	e.t.Helper()
	plain := make([]action, len(acts))
	for i, a := range acts {
		plain[i] = a.action
		if a.Seq != i {
			e.t.Errorf("action %d has seq %d", i, a.Seq)
		}
		note, errOut, code := e.gitRun(e.repo, "notes", "--ref=krellin/"+session, "show", a.Commit)
		if code != 0 || !strings.HasPrefix(note, "Action: "+a.Action+"\n") {
			e.t.Errorf("seq %d (%s): no note of its own: %s%s", a.Seq, a.Action, errOut, note)
		}
	}
	checkChain(e, session, plain)
}

// robFind returns the log entries that are try s.
func robFind(s robTry, acts []robAction) []robAction {
	var found []robAction
	for _, a := range acts {
		switch {
		case s.kind == "run" && a.Action == "run" && len(a.Argv) > 0 && a.Argv[len(a.Argv)-1] == s.key,
			s.kind == "write" && a.Action == "write" && a.Path == s.key,
			s.kind == "patch" && a.Action == "patch" && slices.Contains(a.Files, s.key):
			found = append(found, a)
		}
	}
	return found
}

// robCheckTries wants every acknowledged action recorded once, ok, with
// its effect in the tip's tree, and every other one absent or marked. A
// kill after the commit but before the answer reached the client records
// an action its client never saw succeed; at most one per kill.
func robCheckTries(e *env, sent []robTry, acts []robAction, kills int) {
	e.t.Helper()
	tip := acts[len(acts)-1].Commit
	unseen := 0
	for _, s := range sent {
		found := robFind(s, acts)
		switch {
		case len(found) > 1:
			e.t.Errorf("%s %s is recorded %d times", s.kind, s.key, len(found))
		case s.ack && (len(found) == 0 || found[0].Status != "ok"):
			e.t.Errorf("%s %s was acknowledged to its client but the log has %+v", s.kind, s.key, found)
		case !s.ack && len(found) == 1 && found[0].Status == "ok":
			unseen++
			e.t.Logf("%s %s: recorded as seq %d, but its client failed: %s", s.kind, s.key, found[0].Seq, s.r)
		case !s.ack && len(found) == 1 && found[0].Status != "interrupted":
			e.t.Errorf("%s %s: its client failed, the log says %s", s.kind, s.key, found[0].Status)
		}
		if s.ack && s.kind != "run" {
			_, _, code := e.gitRun(e.repo, "cat-file", "-e", tip+":"+s.key)
			if code != 0 {
				e.t.Errorf("%s of %s was acknowledged but the file is not in the tip's tree", s.kind, s.key)
			}
		}
	}
	if unseen > kills {
		e.t.Errorf("%d actions recorded although their clients failed, more than the %d kills", unseen, kills)
	}
}

// robCheckTokens follows tokens.txt through the log: each recorded run
// adds its own token, a recover entry adds only tokens of runs whose
// clients failed, nothing else adds any; and the file on disk is the last.
func robCheckTokens(e *env, sent []robTry, acts []robAction) {
	e.t.Helper()
	failed := map[string]bool{}
	for _, s := range sent {
		if s.kind == "run" && !s.ack {
			failed[s.key] = true
		}
	}
	prev := robTokensAt(e, acts[0].Commit)
	for _, a := range acts[1:] {
		cur := robTokensAt(e, a.Commit)
		if len(cur) < len(prev) || !slices.Equal(cur[:len(prev)], prev) {
			e.t.Errorf("seq %d (%s) rewrote tokens.txt: %v -> %v", a.Seq, a.Action, prev, cur)
			prev = cur
			continue
		}
		added := cur[len(prev):]
		var bad bool
		switch {
		case a.Action == "run" && a.Status == "ok":
			tok := a.Argv[len(a.Argv)-1]
			bad = a.Argv[0] == "sh" && !slices.Equal(added, []string{tok}) ||
				a.Argv[0] != "sh" && len(added) != 0
		case a.Action == "run" && a.Status == "interrupted":
			tok := a.Argv[len(a.Argv)-1]
			bad = len(added) > 1 || len(added) == 1 && added[0] != tok
		case a.Action == "recover":
			for _, tok := range added {
				bad = bad || !failed[tok]
			}
		default:
			bad = len(added) != 0
		}
		if bad {
			e.t.Errorf("seq %d (%s %s, %s) added tokens %v",
				a.Seq, a.Action, strings.Join(a.Argv, " "), a.Status, added)
		}
		prev = cur
	}
	b, err := os.ReadFile(filepath.Join(e.robStatus().Workspace, "tokens.txt"))
	if err != nil {
		e.t.Fatal(err)
	}
	if disk := strings.Fields(string(b)); !slices.Equal(disk, prev) {
		e.t.Errorf("tokens.txt on disk %v, at the tip %v", disk, prev)
	}
	seen := map[string]bool{}
	for _, tok := range prev {
		if seen[tok] {
			e.t.Errorf("token %s is in tokens.txt twice", tok)
		}
		seen[tok] = true
	}
}

// robTokensAt returns the lines of tokens.txt in commit, none if absent.
func robTokensAt(e *env, commit string) []string {
	out, _, code := e.gitRun(e.repo, "cat-file", "blob", commit+":tokens.txt")
	if code != 0 {
		return nil
	}
	return strings.Fields(out)
}

// robMess leaves behind, in one action, everything a reset must clear:
// ignored files, an untracked tree, files and directories without any
// permission, a tracked file and directory re-moded, a symlink replaced
// by a directory, and a tool installed outside /workspace.
const robMess = `set -e
mkdir -p out untracked/deep && echo x > out/x && echo l > debug.log && echo u > untracked/deep/u
echo tool > /tmp/tool && chmod 755 /tmp/tool
echo secret > locked.txt && chmod 000 locked.txt
mkdir -p lockeddir/sub && echo s > lockeddir/sub/f && chmod 000 lockeddir/sub lockeddir
echo changed > README.md && chmod 000 src/main.txt && chmod 700 src
chmod 644 bin/tool.sh && chmod 000 bin
rm link && mkdir link && echo in > link/inside`

func TestRobResetAfterFailuresLeavesNothing(t *testing.T) {
	e := newEnv(t)
	base := e.git(e.repo, "rev-parse", "HEAD")
	e.up()
	ws := e.robStatus().Workspace
	before := e.robStatus().Container

	e.robOK("run", "--", "sh", "-c", robMess)
	steps := []struct {
		name, stdin string
		args        []string
		code        int
		status      string
	}{
		{"a failing run", "", []string{"run", "--", "sh", "-c",
			"echo partial > partial.txt && chmod 000 partial.txt && exit 3"}, 3, "ok"},
		{"a run that times out", "", []string{"run", "--timeout", "2s", "--", "sh", "-c",
			"mkfifo fifo; mkdir -p slow; echo late > slow/late; chmod 000 slow; (sleep 100 > bg.out &); sleep 100"},
			124, "timed-out"},
		{"a patch that does not apply", badPatch, []string{"patch"}, 1, "failed"},
	}
	for _, s := range steps {
		r, err := e.robExec(strings.NewReader(s.stdin), nil, s.args...)
		if err != nil {
			t.Fatal(err)
		}
		if a := e.robLast(); r.code != s.code || a.Status != s.status {
			t.Fatalf("%s: exit %d recorded %s; want exit %d recorded %s\n%s",
				s.name, r.code, a.Status, s.code, s.status, r)
		}
	}

	e.robOK("reset")
	want := robModes(t, robArchive(e, base))
	if d := diffSnapshots(want, robModes(t, ws)); d != "" {
		t.Errorf("the workspace after reset is not a fresh checkout of the base:\n%s", d)
	}
	if got, baseTree := e.robLast().Tree, e.git(e.repo, "rev-parse", base+"^{tree}"); got != baseTree {
		t.Errorf("reset recorded tree %s, want the base's %s", got, baseTree)
	}
	after := e.robStatus().Container
	if after == before || after == "" {
		t.Errorf("container %q before reset, %q after: want a new one", before, after)
	}
	if out, err := exec.Command("docker", "inspect", before).CombinedOutput(); err == nil {
		t.Errorf("the old container %s is still there:\n%.300s", before[:12], out)
	}
	r := e.robRun("run", "--", "sh", "-c", "ls -la /tmp; test ! -e /tmp/tool")
	if r.code != 0 {
		t.Errorf("/tmp/tool survived the reset: %s", r)
	}
}

// robArchive extracts rev as git archive gives it with umask 022, the
// modes a fresh checkout has.
func robArchive(e *env, rev string) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "rob-archive-")
	if err != nil {
		e.t.Fatal(err)
	}
	tar := filepath.Join(e.dir, filepath.Base(dir)+".tar")
	e.git(e.repo, "-c", "tar.umask=0022", "archive", "--format=tar", "-o", tar, rev)
	if out, err := exec.Command("tar", "-x", "-p", "-f", tar, "-C", dir).CombinedOutput(); err != nil {
		e.t.Fatalf("tar -x: %v\n%s", err, out)
	}
	os.Remove(tar)
	return dir
}

// robModes describes every path under root but .git: the kind, all
// permission bits, and a content hash or a symlink's target.
func robModes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" && d.IsDir() {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %04o", fi.Mode().Perm())
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "symlink -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("file %04o %s", fi.Mode().Perm(), hex.EncodeToString(sum[:8]))
		default:
			out[rel] = fmt.Sprintf("special %s", fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("modes of %s: %v", root, err)
	}
	return out
}
