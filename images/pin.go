// Package images pins capsule images by digest and checks them for drift.
// Images are built locally (see scripts/build-images.sh); Krellin never
// pulls, so a pin is the local image ID, the digest of its config.
package images

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/krellin/krellin/capsule"
)

// Default is the image a capsule uses when none is given.
const Default = "krellin/dev:1"

// Pin is an image fixed at session start.
type Pin struct {
	Ref    string // what the user named: a tag, a digest or an ID
	Digest string // the image ID it resolved to: sha256:...
}

// Resolver looks up what an image reference names now.
type Resolver interface {
	ImageID(ctx context.Context, ref string) (string, error)
}

var _ Resolver = (*capsule.Engine)(nil)

// Resolve pins ref to the image it names now.
func Resolve(ctx context.Context, r Resolver, ref string) (Pin, error) {
	if ref == "" {
		ref = Default
	}
	id, err := r.ImageID(ctx, ref)
	if err != nil {
		return Pin{}, err
	}
	return Pin{Ref: ref, Digest: id}, nil
}

// Check makes sure the pinned digest still exists, so a reset or replay
// runs on exactly that image. If it is gone, the error names the recorded
// digest and what the reference points to now; nothing is substituted.
// When the digest exists but the reference has moved, Check still uses the
// digest and returns a warning naming both.
func Check(ctx context.Context, r Resolver, p Pin) (warning string, err error) {
	now, nowErr := "", error(nil)
	if p.Ref != "" && !strings.HasPrefix(p.Ref, "sha256:") {
		now, nowErr = r.ImageID(ctx, p.Ref)
	}
	if _, err := r.ImageID(ctx, p.Digest); err != nil {
		if !errors.Is(err, capsule.ErrNoImage) {
			return "", err
		}
		return "", drift(p, now, nowErr)
	}
	if now != "" && now != p.Digest {
		return fmt.Sprintf("image %s now points to %s; using the pinned %s", p.Ref, short(now), short(p.Digest)), nil
	}
	return "", nil
}

func drift(p Pin, now string, nowErr error) error {
	switch {
	case now != "":
		return fmt.Errorf("%w: pinned image %s is gone and %s now points to %s; refusing to substitute (rebuild or retag the pinned image, or start a new session with `krellin up --session NAME --image %s`)",
			capsule.ErrImageDrifted, p.Digest, p.Ref, now, p.Ref)
	case nowErr != nil && p.Ref != "":
		return fmt.Errorf("%w: pinned image %s is gone and %s no longer exists (rebuild it; Krellin never pulls)",
			capsule.ErrImageDrifted, p.Digest, p.Ref)
	}
	return fmt.Errorf("%w: pinned image %s is gone (rebuild it; Krellin never pulls)", capsule.ErrImageDrifted, p.Digest)
}

func short(d string) string {
	s := strings.TrimPrefix(d, "sha256:")
	if len(s) > 12 {
		s = s[:12]
	}
	return "sha256:" + s
}
