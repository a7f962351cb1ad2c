//go:build cgo && linux

package main

// The BuildKit engine runs this very binary in its link steps, on an empty root file
// system, so it must be static (builder.LinkerDir refuses it otherwise). Where a C
// compiler is installed `go install` builds with cgo, and net and os/user then link
// against the shared libc; linking statically keeps `go install ./cmd/reprobuild` usable
// with --engine buildkit. main.go pins the pure-Go DNS resolver (netdns=go), so no
// name lookup goes through glibc's NSS, which a static binary cannot load reliably.

// #cgo LDFLAGS: -static
import "C"
