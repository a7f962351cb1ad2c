#!/usr/bin/env bash
# Cold and warm `reprobuild lock` against libsolv (mamba's solver) on the same
# conda-forge-sized repodata, interleaved in one run, with medians and ratios.
# See README.md in this directory for the peer and what each figure means.
#
#   CONDASOLVE=/path/to/condasolve examples/bench/lock-vs-libsolv.sh [runs]
#
# Env: CONDASOLVE (required: the peer driver), BENCH_DIR (work dir, default
# ${TMPDIR:-/tmp}/reprobuild-bench; the generated repodata is kept there between runs),
# BENCH_MB (repodata size, default 256 = 403,528 records), REPROBUILD (a built binary to
# measure instead of building this checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
: "${CONDASOLVE:?set CONDASOLVE to the libsolv driver (see examples/bench/README.md)}"
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/reprobuild-bench}
mb=${BENCH_MB:-256}
mkdir -p "$dir/channel/linux-64" "$dir/channel/noarch" "$dir/recipe" "$dir/peer"

rb=${REPROBUILD:-}
if [ -z "$rb" ]; then
  rb=$dir/reprobuild
  CGO_ENABLED=0 go build -trimpath -o "$rb" ./cmd/reprobuild
fi
idx=testdata/conda/repodata/conda-test-index-channels
json=$dir/channel/linux-64/repodata.json
if [ ! -s "$json" ] || [ "$(cat "$dir/channel/.mb" 2>/dev/null)" != "$mb" ]; then
  # Real conda-forge records renamed per copy, plus Anaconda's channel-4 records under
  # their own names so that python 3.6.* + numpy has a real answer.
  go run ./internal/conda/internal/repodatarss -gen "$mb" -base $idx/channel-4_non-noarch.json -out "$json"
  echo "$mb" >"$dir/channel/.mb"
fi
noarch=$dir/channel/noarch/repodata.json
[ -s "$noarch" ] || python3 - "$idx/channel-4_noarch.json" "$noarch" <<'PY'
import json, sys
flat = json.load(open(sys.argv[1]))
json.dump({"info": {"subdir": "noarch"},
           "packages": {k: v for k, v in flat.items() if k.endswith(".tar.bz2")},
           "packages.conda": {k: v for k, v in flat.items() if k.endswith(".conda")}},
          open(sys.argv[2], "w"))
PY
cat >"$dir/recipe/reprobuild.hcl" <<HCL
channel "bench" {
  url = "file://$dir/channel"
}
dependencies {
  conda = ["python 3.6.*", "numpy"]
}
platform {
  targets = ["linux-64"]
}
HCL
records=$(grep -o '"build_number"' "$json" | wc -l)
echo "== $records records in linux-64 ($(du -m "$json" | cut -f1) MB), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

out=$dir/times.tsv
: >"$out"
measure() { # label command...: appends "label wall cpu rss_kb"
  local label=$1; shift
  if ! /usr/bin/time -o "$dir/t" -f '%e %U %S %M' "$@" >/dev/null 2>"$dir/err"; then
    echo "$label failed:"; cat "$dir/err"; exit 1
  fi
  awk -v l="$label" '{print l, $1, $2 + $3, $4}' "$dir/t" >>"$out"
}
peerjson=("$json" "$noarch")
peersolv=("$dir/peer/linux-64.solv" "$dir/peer/noarch.solv")
rblock=("$rb" lock -f "$dir/recipe/reprobuild.hcl" --cache-dir "$dir/cache")
# Warm-up: the page cache holds the JSON for everyone; the peer's .solv cache is written.
rm -rf "$dir/cache" "$dir/recipe/reprobuild.lock"; "${rblock[@]}" >/dev/null 2>&1
"$CONDASOLVE" -w "${peerjson[@]}" -- "python 3.6.*" numpy >/dev/null
mv "$json.solv" "${peersolv[0]}"; mv "$noarch.solv" "${peersolv[1]}"
for i in $(seq "$runs"); do
  rm -rf "$dir/cache" "$dir/recipe/reprobuild.lock"
  measure rb-cold "${rblock[@]}"
  measure libsolv-cold "$CONDASOLVE" "${peerjson[@]}" -- "python 3.6.*" numpy
  rm -f "$dir/recipe/reprobuild.lock"
  measure rb-warm "${rblock[@]}"
  measure libsolv-warm "$CONDASOLVE" "${peersolv[@]}" -- "python 3.6.*" numpy
done
cp "$dir/recipe/reprobuild.lock" "$dir/last.lock"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }
col() { awk -v l="$1" -v c="$2" '$1==l {print $c}' "$out" | median; }
printf '%-14s %9s %9s %9s\n' "" "wall s" "cpu s" "rss MB"
for l in rb-cold libsolv-cold rb-warm libsolv-warm; do
  printf '%-14s %9.3f %9.3f %9.0f\n' "$l" "$(col $l 2)" "$(col $l 3)" "$(col $l 4 | awk '{print $1 / 1024}')"
done
for m in cold warm; do
  printf 'ratio %s (reprobuild / libsolv): wall %.2f  cpu %.2f  rss %.2f\n' "$m" \
    "$(div "$(col rb-$m 2)" "$(col libsolv-$m 2)")" \
    "$(div "$(col rb-$m 3)" "$(col libsolv-$m 3)")" \
    "$(div "$(col rb-$m 4)" "$(col libsolv-$m 4)")"
done
echo "(medians of $runs interleaved runs; raw figures in $out)"
