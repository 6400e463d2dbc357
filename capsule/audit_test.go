package capsule

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestAuditMount(t *testing.T) {
	want := Expect{Home: "/home/u", Writable: []string{WorkspacePath}}
	tests := []struct {
		name    string
		m       container.MountPoint
		problem string // "" when the mount is fine
	}{
		{"workspace", container.MountPoint{Source: "/home/u/.local/state/krellin/ws", Destination: "/workspace", RW: true}, ""},
		{"helper read-only", container.MountPoint{Source: "/opt/k/krellin-exec", Destination: HelperPath}, ""},
		{"home", container.MountPoint{Source: "/home/u", Destination: "/h"}, "user's home"},
		{"above home", container.MountPoint{Source: "/home", Destination: "/h"}, "user's home"},
		{"root", container.MountPoint{Source: "/", Destination: "/host"}, "host's /"},
		{"docker socket", container.MountPoint{Source: "/var/run/docker.sock", Destination: "/s"}, "engine socket"},
		{"containerd", container.MountPoint{Source: "/run/containerd/containerd.sock", Destination: "/c"}, "engine socket"},
		{"podman", container.MountPoint{Source: "/run/podman/podman.sock", Destination: "/p"}, "engine socket"},
		{"writable elsewhere", container.MountPoint{Source: "/srv/data", Destination: "/data", RW: true}, "writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			auditMount(tt.m, want, func(p, _ string) { got = append(got, p) }, "fix")
			switch {
			case tt.problem == "" && len(got) > 0:
				t.Fatalf("flagged a fine mount: %v", got)
			case tt.problem != "" && !strings.Contains(strings.Join(got, "; "), tt.problem):
				t.Fatalf("findings %v, want one about %q", got, tt.problem)
			}
		})
	}
}

func TestAuditSecurityOpts(t *testing.T) {
	tests := []struct {
		opts []string
		bad  int
	}{
		{[]string{"no-new-privileges:true"}, 0},
		{[]string{"no-new-privileges"}, 0},
		{nil, 1},
		{[]string{"no-new-privileges:false"}, 1},
		{[]string{"no-new-privileges:true", "seccomp=unconfined"}, 1},
		{[]string{"no-new-privileges:true", "apparmor=unconfined"}, 1},
	}
	for _, tt := range tests {
		n := 0
		auditSecurityOpts(tt.opts, func(string, string) { n++ }, "fix")
		if n != tt.bad {
			t.Errorf("auditSecurityOpts(%v): %d findings, want %d", tt.opts, n, tt.bad)
		}
	}
}
