package builder

import (
	"runtime/debug"
)

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
	v := VersionInfo{Version: "(devel)", Revision: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && v.Revision != "unknown" {
		v.Revision += "-dirty"
	}
	return v
}
