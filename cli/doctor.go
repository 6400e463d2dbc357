package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/daemon"
	"github.com/krellin/krellin/policy"
)

// probe is one line of the doctor's report.
type probe struct {
	Name     string            `json:"name"`
	OK       bool              `json:"ok"`
	Detail   string            `json:"detail"`
	Findings []capsule.Finding `json:"findings,omitempty"`
}

func (a *app) doctorCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor [--json]",
		Short: "Check the engine and every capsule's safety invariants",
		Long: `Check that the Docker engine answers and speaks a supported API version,
that the host supports what Krellin needs, and that every Krellin capsule
on this engine still holds its invariants, read back from docker inspect:
not privileged, all capabilities dropped, no-new-privileges, the default
seccomp profile, an init, resource limits, the host user's uid:gid, no
network outside a fetch, and no mount of $HOME (or above it), of /, or of
an engine socket, with only the workspace writable. Exits 1 when anything
is wrong, saying what and how to fix it. It does not start the daemon.`,
		Example: `  krellin doctor
  krellin doctor --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := runChecks(cmd.Context())
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(checks)
			} else {
				a.printChecks(checks)
			}
			for _, c := range checks {
				if !c.OK {
					return &ExitError{Code: exitFailed}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	return cmd
}

func runChecks(ctx context.Context) []probe {
	var out []probe
	eng, err := capsule.Connect(ctx)
	if err != nil {
		return append(out, probe{Name: "engine", Detail: err.Error()})
	}
	defer eng.Close()
	out = append(out, engineCheck(ctx, eng), inotifyCheck(), daemonCheck(ctx))
	return append(out, capsuleChecks(ctx, eng)...)
}

func engineCheck(ctx context.Context, eng *capsule.Engine) probe {
	c := probe{Name: "engine", OK: true}
	v := eng.APIVersion()
	c.Detail = "Docker engine answers; API version " + v
	if major, minor, ok := strings.Cut(v, "."); ok {
		m, _ := strconv.Atoi(minor)
		if major == "1" && m < 41 {
			c.OK, c.Detail = false, "API version "+v+" is older than 1.41; upgrade the engine (Debian 12's docker.io works)"
		}
	}
	return c
}

func inotifyCheck() probe {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return probe{Name: "inotify", OK: true, Detail: "unavailable (" + err.Error() + "): every action rescans the whole workspace, slower but correct"}
	}
	unix.Close(fd)
	return probe{Name: "inotify", OK: true, Detail: "available: actions rescan only what changed"}
}

func daemonCheck(ctx context.Context) probe {
	p, err := api.NewClient(Socket()).Ping(ctx)
	if err != nil {
		return probe{Name: "daemon", OK: true, Detail: "not running (the next command starts it)"}
	}
	return probe{Name: "daemon", OK: true, Detail: fmt.Sprintf("running, pid %d, socket %s", p.PID, Socket())}
}

// capsuleChecks audits every container Krellin made on this engine.
func capsuleChecks(ctx context.Context, eng *capsule.Engine) []probe {
	found, err := eng.Find(ctx, "", "")
	if err != nil {
		return []probe{{Name: "capsules", Detail: err.Error()}}
	}
	home, _ := os.UserHomeDir()
	want := capsule.Expect{
		User:     fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		Home:     home,
		Writable: []string{capsule.WorkspacePath},
	}
	out := []probe{{Name: "capsules", OK: true, Detail: fmt.Sprintf("%d on this engine", len(found))}}
	for _, s := range found {
		c := probe{Name: "capsule " + strings.TrimPrefix(s.Name, "/"), OK: true, Detail: s.Status + ", repository " + s.Labels[capsule.LabelRepo]}
		w := want
		if p, ok := daemon.SavedPolicy(Home(), s.Labels[capsule.LabelCapsule]); ok {
			w.CapAdd, w.NetworkOK = p.CapAdd, p.Network == policy.NetworkAlways
		}
		fs, err := eng.Audit(ctx, s.ID, w)
		switch {
		case err != nil:
			c.OK, c.Detail = false, err.Error()
		case len(fs) > 0:
			c.OK, c.Findings = false, fs
		}
		out = append(out, c)
	}
	return out
}

func (a *app) printChecks(checks []probe) {
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(a.stdout, "%s %s: %s\n", mark, c.Name, c.Detail)
		for _, f := range c.Findings {
			fmt.Fprintf(a.stdout, "       - %s\n         fix: %s\n", f.Problem, f.Fix)
		}
	}
}
