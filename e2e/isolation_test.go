//go:build integration

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// userState is everything of the user's repository Krellin must leave
// alone.
type userState struct {
	status, head, symbolicHead, refs string
	index, config                    []byte
	workTree                         map[string]string
}

func (e *env) userState() userState {
	e.t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(e.repo, ".git", name))
		if err != nil {
			e.t.Fatal(err)
		}
		return b
	}
	// The index is read before git status runs; GIT_OPTIONAL_LOCKS=0
	// keeps status from refreshing it anyway.
	s := userState{index: read("index"), config: read("config")}
	s.status = e.git(e.repo, "status", "--porcelain", "--untracked-files=all", "--ignored")
	s.head = e.git(e.repo, "rev-parse", "HEAD")
	s.symbolicHead = e.git(e.repo, "symbolic-ref", "HEAD")
	s.refs = e.userRefs()
	s.workTree = snapshot(e.t, e.repo)
	return s
}

func TestUserRepositoryStaysUntouched(t *testing.T) {
	e := newEnv(t)
	// A user mid-work: a staged change, an unstaged one, untracked and
	// ignored files, a second branch and a tag.
	e.git(e.repo, "branch", "feature")
	e.git(e.repo, "tag", "v1")
	writeFiles(t, e.repo, []file{{path: "staged.txt", data: "s\n"}})
	e.git(e.repo, "add", "staged.txt")
	writeFiles(t, e.repo, []file{
		{path: "README.md", data: "edited by the user\n"},
		{path: "scratch.txt", data: "untracked\n"},
		{path: "out/build.bin", data: "ignored\n"},
	})
	before := e.userState()

	e.up()
	e.ok("run", "--", "sh", "-c", "echo agent > agent.txt && mkdir -p d out && echo y > d/y && "+
		"echo z > out/z && rm README.md && echo s > scratch.txt")
	e.run("", "w\n", "write", "written.txt")
	e.ok("reset", "--to", "1")
	e.ok("run", "--", "sh", "-c", "echo again > again.txt")
	if r := e.run("", "", "replay"); r.code != 0 {
		t.Errorf("replay: %s", r)
	}

	after := e.userState()
	checks := []struct {
		what         string
		before, then string
	}{
		{"git status", before.status, after.status},
		{"HEAD", before.head, after.head},
		{"HEAD's branch", before.symbolicHead, after.symbolicHead},
		{"refs outside refs/krellin and refs/notes/krellin", before.refs, after.refs},
		{".git/index bytes", string(before.index), string(after.index)},
		{".git/config bytes", string(before.config), string(after.config)},
	}
	for _, c := range checks {
		if c.before != c.then {
			t.Errorf("%s changed:\nbefore: %q\nafter:  %q", c.what, c.before, c.then)
		}
	}
	if d := diffSnapshots(before.workTree, after.workTree); d != "" {
		t.Errorf("the user's work tree changed:\n%s", d)
	}
	e.fsck()
}

func TestAgentGitStaysInsideCapsule(t *testing.T) {
	const devImage = "krellin/dev:1"
	if exec.Command("docker", "image", "inspect", devImage).Run() != nil {
		t.Skipf("image %s is missing (scripts/build-images.sh dev builds it)", devImage)
	}
	e := newEnv(t)
	reachable := e.ownObjects()
	e.ok("up", "--image", devImage)
	ws := e.workspace()

	if r := e.ok("run", "--", "git", "status", "--porcelain"); r.stdout != "" {
		t.Errorf("git status in a fresh capsule is not clean:\n%s", r.stdout)
	}
	r := e.ok("run", "--", "git", "log", "--oneline", "-1")
	if !strings.Contains(r.stdout, baseSubject) {
		t.Errorf("git log in the capsule does not show the base commit %q:\n%s", baseSubject, r.stdout)
	}
	e.ok("run", "--", "sh", "-c", "echo x > n && git add n && "+
		"git -c user.name=a -c user.email=a@a commit -qm agent")
	agent := strings.TrimSpace(e.ok("run", "--", "git", "rev-parse", "HEAD").stdout)
	if len(agent) != 40 {
		t.Fatalf("the agent's git gave no commit: %q", agent)
	}

	if _, _, code := e.gitRun(e.repo, "cat-file", "-e", agent); code == 0 {
		t.Errorf("the agent's commit %s reached the user's object database", agent)
	}
	if e.ownObjects() != reachable {
		t.Errorf("objects reachable from the user's own refs changed")
	}
	for _, p := range []string{
		filepath.Join(e.repo, ".git/objects/info/alternates"),
		filepath.Join(ws, ".git/objects/info/alternates"),
		filepath.Join(ws, ".git/commondir"),
	} {
		if exists(p) {
			t.Errorf("%s exists: the workspace's git can reach another repository", p)
		}
	}
	if fi, err := os.Lstat(filepath.Join(ws, ".git")); err != nil || !fi.IsDir() {
		t.Errorf("the workspace's .git is not a directory of its own (a gitdir pointer?): %v", err)
	}
	checkNoHardlinks(t, filepath.Join(ws, ".git"))
	e.fsck()
}

// ownObjects lists the objects reachable from the user's own refs.
func (e *env) ownObjects() string {
	e.t.Helper()
	return e.git(e.repo, "rev-list", "--objects",
		"--exclude=refs/krellin/*", "--exclude=refs/notes/*", "--all")
}

// checkNoHardlinks fails when a file under dir shares its inode: a
// hardlinked object would let the capsule write into another repository.
func checkNoHardlinks(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
			t.Errorf("%s has %d links", p, n)
		}
		return nil
	})
}
