// Package record builds the runtime record, the SBOMs (SPDX and CycloneDX) and the audit
// report of a recipe and its lock. It is pure: values in, documents out.
//
// It may import recipes, internal/lock and internal/conda.
package record
