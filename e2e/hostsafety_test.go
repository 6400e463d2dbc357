//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secRunWith runs krellin in the repository like env.run, with extra
// variables in its environment. A daemon it starts inherits them.
func (e *env) secRunWith(extra []string, stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "krellin"), args...)
	cmd.Dir, cmd.Env = e.repo, append(e.environ(), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.t.Fatalf("krellin %s: no answer after %s\n%s", strings.Join(args, " "), commandTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("krellin %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// secRandom is a value no file or output holds by chance.
func secRandom(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// secWriteConfig writes the user's config.yaml in KRELLIN_HOME.
func (e *env) secWriteConfig(yaml string) {
	e.t.Helper()
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.home, "config.yaml"), []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// secSessionOf reads the session name `krellin up` printed.
func secSessionOf(t *testing.T, r result) string {
	t.Helper()
	for line := range strings.Lines(r.stdout) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "session" {
			return f[1]
		}
	}
	t.Fatalf("up printed no session:\n%s", r)
	return ""
}

// secEnvKeys parses the output of env into its variables.
func secEnvKeys(out string) map[string]string {
	vars := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			vars[k] = v
		}
	}
	return vars
}

func TestSecDaemonEnvironmentNeverReachesCapsule(t *testing.T) {
	e := newEnv(t)
	daemonOnly := []string{
		"SECRET_FROM_DAEMON=" + secRandom(t, "xyz-"),
		"AWS_SECRET_ACCESS_KEY=" + secRandom(t, "aws-"),
		"GITHUB_TOKEN=" + secRandom(t, "ghp-"),
		"SSH_AUTH_SOCK=" + filepath.Join(e.dir, "agent.sock"),
	}
	// A variable the user's config names is passed through: that is the
	// only way in besides --env.
	e.secWriteConfig("capsule:\n  env: [PASS_ME]\n")
	r := e.secRunWith(append(daemonOnly, "PASS_ME=passed-by-name"), "", "up", "--image", image)
	if r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	pid := daemonStarted(r.stderr)
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !bytes.Contains(environ, []byte(daemonOnly[0])) {
		t.Fatalf("control: the daemon (pid %d) was not started with the variables: %v", pid, err)
	}

	clientOnly := "CLIENT_ONLY=" + secRandom(t, "cli-")
	r = e.secRunWith([]string{clientOnly}, "", "run", "--env", "GIVEN=by-the-action", "--", "env")
	if r.code != 0 {
		t.Fatalf("run env: %s", r)
	}
	vars := secEnvKeys(r.stdout)
	allowed := secImageEnvKeys(t, image)
	allowed = append(allowed, "HOME", "HOSTNAME", "KRELLIN", "KRELLIN_ACTION", "GIVEN", "PASS_ME")
	for k := range vars {
		if !slices.Contains(allowed, k) {
			t.Errorf("the capsule's environment has %s, which nobody named", k)
		}
	}
	if vars["GIVEN"] != "by-the-action" || vars["PASS_ME"] != "passed-by-name" {
		t.Errorf("want GIVEN from --env and PASS_ME from the config in the capsule:\n%s", r.stdout)
	}
	c := secInspect(t, e.status().Container)
	for _, kv := range append(daemonOnly, clientOnly) {
		_, v, _ := strings.Cut(kv, "=")
		if strings.Contains(r.stdout, v) || slices.ContainsFunc(c.Config.Env, func(s string) bool { return strings.Contains(s, v) }) {
			t.Errorf("%s reached the capsule (its env or the container's config)", kv)
		}
	}

	// --env belongs to one action only.
	if r := e.ok("run", "--", "env"); strings.Contains(r.stdout, "GIVEN=") {
		t.Errorf("--env of the previous action is still set:\n%s", r.stdout)
	}
}

// secImageEnvKeys lists the variables an image sets itself.
func secImageEnvKeys(t *testing.T, ref string) []string {
	t.Helper()
	var env []string
	if err := json.Unmarshal([]byte(docker(t, "", "image", "inspect", "-f", "{{json .Config.Env}}", ref)), &env); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

func TestSecSecretsAreMaskedEverywhere(t *testing.T) {
	e := newEnv(t)
	token := secRandom(t, "tok-")
	e.secWriteConfig("secrets:\n  API_TOKEN:\n    env: MY_TOKEN\n")
	r := e.secRunWith([]string{"MY_TOKEN=" + token}, "", "up", "--image", image)
	if r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	session := secSessionOf(t, r)

	var said bytes.Buffer // everything the clients printed
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "--", "sh", "-c", `echo $API_TOKEN; printf %s "$API_TOKEN" | cut -c1-3; echo; echo $API_TOKEN >&2`}, 0},
		// The value split across two writes of the command.
		{[]string{"run", "--", "sh", "-c", `printf %s "${API_TOKEN%%-*}"; sleep 0.3; printf '%s\n' "-${API_TOKEN#*-}"`}, 0},
		// The secret is usable: the capsule compares it with the literal,
		// which is itself part of the recorded argv.
		{[]string{"run", "--", "sh", "-c", `test "$API_TOKEN" = ` + token}, 0},
		{[]string{"run", "--env", "COPY=" + token, "--", "sh", "-c", `test "$COPY" = "$API_TOKEN"`}, 0},
		// Control: the comparison can fail.
		{[]string{"run", "--", "sh", "-c", `test "$API_TOKEN" = not-the-token`}, 1},
	} {
		r := e.run("", "", c.args...)
		said.WriteString(r.stdout + r.stderr)
		if r.code != c.code {
			t.Errorf("krellin %s: want exit %d: %s", strings.Join(c.args, " "), c.code, r)
		}
	}
	if first := said.String(); !strings.Contains(first, "********\ntok\n") {
		t.Errorf("control: want the masked value, then its first three characters, in the output:\n%s", first)
	}

	leaks := map[string][]byte{"the clients' output": said.Bytes()}
	acts := e.log(session)
	logJSON := e.ok("log", "--json").stdout
	leaks["log --json"] = []byte(logJSON)
	leaks["log"] = []byte(e.ok("log").stdout)
	for _, a := range acts[1:] {
		leaks[fmt.Sprintf("show %d", a.Seq)] = []byte(e.ok("show", strconv.Itoa(a.Seq)).stdout)
		note, _, _ := e.gitRun(e.repo, "notes", "--ref=krellin/"+session, "show", a.Commit)
		leaks[fmt.Sprintf("the note of seq %d", a.Seq)] = []byte(note)
	}
	leaks["the repository's objects"] = secAllObjects(e)
	for _, name := range []string{"daemon.log", "capsules"} {
		leaks["$KRELLIN_HOME/"+name] = secFilesUnder(t, filepath.Join(e.home, name), "workspace")
	}
	for where, b := range leaks {
		if bytes.Contains(b, []byte(token)) {
			i := bytes.Index(b, []byte(token))
			t.Errorf("the secret's value is in %s: ...%s...", where, b[max(0, i-80):min(len(b), i+len(token)+20)])
		}
	}
	if !strings.Contains(logJSON, `"test \"$API_TOKEN\" = ********"`) || !strings.Contains(logJSON, `"COPY=********"`) {
		t.Errorf("want the literal masked in the recorded argv and env:\n%s", logJSON)
	}
}

