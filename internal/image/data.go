package image

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/install"
)

// DataLayerFromFile builds the same layer as DataLayer for the regular file hostPath, but
// in constant memory: the layer is generated from the file once to learn its digests and
// again each time it is read. Every read checks the digest at the end, so a file changed
// after this call gives an error, never a layer that differs from its digest. Use it for
// data blocks too big to hold in memory.
func DataLayerFromFile(inImage, hostPath string, o LayerOptions) (v1.Layer, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	info, err := os.Stat(hostPath)
	if err != nil {
		return nil, fmt.Errorf("data for %s: %w", inImage, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("data for %s: %s is not a regular file", inImage, hostPath)
	}
	plan, err := planTar([]install.Entry{{Path: inImage, Type: install.TypeFile, Mode: defaultFileMode}})
	if err != nil {
		return nil, err
	}
	for i := range plan {
		if plan[i].path == inImage {
			plan[i].open = func() (io.ReadCloser, error) { return os.Open(hostPath) }
			plan[i].size = info.Size()
		}
	}
	l := &streamLayer{plan: plan, o: o}
	zsum, tsum := sha256.New(), sha256.New()
	var n countWriter
	if err := writeLayer(io.MultiWriter(zsum, &n), tsum, plan, o); err != nil {
		return nil, err
	}
	l.digest, l.diffID, l.size = sum(zsum), sum(tsum), int64(n)
	return l, nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// streamLayer regenerates its bytes from the host file on every read.
type streamLayer struct {
	plan           []tarEntry
	o              LayerOptions
	digest, diffID v1.Hash
	size           int64
}

func (l *streamLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *streamLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *streamLayer) Size() (int64, error)                { return l.size, nil }
func (l *streamLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

func (l *streamLayer) Compressed() (io.ReadCloser, error) {
	return l.stream(true, l.digest), nil
}

func (l *streamLayer) Uncompressed() (io.ReadCloser, error) {
	return l.stream(false, l.diffID), nil
}

func (l *streamLayer) stream(compressed bool, want v1.Hash) io.ReadCloser {
	pr, pw := io.Pipe()
	h := sha256.New()
	go func() {
		var err error
		if compressed {
			err = writeLayer(io.MultiWriter(pw, h), nil, l.plan, l.o)
		} else {
			err = writeLayer(nil, io.MultiWriter(pw, h), l.plan, l.o)
		}
		if err == nil {
			if got := sum(h); got != want {
				err = fmt.Errorf("data layer content is now %s, was %s: the file changed during the build", got, want)
			}
		}
		pw.CloseWithError(err)
	}()
	return &verified{pr: pr}
}

// verified closes the pipe so the writer goroutine ends when a reader stops early.
type verified struct{ pr *io.PipeReader }

func (v *verified) Read(p []byte) (int, error) { return v.pr.Read(p) }
func (v *verified) Close() error               { return v.pr.CloseWithError(io.ErrClosedPipe) }
