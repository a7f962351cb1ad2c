// Package sif writes an image as a SIF file (the Singularity Image Format that Apptainer
// runs), byte-identical across rebuilds: the image's flattened file system as a squashfs
// partition made by mksquashfs with every time, owner and mode pinned, plus Apptainer's
// /.singularity.d run script and environment, and the runtime record and SBOMs as
// metadata objects. The container layout is written with github.com/apptainer/sif, the
// format's own library, with its id derived from the image digest and its times from the
// image's creation time.
//
// It may import internal/runc (to unpack the image), go-containerregistry, the sif library
// and the standard library.
package sif
