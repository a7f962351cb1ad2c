#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3) from
# their Go modules and caches the binaries outside the clone, keyed by version. Prints
# the directory holding them (nothing when they are not cached and REPROBUILD_KUBE is not
# 1). The launch tests start both on 127.0.0.1 to apply the generated Kubernetes Jobs and
# KubeVirt VMIs with a server-side dry run.
#
# Neither module builds as published: k8s.io/kubernetes replaces its k8s.io/* staging
# modules with ./staging/... and etcd's server replaces its sibling modules with ../...,
# directories a module zip does not carry. A copy of each with those replaces pointed at
# the published modules of the same release builds.
set -euo pipefail
kube=v1.37.2   # k8s.io/kubernetes; its staging modules are published as v0.37.2
staging=v0.37.2
etcd=v3.7.3
cache=${REPROBUILD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprobuild-ci}/kube-$kube-etcd-$etcd
if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ]; then
  echo "$cache"
  exit 0
fi
# A cold build of kube-apiserver takes far more than a few minutes on a 2-core machine
# (56 min measured on a loaded one), so it is opt-in: without REPROBUILD_KUBE=1 nothing
# is built or printed, and the dry-run test skips.
if [ "${REPROBUILD_KUBE:-}" != 1 ]; then
  echo "kube-apiserver and etcd are not cached in $cache: REPROBUILD_KUBE=1 bash .ci/kube.sh builds them (long)" >&2
  exit 0
fi
mkdir -p "$cache"
export CGO_ENABLED=0 GOTOOLCHAIN=local
# Sum database entries are checked as usual (GONOSUMDB is not set).
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

copy_module() { # module@version destination
  (cd "$work" && go mod download "$1" >&2)
  local dir
  dir=$(cd "$work" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}

if [ ! -x "$cache/kube-apiserver" ]; then
  copy_module "k8s.io/kubernetes@$kube" "$work/kubernetes"
  (
    cd "$work/kubernetes"
    rm -rf vendor go.work go.work.sum
    sed -i -E "s#^(\s*)(k8s\.io/[a-z-]+) => \./staging/src/k8s\.io/[a-z-]+\$#\1\2 => \2 $staging#" go.mod
    if grep -q '=> ./staging' go.mod; then
      echo "k8s.io/kubernetes $kube: a staging replace was not rewritten" >&2
      exit 1
    fi
    GOFLAGS=-mod=mod go build -trimpath -o "$work/kube-apiserver" ./cmd/kube-apiserver
  ) >&2
  mv "$work/kube-apiserver" "$cache/kube-apiserver"
fi

if [ ! -x "$cache/etcd" ]; then
  copy_module "go.etcd.io/etcd/server/v3@$etcd" "$work/etcd"
  (
    cd "$work/etcd"
    sed -i -E "s#^(\s*)(go\.etcd\.io/etcd/[a-z/]+/v3) => \.\./[a-z0-9/]+\$#\1\2 => \2 $etcd#" go.mod
    if grep -q '=> \.\./' go.mod; then
      echo "go.etcd.io/etcd/server/v3 $etcd: a sibling replace was not rewritten" >&2
      exit 1
    fi
    GOFLAGS=-mod=mod go build -trimpath -o "$work/etcd" .
  ) >&2
  mv "$work/etcd" "$cache/etcd"
fi
"$cache/kube-apiserver" --version >&2
"$cache/etcd" --version | head -n1 >&2
echo "$cache"
