package patch

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// file is one file of a test tree.
type file struct {
	data string
	exec bool // mode 0755 rather than 0644
	link bool // a symlink to data
}

func txt(s string) file  { return file{data: s} }
func exe(s string) file  { return file{data: s, exec: true} }
func lnk(to string) file { return file{data: to, link: true} }
func bin(b []byte) file  { return file{data: string(b)} }
func lines(n int) string { return numbered(n, "line") }
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// prefixed puts prefix before each line of s.
func prefixed(prefix, s string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// numbered returns n lines "<word> 1" to "<word> n".
func numbered(n int, word string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", word, i)
	}
	return b.String()
}

// tree is a workspace to build, by slash-separated path.
type tree map[string]file

// with returns a copy of tr with files added or replaced.
func (tr tree) with(changes tree) tree {
	out := tree{}
	for k, v := range tr {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// build writes tr beneath dir.
func (tr tree) build(t *testing.T, dir string) {
	t.Helper()
	for name, f := range tr {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.link {
			if err := os.Symlink(f.data, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		perm := fs.FileMode(0o644)
		if f.exec {
			perm = 0o755
		}
		if err := os.WriteFile(p, []byte(f.data), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
}

// treeOf describes every path beneath dir: type, mode and content.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = describe(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func describe(t *testing.T, p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		return "link -> " + target
	case fi.IsDir():
		return fmt.Sprintf("dir %v", fi.Mode())
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 200 {
		return fmt.Sprintf("file %v %d bytes sha256 %x", fi.Mode(), len(data), sha256.Sum256(data))
	}
	return fmt.Sprintf("file %v %q", fi.Mode(), data)
}

// sameTree fails the test unless the two snapshots are equal.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s missing, want %s", what, k, w)
		} else if g != w {
			t.Errorf("%s: %s is %s, want %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s: %s", what, k, g)
		}
	}
}

// applyDir runs Apply on dir.
func applyDir(t *testing.T, dir string, diff []byte) ([]FileChange, error) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	return Apply(root, diff)
}

// gitEnv keeps the host's git configuration out of the tests: no system or
// global config, HOME in a temp dir, and no repository found above dir.
func gitEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") &&
			!strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CEILING_DIRECTORIES="+filepath.Dir(home),
		"LC_ALL=C")
}

// runGit runs git in dir with stdin and returns its output.
func runGit(t *testing.T, dir string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	args = append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t.TempDir())
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s: %w: %s", strings.Join(args[4:], " "), err, stderr.Bytes())
	}
	return out, nil
}

func mustGit(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	out, err := runGit(t, dir, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// differ makes the diff that turns before into after.
type differ func(t *testing.T, before, after tree) []byte

// gitDiff commits before, stages after in its place, and returns
// `git diff --cached` run with args.
func gitDiff(args ...string) differ {
	return func(t *testing.T, before, after tree) []byte {
		repo := stageChange(t, before, after)
		return mustGit(t, repo, append([]string{"diff", "--cached"}, args...)...)
	}
}

// literal is a differ that returns diff as it is.
func literal(diff string) differ {
	return func(*testing.T, tree, tree) []byte { return []byte(diff) }
}

// inSteps joins the git diffs from before to mid and from mid to after
// into one patch, so later parts build on earlier ones.
func inSteps(mid tree) differ {
	return func(t *testing.T, before, after tree) []byte {
		first := gitDiff("--binary")(t, before, mid)
		return append(first, gitDiff("--binary")(t, mid, after)...)
	}
}

// formatPatch commits before and after and returns `git format-patch`.
func formatPatch(t *testing.T, before, after tree) []byte {
	repo := stageChange(t, before, after)
	mustGit(t, repo, "commit", "-q", "-m", "change things\n\nA longer message.")
	return mustGit(t, repo, "format-patch", "-1", "--stdout", "-M", "-C")
}

// stageChange makes a repository with before committed and after staged.
func stageChange(t *testing.T, before, after tree) string {
	t.Helper()
	repo := t.TempDir()
	mustGit(t, repo, "init", "-q")
	before.build(t, repo)
	mustGit(t, repo, "add", "-A")
	mustGit(t, repo, "commit", "-q", "--allow-empty", "-m", "before")

	entries, err := os.ReadDir(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(repo, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	after.build(t, repo)
	mustGit(t, repo, "add", "-A")
	return repo
}

// diffTrees writes before to a/ and after to b/ and returns `diff args a b`.
func diffTrees(args ...string) differ {
	return func(t *testing.T, before, after tree) []byte {
		dir := t.TempDir()
		before.build(t, filepath.Join(dir, "a"))
		after.build(t, filepath.Join(dir, "b"))
		return runDiff(t, dir, append(args, "a", "b")...)
	}
}

// diffFile returns `diff -u oldArg newArg` where oldArg holds before[key]
// and newArg holds after[key]; "/dev/null" stands for a missing side.
func diffFile(oldArg, newArg, key string) differ {
	return func(t *testing.T, before, after tree) []byte {
		dir := t.TempDir()
		for arg, tr := range map[string]tree{oldArg: before, newArg: after} {
			if arg != "/dev/null" {
				tree{arg: tr[key]}.build(t, dir)
			}
		}
		return runDiff(t, dir, "-u", oldArg, newArg)
	}
}

func runDiff(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("diff", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("diff %v: %v", args, err)
	}
	return out
}

// describeChanges renders changes as "op path" or "op old -> new".
func describeChanges(changes []FileChange) []string {
	var out []string
	for _, c := range changes {
		if c.OldPath != "" {
			out = append(out, c.Op+" "+c.OldPath+" -> "+c.Path)
		} else {
			out = append(out, c.Op+" "+c.Path)
		}
	}
	return out
}
