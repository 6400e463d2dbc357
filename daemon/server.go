package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/capsule"
	"github.com/krellin/krellin/gitlog"
	"github.com/krellin/krellin/workspace"
)

// Serve listens on the daemon's socket (mode 0600) until ctx ends. It
// refuses to start when another daemon answers on the socket, and never
// removes a path that is not a socket.
func (d *Daemon) Serve(ctx context.Context) error {
	unlock, err := lockHome(d.home)
	if err != nil {
		return err
	}
	defer unlock()
	pidFile := filepath.Join(d.home, "daemon.pid")
	if err := writeFileAtomic(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pidFile)
	ln, err := listen(d.socket)
	if err != nil {
		return err
	}
	defer os.Remove(d.socket)

	// Requests inherit ctx: when the daemon is told to stop, actions in
	// flight stop their commands and are recorded as interrupted before
	// Shutdown lets the process go.
	srv := &http.Server{
		Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		d.log.Info("daemon stopping")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	d.log.Info("daemon listening", "socket", d.socket, "pid", os.Getpid())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// lockHome makes sure one daemon at a time owns a state directory.
func lockHome(home string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(home, "daemon.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another krellin daemon owns %s", home)
	}
	return func() { f.Close() }, nil
}

// listen opens the socket, clearing a stale one a dead daemon left.
func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; move it away or set KRELLIN_SOCKET", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("a krellin daemon already answers on %s", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func (d *Daemon) routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(api.Ping{Version: api.Version, PID: os.Getpid(), DockerHost: os.Getenv("DOCKER_HOST")}, nil)
	})
	m.HandleFunc("POST /v1/up", func(w http.ResponseWriter, r *http.Request) {
		var req api.UpRequest
		if decode(w, r, &req) {
			resp, err := d.Up(r.Context(), req)
			if err == nil {
				d.stateEvent(req.Repo, resp.Capsule, resp.Session, "running", "session "+resp.Session+" up")
			}
			reply(w)(resp, err)
		}
	})
	m.HandleFunc("POST /v1/actions", d.handleAction)
	m.HandleFunc("POST /v1/replay", d.handleReplay)
	m.HandleFunc("GET /v1/events", d.handleEvents)
	m.HandleFunc("POST /v1/shell", d.handleShell)
	m.HandleFunc("GET /v1/capsules", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(d.Capsules(r.Context()))
	})
	m.HandleFunc("GET /v1/file", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(d.ReadFile(target(r), r.URL.Query().Get("path")))
	})
	m.HandleFunc("GET /v1/files", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		reply(w)(d.ListFiles(target(r), r.URL.Query().Get("dir"), limit))
	})
	m.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		var req api.SearchRequest
		if decode(w, r, &req) {
			reply(w)(d.Search(req))
		}
	})
	m.HandleFunc("GET /v1/log", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(d.Log(target(r)))
	})
	m.HandleFunc("GET /v1/show", func(w http.ResponseWriter, r *http.Request) {
		seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
		if err != nil {
			fail(w, fmt.Errorf("%w: show takes a sequence number from `krellin log`", actions.ErrBadRequest))
			return
		}
		reply(w)(d.Show(target(r), seq))
	})
	m.HandleFunc("POST /v1/diff", func(w http.ResponseWriter, r *http.Request) {
		var req api.DiffRequest
		if decode(w, r, &req) {
			diff, err := d.Diff(req)
			reply(w)(map[string]string{"diff": diff}, err)
		}
	})
	m.HandleFunc("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(d.Sessions(target(r)))
	})
	m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(d.Status(r.Context(), target(r)))
	})
	m.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		var t api.Target
		if decode(w, r, &t) {
			st, err := d.Down(r.Context(), t)
			if err == nil {
				d.stateEvent(st.Repo, st.Capsule, st.Session, "stopped", "capsule stopped")
			}
			reply(w)(st, err)
		}
	})
	m.HandleFunc("POST /v1/rm", func(w http.ResponseWriter, r *http.Request) {
		var t api.Target
		if decode(w, r, &t) {
			st, err := d.Rm(r.Context(), t)
			if err == nil {
				d.stateEvent(st.Repo, st.Capsule, st.Session, "removed", "capsule removed")
			}
			reply(w)(st, err)
		}
	})
	return m
}

