package capsule

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// Expect is what an audit holds a capsule's container to.
type Expect struct {
	User      string   // "uid:gid"
	Home      string   // the user's home directory: never mounted, nor above it
	Writable  []string // container paths that may be mounted read-write
	CapAdd    []string // capabilities the user's policy allows
	NetworkOK bool     // egress allowed now (a fetch runs, or the policy says always)
}

// Finding is one broken invariant and how to fix it.
type Finding struct {
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Audit checks a container against every baseline invariant, reading
// what the engine reports (docker inspect), not what Krellin asked for.
func (e *Engine) Audit(ctx context.Context, id string, want Expect) ([]Finding, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, e.classify("inspect capsule "+id, err)
	}
	var out []Finding
	add := func(problem, fix string) { out = append(out, Finding{problem, fix}) }
	h := c.HostConfig
	recreate := "recreate it from the pinned image: krellin reset (or krellin rm, then krellin up)"

	if h.Privileged {
		add("runs privileged", recreate)
	}
	for _, cp := range h.CapAdd {
		if !slices.Contains(want.CapAdd, strings.TrimPrefix(strings.ToUpper(cp), "CAP_")) {
			add("has added capability "+cp, recreate)
		}
	}
	if !slices.ContainsFunc(h.CapDrop, func(s string) bool { return strings.EqualFold(s, "ALL") }) {
		add("does not drop all capabilities", recreate)
	}
	auditSecurityOpts(h.SecurityOpt, add, recreate)
	if h.Init == nil || !*h.Init {
		add("has no init as PID 1 (zombies are not reaped)", recreate)
	}
	if h.Memory <= 0 || h.PidsLimit == nil || *h.PidsLimit <= 0 || h.NanoCPUs <= 0 {
		add(fmt.Sprintf("lacks resource limits (memory %d, pids %v, cpus %d)", h.Memory, h.PidsLimit, h.NanoCPUs), recreate)
	}
	if h.PidMode.IsHost() || h.IpcMode.IsHost() || h.UsernsMode.IsHost() || h.NetworkMode.IsHost() {
		add("shares a host namespace", recreate)
	}
	if want.User != "" && c.Config != nil && c.Config.User != want.User && !(want.User == "0:0" && c.Config.User == "") {
		add(fmt.Sprintf("runs as %q, not the host user %s", c.Config.User, want.User), recreate)
	}
	auditNetwork(c, want.NetworkOK, add)
	for _, m := range c.Mounts {
		auditMount(m, want, add, recreate)
	}
	return out, nil
}

func auditSecurityOpts(opts []string, add func(string, string), fix string) {
	nnp := false
	for _, o := range opts {
		switch {
		case strings.HasPrefix(o, "no-new-privileges") && !strings.HasSuffix(o, "false"):
			nnp = true
		case strings.Contains(o, "seccomp") && strings.Contains(o, "unconfined"):
			add("runs without the engine's seccomp profile ("+o+")", fix)
		case strings.Contains(o, "apparmor") && strings.Contains(o, "unconfined"):
			add("runs without an AppArmor profile ("+o+")", fix)
		}
	}
	if !nnp {
		add("lacks no-new-privileges", fix)
	}
}

// auditNetwork checks the container has no network but loopback, unless
// egress is allowed now.
func auditNetwork(c container.InspectResponse, ok bool, add func(string, string)) {
	if ok || c.NetworkSettings == nil {
		return
	}
	for name := range c.NetworkSettings.Networks {
		if name != "none" {
			add("is connected to network "+name+" outside a fetch action",
				"disconnect it: docker network disconnect "+name+" "+strings.TrimPrefix(c.Name, "/")+" (the next action also does)")
		}
	}
}

// auditMount checks one mount: nothing of the user's home or above it,
// no engine sockets, nothing writable but the workspace and caches.
func auditMount(m container.MountPoint, want Expect, add func(string, string), fix string) {
	src := filepath.Clean(m.Source)
	switch {
	case src == "/":
		add("mounts the host's / at "+m.Destination, fix)
	case want.Home != "" && (src == want.Home || strings.HasPrefix(want.Home+"/", src+"/")):
		add("mounts "+src+", the user's home or a directory above it, at "+m.Destination, fix)
	case isEngineSocket(src) || isEngineSocket(m.Destination):
		add("mounts a container engine socket ("+src+")", fix)
	}
	if m.RW && !slices.Contains(want.Writable, m.Destination) {
		add("mounts "+src+" writable at "+m.Destination+"; only the workspace and caches may be", fix)
	}
}

// isEngineSocket recognises the API sockets of Docker, Podman and
// containerd, and any socket-named path.
func isEngineSocket(p string) bool {
	base := filepath.Base(p)
	return strings.HasSuffix(base, ".sock") || strings.Contains(p, "docker.sock") ||
		strings.Contains(p, "containerd") || strings.Contains(p, "podman")
}
