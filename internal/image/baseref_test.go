package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseBaseRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		ref  string
		want BaseRef
	}{
		{"scratch", BaseRef{Kind: BaseScratch}},
		{"debian:bookworm-slim", BaseRef{Kind: BaseRegistry, Name: "index.docker.io/library/debian"}},
		{"debian:bookworm-slim@" + d, BaseRef{Kind: BaseRegistry, Name: "index.docker.io/library/debian", Digest: d}},
		{"ghcr.io/lab/py@" + d, BaseRef{Kind: BaseRegistry, Name: "ghcr.io/lab/py", Digest: d}},
		{"127.0.0.1:5000/x", BaseRef{Kind: BaseRegistry, Name: "127.0.0.1:5000/x"}},
		{"oci:/srv/base", BaseRef{Kind: BaseLayout, Name: "/srv/base"}},
		{"oci:rel/dir@x@" + d, BaseRef{Kind: BaseLayout, Name: "rel/dir@x", Digest: d}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ParseBaseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, ref := range []string{"", "oci:", "oci:@" + d, "oci:dir@sha256:zz", "Upper/Case", "a b", "x@sha256:12"} {
		t.Run("bad "+ref, func(t *testing.T) {
			_, err := ParseBaseRef(ref)
			var be *BaseError
			if !errors.As(err, &be) {
				t.Errorf("err = %v, want *BaseError", err)
			}
		})
	}
}

// FuzzParseBaseRef: no panics; an accepted reference prints to a form that parses back to
// the same value, and a digest, if any, is a valid sha256 hash.
func FuzzParseBaseRef(f *testing.F) {
	for _, s := range []string{"scratch", "debian:12", "oci:/a@sha256:" + strings.Repeat("0", 64), "r.io/a/b:c@sha256:" + strings.Repeat("f", 64), "oci:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		br, err := ParseBaseRef(ref)
		if err != nil {
			return
		}
		if br.Digest != "" {
			if _, err := v1.NewHash(br.Digest); err != nil {
				t.Fatalf("%q: digest %q is not a hash: %v", ref, br.Digest, err)
			}
		}
		again, err := ParseBaseRef(br.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", ref, br.String(), err)
		}
		if again != br {
			t.Fatalf("%q -> %+v -> %q -> %+v", ref, br, br.String(), again)
		}
	})
}
