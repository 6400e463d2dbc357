//go:build integration

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
)

// The escape suite: each test tries one way for what runs in the capsule,
// or what a repository carries, to reach the host, and checks the host
// paths themselves afterwards, not only the error. docs/security.md maps
// each invariant to the test that proves it.

// secLeaves is how a refusal says a path leaves the workspace.
const secLeaves = "leaves the workspace"

// secState hashes every file below some host directories, with inode and
// modification time, so that a write of the same bytes shows too. It lists
// directories and symlinks, so anything new or gone shows.
func secState(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			desc := fmt.Sprintf("%v ino=%d mtime=%d", fi.Mode(), st.Ino, fi.ModTime().UnixNano())
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				desc += " -> " + target
			case d.Type().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				desc += " sha256=" + hex.EncodeToString(sum[:])
			}
			out[p] = desc
			return nil
		})
		if err != nil {
			t.Fatalf("hash %s: %v", dir, err)
		}
	}
	return out
}

// secEtc is what the tests check of /etc, which they cannot hash whole:
// the names in it and one file a link may point at.
func secEtc(t *testing.T) string {
	t.Helper()
	ents, err := os.ReadDir("/etc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	b, _ := os.ReadFile("/etc/hostname")
	return strings.Join(names, " ") + "\nhostname=" + string(b)
}

// secReplacePatch is a git patch replacing the whole of file name, which
// holds old, with new.
func secReplacePatch(name, old, new string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n", name, name, name, name)
	oldLines := strings.SplitAfter(old, "\n")
	if oldLines[len(oldLines)-1] == "" {
		oldLines = oldLines[:len(oldLines)-1]
	}
	fmt.Fprintf(&b, "@@ -1,%d +1 @@\n", len(oldLines))
	for _, l := range oldLines {
		b.WriteString("-" + l)
		if !strings.HasSuffix(l, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
	b.WriteString("+" + new + "\n")
	return b.String()
}

// secNewFilePatch creates name holding one line.
func secNewFilePatch(name, line string) string {
	return fmt.Sprintf("diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+%s\n",
		name, name, name, line)
}

// secDeletePatch deletes name, a regular file holding one line.
func secDeletePatch(name, line string) string {
	return fmt.Sprintf("diff --git a/%s b/%s\ndeleted file mode 100644\n--- a/%s\n+++ /dev/null\n@@ -1 +0,0 @@\n-%s\n",
		name, name, name, line)
}

// secRenamePatch renames from to to without changing the content.
func secRenamePatch(from, to string) string {
	return fmt.Sprintf("diff --git a/%s b/%s\nsimilarity index 100%%\nrename from %s\nrename to %s\n",
		from, to, from, to)
}

// secRefusal is one attempt that must be refused.
type secRefusal struct {
	name    string
	kind    string   // write or patch
	path    string   // write: the path; patch: the path the message must name
	input   string   // write content or patch text
	reasons []string // one of these must be in the message and the log
}

// secExpectRefused runs each attempt and checks it was refused with a
// message naming the path and a reason, and that neither the guarded host
// state nor the workspace changed. Then it reads the log once: each must be
// recorded as a failed action on an unchanged tree.
func (e *env) secExpectRefused(rs []secRefusal, guard func() string, ws string) {
	t := e.t
	t.Helper()
	prev := e.last()
	for _, r := range rs {
		hostBefore, wsBefore := guard(), snapshot(t, ws)
		var res result
		if r.kind == "write" {
			res = e.run("", r.input, "write", r.path)
		} else {
			res = e.run("", r.input, "patch")
		}
		if res.code != 1 || !strings.Contains(res.stderr, r.path) || !secHasAny(res.stderr, r.reasons) {
			t.Errorf("%s: want exit 1 and a message naming %s and saying one of %q, got %s",
				r.name, r.path, r.reasons, res)
		}
		if after := guard(); after != hostBefore {
			t.Errorf("%s: the host outside the workspace changed:\nbefore: %s\nafter:  %s", r.name, hostBefore, after)
		}
		if d := diffSnapshots(wsBefore, snapshot(t, ws)); d != "" {
			t.Errorf("%s: a refused action changed the workspace:\n%s", r.name, d)
		}
	}

	acts := e.log("")
	if len(acts) != prev.Seq+1+len(rs) {
		t.Fatalf("want %d actions recorded after seq %d, the log has %d in all", len(rs), prev.Seq, len(acts))
	}
	for i, r := range rs {
		got := acts[prev.Seq+1+i]
		if got.Action != r.kind || got.Status != "failed" || !secHasAny(got.Error, r.reasons) ||
			got.Tree != prev.Tree || (r.kind == "write" && got.Path != r.path) {
			t.Errorf("%s: want a failed %s of %s recorded as seq %d on tree %s with the reason, log has %+v",
				r.name, r.kind, r.path, got.Seq, prev.Tree, got)
		}
	}
}

// secHasAny reports whether s contains one of words.
func secHasAny(s string, words []string) bool {
	return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(s, w) })
}

// secFlatten renders a state map for comparison in messages.
func secFlatten(m map[string]string) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, k+" "+v)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestSecSymlinkOutOfWorkspace is case 01 in full: links in the
// repository pointing out of the workspace, at the final component, dangling,
// and in the middle of the path, through write and through patch.
func TestSecSymlinkOutOfWorkspace(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(e.dir, "OUTSIDE")
	writeFiles(t, outside, []file{
		{path: "victim.txt", data: "victim\n"},
		{path: "keep/inner.txt", data: "inner\n"},
	})
	// The repository carries the links, as a cloned one could. up climbs
	// from $KRELLIN_HOME/capsules/<id>/workspace to the test's directory.
	writeFiles(t, e.repo, []file{
		{path: "notes.md", link: outside + "/victim.txt"},
		{path: "draft.txt", link: outside + "/new.txt"},
		{path: "d", link: outside},
		{path: "etc", link: "/etc"},
		{path: "up", link: "../../../../OUTSIDE"},
	})
	e.git(e.repo, "add", "-A")
	e.git(e.repo, "commit", "-q", "-m", "links out of the workspace")
	e.up()
	ws := e.workspace()

	// The links must really lead out, or their refusal proves nothing.
	for _, p := range []string{"notes.md", "d/victim.txt", "up/victim.txt"} {
		if b, err := os.ReadFile(filepath.Join(ws, p)); err != nil || string(b) != "victim\n" {
			t.Fatalf("%s in the workspace does not lead to OUTSIDE/victim.txt: %q %v", p, b, err)
		}
	}
	hostname, err := os.ReadFile("/etc/hostname")
	if err != nil || len(hostname) == 0 {
		t.Fatalf("the test needs a non-empty /etc/hostname: %v", err)
	}
	guard := func() string { return secFlatten(secState(t, outside)) + "\n" + secEtc(t) }

	t.Run("write", func(t *testing.T) {
		e := e.sub(t)
		var rs []secRefusal
		for _, c := range []struct{ name, path string }{
			{"final component links to a file outside", "notes.md"},
			{"dangling link to a file outside that does not exist", "draft.txt"},
			{"directory link to OUTSIDE in the middle, new file", "d/x"},
			{"directory link to OUTSIDE in the middle, existing file", "d/victim.txt"},
			{"directory link to OUTSIDE, new subdirectory", "d/sub/x"},
			{"directory link to /etc in the middle", "etc/x"},
			{"directory link to /etc onto an existing file", "etc/hostname"},
			{"relative directory link climbing out", "up/x"},
		} {
			rs = append(rs, secRefusal{name: c.name, kind: "write", path: c.path,
				input: "pwned\n", reasons: []string{secLeaves}})
		}
		e.secExpectRefused(rs, guard, ws)
	})

	t.Run("patch", func(t *testing.T) {
		e := e.sub(t)
		rs := []secRefusal{
			// Case 01 asks for "leaves the workspace" here too: the link
			// is what makes the edit impossible.
			{name: "edit through a final-component link", path: "notes.md",
				input: secReplacePatch("notes.md", "victim\n", "pwned"), reasons: []string{secLeaves}},
			// git apply says the same: something is already there.
			{name: "create over a dangling link", path: "draft.txt",
				input: secNewFilePatch("draft.txt", "pwned"), reasons: []string{secLeaves, "already exists"}},
			{name: "edit through a directory link", path: "d/victim.txt",
				input: secReplacePatch("d/victim.txt", "victim\n", "pwned"), reasons: []string{secLeaves}},
			{name: "create through a directory link", path: "d/new.txt",
				input: secNewFilePatch("d/new.txt", "pwned"), reasons: []string{secLeaves}},
			{name: "create a directory through a directory link", path: "d/sub/new.txt",
				input: secNewFilePatch("d/sub/new.txt", "pwned"), reasons: []string{secLeaves}},
			{name: "delete through a directory link", path: "d/victim.txt",
				input: secDeletePatch("d/victim.txt", "victim"), reasons: []string{secLeaves}},
			{name: "rename a file outside into the workspace", path: "d/victim.txt",
				input: secRenamePatch("d/victim.txt", "stolen.txt"), reasons: []string{secLeaves}},
			{name: "rename a workspace file out", path: "d/readme.txt",
				input: secRenamePatch("README.md", "d/readme.txt"), reasons: []string{secLeaves}},
			{name: "edit /etc through a directory link", path: "etc/hostname",
				input: secReplacePatch("etc/hostname", string(hostname), "pwned"), reasons: []string{secLeaves}},
			{name: "create in /etc through a directory link", path: "etc/x",
				input: secNewFilePatch("etc/x", "pwned"), reasons: []string{secLeaves}},
			{name: "edit through a relative link climbing out", path: "up/victim.txt",
				input: secReplacePatch("up/victim.txt", "victim\n", "pwned"), reasons: []string{secLeaves}},
			{name: "two files, the second leaving: nothing applies", path: "d/x2",
				input: secNewFilePatch("fine.txt", "ok") + secNewFilePatch("d/x2", "pwned"), reasons: []string{secLeaves}},
		}
		for i := range rs {
			rs[i].kind = "patch"
		}
		e.secExpectRefused(rs, guard, ws)
	})

	// Removing or renaming the link itself is ordinary work on the
	// workspace: the link goes or moves, its target stays as it is.
	t.Run("the link itself can be deleted or renamed; its target stays", func(t *testing.T) {
		e := e.sub(t)
		before := guard()
		target := outside + "/victim.txt"
		del := fmt.Sprintf("diff --git a/notes.md b/notes.md\ndeleted file mode 120000\n--- a/notes.md\n+++ /dev/null\n"+
			"@@ -1 +0,0 @@\n-%s\n\\ No newline at end of file\n", target)
		if r := e.run("", del, "patch"); r.code != 0 {
			t.Errorf("deleting the link notes.md: %s", r)
		}
		if _, err := os.Lstat(filepath.Join(ws, "notes.md")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("notes.md is still in the workspace after its deletion: %v", err)
		}
		// git apply renames a symlink like any file.
		if r := e.run("", secRenamePatch("draft.txt", "moved.txt"), "patch"); r.code != 0 {
			t.Errorf("renaming the link draft.txt, which git apply does: %s", r)
		}
		if after := guard(); after != before {
			t.Errorf("the host outside the workspace changed:\nbefore: %s\nafter:  %s", before, after)
		}
	})
}

