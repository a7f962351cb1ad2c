#!/usr/bin/env bash
# Cold `reprobuild lock` of python 3.6.* + numpy against the 403,528-record channel of
# lock-vs-libsolv.sh served over HTTP on 127.0.0.1 (busybox httpd), sharded (CEP 16)
# and as repodata.json.zst, interleaved: wall, CPU, peak RSS, bytes fetched (what the
# cache holds afterwards), and that both locks are byte-identical.
#
#   examples/bench/sharded.sh [runs]
#
# Env: BENCH_DIR as for lock-vs-libsolv.sh (its generated channel is reused; run that
# script first, or this one generates it), REPROBUILD (binary to measure). Needs
# busybox, zstd, python3 (a free port) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/reprobuild-bench}
src=$dir/channel
if [ ! -s "$src/linux-64/repodata.json" ]; then
  echo "no generated channel in $src: run examples/bench/lock-vs-libsolv.sh first" >&2
  exit 1
fi
rb=${REPROBUILD:-}
if [ -z "$rb" ]; then
  rb=$dir/reprobuild
  CGO_ENABLED=0 go build -trimpath -o "$rb" ./cmd/reprobuild
fi
for kind in sharded full; do
  d=$dir/serve-$kind
  for sd in linux-64 noarch; do
    mkdir -p "$d/$sd"
    if [ ! -s "$d/$sd/repodata.json.zst" ] || [ "$src/$sd/repodata.json" -nt "$d/$sd/repodata.json.zst" ]; then
      rm -rf "$d/$sd/shards" "$d/$sd/repodata_shards.msgpack.zst"
      zstd -q -3 -T0 -f "$src/$sd/repodata.json" -o "$d/$sd/repodata.json.zst"
      if [ $kind = sharded ]; then
        cp "$src/$sd/repodata.json" "$d/$sd/repodata.json"
        go run ./examples/bench/shardgen "$d/$sd/repodata.json"
        rm "$d/$sd/repodata.json"
      fi
    fi
  done
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for kind in sharded full; do
  p=$(port)
  busybox httpd -f -p "127.0.0.1:$p" -h "$dir/serve-$kind" &
  pids+=($!)
  mkdir -p "$dir/recipe-$kind"
  cat >"$dir/recipe-$kind/reprobuild.hcl" <<HCL
channel "bench" {
  url = "http://127.0.0.1:$p"
}
dependencies {
  conda = ["python 3.6.*", "numpy"]
}
platform {
  targets = ["linux-64"]
}
HCL
done
sleep 0.5
out=$dir/sharded-times.tsv
: >"$out"
for i in $(seq "$runs"); do
  for kind in sharded full; do
    rm -rf "$dir/cache-$kind" "$dir/recipe-$kind/reprobuild.lock"
    /usr/bin/time -o "$dir/t" -f '%e %U %S %M' "$rb" lock -f "$dir/recipe-$kind/reprobuild.hcl" --cache-dir "$dir/cache-$kind" >/dev/null 2>"$dir/err" || { cat "$dir/err"; exit 1; }
    fetched=$(find "$dir/cache-$kind/cas/sha256" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
    awk -v l=$kind -v f="$fetched" '{print l, $1, $2 + $3, $4, f}' "$dir/t" >>"$out"
  done
done
# The channel URL differs (two servers): compare the locks without it (and the recipe
# hash, which covers it).
if ! diff <(grep -v -e 127.0.0.1 -e recipe-hash "$dir/recipe-sharded/reprobuild.lock") <(grep -v -e 127.0.0.1 -e recipe-hash "$dir/recipe-full/reprobuild.lock") >/dev/null; then
  echo "the sharded and full locks differ" >&2; exit 1
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v l="$1" -v c="$2" '$1==l {print $c}' "$out" | median; }
printf '%-8s %8s %8s %8s %12s\n' "" "wall s" "cpu s" "rss MB" "cache bytes"
for k in sharded full; do
  printf '%-8s %8.3f %8.3f %8.0f %12d\n' $k "$(col $k 2)" "$(col $k 3)" "$(col $k 4 | awk '{print $1 / 1024}')" "$(col $k 5)"
done
zst=$(( $(stat -c %s "$dir/serve-full/linux-64/repodata.json.zst") + $(stat -c %s "$dir/serve-full/noarch/repodata.json.zst") ))
printf 'sharded bytes / repodata.json.zst (zstd -3) bytes: %.2f %%; locks identical\n' "$(awk -v a="$(col sharded 5)" -v b="$zst" 'BEGIN {print 100 * a / b}')"
echo "(medians of $runs interleaved runs; cache bytes: what the cache holds after a cold lock, the compressed index and shards for sharded, the decompressed JSON for full, which downloads the .zst; raw figures in $out)"
