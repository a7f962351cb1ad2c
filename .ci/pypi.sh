#!/usr/bin/env bash
# Debian's real wheels for internal/pypi's installer tests (pip and setuptools are too
# big to commit; wheel's is in internal/pypi/testdata). Idempotent; installs only what is
# missing. Prints the directory that holds the wheels.
set -euo pipefail
pkgs=(python3-pip-whl python3-setuptools-whl python3-wheel-whl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo /usr/share/python-wheels
