// Package pkgmaker writes real conda package archives (.conda and .tar.bz2) from a
// description: index.json, paths.json, link.json and payload files. Tests use it to make
// packages of any shape, and the examples' channels are generated with it. Output is
// byte-deterministic: fixed owners and times, sorted members, pinned compression levels.
// WriteShards turns a repodata.json into CEP 16 sharded repodata, for tests and
// benchmarks of sharded channels.
//
// It may import internal/conda, github.com/klauspost/compress/zstd,
// github.com/dsnet/compress/bzip2, github.com/vmihailenco/msgpack/v5 and the standard
// library.
package pkgmaker