// TestSecCapsuleProcessesEndWithTheirAction: host-side file operations
// assume nothing runs in the capsule while they do, because actions are
// serialized and krellin-exec kills a command's whole tree when it ends.
// A command runs as the same uid as its krellin-exec, though, and may
// signal it.
func TestSecCapsuleProcessesEndWithTheirAction(t *testing.T) {
	e := newEnv(t)
	e.up()
	container := e.status().Container

	t.Run("killing krellin-exec leaves nothing running", func(t *testing.T) {
		e := e.sub(t)
		e.run("", "", "run", "--", "sh", "-c", "sleep 1234 >/dev/null 2>&1 & kill -KILL $PPID")
		if top := secTop(t, container); strings.Contains(top, "sleep 1234") {
			t.Errorf("a process outlived its action by killing its krellin-exec; it can change the "+
				"workspace while the host writes, and after its action was recorded:\n%s", top)
		}
	})

	t.Run("stopping krellin-exec does not outlast the timeout", func(t *testing.T) {
		e := e.sub(t)
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "krellin"),
			"run", "--timeout", "2s", "--", "sh", "-c", "kill -STOP $PPID; sleep 1")
		cmd.Dir, cmd.Env = e.repo, e.environ()
		start := time.Now()
		out, _ := cmd.CombinedOutput()
		if ctx.Err() != nil {
			// The capsule stays busy until its container goes; remove it
			// so the rest of the test (and its cleanup) can go on.
			docker(t, "", "rm", "-f", container)
			t.Errorf("krellin run --timeout 2s of a command that stopped its krellin-exec did not end "+
				"within %s; the capsule stayed busy until its container was removed:\n%s",
				time.Since(start).Round(time.Second), out)
			return
		}
		if a := e.last(); a.Status != "timed-out" {
			t.Errorf("want the action recorded as timed out, log has %+v\n%s", a, out)
		}
	})
}

