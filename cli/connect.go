package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	c := api.NewClient(Socket())
	if _, err := c.Ping(ctx); err == nil {
		return c, nil
	}
	pid, logPath, err := startDaemon()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Ping(ctx); err == nil {
			fmt.Fprintf(a.stderr, "krellin: started the daemon (pid %d, socket %s, log %s)\n", pid, c.Socket, logPath)
			return c, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("started a daemon (pid %d) but it does not answer on %s; see %s", pid, c.Socket, logPath)
}

// startDaemon runs `krellin daemon` detached, logging to daemon.log.
func startDaemon() (int, string, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, "", fmt.Errorf("find krellin binary: %w", err)
	}
	home := Home()
	if err := os.MkdirAll(home, 0o700); err != nil {
		return 0, "", fmt.Errorf("create %s: %w", home, err)
	}
	logPath := filepath.Join(home, "daemon.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, "daemon")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, "", fmt.Errorf("start daemon: %w", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, logPath, nil
}
