package patch

import (
	"fmt"
	"path"
	"strings"
)

// checkNames refuses names git apply would refuse, before anything is read:
// absolute paths, ".." and "." components, and anything inside a .git
// directory, matched without regard to case as git does.
func checkNames(fp *filePatch) error {
	for _, name := range []string{fp.oldName, fp.newName} {
		if name == "" {
			continue
		}
		if reason := badPath(name); reason != "" {
			return fmt.Errorf("path %q %s", name, reason)
		}
	}
	return nil
}

func badPath(name string) string {
	switch {
	case strings.HasPrefix(name, "/"):
		return "is absolute"
	case strings.ContainsRune(name, 0):
		return "contains a NUL byte"
	}
	for _, part := range strings.Split(name, "/") {
		switch {
		case part == "..":
			return `contains ".."`
		case part == "" || part == ".":
			return `has an empty or "." component`
		case strings.EqualFold(part, ".git"):
			return "is inside .git"
		}
	}
	return ""
}

// checkSymlinkName refuses a symlink named .gitmodules, which git refuses
// because git itself reads that file.
func checkSymlinkName(name string) error {
	if strings.EqualFold(path.Base(name), ".gitmodules") {
		return fmt.Errorf("path %q may not be a symlink", name)
	}
	return nil
}