// secTop lists a container's processes as the host sees them.
func secTop(t *testing.T, container string) string {
	t.Helper()
	out, err := exec.Command("docker", "top", container, "-eo", "pid,args").CombinedOutput()
	if err != nil {
		t.Fatalf("docker top %s: %v\n%s", container, err, out)
	}
	return string(out)
}

// TestSecSymlinkSwapRace swaps links to a directory outside in and out of
// the workspace while the host writes into it.
//
// Through the product this window exists only if a capsule process runs
// while the host writes: actions are serialized per capsule (daemon
// Capsule.mu) and krellin-exec kills every process an action started
// when it ends, so by design no capsule process is alive during a write,
// patch or reset. TestSecCapsuleProcessesEndWithTheirAction shows that a
// command can get around that by killing its own krellin-exec; while that
// holds, the second subtest races through krellin itself. The first
// subtest races the host-side primitive directly, much faster than any
// capsule could.
func TestSecSymlinkSwapRace(t *testing.T) {
	t.Run("actions.WriteFile and ApplyPatch beneath os.Root", secRacePrimitive)
	t.Run("krellin write and patch while a capsule process swaps links", secRaceProduct)
}

func secRacePrimitive(t *testing.T) {
	dir := t.TempDir()
	ws, outside := filepath.Join(dir, "ws"), filepath.Join(dir, "OUTSIDE")
	writeFiles(t, outside, []file{{path: "victim.txt", data: "victim\n"}})
	writeFiles(t, ws, []file{
		{path: "d/victim.txt", data: "victim\n"}, {path: "dalt", link: outside},
		{path: "r/keep", data: "k\n"}, {path: "ralt", link: "../OUTSIDE"},
		{path: "f", data: "victim\n"}, {path: "falt", link: outside + "/victim.txt"},
	})
	before := secState(t, outside)
	root, err := os.OpenRoot(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	// RENAME_EXCHANGE swaps a real directory (or file) and a link to
	// OUTSIDE atomically, so each name is always one or the other.
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, n := range []string{"d", "r", "f"} {
				a, b := filepath.Join(ws, n), filepath.Join(ws, n+"alt")
				if unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE) == nil {
					swaps.Add(1)
				}
			}
			secRelinkFile(ws, outside)
		}
	}()

	forward := secReplacePatch("d/victim.txt", "victim\n", "pwned")
	back := secReplacePatch("d/victim.txt", "pwned\n", "victim")
	reqs := []actions.Request{
		{Kind: actions.Write, Path: "d/x", Input: []byte("pwned\n")},
		{Kind: actions.Write, Path: "d/sub/y", Input: []byte("pwned\n")},
		{Kind: actions.Write, Path: "r/z", Input: []byte("pwned\n")},
		{Kind: actions.Write, Path: "f", Input: []byte("pwned\n")},
		{Kind: actions.Patch, Input: []byte(forward)},
		{Kind: actions.Patch, Input: []byte(back)},
		{Kind: actions.Patch, Input: []byte(secNewFilePatch("r/p.txt", "pwned"))},
	}
	ok, refused := 0, 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		for _, r := range reqs {
			var msg string
			if r.Kind == actions.Write {
				msg = actions.WriteFile(root, r).Error
			} else {
				msg = actions.ApplyPatch(root, r).Error
			}
			if msg == "" {
				ok++
			} else {
				refused++
			}
		}
		// A patch that created r/p.txt would refuse to create it again.
		root.Remove("r/p.txt")
		root.Remove("ralt/p.txt")
	}
	close(stop)
	wg.Wait()

	t.Logf("%d swaps; %d operations applied inside, %d refused", swaps.Load(), ok, refused)
	if ok == 0 || refused == 0 || swaps.Load() < 100 {
		t.Errorf("the race was not exercised: %d applied, %d refused, %d swaps", ok, refused, swaps.Load())
	}
	if d := diffSnapshots(before, secState(t, outside)); d != "" {
		t.Errorf("writes while links were swapped changed OUTSIDE:\n%s", d)
	}
}

