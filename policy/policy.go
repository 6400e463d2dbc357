// Package policy decides how much power a capsule gets. Only the user's
// own configuration (under KRELLIN_HOME or the user's config directory)
// and explicit command-line overrides can grant power; a .krellin.yaml in
// the repository, which an agent can write, can only ask for less.
package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/viper"
)

// Network modes.
const (
	NetworkNone   = "none"   // egress only during a fetch action
	NetworkAlways = "always" // egress for every action: an override
	NetworkNever  = "never"  // no egress at all, fetch included
)

// RepoFile is the file in a repository that may ask for less power.
const RepoFile = ".krellin.yaml"

// ErrInvalid reports a policy setting Krellin cannot use.
var ErrInvalid = errors.New("invalid policy")

// Policy is the power a capsule has.
type Policy struct {
	Memory  int64             `json:"memory"`            // bytes
	Pids    int64             `json:"pids"`              // processes
	CPUs    float64           `json:"cpus"`              // cores
	Network string            `json:"network"`           // none, always or never
	CapAdd  []string          `json:"cap_add,omitempty"` // capabilities beyond none
	Env     []string          `json:"env,omitempty"`     // daemon variables passed through, by name
	Secrets map[string]Secret `json:"secrets,omitempty"` // capsule variable name to its source
}

// Secret is where a secret's value comes from: a file, or a variable of
// the daemon's environment. Values never appear in records: output that
// contains them is masked.
type Secret struct {
	File string `json:"file,omitempty" mapstructure:"file"`
	Env  string `json:"env,omitempty" mapstructure:"env"`
}

// Default is the baseline every capsule gets.
func Default() Policy {
	return Policy{Memory: 4 << 30, Pids: 1024, CPUs: 2, Network: NetworkNone}
}

// User reads the user's policy: keys under "capsule" and "secrets" in v
// (the user's config), on top of Default.
func User(v *viper.Viper) (Policy, error) {
	p := Default()
	if s := v.GetString("capsule.memory"); s != "" {
		n, err := units.RAMInBytes(s)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("%w: capsule.memory %q (use e.g. 2g)", ErrInvalid, s)
		}
		p.Memory = n
	}
	if v.IsSet("capsule.pids") {
		p.Pids = v.GetInt64("capsule.pids")
	}
	if v.IsSet("capsule.cpus") {
		p.CPUs = v.GetFloat64("capsule.cpus")
	}
	if v.IsSet("capsule.network") {
		p.Network = v.GetString("capsule.network")
	}
	p.CapAdd = upper(v.GetStringSlice("capsule.cap_add"))
	p.Env = v.GetStringSlice("capsule.env")
	var secrets map[string]Secret
	if err := v.UnmarshalKey("secrets", &secrets); err != nil {
		return p, fmt.Errorf("%w: secrets: %v", ErrInvalid, err)
	}
	// Config keys arrive lower-cased; environment variable names are
	// upper case by convention, so secret names are too.
	for name, s := range secrets {
		if p.Secrets == nil {
			p.Secrets = map[string]Secret{}
		}
		p.Secrets[strings.ToUpper(name)] = s
	}
	return p, p.Check()
}

// Check reports settings that cannot be used.
func (p Policy) Check() error {
	switch {
	case p.Memory <= 0 || p.Pids <= 0 || p.CPUs <= 0:
		return fmt.Errorf("%w: memory, pids and cpus must be positive", ErrInvalid)
	case !slices.Contains([]string{NetworkNone, NetworkAlways, NetworkNever}, p.Network):
		return fmt.Errorf("%w: network %q (use none, always or never)", ErrInvalid, p.Network)
	}
	for name, s := range p.Secrets {
		if (s.File == "") == (s.Env == "") {
			return fmt.Errorf("%w: secret %s needs exactly one of file or env", ErrInvalid, name)
		}
	}
	return nil
}

// Restrict applies what a repository asks for, which can only lower
// limits and take network away.
func (p Policy) Restrict(repo Policy) Policy {
	if repo.Memory > 0 && repo.Memory < p.Memory {
		p.Memory = repo.Memory
	}
	if repo.Pids > 0 && repo.Pids < p.Pids {
		p.Pids = repo.Pids
	}
	if repo.CPUs > 0 && repo.CPUs < p.CPUs {
		p.CPUs = repo.CPUs
	}
	switch {
	case repo.Network == NetworkNever:
		p.Network = NetworkNever
	case repo.Network == NetworkNone && p.Network == NetworkAlways:
		p.Network = NetworkNone
	}
	return p
}

// Repo reads a repository's .krellin.yaml, if it has one. Only the keys
// that ask for less are read; anything else in it is ignored.
func Repo(top string) (Policy, error) {
	path := filepath.Join(top, RepoFile)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return Policy{}, nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return Policy{}, fmt.Errorf("%w: %s: %v", ErrInvalid, RepoFile, err)
	}
	var p Policy
	if s := v.GetString("capsule.memory"); s != "" {
		n, err := units.RAMInBytes(s)
		if err != nil {
			return p, fmt.Errorf("%w: %s: capsule.memory %q", ErrInvalid, RepoFile, s)
		}
		p.Memory = n
	}
	p.Pids = v.GetInt64("capsule.pids")
	p.CPUs = v.GetFloat64("capsule.cpus")
	p.Network = v.GetString("capsule.network")
	return p, nil
}

// Overrides lists what grants more power than Default, in words, for the
// session's first commit and for status.
func (p Policy) Overrides() []string {
	d := Default()
	var out []string
	if p.Network == NetworkAlways {
		out = append(out, "network=always (egress for every action)")
	}
	for _, c := range p.CapAdd {
		out = append(out, "cap_add="+c)
	}
	for _, e := range p.Env {
		out = append(out, "env="+e)
	}
	names := make([]string, 0, len(p.Secrets))
	for n := range p.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, "secret="+n)
	}
	if p.Memory > d.Memory || p.Pids > d.Pids || p.CPUs > d.CPUs {
		out = append(out, "limits above the defaults")
	}
	return out
}

// Summary is the policy in one line.
func (p Policy) Summary() string {
	return fmt.Sprintf("memory=%s pids=%d cpus=%g network=%s", units.BytesSize(float64(p.Memory)), p.Pids, p.CPUs, p.Network)
}

func upper(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, strings.TrimPrefix(strings.ToUpper(s), "CAP_"))
	}
	return out
}

// SecretValues reads every secret: the capsule environment entries that
// carry them, and the values to mask wherever they would be recorded.
func (p Policy) SecretValues() (env []string, values []string, err error) {
	names := make([]string, 0, len(p.Secrets))
	for n := range p.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := p.Secrets[n]
		v := os.Getenv(s.Env)
		if s.File != "" {
			b, err := os.ReadFile(s.File)
			if err != nil {
				return nil, nil, fmt.Errorf("secret %s: %w", n, err)
			}
			v = strings.TrimRight(string(b), "\r\n")
		}
		if v == "" {
			return nil, nil, fmt.Errorf("secret %s: empty value (set %s or fill its file)", n, s.Env)
		}
		env = append(env, n+"="+v)
		values = append(values, v)
	}
	return env, values, nil
}

// PassEnv returns K=V for each daemon variable the policy passes through.
func (p Policy) PassEnv() []string {
	var out []string
	for _, k := range p.Env {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}
