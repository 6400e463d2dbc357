// Command krellin is the Krellin command line and daemon.
package main

import (
	"context"
	"os"

	"github.com/krellin/krellin/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
