#!/usr/bin/env bash
# Installs what the run/launch tests need on Debian 12 (idempotent, root): Slurm 22.05 and
# munge (the tests start their own one-node cluster on 127.0.0.1 with its own munge key;
# Debian's services are not used), squashfs-tools (mksquashfs/unsquashfs for SIF files).
# runc, skopeo and umoci come from .ci/run's list.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(slurm-wlm munge squashfs-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
dpkg-query -W -f='slurm-wlm ${Version}\n' slurm-wlm >&2
mksquashfs -version | head -n1 >&2
