package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
)

type readArgs struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
}

func readFile(ctx context.Context, s *Set, raw json.RawMessage, _ string) Result {
	var a readArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	f, err := s.d.ReadFile(ctx, s.target, a.Path)
	if err != nil {
		return failed(err)
	}
	if bytes.IndexByte(f.Content[:min(len(f.Content), 8000)], 0) >= 0 || !utf8.Valid(f.Content) {
		return Result{Text: fmt.Sprintf("%s is a binary file of %d bytes; not shown", f.Path, f.Size)}
	}
	lines := strings.SplitAfter(string(f.Content), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	first, last := max(a.StartLine, 1), len(lines)
	if a.EndLine > 0 {
		last = min(a.EndLine, len(lines))
	}
	if first > len(lines) && len(lines) > 0 {
		return errorf("%s has %d lines; start_line %d is past the end", f.Path, len(lines), a.StartLine)
	}
	var b strings.Builder
	for i := first; i <= last; i++ {
		line := lines[i-1]
		if len(line) > maxResult {
			// One line longer than a whole answer: its start, and no
			// advice that would bring the same answer back.
			fmt.Fprintf(&b, "%d| %s\n[line %d is %d bytes; only its first %d are shown]\n",
				i, strings.ToValidUTF8(line[:maxResult/2], ""), i, len(line), maxResult/2)
			if i < last {
				fmt.Fprintf(&b, "[read on with start_line=%d]\n", i+1)
			}
			break
		}
		if b.Len()+len(line) > maxResult {
			fmt.Fprintf(&b, "[cut at line %d of %d: read on with start_line=%d]\n", i-1, len(lines), i)
			break
		}
		fmt.Fprintf(&b, "%d| %s", i, line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteString("\n[no newline at end of file]\n")
		}
	}
	if f.Cut {
		fmt.Fprintf(&b, "[the file is %d bytes; only the first %d were read]\n", f.Size, len(f.Content))
	}
	if len(lines) == 0 {
		return Result{Text: f.Path + " is empty"}
	}
	return Result{Text: b.String()}
}

type writeArgs struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

func writeFile(ctx context.Context, s *Set, raw json.RawMessage, why string) Result {
	var a writeArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	req := s.request(actions.Write, why)
	req.Path, req.Input = a.Path, []byte(a.Content)
	return s.act(ctx, req, fmt.Sprintf("wrote %d bytes to %s", len(a.Content), a.Path))
}

type editArgs struct {
	Path    string `json:"path"`
	OldText string `json:"old_text"`
	NewText string `json:"new_text"`
}

func editFile(ctx context.Context, s *Set, raw json.RawMessage, why string) Result {
	var a editArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	if a.OldText == "" {
		return errorf("old_text is empty; give the exact text to replace (use write_file to create a file)")
	}
	spec, _ := json.Marshal(actions.EditSpec{Old: a.OldText, New: a.NewText})
	req := s.request(actions.Edit, why)
	req.Path, req.Input = a.Path, spec
	return s.act(ctx, req, "edited "+a.Path)
}

type patchArgs struct {
	Patch string `json:"patch"`
}

func applyPatch(ctx context.Context, s *Set, raw json.RawMessage, why string) Result {
	var a patchArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	if strings.TrimSpace(a.Patch) == "" {
		return errorf("patch is empty; give a unified diff")
	}
	req := s.request(actions.Patch, why)
	req.Input = []byte(a.Patch)
	return s.act(ctx, req, "applied the patch")
}

type listArgs struct {
	Dir   string `json:"dir"`
	Limit int    `json:"limit"`
}

func listFiles(ctx context.Context, s *Set, raw json.RawMessage, _ string) Result {
	var a listArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	l, err := s.d.ListFiles(ctx, s.target, a.Dir, a.Limit)
	if err != nil {
		return failed(err)
	}
	if len(l.Files) == 0 {
		return Result{Text: "no files"}
	}
	text := strings.Join(l.Files, "\n") + "\n"
	if l.Cut {
		text += fmt.Sprintf("[only the first %d files; list a directory, or raise limit]\n", len(l.Files))
	}
	return Result{Text: capText(text)}
}

type searchArgs struct {
	Pattern    string `json:"pattern"`
	Dir        string `json:"dir"`
	Glob       string `json:"glob"`
	MaxMatches int    `json:"max_matches"`
}

func search(ctx context.Context, s *Set, raw json.RawMessage, _ string) Result {
	var a searchArgs
	if r, ok := decode(raw, &a); !ok {
		return r
	}
	res, err := s.d.Search(ctx, api.SearchRequest{Target: s.target, Pattern: a.Pattern,
		Dir: a.Dir, Glob: a.Glob, Max: a.MaxMatches})
	if err != nil {
		return failed(err)
	}
	var b strings.Builder
	for _, m := range res.Matches {
		b.WriteString(m.Path + ":" + strconv.Itoa(m.Line) + ": " + m.Text + "\n")
	}
	if len(res.Matches) == 0 {
		b.WriteString("no matches\n")
	}
	if res.Cut {
		fmt.Fprintf(&b, "[stopped at %d matches; narrow the pattern, dir or glob]\n", len(res.Matches))
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(&b, "[not searched: %d binary or very large files, such as %s; read or run grep on them]\n",
			len(res.Skipped), strings.Join(res.Skipped[:min(3, len(res.Skipped))], ", "))
	}
	return Result{Text: capText(b.String())}
}
