// Package image turns installed file trees into deterministic OCI layers and images, and
// writes them as OCI layouts, docker archives or registry pushes. It is built on
// go-containerregistry's v1.Image and v1.Layer.
package image
