// Package lock defines reprobuild.lock: its types, its canonical text form, the checks
// that tell a stale or unusable lock, and import and export of other lock formats
// (@EXPLICIT, conda-lock.yml, environment.yml). It is pure: it works on bytes and
// values and does no I/O.
//
// It may import internal/conda and a YAML decoder (go.yaml.in/yaml/v3) for the
// conda-lock and environment.yml formats.
package lock
