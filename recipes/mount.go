package recipes

import (
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DataSource is a parsed mount source of a data block.
type DataSource struct {
	// Kind is "host" (a path on the machine that runs the image; relative paths are
	// relative to the recipe), "pvc" (a Kubernetes PersistentVolumeClaim) or "nfs".
	Kind string
	// Path is the host path, or the export path of an NFS server.
	Path string
	// Claim is the PersistentVolumeClaim name.
	Claim string
	// Server is the NFS server.
	Server string
}

// dnsSubdomain is a Kubernetes object name (RFC 1123 subdomain), as a claim name must be.
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ParseDataSource parses a data block's source: "host:PATH", "pvc:CLAIM" or
// "nfs:SERVER:/EXPORT". The error says which form was expected.
func ParseDataSource(s string) (DataSource, string) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return DataSource{}, "write host:PATH, pvc:CLAIM or nfs:SERVER:/EXPORT"
	}
	switch kind {
	case "host":
		return DataSource{Kind: "host", Path: rest}, ""
	case "pvc":
		if len(rest) > 253 || !dnsSubdomain.MatchString(rest) {
			return DataSource{}, "a claim name is lowercase letters, digits, '-' and '.' (a Kubernetes object name)"
		}
		return DataSource{Kind: "pvc", Claim: rest}, ""
	case "nfs":
		server, export, ok := strings.Cut(rest, ":")
		if !ok || server == "" || !path.IsAbs(export) {
			return DataSource{}, "write nfs:SERVER:/EXPORT, with an absolute export path"
		}
		return DataSource{Kind: "nfs", Server: server, Path: path.Clean(export)}, ""
	}
	return DataSource{}, "the kind before ':' must be host, pvc or nfs"
}

// decodeDataSource checks the optional source of a data block: only mounts have one.
func (d *decoder) decodeDataSource(attr *hcl.Attribute, ds *Data) {
	if attr == nil {
		return
	}
	var s string
	if !d.stringAttr(attr, &s) {
		return
	}
	if ds.Mode != "mount" {
		d.errorf(attr.Expr.Range(), "Source on a baked data block", "Data %q is baked into the image, so it has no mount source: remove source, or set mode = \"mount\".", ds.Name)
		return
	}
	if _, why := ParseDataSource(s); why != "" {
		d.errorf(attr.Expr.Range(), "Invalid data source", "%q is not a mount source: %s.", s, why)
		return
	}
	ds.Source, ds.SourceRange = s, attr.Expr.Range()
}

// decodeCPUs reads hardware.cpus, the number of cores a run asks for.
func (d *decoder) decodeCPUs(attr *hcl.Attribute) {
	if attr == nil {
		return
	}
	h := &d.recipe.Hardware
	d.intAttr(attr, &h.CPUs)
	if h.CPUs < 0 {
		d.errorf(attr.Expr.Range(), "Invalid CPU count", "cpus must be 0 or more, got %d.", h.CPUs)
		h.CPUs = 0
	}
}
