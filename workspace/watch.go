package workspace

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchMask is every change to a directory's entries that can alter the
// recorded tree.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF |
	unix.IN_MOVE_SELF | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// watcher tells which directories changed since the last scan, through
// inotify on every recorded directory. Writes from the capsule arrive
// through the bind mount as events on the same inodes. What inotify cannot
// see (writes through a shared mmap) is picked up by the next full scan.
type watcher struct {
	fd    int
	paths map[int32]string // watch descriptor to directory path
}

func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &watcher{fd: fd, paths: map[int32]string{}}, nil
}

func (w *watcher) close() { unix.Close(w.fd) }

// add watches the open directory f, known as rel. The watch goes through
// /proc/self/fd, so it lands on exactly the directory opened beneath the
// root, whatever the path now names.
func (w *watcher) add(f *os.File, rel string) error {
	wd, err := unix.InotifyAddWatch(w.fd, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), watchMask)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dirName(rel), err)
	}
	w.paths[int32(wd)] = rel
	return nil
}

// changes is what the events since the last drain say.
type changes struct {
	dirty map[string]bool // directories whose entries changed
	full  bool            // a full scan is needed
}

// drain reads every pending event without blocking.
func (w *watcher) drain() (changes, error) {
	c := changes{dirty: map[string]bool{}}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("read inotify: %w", err)
		}
		w.parse(buf[:n], &c)
	}
}

func (w *watcher) parse(b []byte, c *changes) {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		b = b[end:]
		w.note(ev, name, c)
	}
}

// note folds one event into c.
func (w *watcher) note(ev *unix.InotifyEvent, name string, c *changes) {
	dir, known := w.paths[ev.Wd]
	switch {
	case ev.Mask&unix.IN_Q_OVERFLOW != 0:
		c.full = true
	case ev.Mask&unix.IN_IGNORED != 0:
		delete(w.paths, ev.Wd)
	case !known:
		c.full = true
	case ev.Mask&unix.IN_ISDIR != 0 && ev.Mask&(unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0:
		// A moved directory keeps its watch under the old path.
		c.full = true
	case name == ".gitignore":
		// Ignore rules changed for a whole subtree.
		c.full = true
	case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		if dir != "" {
			c.dirty[parentDir(dir)] = true
		} else {
			c.full = true
		}
	default:
		c.dirty[dir] = true
	}
}

// parentDir is the directory holding rel; "" is the workspace itself.
func parentDir(rel string) string {
	if d := path.Dir(rel); d != "." {
		return d
	}
	return ""
}
