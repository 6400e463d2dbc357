package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/krellin/krellin/api"
)

func (a *app) upCommand() *cobra.Command {
	var o struct {
		image, session, from, ca string
		allowNetwork             bool
	}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or reuse the repository's capsule and start a session",
		Long: `Create the repository's capsule, or reuse it, and start a session: the
workspace is checked out from --from (default HEAD) into a directory
Krellin owns, and the image is pinned by digest for the whole session.
With no flags and a session already running, up resumes it. --session
with an existing name switches to that session.

--image takes a tag, a repo digest or a local image ID (default
krellin/dev:1, or image in the config). --ca-bundle mounts a CA bundle
for https inside the capsule (default: ca_bundle in the config, or
KRELLIN_CA_BUNDLE).`,
		Example: `  krellin up
  krellin up --image krellin/busybox:1 --session fix-tests --from main`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.target(o.session)
			if err != nil {
				return err
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			req := a.upRequest(t, o.ca)
			req.Image, req.From, req.AllowNetwork = o.image, o.from, o.allowNetwork
			resp, err := c.Up(cmd.Context(), req)
			if err != nil {
				return err
			}
			for _, w := range resp.Warnings {
				fmt.Fprintln(a.stderr, "krellin: warning:", w)
			}
			verb := "resumed"
			if resp.Created {
				verb = "started"
			}
			fmt.Fprintf(a.stdout, "capsule %s\nsession %s (%s)\nbase    %s\nimage   %s (%s)\n",
				resp.Capsule, resp.Session, verb, resp.Base, resp.Image, resp.ImageRef)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "image for a new session: tag, repo digest or image ID")
	f.StringVar(&o.session, "session", "", "session name (new or existing)")
	f.StringVar(&o.from, "from", "", "base revision of a new session (default HEAD)")
	f.StringVar(&o.ca, "ca-bundle", "", "host CA bundle file to trust inside the capsule")
	f.BoolVar(&o.allowNetwork, "allow-network", false, "override: network egress for every action (recorded in the session)")
	return cmd
}

// upRequest starts a request for up from the config: the default image
// and the CA bundle (ca, or the config's), made absolute for the daemon.
func (a *app) upRequest(t api.Target, ca string) api.UpRequest {
	req := api.UpRequest{Target: t, DefaultImage: a.cfg.GetString("image"), CABundle: ca}
	if req.CABundle == "" {
		req.CABundle = a.cfg.GetString("ca_bundle")
	}
	if req.CABundle != "" {
		req.CABundle, _ = filepath.Abs(req.CABundle)
	}
	return req
}
