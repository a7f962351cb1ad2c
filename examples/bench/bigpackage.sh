#!/usr/bin/env bash
# Peak memory and throughput of a cold image build whose one package holds a large
# incompressible file (2 GiB by default), interleaved with `unzip -p | zstd -d | gzip -6`
# on the same archive (the work a build cannot avoid: decompress, then gzip the layer)
# and, optionally, a baseline reprobuild binary (same image digest expected).
#
#   examples/bench/bigpackage.sh [runs]
#
# Env: BIG_MB (file size, default 2048), BENCH_DIR (default ${TMPDIR:-/tmp}/reprobuild-bigpkg;
# the generated channel is kept there), REPROBUILD (binary to measure instead of building
# this checkout), REPROBUILD_BASELINE (a second binary to compare, e.g. built from main).
# Needs unzip, zstd, gzip and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
mb=${BIG_MB:-2048}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/reprobuild-bigpkg}
mkdir -p "$dir/recipe"
rb=${REPROBUILD:-}
if [ -z "$rb" ]; then
  rb=$dir/reprobuild
  CGO_ENABLED=0 go build -trimpath -o "$rb" ./cmd/reprobuild
fi
if [ "$(cat "$dir/channel/.mb" 2>/dev/null)" != "$mb" ]; then
  rm -rf "$dir/channel"
  go run ./examples/bench/bigpkg -size "$mb" -out "$dir/channel"
  echo "$mb" >"$dir/channel/.mb"
fi
archive=$(ls "$dir"/channel/linux-64/*.conda)
cat >"$dir/recipe/reprobuild.hcl" <<HCL
channel "big" {
  url = "file://$dir/channel"
}
dependencies {
  conda = ["bigdata"]
}
platform {
  targets = ["linux-64"]
}
HCL
"$rb" lock -f "$dir/recipe/reprobuild.hcl" --cache-dir "$dir/cache" >/dev/null
bytes=$(stat -c %s "$archive")
echo "== $(basename "$archive"): $((bytes >> 20)) MiB, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

out=$dir/times.tsv
: >"$out"
build() { # label binary
  rm -rf "$dir/cache" "$dir/out" "$dir/out.reprobuild"
  if ! /usr/bin/time -o "$dir/t" -f '%e %U %S %M' "$2" image -f "$dir/recipe/reprobuild.hcl" --cache-dir "$dir/cache" \
    --offline --output "oci:$dir/out" >"$dir/stdout" 2>"$dir/err"; then
    echo "$1 failed:"; cat "$dir/err"; exit 1
  fi
  digest=$(grep -o 'sha256:[0-9a-f]*' "$dir/stdout" | tail -1)
  awk -v l="$1" -v d="$digest" '{print l, $1, $2 + $3, $4, d}' "$dir/t" >>"$out"
}
reference() {
  /usr/bin/time -o "$dir/t" -f '%e %U %S %M' bash -c \
    "unzip -p '$archive' 'pkg-*.tar.zst' | zstd -dc | gzip -6 >/dev/null"
  awk '{print "zstd-d|gzip", $1, $2 + $3, $4, "-"}' "$dir/t" >>"$out"
}
for i in $(seq "$runs"); do
  build reprobuild "$rb"
  reference
  if [ -n "${REPROBUILD_BASELINE:-}" ]; then build baseline "$REPROBUILD_BASELINE"; fi
done
rm -rf "$dir/cache" "$dir/out" "$dir/out.reprobuild"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v l="$1" -v c="$2" '$1==l {print $c}' "$out" | median; }
printf '%-12s %8s %8s %9s %10s  %s\n' "" "wall s" "cpu s" "rss MB" "MiB/s" "image digest"
labels=(reprobuild zstd-d\|gzip)
[ -n "${REPROBUILD_BASELINE:-}" ] && labels+=(baseline)
for l in "${labels[@]}"; do
  w=$(col "$l" 2)
  printf '%-12s %8.2f %8.2f %9.0f %10.1f  %s\n' "$l" "$w" "$(col "$l" 3)" "$(col "$l" 4 | awk '{print $1 / 1024}')" \
    "$(awk -v b="$bytes" -v w="$w" 'BEGIN {print b / 1048576 / w}')" "$(awk -v l="$l" '$1==l {print $5}' "$out" | sort -u | tr '\n' ' ')"
done
printf 'throughput ratio reprobuild / (zstd -d | gzip): %.2f\n' \
  "$(awk -v a="$(col 'zstd-d|gzip' 2)" -v b="$(col reprobuild 2)" 'BEGIN {print a / b}')"
echo "(medians of $runs interleaved runs; raw figures in $out)"
