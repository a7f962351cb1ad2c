// Package channel fetches conda repodata and package archives from channels (https,
// http, file:// and relative paths resolved by the caller) with mirrors, retries,
// HTTP caching, credentials and an offline mode. Every package byte is verified by
// sha256 (and md5 when known) before it enters the cache. RepodataIndex indexes
// repodata by package name in one pass and caches the index, so a solve decodes only
// the records it reaches (read back from the cached raw document); parsed repodata
// (Repodata) is cached in a compact binary form so a warm run does not parse JSON.
// Vendor writes locked packages out as a file channel.
//
// It may import internal/conda, internal/cas, internal/fsutil, the standard library,
// klauspost/compress/zstd, vmihailenco/msgpack/v5 (CEP 16 sharded repodata) and
// golang.org/x/sync/errgroup. It reads no environment and no clock: callers pass
// credentials, the cache directory and (optionally) a clock as options.
package channel
