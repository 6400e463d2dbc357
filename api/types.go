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

// ActionRequest asks for one action. Kind is run, fetch, write, patch or
// reset.
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
