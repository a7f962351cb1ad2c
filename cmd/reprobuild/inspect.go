package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/record"
)

func newInspectCommand() *cobra.Command {
	var (
		platform string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "inspect REF|oci:DIR[:NAME]|oci-archive:FILE|docker:FILE",
		Short: "Print the runtime record of an image",
		Long: "Inspect prints the runtime record reprobuild wrote into an image (/" + record.Path + "):\n" +
			"interpreter, platform, hardware, packages, data and hashes. The image is a registry\n" +
			"reference (credentials from the Docker config; docker://REF also works), oci:DIR for an\n" +
			"OCI image layout (oci:DIR:NAME or oci:DIR@sha256:... to pick an entry), oci-archive:FILE\n" +
			"for a tar of one, or docker:FILE (also docker-archive:FILE) for a `docker save` archive\n" +
			"as `image --output docker:FILE` writes. The only image of an index is chosen by itself;\n" +
			"with several, --platform chooses. Images without the file fall back to their\n" +
			"io.reprobuild.* labels.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The keychain reads the Docker config and environment: that belongs here, not in
			// the library.
			in, err := builder.Inspect(cmd.Context(), args[0], builder.InspectOptions{
				Platform: platform,
				Remote:   []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)},
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := in.Record.JSON()
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			}
			fmt.Fprintf(out, "Image   %s\nDigest  %s\nID      %s\n", in.Ref, in.Digest, in.ID)
			if in.RecordPath != "" {
				fmt.Fprintf(out, "Record  %s\n\n", in.RecordPath)
			} else if in.Source == builder.SourceLabels {
				fmt.Fprintf(out, "Record  from labels only (the image has no /%s): summary fields\n\n", record.Path)
			} else {
				fmt.Fprintf(out, "Record  /%s\n\n", record.Path)
			}
			_, err = fmt.Fprint(out, in.Record.Text())
			return err
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "image of a multi-platform index: linux/amd64 or a conda subdir such as linux-64")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runtime record as JSON")
	return cmd
}
