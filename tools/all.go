package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/krellin/krellin/api"
)

// all lists every tool with its implementation.
func all() []tool {
	return []tool{
		{Tool{Name: "run", Mutates: true, InputSchema: runSchema, Description: "Run a command in the capsule " +
			"(a container with the repository at /workspace) without network access. The command is run by " +
			"sh -c in the working directory (default /workspace). Returns the exit status and output. Every " +
			"call is recorded as one action in the session log. Use fetch for commands that need the network."},
			execTool("run")},
		{Tool{Name: "fetch", Mutates: true, InputSchema: runSchema, Description: "Run a command with network " +
			"access, for fetching dependencies (go mod download, npm ci, pip download). Otherwise like run."},
			execTool("fetch")},
		{Tool{Name: "read_file", InputSchema: readSchema, Description: "Read a file of the workspace as it is " +
			"now (files git ignores, such as build output, included). " +
			"Lines are numbered in the result (\"N| text\"); give start_line and end_line (1-based, " +
			"inclusive) to read part of a long file. Reading records nothing."},
			readFile},
		{Tool{Name: "write_file", Mutates: true, InputSchema: writeSchema, Description: "Create or replace a " +
			"file of the workspace with the given content; missing directories are created. Recorded as " +
			"one action."},
			writeFile},
		{Tool{Name: "edit_file", Mutates: true, InputSchema: editSchema, Description: "Replace one exact " +
			"occurrence of old_text in a file with new_text. old_text must occur exactly once (whitespace " +
			"included), otherwise nothing changes and the result says how many times it matched. Recorded " +
			"as one action."},
			editFile},
		{Tool{Name: "apply_patch", Mutates: true, InputSchema: patchSchema, Description: "Apply a unified " +
			"diff (as produced by git diff or diff -u) to the workspace, all or nothing, like git apply. " +
			"Recorded as one action."},
			applyPatch},
		{Tool{Name: "list_files", InputSchema: listSchema, Description: "List the files of the workspace " +
			"as recorded after the last action (ignored files are not listed), optionally under a directory."},
			listFiles},
		{Tool{Name: "search", InputSchema: searchSchema, Description: "Search the files recorded after the " +
			"last action (as list_files lists them) for lines matching a regular expression (RE2 syntax, like " +
			"grep -E). Returns path:line: text for each match, and names binary or very large files it skipped."},
			search},
		{Tool{Name: "log", InputSchema: logSchema, Description: "Show the session log: one line per " +
			"recorded action with its sequence number, status and summary."},
			showLog},
		{Tool{Name: "diff", InputSchema: diffSchema, Description: "Show the changes between two points of " +
			"the session as a unified diff. Points are sequence numbers from the log; from defaults to the " +
			"session's base, to to the latest action."},
			showDiff},
		{Tool{Name: "reset", Mutates: true, InputSchema: resetSchema, Description: "Put the workspace back " +
			"as it was after action to_seq (0 is the session's base) and recreate the container from its " +
			"pinned image. Undoes everything after that point; it is recorded as an action, so nothing is lost."},
			reset},
	}
}

// maxResult bounds the text one call returns to a model; the full
// output stays in the action's note.
const maxResult = 32 << 10

type runArgs struct {
	Command        string   `json:"command"`
	Workdir        string   `json:"workdir"`
	TimeoutSeconds float64  `json:"timeout_seconds"`
	Env            []string `json:"env"`
}

func execTool(kind string) func(context.Context, *Set, json.RawMessage, string) Result {
	return func(ctx context.Context, s *Set, raw json.RawMessage, why string) Result {
		var a runArgs
		if r, ok := decode(raw, &a); !ok {
			return r
		}
		if strings.TrimSpace(a.Command) == "" {
			return errorf("command is empty; give the shell command to run")
		}
		if a.TimeoutSeconds < 0 {
			return errorf("timeout_seconds must be positive")
		}
		req := s.request(kind, why)
		req.Argv, req.Workdir, req.Env = []string{"sh", "-c", a.Command}, a.Workdir, a.Env
		req.TimeoutMS = int64(a.TimeoutSeconds * 1000)
		out, errOut := capture(), capture()
		act, err := s.d.Act(ctx, req, out, errOut)
		if err != nil {
			return failed(err)
		}
		return Result{Text: describeRun(act, text(out), text(errOut)),
			IsError: act.Status != api.StatusOK}
	}
}

// describeRun renders a finished command for a model.
func describeRun(a api.Action, stdout, stderr string) string {
	var b strings.Builder
	switch {
	case a.Status == api.StatusTimedOut:
		fmt.Fprintf(&b, "timed out after %s", ms(a.DurationMS))
	case a.ExitCode != nil:
		fmt.Fprintf(&b, "exit status %d (%s)", *a.ExitCode, ms(a.DurationMS))
	default:
		fmt.Fprintf(&b, "%s: %s", a.Status, a.Error)
	}
	fmt.Fprintf(&b, ", recorded as action %d\n", a.Seq)
	if stdout != "" {
		b.WriteString("--- stdout ---\n" + stdout)
		if !strings.HasSuffix(stdout, "\n") {
			b.WriteString("\n")
		}
	}
	if stderr != "" {
		b.WriteString("--- stderr ---\n" + stderr)
	}
	return b.String()
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).String() }
