// Package version reads which reprobuild binary is running from its Go build info, so
// the CLI and the gateway frontend record the same version without one importing the
// other. It may import only the standard library.
package version

import "runtime/debug"

// Info identifies the reprobuild binary.
type Info struct {
	Version   string
	Revision  string
	GoVersion string
}

// Get reads the module version and VCS revision from the binary's build info. A binary
// built from a work tree reports "(devel)"; a revision is only known when the binary was
// built with VCS stamping.
func Get() Info {
	v := Info{Version: "(devel)", Revision: "unknown"}
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
