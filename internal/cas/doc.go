// Package cas is a content-addressed file store keyed by sha256, with atomic writes and
// file locks so that several reprobuild processes can share one cache directory.
//
// It imports the standard library and internal/fsutil (to clean what killed writers of
// other kinds left in cas/tmp).
package cas
