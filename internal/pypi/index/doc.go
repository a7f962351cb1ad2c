// Package index reads Python package indexes through the simple repository API — the
// JSON form of PEP 691 first, the HTML form of PEP 503 otherwise — with
// data-requires-python, PEP 592 yanked files, file hashes, PEP 700 upload times and
// PEP 658 metadata files, and fetches wheels into the content-addressed cache.
//
// Nothing unverified enters the cache: wheels are stored by the sha256 the index
// published (a file without one is refused); metadata is cached only when a hash
// checked it or when it was read out of a verified wheel. Project pages are cached with
// their ETag/Last-Modified and revalidated; a page that parses as neither form is an
// error and is not cached. Mirrors are tried in order, with retries; offline mode uses
// the cache only.
//
// It may import internal/cas, internal/pypi/{pep440,pep508,wheel}, golang.org/x/net/html
// and the standard library. It reads no environment and no clock.
package index
