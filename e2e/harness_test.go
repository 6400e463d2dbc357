//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// image is the capsule image the tests use; `scripts/build-images.sh
// busybox` builds it in seconds.
const image = "krellin/busybox:1"

// commandTimeout bounds one krellin, git or docker invocation, so that a
// hang fails its test instead of the whole run.
const commandTimeout = 3 * time.Minute

// binDir holds the krellin and krellin-exec binaries TestMain built.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if err := preflight(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ke2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// preflight checks for what every test needs and says how to get it. It
// fails rather than skips: CI must run these tests.
func preflight() error {
	out, err := exec.Command("docker", "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("no Docker engine answers (docker version: %v)\n%s\n"+
			"Start one (`sudo systemctl start docker`, or `sudo bash .ci/run`, "+
			"which installs and starts dockerd) and run the tests again", err, out)
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		return fmt.Errorf("image %s is missing; build it with "+
			"`scripts/build-images.sh busybox` (about a second, no registry needed)", image)
	}
	return nil
}

// buildBinaries builds krellin with the race detector and the static
// krellin-exec next to it, where krellin looks for it. GOFLAGS passes
// through, so -overlay works here too.
func buildBinaries(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	builds := []struct {
		env  string
		args []string
	}{
		{"", []string{"build", "-race", "-o", filepath.Join(dir, "krellin"), "./cmd/krellin"}},
		{"CGO_ENABLED=0", []string{"build", "-o", filepath.Join(dir, "krellin-exec"), "./cmd/krellin-exec"}},
	}
	for _, b := range builds {
		cmd := exec.Command("go", b.args...)
		cmd.Dir = root
		cmd.Env = os.Environ()
		if b.env != "" {
			cmd.Env = append(cmd.Env, b.env)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(b.args, " "), err, out)
		}
	}
	return nil
}

// env is one test's world: a state directory, a daemon started on demand
// by the first krellin command, and a git repository.
type env struct {
	t          *testing.T
	dir        string // the test's temporary root, short for socket paths
	home       string // KRELLIN_HOME
	userHome   string // HOME for krellin and git
	repo       string // the user's repository
	dockerHost string // DOCKER_HOST for krellin; "" leaves it unset
	images     *imageList
}

// imageList is the images a test made, removed at its end.
type imageList struct {
	mu   sync.Mutex // guards refs
	refs []string
}

// sub returns e for a subtest: the same world, reporting to t.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// addImage has ref removed when the test ends.
func (e *env) addImage(ref string) {
	e.images.mu.Lock()
	defer e.images.mu.Unlock()
	e.images.refs = append(e.images.refs, ref)
}

// file is one entry of a commit: a regular file, or a symlink when link
// is set.
type file struct {
	path string
	data string
	mode fs.FileMode // 0 means 0644
	link string
}

// baseFiles is every test repository's first commit: a tracked file that
// .gitignore matches, an executable, a symlink and a nested file.
var baseFiles = []file{
	{path: "README.md", data: "hello\n"},
	{path: ".gitignore", data: "out/\n*.log\n"},
	{path: "bin/tool.sh", data: "#!/bin/sh\necho tool\n", mode: 0o755},
	{path: "src/main.txt", data: "main\n"},
	{path: "link", link: "README.md"},
	{path: "forced.log", data: "tracked although ignored\n"},
}

// baseSubject is the subject of the base commit.
const baseSubject = "base commit for e2e"

// newEnv makes a test's directories and repository and registers their
// cleanup, which also runs when the test fails.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWithDocker(t, os.Getenv("DOCKER_HOST"))
}

// newEnvWithDocker is newEnv with krellin pointed at dockerHost.
func newEnvWithDocker(t *testing.T, dockerHost string) *env {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ke2e-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, home: filepath.Join(dir, "k"),
		userHome: filepath.Join(dir, "home"), repo: filepath.Join(dir, "repo"),
		dockerHost: dockerHost, images: &imageList{}}
	t.Cleanup(e.cleanup)
	for _, d := range []string{e.userHome, e.repo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.git(e.repo, "init", "-q", "-b", "main")
	writeFiles(t, e.repo, baseFiles)
	e.git(e.repo, "add", "-A")
	e.git(e.repo, "add", "-f", "forced.log")
	e.git(e.repo, "commit", "-q", "-m", baseSubject)
	return e
}

