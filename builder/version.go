package builder

import "github.com/reprobuild/reprobuild/internal/version"

// VersionInfo identifies the reprobuild binary.
type VersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	GoVersion string `json:"go"`
}

// Version reads the module version and VCS revision from the binary's build info.
// A binary built from a work tree reports "(devel)"; a revision is only known when the
// binary was built with VCS stamping.
func Version() VersionInfo {
	v := version.Get()
	return VersionInfo{Version: v.Version, Revision: v.Revision, GoVersion: v.GoVersion}
}
