// Package channel fetches conda repodata and package archives from channels (https,
// http, file:// and relative paths) with mirrors, retries, HTTP caching, credentials and
// an offline mode. Every package byte is verified by sha256 before it is used.
//
// It may import internal/conda and internal/cas.
package channel
