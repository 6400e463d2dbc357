package gitlog

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Trailer is one "Key: value" line at the end of a commit message.
type Trailer struct{ Key, Value string }

// Trailer keys Krellin writes.
const (
	TrailerSeq    = "Krellin-Seq"
	TrailerAction = "Krellin-Action"
	TrailerExit   = "Krellin-Exit"
	TrailerBase   = "Krellin-Base"
	TrailerImage  = "Krellin-Image"
)

// Commit describes an action's commit.
type Commit struct {
	Tree     plumbing.Hash
	Parent   plumbing.Hash
	Subject  string
	Trailers []Trailer
	Author   object.Signature
}

// Append records one action: it writes the commit and its note, then moves
// the notes ref and the session ref, each a compare-and-swap against old.
// The notes ref moves first, so a crash in between leaves a note on an
// unreachable commit, never a visible commit without its note. A zero old
// starts a new session.
func (r *Repo) Append(session string, old plumbing.Hash, c Commit, note []byte) (plumbing.Hash, error) {
	if err := CheckSession(session); err != nil {
		return plumbing.ZeroHash, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.writeCommit(c)
	if err != nil {
		return h, err
	}
	if err := r.addNote(session, h, note, c.Author); err != nil {
		return h, err
	}
	if err := r.casRef(SessionRef(session), h, old); err != nil {
		return h, err
	}
	return h, nil
}

func (r *Repo) writeCommit(c Commit) (plumbing.Hash, error) {
	var msg strings.Builder
	msg.WriteString(oneLineSubject(c.Subject))
	msg.WriteString("\n\n")
	for _, t := range c.Trailers {
		fmt.Fprintf(&msg, "%s: %s\n", t.Key, t.Value)
	}
	commit := &object.Commit{
		Author:       c.Author,
		Committer:    c.Author,
		Message:      msg.String(),
		TreeHash:     c.Tree,
		ParentHashes: []plumbing.Hash{c.Parent},
	}
	return r.store(commit)
}

func oneLineSubject(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

// store encodes and writes one object.
func (r *Repo) store(o encoder) (plumbing.Hash, error) {
	obj := r.git.Storer.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode object: %w", err)
	}
	h, err := r.git.Storer.SetEncodedObject(obj)
	if err != nil {
		return h, fmt.Errorf("write object: %w", err)
	}
	return h, nil
}

// WriteBlob stores data as a blob.
func (r *Repo) WriteBlob(data []byte) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeRaw(plumbing.BlobObject, data)
}

// writeRaw stores an object from its encoded content.
func (r *Repo) writeRaw(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	obj := r.git.Storer.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	w.Write(data)
	w.Close()
	h, err := r.git.Storer.SetEncodedObject(obj)
	if err != nil {
		return h, fmt.Errorf("write %s: %w", t, err)
	}
	return h, nil
}

// ReadBlob returns a blob's content.
func (r *Repo) ReadBlob(h plumbing.Hash) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readBlob(h)
}

func (r *Repo) readBlob(h plumbing.Hash) ([]byte, error) {
	b, err := r.git.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// addNote attaches note to commit h under the session's notes ref. Notes
// are stored with a two-character fanout, as git does for large notes
// trees, so each action rewrites two small trees.
func (r *Repo) addNote(session string, h plumbing.Hash, note []byte, who object.Signature) error {
	ref := NotesRef(session)
	old, err := r.readRef(ref)
	if err != nil {
		return err
	}
	blob, err := r.writeRaw(plumbing.BlobObject, note)
	if err != nil {
		return err
	}

	var root *object.Tree
	var parents []plumbing.Hash
	if !old.IsZero() {
		c, err := r.commit(old)
		if err != nil {
			return err
		}
		if root, err = r.tree(c.TreeHash); err != nil {
			return fmt.Errorf("read notes tree: %w", err)
		}
		parents = []plumbing.Hash{old}
	}

	hex := h.String()
	sub, err := r.subtree(root, hex[:2])
	if err != nil {
		return err
	}
	subHash, err := r.writeTree(setEntry(sub, hex[2:], filemode.Regular, blob))
	if err != nil {
		return err
	}
	rootHash, err := r.writeTree(setEntry(entries(root), hex[:2], filemode.Dir, subHash))
	if err != nil {
		return err
	}

	nc := &object.Commit{
		Author: who, Committer: who,
		Message:      "Notes added by 'krellin'\n",
		TreeHash:     rootHash,
		ParentHashes: parents,
	}
	nh, err := r.store(nc)
	if err != nil {
		return err
	}
	return r.casRef(ref, nh, old)
}

func (r *Repo) subtree(root *object.Tree, name string) ([]object.TreeEntry, error) {
	if root == nil {
		return nil, nil
	}
	for _, e := range root.Entries {
		if e.Name == name && e.Mode == filemode.Dir {
			t, err := r.tree(e.Hash)
			if err != nil {
				return nil, err
			}
			return t.Entries, nil
		}
	}
	return nil, nil
}

func entries(t *object.Tree) []object.TreeEntry {
	if t == nil {
		return nil
	}
	return t.Entries
}

// setEntry returns es with name set to (mode, h), in git's tree order.
func setEntry(es []object.TreeEntry, name string, mode filemode.FileMode, h plumbing.Hash) []object.TreeEntry {
	out := make([]object.TreeEntry, 0, len(es)+1)
	for _, e := range es {
		if e.Name != name {
			out = append(out, e)
		}
	}
	out = append(out, object.TreeEntry{Name: name, Mode: mode, Hash: h})
	SortEntries(out)
	return out
}

// SortEntries puts tree entries in git's order: by name, with directories
// compared as if their name ended in '/'.
func SortEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
}

