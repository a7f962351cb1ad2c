// Package record describes a built runtime: the runtime record written into every image
// (Path) and summarised in labels, the SPDX 2.3 and CycloneDX 1.6 SBOMs, the four-step
// audit report (scope, components, threats, mitigations) and REPRODUCE.md. Everything is
// generated from the recipe and lock, never by scanning an image.
//
// It is pure: values in, bytes out; no clock, environment, randomness or map order shapes
// its output (times such as the SBOM creation time are passed in). It may import recipes,
// internal/lock, internal/conda, internal/install (for the Entry type only) and the
// standard library.
package record
