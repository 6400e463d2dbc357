//go:build integration

package e2e

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageDriftNeverSubstitutes(t *testing.T) {
	e := newEnv(t)
	// The pinned image is the test's own, built on the busybox image with
	// a label that makes its ID unique, so removing it later is safe.
	name := "ke2e/" + filepath.Base(e.dir)
	tag, orig := name+":1", name+":orig"
	e.addImage(tag)
	e.addImage(orig)
	e.addImage(name + ":new")
	docker(t, "FROM "+image+"\nLABEL ke2e.test="+filepath.Base(e.dir)+"\n",
		"build", "-q", "-t", orig, "-t", tag, "-")
	pinned := imageID(t, tag)

	session := e.up("--image", tag)
	if got := e.status().Image; got != pinned {
		t.Fatalf("up pinned %s, want %s", got, pinned)
	}
	e.ok("run", "--", "sh", "-c", "echo v1 > v.txt")

	// The tag moves to another image.
	docker(t, string(tinyImage(t)), "import", "--change", "LABEL ke2e.test=moved", "-", name+":new")
	moved := imageID(t, name+":new")
	docker(t, "", "tag", moved, tag)

	t.Run("reset uses the pinned digest and warns that the tag moved", func(t *testing.T) {
		e := e.sub(t)
		r := e.ok("reset")
		if !strings.Contains(r.stderr, shortID(pinned)) || !strings.Contains(r.stderr, shortID(moved)) {
			t.Errorf("reset gave no warning naming the pinned %s and the tag's new %s:\n%s",
				shortID(pinned), shortID(moved), r)
		}
		note := e.git(e.repo, "notes", "--ref=krellin/"+session, "show", e.last().Commit)
		if !strings.Contains(note, shortID(pinned)) || !strings.Contains(note, shortID(moved)) {
			t.Errorf("the reset's note does not name both images:\n%s", note)
		}
		ctr := e.status().Container
		if got := docker(t, "", "inspect", "-f", "{{.Image}}", ctr); got != pinned {
			t.Errorf("the new container runs %s, want the pinned %s", got, pinned)
		}
	})

	t.Run("reset and replay fail when the pinned image is gone", func(t *testing.T) {
		e := e.sub(t)
		ws := e.workspace()
		docker(t, "", "rm", "-f", e.status().Container)
		docker(t, "", "rmi", orig)
		refs, files := e.refs(), snapshot(t, ws)

		for _, args := range [][]string{{"reset"}, {"replay"}} {
			r := e.run("", "", args...)
			if r.code == 0 || !strings.Contains(r.stderr, pinned) || !strings.Contains(r.stderr, moved) {
				t.Errorf("%s: want a failure naming the pinned %s and %s, now at %s: %s",
					args[0], pinned, tag, moved, r)
			}
			if got := e.refs(); got != refs {
				t.Errorf("%s changed refs:\nbefore:\n%s\nafter:\n%s", args[0], refs, got)
			}
			if d := diffSnapshots(files, snapshot(t, ws)); d != "" {
				t.Errorf("%s changed the workspace:\n%s", args[0], d)
			}
		}
		if n := e.removeContainers(); n != 0 {
			t.Errorf("%d container(s) were created from something other than the pinned image", n)
		}
	})
}

// tinyImage is a root filesystem of one file, for docker import.
func tinyImage(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	data := []byte("not the pinned image\n")
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
