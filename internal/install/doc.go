// Package install extracts .conda and .tar.bz2 archives and links them into an
// environment prefix the way conda does (prefix replacement, noarch python, entry points,
// conda-meta records), refusing archives that would write outside the prefix.
//
// Linking is pure: Link and LinkAll turn archives into in-memory PackageTrees (entries
// relative to the image root, no owners or times), so every engine builds layers from
// the same values. Only WriteTree touches the disk, through an os.Root. Pre/post-link
// scripts are never run; their presence is reported for audit.
//
// Memory is bounded when the caller gives Options.SpoolDir: members above
// SpoolThreshold are streamed to spool files (Entry.Spool) and only files that need
// prefix replacement are loaded back; layers and trees stream them. An archive verified
// in place (Package.VerifySHA256) above 64 MiB is hashed in the pass that parses it,
// never copied.
//
// It may import internal/conda, github.com/klauspost/compress/zstd and the standard
// library.
package install
