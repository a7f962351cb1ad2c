package wheel

import (
	"bufio"
	"bytes"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
)

// Metadata is what a resolver needs from a distribution's core metadata (METADATA,
// or the PEP 658 file an index serves beside a wheel).
type Metadata struct {
	Name           string // as written
	Version        pep440.Version
	RequiresDist   []pep508.Requirement
	RequiresPython pep440.Specifiers
	ProvidesExtra  []string // normalised
}

// ParseMetadata reads core metadata (RFC 822 style headers; the body is ignored).
func ParseMetadata(b []byte) (*Metadata, error) {
	// The header block ends at the first empty line; the description may follow.
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i+1]
	}
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.TrimRight(b, "\r\n"), "\n\n"...))))
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil, fmt.Errorf("reading core metadata: %w", err)
	}
	m := &Metadata{Name: strings.TrimSpace(h.Get("Name"))}
	if m.Name == "" {
		return nil, fmt.Errorf("core metadata has no Name")
	}
	if m.Version, err = pep440.Parse(strings.TrimSpace(h.Get("Version"))); err != nil {
		return nil, fmt.Errorf("core metadata of %s: %w", m.Name, err)
	}
	for _, s := range h.Values("Requires-Dist") {
		req, err := pep508.ParseRequirement(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("core metadata of %s: Requires-Dist %q: %w", m.Name, s, err)
		}
		m.RequiresDist = append(m.RequiresDist, req)
	}
	if rp := strings.TrimSpace(h.Get("Requires-Python")); rp != "" {
		if m.RequiresPython, err = pep440.ParseSpecifiers(rp); err != nil {
			return nil, fmt.Errorf("core metadata of %s: Requires-Python: %w", m.Name, err)
		}
	}
	for _, e := range h.Values("Provides-Extra") {
		m.ProvidesExtra = append(m.ProvidesExtra, pep508.NormalizeName(strings.TrimSpace(e)))
	}
	return m, nil
}
