package actions

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWritePath writes to fuzzed paths in a workspace whose links point
// out of it, and checks that nothing outside ever changes.
func FuzzWritePath(f *testing.F) {
	for _, seed := range []string{"a", "d/x", "../x", "/etc/x", "link", "dangling", "out/x", "in/../../x",
		".git/config", "a/./b", "sub/link/x", "", ".", "a\x00b", "x/", "ok/new/deep.txt"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		dir := t.TempDir()
		ws, outside := filepath.Join(dir, "ws"), filepath.Join(dir, "outside")
		os.MkdirAll(filepath.Join(ws, "sub"), 0o755)
		os.MkdirAll(outside, 0o755)
		os.WriteFile(filepath.Join(outside, "victim"), []byte("keep"), 0o644)
		os.Symlink(filepath.Join(outside, "victim"), filepath.Join(ws, "link"))
		os.Symlink(filepath.Join(outside, "new"), filepath.Join(ws, "dangling"))
		os.Symlink(outside, filepath.Join(ws, "out"))
		os.Symlink("../../outside", filepath.Join(ws, "sub", "link"))
		before := digest(t, outside)

		root, err := os.OpenRoot(ws)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		WriteFile(root, Request{Kind: Write, Path: p, Input: []byte("payload")})

		if after := digest(t, outside); after != before {
			t.Fatalf("write of %q changed a file outside the workspace", p)
		}
	})
}

// digest hashes every name and content under dir.
func digest(t *testing.T, dir string) [32]byte {
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		h.Write([]byte(p))
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
