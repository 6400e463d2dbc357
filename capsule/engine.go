// Package capsule runs a repository's capsule: one container, created
// through the Docker Engine API from a pinned image, with the workspace at
// /workspace and the baseline safety settings every capsule gets.
package capsule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Errors callers test with errors.Is.
var (
	ErrEngineDown   = errors.New("docker engine not reachable")
	ErrNoImage      = errors.New("image not found")
	ErrNoContainer  = errors.New("capsule container not found")
	ErrImageDrifted = errors.New("image drifted")
)

// pingTimeout bounds how long a missing engine can make a command wait.
const pingTimeout = 3 * time.Second

// Engine is a connection to the Docker engine.
type Engine struct {
	cli *client.Client
}

// Connect reaches the engine named by the environment (DOCKER_HOST, or
// the default socket), negotiating the API version, and checks it answers.
func Connect(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	e := &Engine{cli: cli}
	if err := e.Ping(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return e, nil
}

// Ping checks the engine answers within a few seconds.
func (e *Engine) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := e.cli.Ping(ctx); err != nil {
		return engineDown(e.cli.DaemonHost(), err)
	}
	e.cli.NegotiateAPIVersion(ctx)
	return nil
}

// APIVersion is the API version agreed with the engine.
func (e *Engine) APIVersion() string { return e.cli.ClientVersion() }

// Close releases the connection.
func (e *Engine) Close() error { return e.cli.Close() }

func engineDown(host string, err error) error {
	return fmt.Errorf("%w at %s: %v (start it, e.g. `sudo systemctl start docker` or `dockerd &`, or point DOCKER_HOST at a running engine)",
		ErrEngineDown, host, err)
}

// classify maps engine errors to this package's kinds.
func (e *Engine) classify(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case client.IsErrConnectionFailed(err), errors.Is(err, context.DeadlineExceeded) && e.Ping(context.Background()) != nil:
		return engineDown(e.cli.DaemonHost(), err)
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w", what, errors.Join(ErrNoContainer, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}
