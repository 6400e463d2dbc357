package capsule

import (
	"context"
	"fmt"

	"github.com/docker/docker/errdefs"
)

// ImageID returns the local image ID (sha256:...) that ref names now. ref
// may be a tag, a repo digest or an image ID.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	img, _, err := e.cli.ImageInspectWithRaw(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", fmt.Errorf("image %s: %w locally (build it first, see DEVELOPERS.md; Krellin never pulls)", ref, ErrNoImage)
	}
	if err != nil {
		return "", e.classify("inspect image "+ref, err)
	}
	return img.ID, nil
}
