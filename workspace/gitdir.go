package workspace

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Branch is the branch the workspace's own git starts on.
const Branch = "krellin"

// BuildGitDir writes, at dst, a .git directory the agent's own git can use
// inside the capsule: a shallow repository holding only the base commit and
// its tree as one pack, with HEAD on branch "krellin" and an index of the
// base. It shares nothing with the user's repository: no alternates, no
// hardlinks, no worktree pointers.
func BuildGitDir(dst string, src storer.EncodedObjectStorer, base plumbing.Hash) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("build workspace git: %w", err)
	}
	c, err := object.GetCommit(src, base)
	if err != nil {
		return fmt.Errorf("build workspace git: %w", err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("build workspace git: %w", err)
	}

	hashes := []plumbing.Hash{base}
	var entries []*index.Entry
	if err := collect(tree, "", &hashes, &entries); err != nil {
		return fmt.Errorf("build workspace git: %w", err)
	}
	if err := writePack(dst, src, hashes); err != nil {
		return err
	}
	return writeMeta(dst, base, entries)
}

// collect lists every object below t, and an index entry per file.
func collect(t *object.Tree, prefix string, hashes *[]plumbing.Hash, entries *[]*index.Entry) error {
	*hashes = append(*hashes, t.Hash)
	for _, e := range t.Entries {
		name := prefix + e.Name
		switch e.Mode {
		case filemode.Dir:
			sub, err := t.Tree(e.Name)
			if err != nil {
				return err
			}
			if err := collect(sub, name+"/", hashes, entries); err != nil {
				return err
			}
		case filemode.Submodule:
			*entries = append(*entries, &index.Entry{Name: name, Hash: e.Hash, Mode: e.Mode})
		default:
			*hashes = append(*hashes, e.Hash)
			*entries = append(*entries, &index.Entry{Name: name, Hash: e.Hash, Mode: e.Mode})
		}
	}
	return nil
}

// writePack stores the objects as a single pack with its index.
func writePack(dst string, src storer.EncodedObjectStorer, hashes []plumbing.Hash) error {
	st := filesystem.NewStorage(osfs.New(dst), cache.NewObjectLRUDefault())
	w, err := st.PackfileWriter()
	if err != nil {
		return fmt.Errorf("write workspace pack: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, pr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		pr.CloseWithError(err)
		done <- err
	}()
	_, err = packfile.NewEncoder(pw, src, false).Encode(dedupe(hashes), 0)
	pw.CloseWithError(err)
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("write workspace pack: %w", err)
	}
	return nil
}

func dedupe(hs []plumbing.Hash) []plumbing.Hash {
	seen := map[plumbing.Hash]bool{}
	out := hs[:0]
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// writeMeta writes HEAD, the branch, the shallow marker, config and index.
func writeMeta(dst string, base plumbing.Hash, entries []*index.Entry) error {
	files := map[string]string{
		"HEAD":                 "ref: refs/heads/" + Branch + "\n",
		"refs/heads/" + Branch: base.String() + "\n",
		"shallow":              base.String() + "\n",
		"config":               "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n",
		"description":          "Krellin workspace\n",
	}
	for name, content := range files {
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write workspace git: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write workspace git: %w", err)
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	f, err := os.Create(filepath.Join(dst, "index"))
	if err != nil {
		return fmt.Errorf("write workspace index: %w", err)
	}
	defer f.Close()
	if err := index.NewEncoder(f).Encode(&index.Index{Version: 2, Entries: entries}); err != nil {
		return fmt.Errorf("write workspace index: %w", err)
	}
	return f.Close()
}

// ResetGitDir replaces the workspace's .git with a copy of template, the
// directory BuildGitDir wrote.
func (w *Workspace) ResetGitDir(template string) error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if err := w.remove(".git"); err != nil {
		return err
	}
	return copyTree(template, filepath.Join(w.Dir, ".git"))
}

// copyTree copies a directory of plain files and directories. Both sides
// are Krellin's own: template was written by BuildGitDir and dst was just
// removed.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, out)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
