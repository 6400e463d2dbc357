// Command bench measures Krellin against the raw Docker baseline in one
// run and prints the ratios the foundation issue sets as goals:
//
//   - `krellin run -- true` against `docker exec <capsule> true` (≤ 1.5)
//   - `krellin run -- true` on a 10,000-file workspace against a 10-file
//     one (≤ 1.3: recording must not rehash the whole tree)
//   - `krellin reset` on the 10,000-file workspace against `docker rm -f`
//     plus `docker run -d` of the same image (≤ 2)
//
// Measurements alternate between the two sides so that drift in the
// machine's load affects both alike. Run it with `make bench`.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type bench struct {
	bin   string // directory holding krellin and krellin-exec
	image string
	home  string
	n     int
}

func main() {
	b := bench{}
	flag.StringVar(&b.bin, "bin", "bin", "directory with the krellin binaries")
	flag.StringVar(&b.image, "image", "krellin/busybox:1", "capsule image")
	flag.IntVar(&b.n, "n", 25, "samples per measurement")
	flag.Parse()
	if err := b.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (b *bench) run() error {
	bin, err := filepath.Abs(b.bin)
	if err != nil {
		return err
	}
	b.bin = bin
	tmp, err := os.MkdirTemp("", "kbench-")
	if err != nil {
		return err
	}
	b.home = filepath.Join(tmp, "home")
	defer b.cleanup(tmp)

	small, err := makeRepo(filepath.Join(tmp, "small"), 10)
	if err != nil {
		return err
	}
	large, err := makeRepo(filepath.Join(tmp, "large"), 10000)
	if err != nil {
		return err
	}
	for _, r := range []string{small, large} {
		if _, err := b.krellin(r, "up", "--image", b.image); err != nil {
			return err
		}
	}
	ctr, err := b.container(small)
	if err != nil {
		return err
	}

	fmt.Printf("krellin bench: %d samples each, image %s\n\n", b.n, b.image)
	fmt.Printf("%-52s %10s %10s %7s %6s\n", "measurement", "krellin", "baseline", "ratio", "goal")
	run1, exec1, err := b.pair(
		func() error { _, err := b.krellin(small, "run", "--", "true"); return err },
		func() error { return sh("docker", "exec", ctr, "true") })
	if err != nil {
		return err
	}
	report("run -- true  vs  docker exec true", run1, exec1, 1.5)

	runL, runS, err := b.pair(
		func() error { _, err := b.krellin(large, "run", "--", "true"); return err },
		func() error { _, err := b.krellin(small, "run", "--", "true"); return err })
	if err != nil {
		return err
	}
	report("run -- true  10,000 files vs 10 files", runL, runS, 1.3)

	name := fmt.Sprintf("kbench-raw-%d", os.Getpid())
	defer sh("docker", "rm", "-f", name)
	if err := sh("docker", "run", "-d", "--name", name, "--label", "dev.krellin.bench=1", b.image, "sleep", "3600"); err != nil {
		return err
	}
	reset, raw, err := b.pair(
		func() error { _, err := b.krellin(large, "reset"); return err },
		func() error {
			if err := sh("docker", "rm", "-f", name); err != nil {
				return err
			}
			return sh("docker", "run", "-d", "--name", name, "--label", "dev.krellin.bench=1", b.image, "sleep", "3600")
		})
	if err != nil {
		return err
	}
	report("reset (10,000 files)  vs  docker rm -f + run -d", reset, raw, 2)
	return nil
}

// pair times a and b alternately, after one warm-up of each.
func (b *bench) pair(a, c func() error) (ta, tc []time.Duration, err error) {
	if err := a(); err != nil {
		return nil, nil, err
	}
	if err := c(); err != nil {
		return nil, nil, err
	}
	for i := 0; i < b.n; i++ {
		d, err := timed(a)
		if err != nil {
			return nil, nil, err
		}
		ta = append(ta, d)
		if d, err = timed(c); err != nil {
			return nil, nil, err
		}
		tc = append(tc, d)
	}
	return ta, tc, nil
}

func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func report(what string, a, b []time.Duration, goal float64) {
	ma, mb := median(a), median(b)
	ratio := float64(ma) / float64(mb)
	verdict := "met"
	if ratio > goal {
		verdict = "MISSED"
	}
	fmt.Printf("%-52s %10s %10s %7.2f %6s  %s\n", what, ma.Round(100*time.Microsecond), mb.Round(100*time.Microsecond), ratio, fmt.Sprintf("≤%.1f", goal), verdict)
}

// makeRepo creates a git repository with n small files in 100-file
// directories and one commit.
func makeRepo(dir string, n int) (string, error) {
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			return "", err
		}
	}
	git := func(args ...string) error {
		cmd := exec.Command("git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@localhost"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-qm", "bench"}} {
		if err := git(args...); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (b *bench) krellin(repo string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(b.bin, "krellin"), append([]string{"-C", repo}, args...)...)
	cmd.Env = append(os.Environ(), "KRELLIN_HOME="+b.home)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return "", fmt.Errorf("krellin %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return string(out), nil
}

func (b *bench) container(repo string) (string, error) {
	out, err := b.krellin(repo, "status", "--json")
	if err != nil {
		return "", err
	}
	i := strings.Index(out, `"container": "`)
	if i < 0 {
		return "", fmt.Errorf("no container in status: %s", out)
	}
	rest := out[i+len(`"container": "`):]
	return rest[:strings.Index(rest, `"`)], nil
}

func (b *bench) cleanup(tmp string) {
	for _, r := range []string{"small", "large"} {
		b.krellin(filepath.Join(tmp, r), "rm")
	}
	if pid, err := os.ReadFile(filepath.Join(b.home, "daemon.pid")); err == nil {
		sh("kill", strings.TrimSpace(string(pid)))
	}
	os.RemoveAll(tmp)
}

func sh(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
