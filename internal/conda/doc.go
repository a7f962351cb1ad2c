// Package conda models conda package metadata exactly as conda reads it: versions and
// their ordering, version specs, match specs, package records, repodata documents,
// platforms and virtual packages.
//
// It is pure: it imports only the standard library and does no I/O beyond decoding the
// bytes it is given. Everything else in reprobuild that talks about packages uses these
// types.
package conda
