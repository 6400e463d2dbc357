//go:build integration

// Package e2e tests Krellin end to end: the real krellin and krellin-exec
// binaries, built with the race detector, against a real Docker engine and
// real git. Each test gets its own state directory, daemon and repository,
// and checks what a user would see: exit statuses, output, the session's
// git history and the files on the host.
//
// Run with: go test -race -tags integration -count=1 ./e2e/
package e2e
