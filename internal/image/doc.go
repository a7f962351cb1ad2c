// Package image turns installed file trees into deterministic OCI layers and images, and
// writes them as OCI layouts, docker archives or registry pushes. It is built on
// go-containerregistry's v1.Image and v1.Layer.
//
// Everything that shapes output bytes is a pure function of its arguments: no clock,
// environment, randomness or map order. Layers are tar streams with sorted entries and
// normalised headers, compressed with a pinned gzip (klauspost/compress at a fixed level)
// so a Go toolchain upgrade cannot change a digest silently. Network and disk I/O happen
// only in LoadBase, WriteLayout, WriteDockerArchive and Push.
//
// It may import the standard library, go-containerregistry, klauspost/compress,
// internal/install (for install.Entry), internal/progress (Push reports its bytes) and
// internal/fsutil (atomic output replacement);
// nothing else of ours.
package image
