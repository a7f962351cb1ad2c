// Package lock defines reprobuild.lock: its types, its canonical text form, and import and
// export of other lock formats (@EXPLICIT, conda-lock.yml, environment.yml). It is pure.
//
// It may import internal/conda.
package lock