// secRelinkFile turns falt back into a link when a write that raced a
// swap left both f and falt regular files, so that the race goes on.
func secRelinkFile(ws, outside string) {
	f, errF := os.Lstat(filepath.Join(ws, "f"))
	alt, errAlt := os.Lstat(filepath.Join(ws, "falt"))
	if errF != nil || errAlt != nil || !f.Mode().IsRegular() || !alt.Mode().IsRegular() {
		return
	}
	tmp := filepath.Join(ws, "falt.relink")
	os.Remove(tmp)
	if os.Symlink(outside+"/victim.txt", tmp) == nil {
		os.Rename(tmp, filepath.Join(ws, "falt"))
	}
}

func secRaceProduct(t *testing.T) {
	e := newEnv(t)
	e.up()
	container := e.status().Container
	outside := filepath.Join(e.dir, "OUTSIDE")
	writeFiles(t, outside, []file{{path: "victim.txt", data: "victim\n"}})
	before := secState(t, outside)

	// The capsule knows the host path of its workspace from
	// /proc/self/mountinfo; a link to a host path means nothing inside
	// the capsule but everything to the host.
	loop := fmt.Sprintf(`: secswaploop; while :; do
rm -rf d f; mkdir d; echo victim > f; echo victim > d/victim.txt
rm -rf d f; ln -s %[1]s d; ln -s %[1]s/victim.txt f
done`, outside)
	e.run("", "", "run", "--", "sh", "-c", "("+loop+") >/dev/null 2>&1 </dev/null & kill -KILL $PPID")
	if !strings.Contains(secTop(t, container), "secswaploop") {
		t.Skip("no capsule process outlives its action, so the race window does not exist " +
			"through krellin; the first subtest covers the host-side primitive")
	}

	// The API, not the CLI: a client process per action would leave the
	// daemon idle most of the time, and the race needs it busy writing.
	c := api.NewClient(filepath.Join(e.home, "daemon.sock"))
	target := api.Target{Repo: e.repo}
	counts := map[string]int{}
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); {
		for _, req := range []api.ActionRequest{
			{Kind: "write", Path: "d/x", Input: []byte("pwned\n")},
			{Kind: "write", Path: "f", Input: []byte("pwned\n")},
			{Kind: "write", Path: "d/sub/y", Input: []byte("pwned\n")},
			{Kind: "patch", Input: []byte(secReplacePatch("d/victim.txt", "victim\n", "pwned"))},
			{Kind: "patch", Input: []byte(secReplacePatch("f", "victim\n", "pwned"))},
			{Kind: "patch", Input: []byte(secNewFilePatch("d/p.txt", "pwned"))},
		} {
			req.Target = target
			a, err := c.Act(context.Background(), req, io.Discard, io.Discard)
			switch {
			case err != nil:
				if counts["error"] == 0 {
					t.Logf("first error: %v", err)
				}
				counts["error"]++
			case a.Error != "":
				counts["refused"]++
			default:
				counts["applied"]++
			}
		}
	}
	alive := strings.Contains(secTop(t, container), "secswaploop")
	t.Logf("writes and patches: %v; swapper alive at the end: %v", counts, alive)
	if d := diffSnapshots(before, secState(t, outside)); d != "" {
		t.Errorf("krellin wrote outside the workspace while a capsule process swapped links:\n%s", d)
	}
	// reset removes the container, and with it the swapper.
	e.ok("reset")
	if d := diffSnapshots(before, secState(t, outside)); d != "" {
		t.Errorf("OUTSIDE changed by the reset:\n%s", d)
	}
}

