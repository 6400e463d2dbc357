package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/krellin/krellin/api"
)

// Home is the state directory: KRELLIN_HOME, or krellin under the user's
// XDG state directory.
func Home() string {
	if h := os.Getenv("KRELLIN_HOME"); h != "" {
		return h
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "krellin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "krellin")
}

// Socket is the daemon's socket: KRELLIN_SOCKET, or daemon.sock in Home.
func Socket() string {
	if s := os.Getenv("KRELLIN_SOCKET"); s != "" {
		return s
	}
	return filepath.Join(Home(), "daemon.sock")
}

// client returns a client for a daemon that answers, starting one in the
// background when none does, and saying so.
func (a *app) client(ctx context.Context) (*api.Client, error) {
	sock := Socket()
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("socket path %s is %d bytes, over the %d a Unix socket allows; set a shorter KRELLIN_HOME or KRELLIN_SOCKET", sock, len(sock), maxSocketPath)
	}
	c := api.NewClient(sock)
	if p, err := c.Ping(ctx); err == nil {
		if mine := os.Getenv("DOCKER_HOST"); p.DockerHost != mine {
			fmt.Fprintf(a.stderr, "krellin: warning: the running daemon (pid %d) uses DOCKER_HOST=%q, not yours (%q); stop it (kill %d) and the next command starts one with yours\n",
				p.PID, p.DockerHost, mine, p.PID)
		}
		return c, nil
	}
	d, err := startDaemon()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Ping(ctx); err == nil {
			fmt.Fprintf(a.stderr, "krellin: started the daemon (pid %d, socket %s, log %s)\n", d.pid, c.Socket, d.log)
			return c, nil
		}
		select {
		case <-d.exited:
			// Another client's daemon may have won the race for the socket.
			if _, err := c.Ping(ctx); err == nil {
				return c, nil
			}
			return nil, fmt.Errorf("the daemon exited at once: %s (full log: %s)", lastLine(d.log), d.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("started a daemon (pid %d) but it does not answer on %s; see %s", d.pid, c.Socket, d.log)
}

// maxSocketPath is the longest path a Unix socket address holds on Linux.
const maxSocketPath = 107

// started is a daemon this client launched.
type started struct {
	pid    int
	log    string
	exited chan struct{} // closed when the process ends
}

// lastLine returns the last non-empty line of a file.
func lastLine(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// startDaemon runs `krellin daemon` in its own session, logging to
// daemon.log. It inherits this client's environment, DOCKER_HOST included.
func startDaemon() (started, error) {
	self, err := os.Executable()
	if err != nil {
		return started{}, fmt.Errorf("find krellin binary: %w", err)
	}
	home := Home()
	if err := os.MkdirAll(home, 0o700); err != nil {
		return started{}, fmt.Errorf("create %s: %w", home, err)
	}
	logPath := filepath.Join(home, "daemon.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return started{}, fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, "daemon")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return started{}, fmt.Errorf("start daemon: %w", err)
	}
	d := started{pid: cmd.Process.Pid, log: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}
