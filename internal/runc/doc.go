// Package runc turns a built image into an OCI runtime bundle and runs it with runc: it
// unpacks the image's flattened file system into a root directory (confined with
// os.Root, so no entry can write outside it), writes a runtime-spec config.json from the
// image config, the run's mounts and the GPU hook, and runs `runc run`, returning the
// container's exit status.
//
// It may import go-containerregistry, the OCI runtime-spec types and the standard
// library; it does not know about recipes or locks (builder passes plain options).
package runc
