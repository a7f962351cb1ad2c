#!/usr/bin/env bash
# Builds buildkitd and buildctl from the pinned github.com/moby/buildkit module and caches
# the binaries outside the clone, keyed by version. Prints the directory holding them.
# The pinned version is the one in go.mod, so the daemon matches the client library.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(cd "$here" && go list -m -f '{{.Version}}' github.com/moby/buildkit)
cache=${REPROBUILD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprobuild-ci}/buildkit-$version
if [ -x "$cache/buildkitd" ] && [ -x "$cache/buildctl" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
go mod download github.com/moby/buildkit@"$version" >&2
src=$(go list -m -f '{{.Dir}}' github.com/moby/buildkit@"$version" 2>/dev/null || true)
if [ -z "$src" ]; then
  src=$(go env GOMODCACHE)/github.com/moby/buildkit@$version
fi
tmp=$(mktemp -d "$cache/build.XXXXXX")
(
  cd "$src"
  # buildkit's go.mod has exclude directives, so "go install pkg@version" refuses it;
  # building inside the module directory works.
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X github.com/moby/buildkit/version.Version=$version" \
    -o "$tmp/" ./cmd/buildkitd ./cmd/buildctl
) >&2
mv "$tmp/buildkitd" "$cache/buildkitd"
mv "$tmp/buildctl" "$cache/buildctl"
rmdir "$tmp"
echo "$cache"
