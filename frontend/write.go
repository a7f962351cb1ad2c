package frontend

import (
	"io"

	"github.com/moby/buildkit/client/llb"
	"google.golang.org/protobuf/proto"
)

// WriteDefinition writes def in the form `buildctl build` reads from stdin, like
// llb.WriteTo, but with map entries (op metadata, source locations) in sorted order:
// llb.WriteTo's encoder iterates maps randomly, so its bytes differ run to run.
func WriteDefinition(def *llb.Definition, w io.Writer) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(def.ToPB())
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
