// Package testutil holds what several test packages share: the real services that
// integration tests use (a buildkitd with root, native snapshotter and runc worker; a
// docker-registry server on 127.0.0.1), the static reprobuild binaries built once per
// test run (StaticBinaries), file trees of images and directories compared across
// engines (TreeFromImage, TreeFromDir, ImageFile), OCI layout and archive readers and
// writers (OCILayout, LayoutImage, OCIArchiveImage, WriteLayout), a runc bundle runner
// (RuncSpec, RuncRun), and file readers that fail the test (ReadFile, WriteFile,
// ReadJSON), so each helper is written once for every test package.
// When CI=true a test whose service cannot start fails; elsewhere it is skipped with the
// reason, so a developer machine without root or binaries still runs the unit tests.
// The one exception is StartKubeAPIServer (etcd and kube-apiserver on 127.0.0.1 for
// server-side dry runs): it skips when kube-apiserver was not built, since .ci/kube.sh
// builds it only on request (a cold build takes most of an hour on 2 cores).
//
// It may import the standard library, go-containerregistry, the BuildKit client and the
// PostgreSQL driver (StartPostgres runs a real cluster on 127.0.0.1); it is for tests
// only and must never be imported by non-test code (internal/depcheck checks).
package testutil
