//go:build integration

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentClientsAreSerialized(t *testing.T) {
	const clients, runs = 5, 10
	e := newEnv(t)
	e.up()
	ws := e.workspace()
	start := e.last().Seq

	// Each run appends the token it was given; the file's lines are the
	// order the runs really executed in.
	var wg sync.WaitGroup
	results := make([][]result, clients)
	errs := make(chan error, clients*runs)
	for c := range clients {
		wg.Go(func() {
			for i := range runs {
				tok := fmt.Sprintf("c%d-%d", c, i)
				r, err := e.exec("", "", "run", "--", "sh", "-c", `echo "$1" >> log.txt`, "sh", tok)
				if err != nil {
					errs <- err
				}
				results[c] = append(results[c], r)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for c, rs := range results {
		for i, r := range rs {
			if r.code != 0 {
				t.Errorf("client %d run %d: %s", c, i, r)
			}
		}
	}

	acts := e.log("")
	if got := len(acts) - 1 - start; got != clients*runs {
		t.Fatalf("the session has %d new actions, want %d", got, clients*runs)
	}
	var order []string
	for i, a := range acts {
		if a.Seq != i {
			t.Errorf("action %d has seq %d: want seqs without gaps", i, a.Seq)
		}
		if a.Seq > start {
			order = append(order, a.Argv[len(a.Argv)-1])
		}
	}
	b, err := os.ReadFile(filepath.Join(ws, "log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if !slices.Equal(lines, order) {
		t.Errorf("log.txt lines and commit order differ:\nfile:    %v\ncommits: %v", lines, order)
	}
	checkChain(e, e.status().Session, acts)
	e.fsck()
}
