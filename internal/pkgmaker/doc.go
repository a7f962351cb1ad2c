// Package pkgmaker writes real conda package archives (.conda and .tar.bz2) from a
// description: index.json, paths.json, link.json and payload files. Tests use it to make
// packages of any shape, and the examples' channels are generated with it. Output is
// byte-deterministic: fixed owners and times, sorted members, pinned compression levels.
//
// It may import internal/conda, github.com/klauspost/compress/zstd,
// github.com/dsnet/compress/bzip2 and the standard library.
package pkgmaker
