// Package recipes decodes and validates reprobuild.hcl recipes. Every problem is an
// hcl.Diagnostic with a source range, and all problems are reported in one pass. It is
// pure.
//
// It may import internal/conda, internal/pypi/pep508 (both pure) and HCL.
package recipes
