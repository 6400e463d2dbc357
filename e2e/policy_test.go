//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// secStatus is the policy part of `krellin status --json`.
type secStatus struct {
	Container string   `json:"container"`
	Session   string   `json:"session"`
	Policy    string   `json:"policy"`
	Overrides []string `json:"overrides"`
}

func (e *env) secStatus() secStatus {
	e.t.Helper()
	var s secStatus
	if err := json.Unmarshal([]byte(e.ok("status", "--json").stdout), &s); err != nil {
		e.t.Fatalf("status --json: %v", err)
	}
	return s
}

// secCommitRepoPolicy commits a .krellin.yaml to the user's repository,
// or removes it when yaml is "".
func (e *env) secCommitRepoPolicy(yaml string) {
	e.t.Helper()
	if yaml == "" {
		e.git(e.repo, "rm", "-q", ".krellin.yaml")
	} else {
		writeFiles(e.t, e.repo, []file{{path: ".krellin.yaml", data: yaml}})
		e.git(e.repo, "add", ".krellin.yaml")
	}
	e.git(e.repo, "commit", "-q", "-m", "repository policy")
}

// TestSecRepositoryPolicyOnlyLowers: a .krellin.yaml, which an agent can
// write, may ask for less power, never for more.
func TestSecRepositoryPolicyOnlyLowers(t *testing.T) {
	e := newEnv(t)
	e.secCommitRepoPolicy(`capsule:
  memory: 100g
  pids: 100000
  cpus: 64
  network: always
  cap_add: [SYS_ADMIN, NET_ADMIN]
  env: [PATH, HOME]
secrets:
  STOLEN: {env: HOME}
`)
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())

	t.Run("asking for more gets the defaults", func(t *testing.T) {
		e := e.sub(t)
		e.up()
		s := e.secStatus()
		c := secInspect(t, s.Container)
		for _, p := range secInvariantProblems(c, user, 4<<30, 1024, 2e9) {
			t.Errorf("a repository asking for more: %s", p)
		}
		if len(s.Overrides) > 0 || slices.ContainsFunc(c.Config.Env, func(kv string) bool { return strings.HasPrefix(kv, "STOLEN=") }) {
			t.Errorf("a repository granted itself power: overrides %v, env %v", s.Overrides, c.Config.Env)
		}
	})

	t.Run("asking for more gets no more than the user's policy", func(t *testing.T) {
		e := e.sub(t)
		e.secWriteConfig("capsule:\n  memory: 1g\n  pids: 500\n  cpus: 1\n")
		e.up("--session", "user-limits")
		c := secInspect(t, e.secStatus().Container)
		for _, p := range secInvariantProblems(c, user, 1<<30, 500, 1e9) {
			t.Errorf("user policy 1g/500/1 cpu, repository asking for more: %s", p)
		}
	})

	t.Run("asking for less gets less, and no fetch", func(t *testing.T) {
		e := e.sub(t)
		e.secCommitRepoPolicy("capsule:\n  memory: 512m\n  pids: 100\n  cpus: 0.5\n  network: never\n")
		e.up("--session", "less")
		s := e.secStatus()
		c := secInspect(t, s.Container)
		for _, p := range secInvariantProblems(c, user, 512<<20, 100, 5e8) {
			t.Errorf("a repository asking for less: %s", p)
		}
		if !strings.Contains(s.Policy, "network=never") {
			t.Errorf("status says policy %q, want network=never", s.Policy)
		}
		r := e.run("", "", "fetch", "--", "tail", "-n", "+2", "/proc/net/route")
		a := e.last()
		if r.code == 0 || strings.TrimSpace(r.stdout) != "" || a.Action != "fetch" || a.Status != "failed" ||
			!strings.Contains(a.Error, "never") || a.ExitCode != nil {
			t.Errorf("want the fetch refused before it runs and recorded as failed, naming the policy; got %s\nlog: %+v", r, a)
		}
		if n := secNetworks(secInspect(t, s.Container)); !slices.Equal(n, []string{"none"}) {
			t.Errorf("after a refused fetch the container is on %v", n)
		}
	})
}

// TestSecNetworkOverrideIsRecorded: more power comes only from the user,
// named on the command line, and the session says so.
func TestSecNetworkOverrideIsRecorded(t *testing.T) {
	e := newEnv(t)
	session := e.up("--allow-network")
	first := e.log(session)[0]
	trailers := e.commit(first.Commit).trailers
	if o := trailers["Krellin-Override"]; !strings.HasPrefix(o, "network=always") {
		t.Errorf("the session's first commit has Krellin-Override %q, want network=always; trailers %v", o, trailers)
	}
	if text := e.ok("status").stdout; !strings.Contains(text, "override") || !strings.Contains(text, "network=always") {
		t.Errorf("status does not show the override:\n%s", text)
	}
	s := e.secStatus()
	if !slices.ContainsFunc(s.Overrides, func(o string) bool { return strings.HasPrefix(o, "network=always") }) {
		t.Errorf("status --json overrides %v, want network=always", s.Overrides)
	}
	if n := secNetworks(secInspect(t, s.Container)); !slices.Contains(n, "bridge") {
		t.Errorf("with --allow-network the capsule is on %v, want the bridge", n)
	}
	if r := e.ok("run", "--", "tail", "-n", "+2", "/proc/net/route"); strings.TrimSpace(r.stdout) == "" {
		t.Errorf("with --allow-network a run has no route out")
	}
	r := e.run("", "", "doctor", "--json")
	mine := "capsule " + strings.TrimPrefix(secInspect(t, s.Container).Name, "/")
	if p := secProbes(t, r)[mine]; !p.OK {
		t.Errorf("doctor fails a capsule whose network the user allowed: %+v", p)
	}

	// The override is the session's, not the capsule's forever.
	plain := e.up("--session", "plain")
	if o, ok := e.commit(e.log(plain)[0].Commit).trailers["Krellin-Override"]; ok {
		t.Errorf("a session started without --allow-network records override %q", o)
	}
	if n := secNetworks(secInspect(t, e.secStatus().Container)); !slices.Equal(n, []string{"none"}) {
		t.Errorf("a session started without --allow-network is on %v, want only none", n)
	}
}
