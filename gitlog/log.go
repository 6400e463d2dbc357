package gitlog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Entry is one recorded action as read back from the log.
type Entry struct {
	Seq      int
	Commit   plumbing.Hash
	Parent   plumbing.Hash
	Tree     plumbing.Hash
	Action   string
	Subject  string
	Exit     *int
	When     time.Time
	Author   string
	Trailers map[string]string
	Note     []byte
}

// Entries reads a session's actions, oldest first, seq 0 included.
func (r *Repo) Entries(session string) ([]Entry, error) {
	tip, err := r.Tip(session)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	notes, err := r.notesIndex(session)
	if err != nil {
		return nil, err
	}

	var out []Entry
	for h := tip; ; {
		c, err := r.commit(h)
		if err != nil {
			return nil, err
		}
		e, err := entryOf(c)
		if err != nil {
			return nil, err
		}
		if nh, ok := notes[h]; ok {
			if e.Note, err = r.readBlob(nh); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
		if e.Seq == 0 {
			break
		}
		h = e.Parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// entryOf reads the trailers of an action commit.
func entryOf(c *object.Commit) (Entry, error) {
	e := Entry{
		Commit:   c.Hash,
		Tree:     c.TreeHash,
		Subject:  strings.SplitN(c.Message, "\n", 2)[0],
		When:     c.Author.When,
		Author:   c.Author.Name,
		Trailers: ParseTrailers(c.Message),
	}
	if len(c.ParentHashes) > 0 {
		e.Parent = c.ParentHashes[0]
	}
	seq, err := strconv.Atoi(e.Trailers[TrailerSeq])
	if err != nil {
		return e, fmt.Errorf("commit %s is not a krellin action (no %s trailer)", c.Hash, TrailerSeq)
	}
	e.Seq = seq
	e.Action = e.Trailers[TrailerAction]
	if v, ok := e.Trailers[TrailerExit]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			e.Exit = &n
		}
	}
	return e, nil
}

// ParseTrailers reads the "Key: value" lines of a message's last paragraph.
func ParseTrailers(msg string) map[string]string {
	paras := strings.Split(strings.TrimRight(msg, "\n"), "\n\n")
	out := map[string]string{}
	if len(paras) < 2 {
		return out
	}
	for _, line := range strings.Split(paras[len(paras)-1], "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			out[k] = v
		}
	}
	return out
}

// notesIndex maps annotated commits to their note blobs for a session.
func (r *Repo) notesIndex(session string) (map[plumbing.Hash]plumbing.Hash, error) {
	out := map[plumbing.Hash]plumbing.Hash{}
	tip, err := r.readRef(NotesRef(session))
	if err != nil || tip.IsZero() {
		return out, err
	}
	c, err := r.commit(tip)
	if err != nil {
		return nil, err
	}
	root, err := r.tree(c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("read notes tree: %w", err)
	}
	return out, r.collectNotes(root, "", out)
}

// collectNotes walks a notes tree of any fanout.
func (r *Repo) collectNotes(t *object.Tree, prefix string, out map[plumbing.Hash]plumbing.Hash) error {
	for _, e := range t.Entries {
		name := prefix + e.Name
		if e.Mode == filemode.Dir {
			sub, err := r.tree(e.Hash)
			if err != nil {
				return err
			}
			if err := r.collectNotes(sub, name, out); err != nil {
				return err
			}
			continue
		}
		if len(name) == 40 {
			out[plumbing.NewHash(name)] = e.Hash
		}
	}
	return nil
}
