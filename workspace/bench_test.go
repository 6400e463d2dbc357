package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/krellin/krellin/gitlog"
)

// BenchmarkSnapshotUnchanged measures recording a 10,000-file workspace
// in which nothing changed: the cost every action pays.
func BenchmarkSnapshotUnchanged(b *testing.B) {
	dir := b.TempDir()
	repoDir := filepath.Join(dir, "repo")
	if _, err := git.PlainInit(repoDir, false); err != nil {
		b.Fatal(err)
	}
	repo, err := gitlog.Open(repoDir)
	if err != nil {
		b.Fatal(err)
	}
	wsDir := filepath.Join(dir, "ws")
	for i := 0; i < 10000; i++ {
		p := filepath.Join(wsDir, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644)
	}
	ws, err := Open(wsDir, repo, nil)
	if err != nil {
		b.Fatal(err)
	}
	prev, err := ws.Snapshot(plumbing.ZeroHash)
	if err != nil {
		b.Fatal(err)
	}
	// Files changed within racyWindow of a scan are hashed again by the
	// next one; let that pass, as it does between real actions.
	time.Sleep(racyWindow + 100*time.Millisecond)
	if prev, err = ws.Snapshot(prev); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if prev, err = ws.Snapshot(prev); err != nil {
			b.Fatal(err)
		}
	}
}
