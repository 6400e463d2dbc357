package gitlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// newTestRepo makes an empty repository for a test.
func newTestRepo(t *testing.T) *Repo {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Capsules of different repositories record at the same time: their
// writers must share nothing (go-git's pooled compressors once did).
func TestWriteBlobFrom_ConcurrentWritersMakeSoundObjects(t *testing.T) {
	repos := []*Repo{newTestRepo(t), newTestRepo(t)}
	var wg sync.WaitGroup
	want := map[string][]byte{}
	var mu sync.Mutex // guards want
	for i := range 8 {
		r := repos[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 40 {
				data := bytes.Repeat([]byte{byte(i), byte(j)}, 5000+i*j)
				h, err := r.WriteBlobFrom(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[r.Top+" "+h.String()] = data
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, r := range repos {
		if out, err := exec.Command("git", "-C", r.Top, "fsck", "--strict").CombinedOutput(); err != nil {
			t.Fatalf("git fsck: %v\n%s", err, out)
		}
	}
	for key, data := range want {
		top, h, _ := strings.Cut(key, " ")
		got, err := exec.Command("git", "-C", top, "cat-file", "blob", h).Output()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("blob %s: %v, %d bytes, want %d", h, err, len(got), len(data))
		}
	}
}

func TestWriteBlobFrom_ShortReadLeavesNothing(t *testing.T) {
	r := newTestRepo(t)
	_, err := r.WriteBlobFrom(strings.NewReader("only this"), 100)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF for a short read", err)
	}
	var left []string
	filepath.Walk(filepath.Join(r.CommonDir, "objects"), func(p string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("a failed write left %v", left)
	}
}

// The daemon reads a session (log, show, the TUI) while an action
// records: the repository serializes go-git's use itself.
func TestRepo_ReadsWhileRecording(t *testing.T) {
	r, base := newRepo(t)
	tip := appendAction(t, r, "s", plumbing.ZeroHash, base, "0")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 40; i++ {
			tip = appendAction(t, r, "s", tip, tip, strconv.Itoa(i))
		}
	}()
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		if _, err := r.Entries("s"); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := r.Entries("s")
	if err != nil || len(entries) != 41 {
		t.Fatalf("%d entries, %v; want 41", len(entries), err)
	}
}
