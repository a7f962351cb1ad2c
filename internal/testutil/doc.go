// Package testutil starts the real services that integration tests use: a buildkitd
// (root, native snapshotter, runc) and a registry server on 127.0.0.1. When CI=true a test
// whose service cannot start fails; elsewhere it is skipped with the reason.
package testutil