// secHooks is every hook git knows of.
var secHooks = []string{
	"applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
	"prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout",
	"post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive",
	"post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite",
	"sendemail-validate", "fsmonitor-watchman", "post-index-change",
}

// secPayloadNames are the config payloads, each a program git would run.
var secPayloadNames = []string{
	"fsmonitor", "sshCommand", "pager", "editor", "askPass", "gitProxy", "external",
	"textconv", "diffcommand", "clean", "smudge", "process", "mergedriver", "credential",
	"gpg", "seqeditor", "pagerstatus", "pagerlog", "pagerdiff", "include", "packObjectsHook",
	"alternateRefsCommand", "ext",
}

// secPayloadScript plants, in the workspace it runs in, a .git whose
// config, hooks and attributes make any git run there execute a program
// that creates a marker under markers. Program paths are host paths, as a
// capsule learns them from /proc/self/mountinfo; in the capsule they do
// not exist. With rootAttrs the attributes go in the workspace's own
// .gitattributes too, which the session records like any file.
func secPayloadScript(ws, markers, tag string, rootAttrs bool) string {
	k := ws + "/.git/kx"
	var b strings.Builder
	fmt.Fprintf(&b, "set -e\nmkdir -p .git/kx .git/hooks .git/kxhooks .git/info\n")
	fmt.Fprintf(&b, "mk() { printf '#!/bin/sh\\ntouch %s/%s-%%s\\n' \"$1\" > \"$2\"; chmod +x \"$2\"; }\n", markers, tag)
	for _, n := range secPayloadNames {
		fmt.Fprintf(&b, "mk %s .git/kx/%s\n", n, n)
	}
	for _, h := range secHooks {
		fmt.Fprintf(&b, "mk hook-%s .git/hooks/%s\nmk hookspath-%s .git/kxhooks/%s\n", h, h, h, h)
	}
	fmt.Fprintf(&b, `cat >> .git/config <<'EOF'
[core]
	fsmonitor = %[1]s/fsmonitor
	hooksPath = %[2]s/.git/kxhooks
	sshCommand = %[1]s/sshCommand
	pager = %[1]s/pager
	editor = %[1]s/editor
	askPass = %[1]s/askPass
	gitProxy = %[1]s/gitProxy
	alternateRefsCommand = %[1]s/alternateRefsCommand
[diff]
	external = %[1]s/external
[diff "kx"]
	textconv = %[1]s/textconv
	command = %[1]s/diffcommand
[filter "kx"]
	clean = %[1]s/clean
	smudge = %[1]s/smudge
	process = %[1]s/process
[merge "kx"]
	driver = %[1]s/mergedriver
[credential]
	helper = !%[1]s/credential
[gpg]
	program = %[1]s/gpg
[commit]
	gpgSign = true
[sequence]
	editor = %[1]s/seqeditor
[pager]
	status = %[1]s/pagerstatus
	log = %[1]s/pagerlog
	diff = %[1]s/pagerdiff
[uploadpack]
	packObjectsHook = %[1]s/packObjectsHook
[protocol]
	allow = always
[remote "origin"]
	url = ext::%[1]s/ext
[include]
	path = %[2]s/.git/kx.inc
EOF
printf '[core]\n\tpager = %[1]s/include\n' > .git/kx.inc
printf '* filter=kx diff=kx merge=kx\n' > .git/info/attributes
`, k, ws)
	if rootAttrs {
		b.WriteString("cp .git/info/attributes .gitattributes\n")
	}
	return b.String()
}