// writeTree stores a tree built from sorted entries.
func (r *Repo) writeTree(es []object.TreeEntry) (plumbing.Hash, error) {
	return r.store(&object.Tree{Entries: es})
}

// EncodeTree returns the hash and encoded object of a tree without
// writing it, so callers can skip trees they already stored.
func EncodeTree(es []object.TreeEntry) (plumbing.Hash, []byte) {
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "%o %s\x00", uint32(e.Mode), e.Name)
		b.Write(e.Hash[:])
	}
	return plumbing.ComputeHash(plumbing.TreeObject, b.Bytes()), b.Bytes()
}

// WriteRawTree stores an encoded tree from EncodeTree.
func (r *Repo) WriteRawTree(raw []byte) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeRaw(plumbing.TreeObject, raw)
}

// HasObject reports whether the object database holds h.
func (r *Repo) HasObject(h plumbing.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.git.Storer.HasEncodedObject(h) == nil
}

// Signature is the identity Krellin's commits carry.
func Signature(name, email string, when time.Time) object.Signature {
	return object.Signature{Name: name, Email: email, When: when}
}

// WriteBlobFrom stores size bytes from rd as a blob, streaming them, so a
// large file never sits in memory whole. The loose object is written to
// a temporary file and renamed into place only when all size bytes
// came: a file that shrank while it was read leaves nothing behind.
//
// go-git's own streaming writer (ObjectStorage.LazyWriter) is not used:
// its Close returns a pooled zlib writer each time it is called, and a
// failed write must still close it, which saves a truncated object under
// a hash; either way concurrent writers ended up sharing a compressor and
// writing corrupt objects.
func (r *Repo) WriteBlobFrom(rd io.Reader, size int64) (plumbing.Hash, error) {
	dir := filepath.Join(r.CommonDir, "objects")
	tmp, err := os.CreateTemp(dir, "tmp_obj_krellin_")
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed

	h, err := compressBlob(tmp, rd, size)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if r.HasObject(h) {
		return h, nil
	}
	hex := h.String()
	if err := os.MkdirAll(filepath.Join(dir, hex[:2]), 0o755); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, hex[:2], hex[2:])); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	return h, nil
}

// compressBlob writes the loose object of a blob of size bytes from rd
// to w and returns its hash; fewer bytes than size is an error.
func compressBlob(w io.Writer, rd io.Reader, size int64) (plumbing.Hash, error) {
	zw := zlib.NewWriter(w)
	h := plumbing.NewHasher(plumbing.BlobObject, size)
	if _, err := fmt.Fprintf(zw, "blob %d\x00", size); err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := io.CopyN(io.MultiWriter(zw, h), rd, size); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := zw.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return h.Sum(), nil
}

// BlobReader opens a blob for streaming. The repository is held until
// the reader is closed: a packed blob reads through shared state.
func (r *Repo) BlobReader(h plumbing.Hash) (io.ReadCloser, error) {
	r.mu.Lock()
	b, err := r.git.BlobObject(h)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	rd, err := b.Reader()
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	return &heldReader{ReadCloser: rd, release: r.mu.Unlock}, nil
}

// heldReader releases the repository once, when closed.
type heldReader struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (h *heldReader) Close() error {
	err := h.ReadCloser.Close()
	h.once.Do(h.release)
	return err
}

// FindEntry finds the entry at path (slash-separated) in tree.
func (r *Repo) FindEntry(tree plumbing.Hash, path string) (*object.TreeEntry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.tree(tree)
	if err != nil {
		return nil, err
	}
	return t.FindEntry(path)
}

// WalkFiles calls fn for every file under dir ("" for all) in tree,
// holding the repository: fn may read the file's content.
func (r *Repo) WalkFiles(tree plumbing.Hash, dir string, fn func(*object.File) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.tree(tree)
	if err != nil {
		return err
	}
	prefix := ""
	if dir != "" {
		if t, err = t.Tree(dir); err != nil {
			return fmt.Errorf("%w: %s", ErrNoDir, dir)
		}
		prefix = dir + "/"
	}
	return t.Files().ForEach(func(f *object.File) error {
		f.Name = prefix + f.Name
		return fn(f)
	})
}
