// Package api is the contract between the Krellin daemon and its clients
// (the CLI, the TUI, agents): HTTP over a Unix socket, JSON bodies, and
// NDJSON streams for actions that produce output. The daemon and the
// client share these types.
package api

import "encoding/json"

// Version is the API version the daemon serves, in every route's prefix.
const Version = "v1"

// Target names the repository (and optionally the session) a request is
// about. Repo is the absolute top level of the user's work tree.
type Target struct {
	Repo    string `json:"repo"`
	Session string `json:"session,omitempty"`
}

// UpRequest starts or reuses a repository's capsule.
type UpRequest struct {
	Target
	Image string `json:"image,omitempty"`
	From  string `json:"from,omitempty"`
	// AllowNetwork overrides the policy: egress for every action. It is
	// recorded in the session's first commit.
	AllowNetwork bool `json:"allow_network,omitempty"`
	// DefaultImage is used when a new session starts without Image.
	DefaultImage string `json:"default_image,omitempty"`
	CABundle     string `json:"ca_bundle,omitempty"`
}

// UpResponse says what up did.
type UpResponse struct {
	Capsule  string   `json:"capsule"`
	Session  string   `json:"session"`
	Base     string   `json:"base"`
	Image    string   `json:"image"`
	ImageRef string   `json:"image_ref"`
	Created  bool     `json:"created"`
	Resumed  bool     `json:"resumed"`
	Warnings []string `json:"warnings,omitempty"`
}

