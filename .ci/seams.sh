#!/usr/bin/env bash
# What the interop, Dockerfile and activation tests need beyond .ci/run's packages:
# the CA bundle the Dockerfile test copies into the CLI image, and podman, the closest
# real reader of the docker-archive format here (`docker load` needs a Docker engine):
# the test loads our docker: output with `podman load` (vfs storage in a temporary
# directory, runc) and runs it. skopeo, umoci, runc and busybox-static come from
# .ci/run; crane is built from the pinned module by the tests.
# Idempotent; installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ci_apt_install ca-certificates podman
