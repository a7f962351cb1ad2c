#!/usr/bin/env bash
# What the interop, Dockerfile and activation tests need beyond .ci/run's packages:
# the CA bundle the Dockerfile test copies into the CLI image, and podman, the closest
# real reader of the docker-archive format here (`docker load` needs a Docker engine):
# the test loads our docker: output with `podman load` (vfs storage in a temporary
# directory, runc) and runs it. skopeo, umoci, runc and busybox-static come from
# .ci/run; crane is built from the pinned module by the tests.
# Idempotent; installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(ca-certificates podman)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