// TestSecWorkspaceGitIsNeverRunOnHost plants payloads in the workspace's
// own .git, from the capsule and from the host, and runs every krellin
// command: no host-side git may read that config, its hooks or its
// attributes. A host git run on the workspace at the end shows the
// payloads are live.
func TestSecWorkspaceGitIsNeverRunOnHost(t *testing.T) {
	e := newEnv(t)
	markers := filepath.Join(e.dir, "markers")
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
	e.up()
	ws := e.workspace()
	user := e.userState()

	t.Run("planted by the capsule", func(t *testing.T) {
		e := e.sub(t)
		e.ok("run", "--", "sh", "-c", secPayloadScript(ws, markers, "capsule", true))
		secRunEveryCommand(e, markers)
		secPayloadsAreLive(e, ws, markers, "capsule")
		e.ok("reset")
		secNoMarkers(t, markers, "reset")
		secPayloadsGone(t, ws)
	})

	t.Run("planted on the host", func(t *testing.T) {
		e := e.sub(t)
		// Only inside .git: a file the host adds to the workspace itself
		// would be recorded by the next action, and replay would rightly
		// report that it diverged.
		cmd := exec.Command("sh", "-c", secPayloadScript(ws, markers, "host", false))
		cmd.Dir = ws
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plant payloads on the host: %v\n%s", err, out)
		}
		secRunEveryCommand(e, markers)
		secPayloadsAreLive(e, ws, markers, "host")
		e.ok("reset")
		secNoMarkers(t, markers, "reset")
		secPayloadsGone(t, ws)
	})

	after := e.userState()
	if string(after.config) != string(user.config) || after.refs != user.refs || after.status != user.status {
		t.Errorf("the user's repository changed: config %q -> %q, refs %q -> %q, status %q -> %q",
			user.config, after.config, user.refs, after.refs, user.status, after.status)
	}
}

