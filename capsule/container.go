package capsule

import (
	"context"
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"
)

// Paths inside every capsule.
const (
	WorkspacePath = "/workspace"
	HelperPath    = "/.krellin/krellin-exec"
	CABundlePath  = "/etc/krellin/ca-bundle.pem"
)

// Labels Krellin puts on what it creates, so a restarted daemon finds it.
const (
	LabelManaged = "dev.krellin.managed"
	LabelCapsule = "dev.krellin.capsule"
	LabelRepo    = "dev.krellin.repo"
)

// Baseline limits when a spec names none; the user's policy (package
// policy) normally sets them. Documented in docs/design.md.
const (
	DefaultMemory = 4 << 30
	DefaultPids   = 1024
	DefaultCPUs   = 2
)

// Spec is everything needed to create a capsule's container.
type Spec struct {
	Name      string            // container name
	Image     string            // pinned image ID
	Workspace string            // host directory mounted at /workspace
	Helper    string            // host path of the static krellin-exec binary
	CABundle  string            // optional host CA bundle, mounted read-only
	User      string            // "uid:gid" the processes run as
	Env       []string          // extra environment, K=V
	Labels    map[string]string // added to Krellin's own
	CapAdd    []string          // capabilities the user's policy grants; none by default
	Memory    int64             // bytes; 0 means DefaultMemory
	Pids      int64             // 0 means DefaultPids
	CPUs      float64           // 0 means DefaultCPUs
}

// Create makes and starts a container for spec with the baseline safety
// settings: no network, every capability dropped, no-new-privileges, not
// privileged, an init as PID 1, resource limits, and only the workspace
// writable among its mounts.
func (e *Engine) Create(ctx context.Context, s Spec) (string, error) {
	cfg := &container.Config{
		Image:      s.Image,
		Cmd:        []string{HelperPath, "--idle"},
		User:       s.User,
		WorkingDir: WorkspacePath,
		Env:        s.env(),
		Labels:     s.labels(),
	}
	init := true
	host := &container.HostConfig{
		NetworkMode:    "none",
		Privileged:     false,
		CapDrop:        []string{"ALL"},
		CapAdd:         s.CapAdd,
		SecurityOpt:    []string{"no-new-privileges:true"},
		Init:           &init,
		Mounts:         s.mounts(),
		ReadonlyRootfs: false,
		Resources:      s.resources(),
	}
	created, err := e.cli.ContainerCreate(ctx, cfg, host, &network.NetworkingConfig{}, nil, s.Name)
	if errdefs.IsNotFound(err) {
		return "", fmt.Errorf("create capsule: image %s: %w", s.Image, ErrNoImage)
	}
	if err != nil {
		return "", e.classify("create capsule", err)
	}
	if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		e.Remove(context.WithoutCancel(ctx), created.ID)
		return "", e.classify("start capsule", err)
	}
	return created.ID, nil
}

func (s Spec) env() []string {
	env := []string{"HOME=/tmp", "KRELLIN=1"}
	if s.CABundle != "" {
		for _, k := range []string{"SSL_CERT_FILE", "GIT_SSL_CAINFO", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"} {
			env = append(env, k+"="+CABundlePath)
		}
	}
	return append(env, s.Env...)
}

func (s Spec) labels() map[string]string {
	l := map[string]string{LabelManaged: "1"}
	for k, v := range s.Labels {
		l[k] = v
	}
	return l
}

func (s Spec) mounts() []mount.Mount {
	bind := &mount.BindOptions{Propagation: mount.PropagationRPrivate}
	ms := []mount.Mount{
		{Type: mount.TypeBind, Source: s.Workspace, Target: WorkspacePath, BindOptions: bind},
		{Type: mount.TypeBind, Source: s.Helper, Target: HelperPath, ReadOnly: true, BindOptions: bind},
	}
	if s.CABundle != "" {
		ms = append(ms, mount.Mount{Type: mount.TypeBind, Source: s.CABundle, Target: CABundlePath, ReadOnly: true, BindOptions: bind})
	}
	return ms
}

func (s Spec) resources() container.Resources {
	mem, pids, cpus := s.Memory, s.Pids, s.CPUs
	if mem == 0 {
		mem = DefaultMemory
	}
	if pids == 0 {
		pids = DefaultPids
	}
	if cpus == 0 {
		cpus = DefaultCPUs
	}
	return container.Resources{Memory: mem, MemorySwap: mem, PidsLimit: &pids, NanoCPUs: int64(cpus * 1e9)}
}

// Remove kills and removes a container; one already gone is not an error.
func (e *Engine) Remove(ctx context.Context, id string) error {
	err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err == nil || errdefs.IsNotFound(err) {
		return nil
	}
	return e.classify("remove capsule", err)
}

// Stop stops a container without removing it.
func (e *Engine) Stop(ctx context.Context, id string) error {
	timeout := 2
	err := e.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return e.classify("stop capsule", err)
}

// State is what the engine says about a capsule's container.
type State struct {
	ID      string
	Name    string
	Image   string
	Status  string // running, exited, ...
	Running bool
	Labels  map[string]string
}

// Inspect returns a container's state, or ErrNoContainer.
func (e *Engine) Inspect(ctx context.Context, id string) (State, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return State{}, e.classify("inspect capsule "+id, err)
	}
	st := State{ID: c.ID, Name: c.Name, Image: c.Image, Labels: c.Config.Labels}
	if c.State != nil {
		st.Status, st.Running = c.State.Status, c.State.Running
	}
	return st, nil
}

// Find lists Krellin's containers, optionally only those with label k=v.
func (e *Engine) Find(ctx context.Context, k, v string) ([]State, error) {
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=1"))
	if k != "" {
		f.Add("label", k+"="+v)
	}
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, e.classify("list capsules", err)
	}
	out := make([]State, 0, len(cs))
	for _, c := range cs {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out = append(out, State{ID: c.ID, Name: name, Image: c.ImageID, Status: c.State, Running: c.State == "running", Labels: c.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetNetwork gives a running container network egress (the default bridge)
// or takes it away again, leaving only loopback.
// It is idempotent: it changes only what differs from the wanted state.
func (e *Engine) SetNetwork(ctx context.Context, id string, on bool) error {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return e.classify("inspect capsule "+id, err)
	}
	want := "none"
	if on {
		want = "bridge"
	}
	connected := map[string]bool{}
	if c.NetworkSettings != nil {
		for name := range c.NetworkSettings.Networks {
			connected[name] = true
		}
	}
	for name := range connected {
		if name == want {
			continue
		}
		if err := e.cli.NetworkDisconnect(ctx, name, id, true); err != nil {
			return e.classify("disconnect network "+name, err)
		}
	}
	if !connected[want] {
		if err := e.cli.NetworkConnect(ctx, want, id, nil); err != nil {
			return e.classify("connect network "+want, err)
		}
	}
	return nil
}
