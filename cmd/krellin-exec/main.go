//go:build linux

// Command krellin-exec runs one agent command inside the capsule container
// and leaves nothing behind: when the command ends, times out or is
// cancelled, everything it started is killed and reaped. Krellin
// bind-mounts it, statically linked, at /.krellin/krellin-exec and runs
// every command through it with docker exec.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/krellin/krellin/execwrap"
)

const usage = `usage: krellin-exec [--timeout DUR] [--id ACTIONID] -- CMD [ARG...]
       krellin-exec --cancel ACTIONID
       krellin-exec --idle
       krellin-exec --sweep

Runs CMD and, once it exits, kills everything it left running and exits
with CMD's status (128+N if signal N ended it). Exits 124 on timeout, 126
if CMD cannot be started and 127 if it is not found. --cancel exits 0 if
it stopped a run and 1 if none was running. --idle waits until a signal
ends it: the capsule's main process, which keeps the container up.

Examples:
  krellin-exec --timeout 2m --id a1 -- make test
  krellin-exec --cancel a1

Flags:
`

func main() {
	timeout := flag.Duration("timeout", 0, "kill CMD after `DUR` and exit 124 (0: no limit)")
	id := flag.String("id", "", "label the run `ACTIONID` for --cancel")
	cancel := flag.String("cancel", "", "stop the run labelled `ACTIONID`")
	idle := flag.Bool("idle", false, "wait for a signal and exit 0")
	sweep := flag.Bool("sweep", false, "kill every process but the init and the idle one")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.Parse()

	switch {
	case *sweep && flag.NArg() == 0:
		if _, err := execwrap.Sweep(); err != nil {
			fmt.Fprintln(os.Stderr, "krellin-exec: sweep:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case *idle && flag.NArg() == 0:
		waitForSignal()
		os.Exit(0)
	case *cancel != "" && flag.NArg() == 0:
		os.Exit(cancelRun(*cancel))
	case *cancel == "" && flag.NArg() > 0 && *timeout >= 0:
		os.Exit(execwrap.Run(execwrap.Options{
			Args:     flag.Args(),
			Timeout:  *timeout,
			ActionID: *id,
		}))
	}
	flag.Usage()
	os.Exit(2)
}

// cancelRun stops the run labelled id and returns the exit code.
func cancelRun(id string) int {
	n, err := execwrap.Cancel(id)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "krellin-exec: cancel %s: %v\n", id, err)
		return 1
	case n == 0:
		fmt.Fprintf(os.Stderr, "krellin-exec: no run labelled %s\n", id)
		return 1
	}
	return 0
}

// waitForSignal blocks until SIGTERM, SIGINT or SIGHUP.
func waitForSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-c
}