// writeFiles creates files under root.
func writeFiles(t *testing.T, root string, files []file) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.link != "" {
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(f.data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// result is what one krellin invocation did.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stdout ---\n%s\n--- stderr ---\n%s",
		r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// environ is krellin's whole environment: nothing else leaks in from the
// test process.
func (e *env) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.userHome,
		"KRELLIN_HOME=" + e.home,
		// The race runtime otherwise sleeps a second at every exit.
		"GORACE=atexit_sleep_ms=0",
	}
	if e.dockerHost != "" {
		env = append(env, "DOCKER_HOST="+e.dockerHost)
	}
	return env
}

// run runs krellin in dir ("" means the repository) with stdin, and
// returns its output and exit status. Only failing to start it is fatal.
func (e *env) run(dir, stdin string, args ...string) result {
	e.t.Helper()
	r, err := e.exec(dir, stdin, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ok runs krellin in the repository with empty stdin and fails the test
// unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run("", "", args...)
	if r.code != 0 {
		e.t.Fatalf("krellin %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// exec is run without testing.T calls, for goroutines.
func (e *env) exec(dir, stdin string, args ...string) (result, error) {
	if dir == "" {
		dir = e.repo
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "krellin"), args...)
	cmd.Dir = dir
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("krellin %s: no answer after %s\n%s",
			strings.Join(args, " "), commandTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("krellin %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

var startedPID = regexp.MustCompile(`started the daemon \(pid (\d+)`)

// daemonStarted returns the pid a client said it started, or 0.
func daemonStarted(stderr string) int {
	m := startedPID.FindStringSubmatch(stderr)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// gitEnv keeps the user's and the system's git configuration out.
func (e *env) gitEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.userHome,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_OPTIONAL_LOCKS=0", // git status must not rewrite the index
		"LC_ALL=C",
	}
}

// gitRun runs git in dir and returns stdout, stderr and the exit status.
func (e *env) gitRun(dir string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	full := append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = e.gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// git runs git in dir, fails the test unless it exits 0, and returns its
// stdout without surrounding space.
func (e *env) git(dir string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.gitRun(dir, args...)
	if code != 0 {
		e.t.Fatalf("git %s in %s: exit %d\n%s%s", strings.Join(args, " "), dir, code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// cleanup removes everything the test made, also when it failed: the
// capsule through krellin, the daemon, any container left for the
// repository, the test's images and its directories.
func (e *env) cleanup() {
	if ents, _ := os.ReadDir(filepath.Join(e.home, "capsules")); len(ents) > 0 {
		if r, err := e.exec("", "", "rm"); err != nil || r.code != 0 {
			e.t.Logf("cleanup: krellin rm: %v %s", err, r)
		}
	}
	e.killDaemons()
	e.checkDaemonLog()
	if n := e.removeContainers(); n > 0 && !e.t.Failed() {
		e.t.Errorf("cleanup: %d container(s) of this test were left after krellin rm", n)
	}
	e.removeImages()
	removeAll(e.dir)
}

// killDaemons stops every process running with this test's KRELLIN_HOME:
// the daemon and any client still waiting on it.
func (e *env) killDaemons() {
	pids := e.processes()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processes lists the pids whose environment holds this KRELLIN_HOME.
func (e *env) processes() []int {
	want := []byte("KRELLIN_HOME=" + e.home)
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// checkDaemonLog fails the test when the race detector or a panic spoke
// in the daemon's log.
func (e *env) checkDaemonLog() {
	b, err := os.ReadFile(filepath.Join(e.home, "daemon.log"))
	if err != nil {
		return
	}
	for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
		if i := bytes.Index(b, []byte(bad)); i >= 0 {
			end := min(len(b), i+4000)
			e.t.Errorf("daemon log has %q:\n%s", bad, b[i:end])
		}
	}
}

// removeContainers removes Krellin's containers for repositories under
// the test's directory and returns how many it found.
func (e *env) removeContainers() int {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=dev.krellin.managed=1",
		"--format", `{{.ID}}	{{.Label "dev.krellin.repo"}}`).Output()
	if err != nil {
		e.t.Logf("cleanup: docker ps: %v", err)
		return 0
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		id, repo, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if repo == e.dir || strings.HasPrefix(repo, e.dir+"/") {
			n++
			exec.Command("docker", "rm", "-f", id).Run()
		}
	}
	return n
}

// removeImages removes the images the test made.
func (e *env) removeImages() {
	e.images.mu.Lock()
	defer e.images.mu.Unlock()
	for _, ref := range e.images.refs {
		exec.Command("docker", "rmi", "-f", ref).Run()
	}
}

// removeAll removes dir, giving back write permission a capsule may have
// taken from directories under it.
func removeAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}
