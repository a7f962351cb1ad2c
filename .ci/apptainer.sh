#!/usr/bin/env bash
# Prints the path of an apptainer binary for TestApptainerRunsSIF, or nothing. Apptainer
# is not packaged for Debian 12; v1.4.3 of its Go module is served by the module proxy but
# is absent from the checksum database, and it builds only with its own build system
# (cgo, about 47 min on a loaded 2-core machine). So, as for kube-apiserver (.ci/kube.sh),
# the build is opt-in: with REPROBUILD_APPTAINER_BUILD=1 it is built into the tools cache
# (a relocatable, non-setuid install); otherwise a cached install is used when present
# and the test skips when there is none.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
version=v1.4.3
prefix=$ci_cache/apptainer-$version
# Run time: squashfuse and fuse2fs mount the SIF's file system without privileges.
runtime_pkgs=(squashfuse fuse2fs fuse-overlayfs uidmap)
if [ -x "$prefix/bin/apptainer" ]; then
  ci_apt_install "${runtime_pkgs[@]}"
  echo "$prefix/bin/apptainer"
  exit 0
fi
if [ "${REPROBUILD_APPTAINER_BUILD:-}" != 1 ]; then
  echo "apptainer $version is not cached in $prefix: REPROBUILD_APPTAINER_BUILD=1 bash .ci/apptainer.sh builds it (long; skips the checksum database for this one module)" >&2
  exit 0
fi
ci_apt_install "${runtime_pkgs[@]}" build-essential libseccomp-dev pkg-config cryptsetup
work=$(mktemp -d "$ci_cache/apptainer-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
(
  cd "$work"
  export GONOSUMDB=github.com/apptainer/apptainer GOFLAGS=-mod=mod
  dir=$(go mod download -json "github.com/apptainer/apptainer@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  cp -r "$dir" src && chmod -R u+w src
  cd src
  echo "${version#v}" > VERSION
  ./mconfig --without-suid -b "$work/build" -p "$work/prefix"
  make -C "$work/build"
  make -C "$work/build" install
) >&2
mv "$work/prefix" "$prefix"
echo "$prefix/bin/apptainer"