func target(r *http.Request) api.Target {
	q := r.URL.Query()
	return api.Target{Repo: q.Get("repo"), Session: q.Get("session")}
}

// decode reads a JSON body, answering 400 itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*actions.MaxInput))
	if err := dec.Decode(v); err != nil {
		fail(w, fmt.Errorf("%w: request body: %v", actions.ErrBadRequest, err))
		return false
	}
	return true
}

// reply returns a function writing a result or its error.
func reply(w http.ResponseWriter) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}

func fail(w http.ResponseWriter, err error) {
	e := toError(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusCode(e.Kind))
	json.NewEncoder(w).Encode(map[string]*api.Error{"error": e})
}

// toError classifies an error into the API's kinds.
func toError(err error) *api.Error {
	kind := api.KindInternal
	switch {
	case errors.Is(err, capsule.ErrEngineDown):
		kind = api.KindEngineDown
	case errors.Is(err, capsule.ErrImageDrifted):
		kind = api.KindDrift
	case errors.Is(err, capsule.ErrNoImage):
		kind = api.KindNoImage
	case errors.Is(err, actions.ErrBadRequest), errors.Is(err, gitlog.ErrBadSession),
		errors.Is(err, gitlog.ErrUnknownRev), errors.Is(err, gitlog.ErrNotRepo):
		kind = api.KindBadRequest
	case errors.Is(err, errNotFound), errors.Is(err, gitlog.ErrUnknownSession):
		kind = api.KindNotFound
	case errors.Is(err, gitlog.ErrRefMoved), errors.Is(err, gitlog.ErrRefLocked):
		kind = api.KindConflict
	case errors.Is(err, workspace.ErrOutside), errors.Is(err, actions.ErrRefused):
		kind = api.KindRefused
	}
	return &api.Error{Kind: kind, Message: err.Error()}
}

func statusCode(kind string) int {
	switch kind {
	case api.KindBadRequest, api.KindRefused:
		return http.StatusBadRequest
	case api.KindNotFound, api.KindNoImage:
		return http.StatusNotFound
	case api.KindConflict, api.KindDrift:
		return http.StatusConflict
	case api.KindEngineDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// stream writes NDJSON events, flushing each.
type stream struct {
	mu  sync.Mutex // guards enc, w and err
	w   http.ResponseWriter
	enc *json.Encoder
	err error // the first write that failed
}

func newStream(w http.ResponseWriter) *stream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &stream{w: w, enc: json.NewEncoder(w)}
}

func (s *stream) send(e api.Event) { s.encode(e) }

// encode writes one NDJSON line and flushes it.
func (s *stream) encode(e any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = s.enc.Encode(e)
	if s.err == nil {
		s.err = http.NewResponseController(s.w).Flush()
	}
}

// failed says whether a write failed: the client went away or stopped
// reading past a deadline.
func (s *stream) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// writer returns an io.Writer sending what it gets as output events.
func (s *stream) writer(name string) writerFunc {
	return func(p []byte) (int, error) {
		s.send(api.Event{Type: "output", Stream: name, Data: append([]byte(nil), p...)})
		return len(p), nil
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (d *Daemon) handleAction(w http.ResponseWriter, r *http.Request) {
	var req api.ActionRequest
	if !decode(w, r, &req) {
		return
	}
	s := newStream(w)
	a, err := d.Act(r.Context(), req, s.writer("stdout"), s.writer("stderr"))
	if err != nil {
		s.send(api.Event{Type: "error", Error: toError(err)})
		return
	}
	s.send(api.Event{Type: "action", Action: &a})
	s.send(api.Event{Type: "done"})
}