// ActionRequest asks for one action. Kind is run, fetch, write, patch,
// reset, or ask (an agent conversation, recorded without running
// anything).
type ActionRequest struct {
	Target
	Kind      string   `json:"kind"`
	Argv      []string `json:"argv,omitempty"`
	Workdir   string   `json:"workdir,omitempty"`
	Env       []string `json:"env,omitempty"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
	Path      string   `json:"path,omitempty"`
	Input     []byte   `json:"input,omitempty"`
	ToSeq     int      `json:"to_seq,omitempty"`
	// Author is who asked; the default is krellin.
	Author *Author `json:"author,omitempty"`
	// Why is what led to the action (an agent's reasoning and tool
	// call), kept in its note so the log explains it.
	Why string `json:"why,omitempty"`
	// Status and Error are for kind "ask" only: how the conversation
	// recorded in Input ended (ok, interrupted or failed) and why.
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// DurationMS is for kind "ask" only: how long the conversation took,
	// as the client measured it; the action is dated back by as much.
	DurationMS int64 `json:"duration_ms,omitempty"`
}

// Event is one line of a streamed response. Type is "output" (Stream and
// Data set), "progress" (Message), "action" (a finished action), "report"
// (replay's result), "done" (the stream ends well) or "error".
type Event struct {
	Type    string          `json:"type"`
	Stream  string          `json:"stream,omitempty"`
	Data    []byte          `json:"data,omitempty"`
	Message string          `json:"message,omitempty"`
	Action  *Action         `json:"action,omitempty"`
	Report  json.RawMessage `json:"report,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Action is one recorded action: the element of `krellin log --json`.
// docs/log-json.md is the written contract; readers ignore unknown fields.
type Action struct {
	Seq        int      `json:"seq"`
	Commit     string   `json:"commit"`
	Parent     string   `json:"parent"`
	Tree       string   `json:"tree"`
	Action     string   `json:"action"`
	Subject    string   `json:"subject"`
	Status     string   `json:"status"`
	Time       string   `json:"time"`
	DurationMS int64    `json:"duration_ms"`
	ExitCode   *int     `json:"exit_code,omitempty"`
	TimedOut   bool     `json:"timed_out,omitempty"`
	Argv       []string `json:"argv,omitempty"`
	Workdir    string   `json:"workdir,omitempty"`
	Env        []string `json:"env,omitempty"`
	Path       string   `json:"path,omitempty"`
	Files      []string `json:"files,omitempty"`
	TargetSeq  *int     `json:"target_seq,omitempty"`
	Error      string   `json:"error,omitempty"`
	Base       string   `json:"base,omitempty"`
	Image      string   `json:"image,omitempty"`
	Info       []string `json:"info,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Author     string   `json:"author"`
	Stdout     *Output  `json:"stdout,omitempty"`
	Stderr     *Output  `json:"stderr,omitempty"`
}

// Output summarises one stream of a run or fetch.
type Output struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
	Cut    bool   `json:"cut,omitempty"`
}

// Statuses an action can end with.
const (
	StatusOK          = "ok"
	StatusFailed      = "failed"
	StatusTimedOut    = "timed-out"
	StatusInterrupted = "interrupted"
)

// Detail is one action in full, for `krellin show`.
type Detail struct {
	Action Action `json:"action"`
	Note   string `json:"note"`
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Input  []byte `json:"input,omitempty"`
	Why    string `json:"why,omitempty"` // what led to the action
	Diff   string `json:"diff"`
}

// Session is one entry of `krellin sessions`.
type Session struct {
	Name    string `json:"name"`
	Base    string `json:"base"`
	Image   string `json:"image"`
	Actions int    `json:"actions"`
	Tip     string `json:"tip"`
	Current bool   `json:"current"`
}

// Status describes a repository's capsule.
type Status struct {
	Repo       string   `json:"repo"`
	Capsule    string   `json:"capsule"`
	Container  string   `json:"container"`
	State      string   `json:"state"`
	Session    string   `json:"session"`
	Image      string   `json:"image"`
	ImageRef   string   `json:"image_ref"`
	Base       string   `json:"base"`
	Tip        string   `json:"tip"`
	Actions    int      `json:"actions"`
	Workspace  string   `json:"workspace"`
	Busy       bool     `json:"busy"`
	Running    string   `json:"running,omitempty"` // the action in flight
	Policy     string   `json:"policy"`
	Overrides  []string `json:"overrides,omitempty"` // power beyond the defaults
	APIVersion string   `json:"engine_api_version,omitempty"`
}

// ReplayRequest replays a session into a new one.
type ReplayRequest struct {
	Target
	Into string `json:"into,omitempty"`
}

// DiffRequest asks for the changes between two points of a session; an
// empty From is the base, an empty To the tip. Points are sequence
// numbers or commits.
type DiffRequest struct {
	Target
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Ping is the daemon's answer to GET /v1/ping.
type Ping struct {
	Version    string `json:"version"`
	PID        int    `json:"pid"`
	DockerHost string `json:"docker_host"` // the daemon's DOCKER_HOST, "" for the default
}

// Author names who asked for an action (an agent, a person); it becomes
// the author of the action's commit. Empty fields fall back to
// "krellin <krellin@localhost>".
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// Kinds of entries on a capsule's event stream (GET /v1/events).
const (
	EventQueued   = "queued"   // an action waits for the capsule
	EventStarted  = "started"  // an action began to run
	EventOutput   = "output"   // output of the running action
	EventFinished = "finished" // an action was recorded (Action set)
	EventRefused  = "refused"  // an action failed before anything ran (Error set)
	EventReplay   = "replay"   // replay progress (Message), or its report (Report)
	EventState    = "state"    // the capsule changed state (State: running, stopped or removed)
	// EventHeartbeat comes every 15 s on a quiet stream; it is not
	// numbered (its ID is the last event's). A stream silent for much
	// longer is dead: reconnect.
	EventHeartbeat = "heartbeat"
	// EventGap says events between the client's resume point and this
	// one are gone (the daemon restarted or its buffer moved on); the
	// client reloads the log, which is durable.
	EventGap = "gap"
)

// StreamEvent is one entry of the event stream, an NDJSON line. ID grows
// by one per event within one daemon run (Epoch); a client resumes with
// GET /v1/events?since=ID&epoch=EPOCH and gets every later event, or a
// gap event first when some are gone.
type StreamEvent struct {
	ID      uint64          `json:"id"`
	Epoch   string          `json:"epoch"`
	Time    string          `json:"time"`
	Type    string          `json:"type"`
	Repo    string          `json:"repo,omitempty"`
	Capsule string          `json:"capsule,omitempty"`
	Session string          `json:"session,omitempty"`
	Summary string          `json:"summary,omitempty"` // the action: "run: go test ./..."
	Author  string          `json:"author,omitempty"`
	Stream  string          `json:"stream,omitempty"` // output: stdout or stderr
	Data    []byte          `json:"data,omitempty"`
	Action  *Action         `json:"action,omitempty"`
	State   string          `json:"state,omitempty"` // state: running, stopped, removed
	Message string          `json:"message,omitempty"`
	Report  json.RawMessage `json:"report,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// FileContent is a file read from the live workspace (GET /v1/file).
type FileContent struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Mode    string `json:"mode"`
	Content []byte `json:"content"`
	Cut     bool   `json:"cut,omitempty"` // larger than the read limit
}

// FileList is the workspace's recorded files under a directory, as of
// the session's tip (GET /v1/files). Ignored files are not listed.
type FileList struct {
	Files []string `json:"files"`
	Cut   bool     `json:"cut,omitempty"` // more matched than the limit
}

// SearchRequest looks for a regular expression (RE2) in the recorded
// files of the session's tip.
type SearchRequest struct {
	Target
	Pattern string `json:"pattern"`
	Dir     string `json:"dir,omitempty"`  // only under this directory
	Glob    string `json:"glob,omitempty"` // only base names matching this
	Max     int    `json:"max,omitempty"`  // matches, 200 when 0
}

// Match is one line that matched a search.
type Match struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// SearchResult is what a search found.
type SearchResult struct {
	Matches []Match  `json:"matches"`
	Cut     bool     `json:"cut,omitempty"`
	Skipped []string `json:"skipped,omitempty"` // binary or too large to search
}
