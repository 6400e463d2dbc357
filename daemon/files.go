package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/workspace"
)

// Limits of the read endpoints: they answer an agent, whose context is
// small, and must never hold the daemon's memory hostage.
const (
	maxReadBytes   = 8 << 20
	defaultList    = 2000
	maxList        = 50000
	defaultMatches = 200
	maxMatches     = 5000
	maxSearchFile  = 4 << 20
	maxMatchText   = 400
)

// Capsules describes every capsule in the state directory.
func (d *Daemon) Capsules(ctx context.Context) ([]api.Status, error) {
	dirs, err := os.ReadDir(filepath.Join(d.home, "capsules"))
	if err != nil {
		return nil, fmt.Errorf("list capsules: %w", err)
	}
	out := []api.Status{}
	for _, e := range dirs {
		st, err := loadState(filepath.Join(d.home, "capsules", e.Name(), "capsule.json"))
		if err != nil || st.Repo == "" {
			continue
		}
		s, err := d.Status(ctx, api.Target{Repo: st.Repo})
		if err != nil && s.Repo == "" {
			// The repository moved or is gone: say so, from the saved state.
			s = api.Status{Repo: st.Repo, Capsule: st.Name, Container: st.Container, Session: st.Session,
				Image: st.Pin.Digest, ImageRef: st.Pin.Ref, Base: st.Base, State: "unavailable: " + err.Error()}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Repo < out[j].Repo })
	return out, nil
}

// ReadFile reads a file of the live workspace, refusing paths that lead
// out of it.
func (d *Daemon) ReadFile(t api.Target, name string) (api.FileContent, error) {
	c, err := d.capsuleFor(t.Repo, false)
	if err != nil {
		return api.FileContent{}, err
	}
	rel, err := workspacePath(name)
	if err != nil {
		return api.FileContent{}, err
	}
	root, err := os.OpenRoot(c.workspaceDir())
	if err != nil {
		return api.FileContent{}, fmt.Errorf("open workspace: %w", err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return api.FileContent{}, readError(name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return api.FileContent{}, readError(name, err)
	}
	if !fi.Mode().IsRegular() {
		return api.FileContent{}, fmt.Errorf("%w: %s is not a regular file (list a directory's files instead)", actions.ErrBadRequest, name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReadBytes))
	if err != nil {
		return api.FileContent{}, readError(name, err)
	}
	return api.FileContent{Path: rel, Size: fi.Size(), Mode: fi.Mode().Perm().String(),
		Content: data, Cut: fi.Size() > int64(len(data))}, nil
}

// workspacePath turns a path given relative to /workspace (or absolute
// under it) into a clean relative one.
func workspacePath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: a path is needed", actions.ErrBadRequest)
	}
	p, err := actions.Workdir(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s is outside /workspace", actions.ErrBadRequest, name)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, "/workspace"), "/")
	if rel == "" {
		rel = "."
	}
	return rel, nil
}

func readError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist in the workspace", errNotFound, name)
	}
	return fmt.Errorf("read: %w", workspace.Classify(name, err))
}

// ListFiles lists the files recorded at the session's tip under dir.
func (d *Daemon) ListFiles(t api.Target, dir string, limit int) (api.FileList, error) {
	if limit <= 0 {
		limit = defaultList
	}
	limit = min(limit, maxList)
	out := api.FileList{Files: []string{}}
	err := d.walkTip(t, dir, func(f *object.File) error {
		if len(out.Files) == limit {
			out.Cut = true
			return errStop
		}
		out.Files = append(out.Files, f.Name)
		return nil
	})
	return out, err
}

// Search finds lines matching a regular expression in the files recorded
// at the session's tip. Binary and very large files are skipped.
func (d *Daemon) Search(req api.SearchRequest) (api.SearchResult, error) {
	if req.Pattern == "" {
		return api.SearchResult{}, fmt.Errorf("%w: the pattern is empty; give a regular expression", actions.ErrBadRequest)
	}
	re, err := regexp.Compile(req.Pattern)
	if err != nil {
		return api.SearchResult{}, fmt.Errorf("%w: pattern %q is not a regular expression (RE2 syntax): %v", actions.ErrBadRequest, req.Pattern, err)
	}
	if _, err := path.Match(req.Glob, ""); err != nil {
		return api.SearchResult{}, fmt.Errorf("%w: glob %q: %v", actions.ErrBadRequest, req.Glob, err)
	}
	max := req.Max
	if max <= 0 {
		max = defaultMatches
	}
	max = min(max, maxMatches)
	out := searchResult{SearchResult: api.SearchResult{Matches: []api.Match{}}}
	err = d.walkTip(req.Target, req.Dir, func(f *object.File) error {
		if ok, _ := path.Match(req.Glob, path.Base(f.Name)); req.Glob != "" && !ok {
			return nil
		}
		if f.Mode == filemode.Symlink || f.Mode == filemode.Submodule {
			return nil
		}
		if f.Size > maxSearchFile {
			out.skip(f.Name)
			return nil
		}
		return searchFile(f, re, max, &out)
	})
	return out.SearchResult, err
}

// searchResult is a result being built.
type searchResult struct{ api.SearchResult }

// maxSkipped bounds the names of skipped files a result carries.
const maxSkipped = 50

func (r *searchResult) skip(name string) {
	if len(r.Skipped) < maxSkipped {
		r.Skipped = append(r.Skipped, name)
	}
}

var errStop = errors.New("stop walking")

// searchFile adds f's matching lines to out, stopping at max.
func searchFile(f *object.File, re *regexp.Regexp, max int, out *searchResult) error {
	rd, err := f.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		out.skip(f.Name)
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxSearchFile)
	for n := 1; sc.Scan(); n++ {
		if !re.Match(sc.Bytes()) {
			continue
		}
		if len(out.Matches) == max {
			out.Cut = true
			return errStop
		}
		text := strings.ToValidUTF8(string(sc.Bytes()), "\uFFFD")
		if len(text) > maxMatchText {
			text = strings.ToValidUTF8(text[:maxMatchText], "") + "..."
		}
		out.Matches = append(out.Matches, api.Match{Path: f.Name, Line: n, Text: text})
	}
	return nil
}

// walkTip calls fn for each file of the session's tip tree under dir.
func (d *Daemon) walkTip(t api.Target, dir string, fn func(*object.File) error) error {
	c, err := d.capsuleFor(t.Repo, false)
	if err != nil {
		return err
	}
	session := t.Session
	if session == "" {
		session = c.current().st.Session
	}
	tip, err := c.repo.Tip(session)
	if err != nil {
		return err
	}
	cm, err := c.repo.Commit(tip)
	if err != nil {
		return err
	}
	prefix := ""
	if dir != "" {
		if prefix, err = workspacePath(dir); err != nil {
			return err
		}
		if prefix == "." {
			prefix = ""
		}
	}
	err = c.repo.WalkFiles(cm.TreeHash, prefix, fn)
	if errors.Is(err, gitlog.ErrNoDir) {
		return fmt.Errorf("%w: no directory %s in the session's files", errNotFound, dir)
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
