package record

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// SBOM media types, as registered by SPDX and CycloneDX; they are also the artifact types
// of the OCI referrers that attach the documents to an image.
const (
	SPDXMediaType      = "application/spdx+json"
	CycloneDXMediaType = "application/vnd.cyclonedx+json"
)

// SBOMOptions shape the parts of an SBOM that are not in the recipe or lock. The zero
// value is valid: creation time is Epoch(lock) and the tool version "(devel)".
type SBOMOptions struct {
	// Created is the document creation time. Pass SOURCE_DATE_EPOCH (read in cmd/) or
	// leave zero for Epoch(lock); never the wall clock, or the bytes change every build.
	Created time.Time
	// ReprobuildVersion names the tool in the document's creator fields.
	ReprobuildVersion string
	// LockHash is the sha256 of the lock file bytes; LockDigest(lock) when empty.
	LockHash string
}

func (o SBOMOptions) withDefaults(l *lock.Lock) SBOMOptions {
	if o.Created.IsZero() {
		o.Created = Epoch(l)
	}
	if o.ReprobuildVersion == "" {
		o.ReprobuildVersion = "(devel)"
	}
	if o.LockHash == "" {
		o.LockHash = LockDigest(l)
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	return o
}

// Epoch is the time a lock stands for: the newest upload timestamp among its packages,
// or the Unix epoch when no package has one. It is a pure function of the lock, so a
// rebuild gets the same SBOM bytes.
func Epoch(l *lock.Lock) time.Time {
	var ms int64
	for _, t := range l.Targets {
		for _, p := range t.Packages {
			ms = max(ms, p.Timestamp)
		}
	}
	return time.UnixMilli(ms).UTC().Truncate(time.Second)
}

// Artifact is one document to attach to an image, with its media type.
type Artifact struct {
	MediaType string
	// Filename is a conventional file name for the document.
	Filename string
	Data     []byte
}

// SBOMs returns the SPDX and CycloneDX documents of one platform of a lock, ready to be
// attached to the image as OCI referrers.
func SBOMs(r *recipes.Recipe, l *lock.Lock, platform string, o SBOMOptions) ([]Artifact, error) {
	s, err := SPDX(r, l, platform, o)
	if err != nil {
		return nil, err
	}
	c, err := CycloneDX(r, l, platform, o)
	if err != nil {
		return nil, err
	}
	return []Artifact{
		{MediaType: SPDXMediaType, Filename: "sbom.spdx.json", Data: s},
		{MediaType: CycloneDXMediaType, Filename: "sbom.cdx.json", Data: c},
	}, nil
}

// sbomInput is what both SBOM formats are generated from.
type sbomInput struct {
	name     string
	platform string
	target   *lock.Target
	packages []conda.PackageRecord
	channels map[string]string
	// id is a content hash of everything the document says, for namespaces and serials.
	id string
	o  SBOMOptions
}

func newSBOMInput(r *recipes.Recipe, l *lock.Lock, platform string, o SBOMOptions) (*sbomInput, error) {
	if r == nil || l == nil {
		return nil, fmt.Errorf("record: an SBOM needs both the recipe and the lock")
	}
	t, err := target(l, platform)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults(l)
	name := r.Image.Name
	if name == "" {
		name = "runtime"
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00", o.LockHash, l.RecipeHash, t.Platform, name, o.ReprobuildVersion, o.Created.Unix())
	return &sbomInput{
		name:     name,
		platform: t.Platform,
		target:   t,
		packages: sortedPackages(t.Packages),
		channels: channelNames(l),
		id:       hex.EncodeToString(h.Sum(nil)),
		o:        o,
	}, nil
}

// uuidV5 is an RFC 9562 version 5 (SHA-1, name-based) UUID of name in the URL namespace:
// the same content always gets the same UUID.
func uuidV5(name string) string {
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// dependencyNames are the package names a record's depends list mentions, in order.
func dependencyNames(p conda.PackageRecord) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range p.Depends {
		n := strings.Fields(d)
		if len(n) == 0 {
			continue
		}
		name := n[0]
		if i := strings.IndexAny(name, "[<>=!~"); i >= 0 {
			name = name[:i]
		}
		if i := strings.LastIndex(name, "::"); i >= 0 {
			name = name[i+2:]
		}
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
