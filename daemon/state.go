package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/krellin/krellin/images"
	"github.com/krellin/krellin/policy"
)

// state is what the daemon keeps about a capsule between restarts, in
// capsule.json in the capsule's directory. History lives in git, not here.
type state struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Repo      string        `json:"repo"`
	Session   string        `json:"session"`
	Pin       images.Pin    `json:"image"`
	Base      string        `json:"base"`
	Container string        `json:"container"`
	CABundle  string        `json:"ca_bundle,omitempty"`
	Policy    policy.Policy `json:"policy"`
}

// capsuleID names a capsule after what makes it unique: the state
// directory and the repository's path.
func capsuleID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:12]
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName is a readable, unique container name for a repository.
func containerName(repo, id, suffix string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(filepath.Base(repo), "-"), "-.")
	if base == "" {
		base = "repo"
	}
	if len(base) > 40 {
		base = base[:40]
	}
	return "krellin-" + base + "-" + id[:8] + suffix
}

func loadState(path string) (state, error) {
	var s state
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	return s, nil
}

// save writes the state durably: temporary file, fsync, rename.
func (s state) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// SavedPolicy returns the policy recorded for capsule id under home, as
// `krellin doctor` needs it to judge the capsule's settings.
func SavedPolicy(home, id string) (policy.Policy, bool) {
	st, err := loadState(filepath.Join(home, "capsules", id, "capsule.json"))
	if err != nil || st.Policy.Memory == 0 {
		return policy.Default(), false
	}
	return st.Policy, true
}
