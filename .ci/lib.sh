# Sourced by the .ci scripts (bash, set -euo pipefail): what they share. Defines no
# commands of its own and writes nothing when sourced.

# ci_cache is where CI keeps what it builds, outside the clone.
ci_cache=${REPROBUILD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprobuild-ci}

# ci_apt_install PKG...: installs those of the Debian packages that are missing (as root);
# nothing when all are there. Progress goes to stderr.
ci_apt_install() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ci_rootfs_tar NAME BUILD: prints the path of $ci_cache/NAME, a root file system as a
# tar, and builds it first when it is missing: BUILD ROOT MIRROR fills the fresh directory
# ROOT from the Debian mirror MIRROR (the machine's bookworm source, or $DEBIAN_MIRROR),
# with its output on stderr. The tar (numeric owners) is moved into place only whole, and
# ROOT is removed however the script ends.
ci_rootfs_tar() {
  local out="$ci_cache/$1" build=$2 mirror
  if [ -s "$out" ]; then
    echo "$out"
    return 0
  fi
  mkdir -p "$ci_cache"
  ci_root=$(mktemp -d "$ci_cache/${1%.tar}.XXXXXX")
  trap 'rm -rf "$ci_root"' EXIT
  mirror=${DEBIAN_MIRROR:-$(awk '/^deb / && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)}
  if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  fi
  "$build" "$ci_root" "${mirror:-http://deb.debian.org/debian}" >&2
  tar -C "$ci_root" --numeric-owner -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  echo "$out"
}
