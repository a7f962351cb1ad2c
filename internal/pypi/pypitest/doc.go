// Package pypitest makes small real things for the tests of internal/pypi and its
// users: wheels built in memory (with RECORD, entry points, .data, extras, markers) and
// a package index on 127.0.0.1 that serves them through both forms of the simple
// repository API (PEP 503 HTML and PEP 691 JSON) with PEP 658 metadata, PEP 592 yanked
// files and PEP 700 upload times.
//
// Test support only: it imports the standard library and net/http/httptest.
package pypitest
