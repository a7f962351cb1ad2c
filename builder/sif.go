package builder

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	apsif "github.com/apptainer/sif/v2/pkg/sif"

	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/sif"
)

// writeSIF writes the single-platform image of res as a SIF file at dest, with the
// runtime record ("runtime.json") and the SBOMs as metadata objects.
func writeSIF(ctx context.Context, res *ImageResult, dest string) error {
	if res.Image == nil {
		return &OutputError{Output: "sif:" + dest, Reason: fmt.Sprintf("a SIF file holds one platform; this recipe has %d: use oci:DIR, or one platform.targets entry", len(res.Platforms))}
	}
	mksquashfs, _ := exec.LookPath("mksquashfs")
	var objs []sif.Object
	if len(res.Records) > 0 {
		js, err := res.Records[0].JSON()
		if err != nil {
			return err
		}
		objs = append(objs, sif.Object{Name: "runtime.json", Data: js})
	}
	if len(res.Documents) > 0 {
		for _, a := range res.Documents[0].Documents {
			f := apsif.SBOMFormatSPDXJSON
			if a.MediaType == record.CycloneDXMediaType {
				f = apsif.SBOMFormatCycloneDXJSON
			}
			objs = append(objs, sif.Object{Name: a.Filename, Data: a.Data, SBOM: f})
		}
	}
	return sif.Write(ctx, res.Image, dest, sif.Options{
		Mksquashfs: mksquashfs, Owners: os.Geteuid() == 0, Objects: objs,
	})
}