// secAllObjects is the content of every object in the repository.
func secAllObjects(e *env) []byte {
	e.t.Helper()
	cmd := exec.Command("git", "cat-file", "--batch-all-objects", "--batch")
	cmd.Dir, cmd.Env = e.repo, e.gitEnv()
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("git cat-file --batch-all-objects: %v", err)
	}
	return out
}

// secFilesUnder concatenates every regular file below dir, skipping
// directories named skip.
func secFilesUnder(t *testing.T, dir, skip string) []byte {
	t.Helper()
	var all []byte
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		switch {
		case err != nil:
			return nil
		case fi.IsDir() && fi.Name() == skip:
			return filepath.SkipDir
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
		return nil
	})
	return all
}

// secContainer is what the tests read of docker inspect.
type secContainer struct {
	Name   string
	Config struct {
		User string
		Env  []string
	}
	HostConfig struct {
		Privileged  bool
		CapAdd      []string
		CapDrop     []string
		SecurityOpt []string
		NetworkMode string
		Init        *bool
		Memory      int64
		MemorySwap  int64
		NanoCpus    int64
		PidsLimit   *int64
		PidMode     string
		IpcMode     string
		UsernsMode  string
	}
	Mounts []struct {
		Type, Source, Destination string
		RW                        bool
	}
	NetworkSettings struct {
		Networks map[string]json.RawMessage
	}
}

