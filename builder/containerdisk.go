package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/recipes"
)

// containerDiskPath is where KubeVirt looks for the disk in a containerDisk image; 107 is
// the qemu user of KubeVirt's launcher.
const (
	containerDiskPath = "disk/disk.qcow2"
	containerDiskUID  = 107
)

// writeContainerDisk writes the VM disk (qcow2) as a KubeVirt containerDisk: an OCI
// layout at dest holding one linux/amd64 image whose single uncompressed layer is
// /disk/disk.qcow2 (owned by 107:107, mode 0440), every time the image's epoch. Push it
// by digest (e.g. `skopeo copy oci:DIR docker://REF`) and reference it from a
// VirtualMachine's containerDisk volume. With --push the tags get this image (see
// writeOutputs), and `launch --to kubernetes` pins its VirtualMachineInstance to it.
func writeContainerDisk(ctx context.Context, r *recipes.Recipe, res *ImageResult, o ImageOptions, dest string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dest)), ".reprobuild-containerdisk-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	disk := filepath.Join(tmp, "disk.qcow2")
	if err := writeVM(ctx, r, res, o, disk); err != nil {
		return err
	}
	epoch, err := vmEpoch(res)
	if err != nil {
		return err
	}
	layerPath := filepath.Join(tmp, "layer.tar")
	if err := containerDiskLayer(disk, layerPath, epoch); err != nil {
		return err
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCIUncompressedLayer))
	if err != nil {
		return err
	}
	diffID, err := layer.DiffID()
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		return err
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: epoch},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		Config: v1.Config{Labels: map[string]string{"io.reprobuild.vm.disk": "/" + containerDiskPath}},
	})
	if err != nil {
		return err
	}
	idx, err := image.Index([]v1.Image{img})
	if err != nil {
		return err
	}
	if err := image.WriteLayout(dest, idx); err != nil {
		return err
	}
	// For a push: the layout's, since the layer file above is removed on return.
	written, err := layout.ImageIndexFromPath(dest)
	if err != nil {
		return err
	}
	im, err := written.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) != 1 {
		return fmt.Errorf("internal error: the containerDisk layout %s has %d entries", dest, len(im.Manifests))
	}
	if res.containerDisk, err = written.ImageIndex(im.Manifests[0].Digest); err != nil {
		return err
	}
	res.ContainerDisk = im.Manifests[0].Digest.String()
	return nil
}

// vmEpoch is the creation time of the linux-64 image of res.
func vmEpoch(res *ImageResult) (time.Time, error) {
	img := res.Image
	if res.Index != nil {
		for _, p := range res.Platforms {
			if p.Platform == vmPlatform {
				h, err := v1.NewHash(p.Digest)
				if err != nil {
					return time.Time{}, err
				}
				if img, err = res.Index.Image(h); err != nil {
					return time.Time{}, err
				}
			}
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return time.Time{}, err
	}
	return cf.Created.Time.UTC(), nil
}

func containerDiskLayer(disk, out string, epoch time.Time) error {
	in, err := os.Open(disk)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, Uid: containerDiskUID, Gid: containerDiskUID,
			ModTime: epoch, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr("disk/", tar.TypeDir, 0o555, 0)); err != nil {
		return err
	}
	if err := tw.WriteHeader(hdr(containerDiskPath, tar.TypeReg, 0o440, st.Size())); err != nil {
		return err
	}
	if _, err := io.Copy(tw, in); err != nil {
		return fmt.Errorf("writing the containerDisk layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