// secRunEveryCommand runs each krellin command once and checks no marker
// appeared after it.
func secRunEveryCommand(e *env, markers string) {
	t := e.t
	t.Helper()
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"up"}},
		{"", []string{"run", "--", "sh", "-c", "echo changed >> README.md; echo new > new.txt"}},
		{"written\n", []string{"write", "w/written.txt"}},
		{secNewFilePatch("patched.txt", "patched"), []string{"patch"}},
		{"", []string{"log", "--json"}},
		{"", []string{"show", "1"}},
		{"", []string{"diff"}},
		{"", []string{"sessions"}},
		{"", []string{"status"}},
		{"", []string{"doctor"}},
		{"", []string{"replay"}},
	} {
		r := e.run("", c.stdin, c.args...)
		if r.code != 0 && c.args[0] != "doctor" {
			t.Errorf("krellin %s: %s", strings.Join(c.args, " "), r)
		}
		secNoMarkers(t, markers, strings.Join(c.args, " "))
	}
}

// secPayloadsGone checks that reset gave the workspace a clean .git.
func secPayloadsGone(t *testing.T, ws string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ws, ".git", "config"))
	if err != nil || strings.Contains(string(b), "kx") {
		t.Errorf("after reset the workspace's .git/config still holds the payloads (%v):\n%s", err, b)
	}
}

// secNoMarkers fails the test when a payload ran on the host.
func secNoMarkers(t *testing.T, markers, after string) {
	t.Helper()
	ents, err := os.ReadDir(markers)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("after krellin %s, payloads of the workspace's .git ran on the host: %v", after, names)
	}
}

// secPayloadsAreLive runs the host's git on the workspace, as a careless
// tool would, and checks the payloads fire: otherwise their silence above
// means nothing. It clears the markers afterwards.
func secPayloadsAreLive(e *env, ws, markers, tag string) {
	t := e.t
	t.Helper()
	// The long-running filter fails every command but status; it is
	// turned off for the others so their own payloads get their turn.
	noProcess := "filter.kx.process="
	for _, args := range [][]string{{"status"}, {"-c", noProcess, "diff"}, {"-c", noProcess, "commit", "-qam", "x"}} {
		e.gitRun(ws, args...)
	}
	for _, want := range []string{"fsmonitor", "hookspath-pre-commit", "diffcommand", "process"} {
		if _, err := os.Stat(filepath.Join(markers, tag+"-"+want)); err != nil {
			ents, _ := os.ReadDir(markers)
			t.Errorf("control: host git on the workspace did not run the %s payload (markers: %v); "+
				"the payloads are not live, so their silence proves nothing", want, ents)
		}
	}
	if err := os.RemoveAll(markers); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
}