func secInspect(t *testing.T, id string) secContainer {
	t.Helper()
	var cs []secContainer
	if err := json.Unmarshal([]byte(docker(t, "", "inspect", id)), &cs); err != nil || len(cs) != 1 {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	return cs[0]
}

// secNetworks lists the networks a container is connected to.
func secNetworks(c secContainer) []string {
	var names []string
	for n := range c.NetworkSettings.Networks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// secMountProblems names what is wrong with a capsule's mounts: a mount
// of / or of a home directory or above it, an engine socket, or anything
// writable but the workspace.
func secMountProblems(c secContainer, homes []string, workspace string) []string {
	var out []string
	sawWorkspace := false
	for _, m := range c.Mounts {
		src := filepath.Clean(m.Source)
		for _, h := range homes {
			if src == "/" || src == h || strings.HasPrefix(h+"/", src+"/") {
				out = append(out, fmt.Sprintf("mounts %s, / or a home directory (%s) or above it", src, h))
			}
		}
		for _, p := range []string{src, m.Destination} {
			if strings.HasSuffix(p, ".sock") || strings.Contains(p, "docker.sock") ||
				strings.Contains(p, "containerd") || strings.Contains(p, "podman") {
				out = append(out, "mounts an engine socket "+p)
			}
		}
		if m.RW && m.Destination != "/workspace" {
			out = append(out, fmt.Sprintf("mounts %s writable at %s", src, m.Destination))
		}
		if m.Destination == "/workspace" {
			sawWorkspace = m.RW && src == filepath.Clean(workspace)
		}
	}
	if !sawWorkspace {
		out = append(out, "does not mount the workspace "+workspace+" writable at /workspace")
	}
	return out
}

// secInvariantProblems checks a capsule's container against the baseline,
// with the limits it should have.
func secInvariantProblems(c secContainer, user string, memory, pids, nanoCPUs int64) []string {
	h := c.HostConfig
	var out []string
	bad := func(cond bool, format string, args ...any) {
		if cond {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	bad(h.Privileged, "privileged")
	bad(len(h.CapAdd) > 0, "capabilities added: %v", h.CapAdd)
	bad(!slices.Equal(h.CapDrop, []string{"ALL"}), "CapDrop %v, want [ALL]", h.CapDrop)
	bad(!slices.ContainsFunc(h.SecurityOpt, func(s string) bool {
		return s == "no-new-privileges" || s == "no-new-privileges:true"
	}), "no no-new-privileges in %v", h.SecurityOpt)
	bad(slices.ContainsFunc(h.SecurityOpt, func(s string) bool { return strings.Contains(s, "unconfined") }),
		"an unconfined profile in %v", h.SecurityOpt)
	bad(h.NetworkMode != "none", "NetworkMode %q", h.NetworkMode)
	bad(!slices.Equal(secNetworks(c), []string{"none"}), "networks %v, want only none", secNetworks(c))
	bad(h.Init == nil || !*h.Init, "no init")
	bad(h.Memory != memory || h.MemorySwap != memory, "memory %d swap %d, want %d and no swap", h.Memory, h.MemorySwap, memory)
	bad(h.PidsLimit == nil || *h.PidsLimit != pids, "pids limit %v, want %d", h.PidsLimit, pids)
	bad(h.NanoCpus != nanoCPUs, "NanoCpus %d, want %d", h.NanoCpus, nanoCPUs)
	bad(h.PidMode == "host" || h.IpcMode == "host" || h.UsernsMode == "host", "a host namespace")
	bad(c.Config.User != user, "user %q, want %q", c.Config.User, user)
	return out
}

func TestSecCapsuleInvariants(t *testing.T) {
	e := newEnv(t)
	e.up()
	st := e.status()
	homes := []string{e.userHome, os.Getenv("HOME")}
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())

	t.Run("docker inspect holds every invariant", func(t *testing.T) {
		c := secInspect(t, st.Container)
		for _, p := range append(secInvariantProblems(c, user, 4<<30, 1024, 2e9),
			secMountProblems(c, homes, st.Workspace)...) {
			t.Errorf("fresh capsule: %s", p)
		}
	})

	t.Run("the capsule's own view: no capabilities, no sockets, no route", func(t *testing.T) {
		e := e.sub(t)
		r := e.ok("run", "--", "sh", "-c", "grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "+
			"echo sockets:; find / -path /proc -prune -o -type s -print 2>/dev/null; echo routes:; tail -n +2 /proc/net/route")
		want := "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n" +
			"CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nsockets:\nroutes:\n"
		if r.stdout != want {
			t.Errorf("inside the capsule:\n%s\nwant:\n%s", r.stdout, want)
		}
	})

	t.Run("network only during a fetch", func(t *testing.T) {
		e := e.sub(t)
		during := e.ok("fetch", "--", "tail", "-n", "+2", "/proc/net/route").stdout
		if strings.TrimSpace(during) == "" {
			t.Errorf("a fetch has no route out: want the bridge connected for its duration")
		}
		if after := e.ok("run", "--", "tail", "-n", "+2", "/proc/net/route").stdout; after != "" {
			t.Errorf("after the fetch the capsule still has routes:\n%s", after)
		}
		if n := secNetworks(secInspect(t, st.Container)); !slices.Equal(n, []string{"none"}) {
			t.Errorf("after the fetch the container is on networks %v, want only none", n)
		}
	})

	t.Run("doctor passes it and fails a bad capsule, naming the problems", func(t *testing.T) {
		e := e.sub(t)
		mine := "capsule " + strings.TrimPrefix(secInspect(t, st.Container).Name, "/")
		r := e.run("", "", "doctor", "--json")
		probes := secProbes(t, r)
		if p, ok := probes[mine]; !ok || !p.OK {
			t.Errorf("doctor does not pass %s: %+v\n%s", mine, p, r)
		}
		if foreign := secFailing(probes, mine); len(foreign) == 0 && r.code != 0 {
			t.Errorf("doctor exits %d with every probe passing:\n%s", r.code, r)
		} else if len(foreign) > 0 {
			t.Logf("doctor fails other capsules on this engine, not ours: %v", foreign)
		}

		bad := secBadContainer(t, e)
		r = e.run("", "", "doctor", "--json")
		probes = secProbes(t, r)
		p := probes["capsule "+bad]
		var problems []string
		for _, f := range p.Findings {
			problems = append(problems, f.Problem)
			if f.Fix == "" {
				t.Errorf("finding %q says nothing of how to fix it", f.Problem)
			}
		}
		if r.code != 1 || p.OK || len(problems) != 2 ||
			!strings.Contains(strings.Join(problems, "\n"), "capability CAP_CHOWN") && !strings.Contains(strings.Join(problems, "\n"), "capability CHOWN") ||
			!strings.Contains(strings.Join(problems, "\n"), "writable at /data") {
			t.Errorf("want doctor to exit 1 naming exactly the added CHOWN and the writable /data of %s; "+
				"exit %d, findings %q\n%s", bad, r.code, problems, r.stdout)
		}
		if text := e.run("", "", "doctor"); !strings.Contains(text.stdout, "FAIL capsule "+bad) {
			t.Errorf("doctor's report does not name %s as failing:\n%s", bad, text.stdout)
		}
	})
}

// secProbe is one check of `krellin doctor --json`.
type secProbe struct {
	Name     string
	OK       bool
	Findings []struct{ Problem, Fix string }
}

func secProbes(t *testing.T, r result) map[string]secProbe {
	t.Helper()
	var list []secProbe
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r)
	}
	out := map[string]secProbe{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

// secFailing names the failing probes but skip.
func secFailing(probes map[string]secProbe, skip string) []string {
	var out []string
	for name, p := range probes {
		if !p.OK && name != skip {
			out = append(out, name)
		}
	}
	return out
}

// secBadContainer starts a container that looks like a capsule to doctor,
// right in every way but two: an added capability and a writable mount of
// a host directory. It is removed when the test ends; other engineers'
// doctor runs see it meanwhile, so it lives only seconds.
func secBadContainer(t *testing.T, e *env) string {
	t.Helper()
	data := filepath.Join(e.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "ksec-bad-" + secRandom(t, "")[:8]
	docker(t, "", "run", "-d", "--name", name,
		"--label", "dev.krellin.managed=1", "--label", "krellin.test=sec",
		"--label", "dev.krellin.repo="+filepath.Join(e.dir, "bad"),
		"--cap-drop", "ALL", "--cap-add", "CHOWN", "--security-opt", "no-new-privileges",
		"--init", "--memory", "64m", "--pids-limit", "64", "--cpus", "1", "--network", "none",
		"--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		"-v", data+":/data", image, "sleep", "600")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	return name
}

// TestSecFilesBelongToHostUser is case 02: as an ordinary user (uid 1000,
// not root) with an image whose default user is root, what the capsule
// creates belongs to that user, who can edit and delete it, and reset
// removes it without any privilege.
func TestSecFilesBelongToHostUser(t *testing.T) {
	const uid, gid = 1000, 1000
	grp, err := exec.Command("getent", "group", "docker").Output()
	if err != nil {
		t.Skip("no docker group on this machine: an ordinary user cannot reach the engine, so case 02 cannot run as one")
	}
	dockerGID := strings.Split(strings.TrimSpace(string(grp)), ":")[2]
	if user := docker(t, "", "image", "inspect", "-f", "{{.Config.User}}", image); user != "" && user != "root" && user != "0" {
		t.Fatalf("case 02 needs an image whose default user is root; %s runs as %q", image, user)
	}
	u := secNewUserEnv(t, uid, gid, dockerGID)

	if r := u.run("", "up", "--image", image); r.code != 0 {
		t.Fatalf("up as uid %d: %s", uid, r)
	}
	var st status
	if r := u.run("", "status", "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("status: %s", r)
	}
	if c := secInspect(t, st.Container); c.Config.User != fmt.Sprintf("%d:%d", uid, gid) {
		t.Errorf("the capsule runs as %q, want the host user %d:%d", c.Config.User, uid, gid)
	}
	before := snapshot(t, st.Workspace)

	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"w\n", []string{"write", "new/dir/file.txt"}},
		{"", []string{"run", "--", "touch", "made_by_cmd"}},
		{"", []string{"run", "--", "mkdir", "-p", "build/out"}},
	} {
		if r := u.run(c.stdin, c.args...); r.code != 0 {
			t.Fatalf("krellin %s: %s", strings.Join(c.args, " "), r)
		}
	}
	for _, p := range []string{"new", "new/dir", "new/dir/file.txt", "made_by_cmd", "build", "build/out"} {
		fi, err := os.Lstat(filepath.Join(st.Workspace, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if s := fi.Sys().(*syscall.Stat_t); s.Uid != uid || s.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want the host user %d:%d", p, s.Uid, s.Gid, uid, gid)
		}
	}
	// The user can edit them and delete in them.
	if out, err := u.sh(st.Workspace, "echo more >> made_by_cmd && echo more >> new/dir/file.txt && "+
		"touch build/out/probe && rm build/out/probe"); err != nil {
		t.Errorf("uid %d cannot edit or delete what the capsule made: %v\n%s", uid, err, out)
	}

	if r := u.run("", "reset"); r.code != 0 {
		t.Fatalf("reset as uid %d: %s", uid, r)
	}
	if d := diffSnapshots(before, snapshot(t, st.Workspace)); d != "" {
		t.Errorf("reset as uid %d left the workspace unlike the base:\n%s", uid, d)
	}
}

// secUserEnv is a test world owned by an ordinary user, whose krellin
// commands run as that user.
type secUserEnv struct {
	e         *env
	bin       string
	uid, gid  int
	dockerGID string
	t         *testing.T
}

// secNewUserEnv makes the user's directories, repository and copies of
// the binaries, all owned by uid:gid in a directory it can reach.
func secNewUserEnv(t *testing.T, uid, gid int, dockerGID string) *secUserEnv {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ksec-u-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, home: filepath.Join(dir, "k"), userHome: filepath.Join(dir, "home"),
		repo: filepath.Join(dir, "repo"), images: &imageList{}}
	u := &secUserEnv{e: e, bin: filepath.Join(dir, "bin", "krellin"), uid: uid, gid: gid, dockerGID: dockerGID, t: t}
	t.Cleanup(e.cleanup)
	// The user's own rm runs first, so the cleanup above finds nothing
	// left for a root krellin to remove.
	t.Cleanup(func() { u.run("", "rm") })

	for _, d := range []string{e.userHome, e.repo, filepath.Join(dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"krellin", "krellin-exec"} {
		b, err := os.ReadFile(filepath.Join(binDir, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "bin", name), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	e.git(e.repo, "init", "-q", "-b", "main")
	writeFiles(t, e.repo, baseFiles)
	e.git(e.repo, "add", "-A")
	e.git(e.repo, "commit", "-q", "-m", baseSubject)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	return u
}

// setpriv runs argv as the user, with the docker group as its only
// supplementary group. (--groups replaces the caller's groups; setpriv
// refuses --clear-groups alongside it.)
func (u *secUserEnv) setpriv(dir string, env []string, stdin string, argv ...string) *exec.Cmd {
	args := append([]string{fmt.Sprintf("--reuid=%d", u.uid), fmt.Sprintf("--regid=%d", u.gid),
		"--groups=" + u.dockerGID}, argv...)
	cmd := exec.Command("setpriv", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, strings.NewReader(stdin)
	return cmd
}

// run runs krellin as the user in the repository.
func (u *secUserEnv) run(stdin string, args ...string) result {
	u.t.Helper()
	cmd := u.setpriv(u.e.repo, u.e.environ(), stdin, append([]string{u.bin}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		u.t.Fatalf("setpriv krellin %s: %v", strings.Join(args, " "), err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(commandTimeout):
		cmd.Process.Kill()
		u.t.Fatalf("krellin %s as uid %d: no answer after %s", strings.Join(args, " "), u.uid, commandTimeout)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	}
	return r
}

// sh runs a shell script as the user in dir.
func (u *secUserEnv) sh(dir, script string) (string, error) {
	cmd := u.setpriv(dir, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.e.userHome}, "", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSecLargeWorkspaceFileStaysOutOfDaemonMemory: a capsule whose memory
// is limited must not make the host daemon allocate without limit. A
// sparse file costs the capsule neither memory nor disk; recording it
// must not cost the daemon its size in memory either.
func TestSecLargeWorkspaceFileStaysOutOfDaemonMemory(t *testing.T) {
	const size = 32 << 20
	e := newEnv(t)
	e.up()
	// One ordinary action first, so the peak below is the sparse file's.
	e.ok("run", "--", "true")
	pid := e.daemonPID()
	before := peakKiB(t, pid) << 10
	e.ok("run", "--", "truncate", "-s", strconv.Itoa(size), "sparse.bin")
	grew := peakKiB(t, pid)<<10 - before
	t.Logf("the daemon's peak RSS grew by %d MiB recording a %d MiB sparse file", grew>>20, size>>20)
	if grew > size {
		t.Errorf("recording a %d MiB sparse file grew the host daemon's peak memory by %d MiB: "+
			"a capsule can exhaust the host's memory past its own limit (a 100 GiB sparse file costs it nothing)",
			size>>20, grew>>20)
	}
}
