// Package testutil starts the real services that integration tests use: a buildkitd
// (root, native snapshotter, runc worker) and a docker-registry server on 127.0.0.1.
// When CI=true a test whose service cannot start fails; elsewhere it is skipped with the
// reason, so a developer machine without root or binaries still runs the unit tests.
//
// It may import the standard library, the BuildKit client and the PostgreSQL driver
// (StartPostgres runs a real cluster on 127.0.0.1); it is for tests only and
// must never be imported by non-test code.
package testutil
