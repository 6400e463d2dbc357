package actions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditFile(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		wantErr  string // "" for success
		want     string // the file afterwards
	}{
		{"one match is replaced", "beta", "BETA", "", "alpha\nBETA\ngamma\n"},
		{"no match changes nothing", "delta", "x", "not found", "alpha\nbeta\ngamma\n"},
		{"three matches change nothing", "a\n", "x", "matches 3 times", "alpha\nbeta\ngamma\n"},
		{"empty new text deletes", "beta\n", "", "", "alpha\ngamma\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "f.txt"), []byte("alpha\nbeta\ngamma\n"), 0o600)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			spec, _ := json.Marshal(EditSpec{Old: tt.old, New: tt.new})
			rec := EditFile(root, Request{Kind: Edit, Path: "f.txt", Input: spec})
			if (tt.wantErr == "") != (rec.Error == "") || !strings.Contains(rec.Error, tt.wantErr) {
				t.Fatalf("error %q, want %q", rec.Error, tt.wantErr)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "f.txt"))
			if string(got) != tt.want {
				t.Fatalf("file %q, want %q", got, tt.want)
			}
			if fi, _ := os.Stat(filepath.Join(dir, "f.txt")); fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want the file's own 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestEditFile_RefusesLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("key=1\n"), 0o600)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	spec, _ := json.Marshal(EditSpec{Old: "key=1", New: "key=2"})
	rec := EditFile(root, Request{Kind: Edit, Path: "link", Input: spec})
	if rec.Error == "" {
		t.Fatal("edit through a symlink succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "secret")); string(got) != "key=1\n" {
		t.Fatalf("the file outside changed: %q", got)
	}
}
