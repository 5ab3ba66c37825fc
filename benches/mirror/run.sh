#!/usr/bin/env bash
# Benchmark: mirror COUNT two-platform images (one random LAYER_MB layer per platform)
# between two local Distribution registries with `portcullis mirror` and with
# `skopeo sync --all`, in one run: wall time, peak RSS, blob bytes read from the source,
# registry requests (from both registries' access logs); then each tool's no-change
# re-run; then the ceiling: every blob fetched with curl and piped into a curl upload,
# 1, 2 and 4 at a time. Last, peak RSS of `portcullis mirror` copying one BIG_MB layer.
# Needs: docker-registry, skopeo, curl, python3 (scripts/install-test-deps).
# Usage: benches/mirror/run.sh [WORKDIR]; COUNT (10), LAYER_MB (30), BIG_MB (1024).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/mirror}
count=${COUNT:-10}
layer_mb=${LAYER_MB:-30}
big_mb=${BIG_MB:-1024}

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
bin=$root/target/release/portcullis
rm -rf "$work" && mkdir -p "$work"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # NAME -> prints host:port
  local name=$1 port; port=$(free_port)
  mkdir -p "$work/$name"
  cat > "$work/$name/config.yml" <<YAML
version: 0.1
log: { level: info, formatter: text, accesslog: { disabled: false } }
storage: { filesystem: { rootdirectory: $work/$name/storage }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port, secret: bench }
YAML
  docker-registry serve "$work/$name/config.yml" > "$work/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
  echo "127.0.0.1:$port"
}
# Access-log lines of a registry so far (one per request).
requests() { grep -c '" [0-9][0-9][0-9] ' "$work/$1/log" || true; }
# Blob bytes a registry has sent (GET .../blobs/... responses) so far.
blob_bytes() { { grep -oE '"GET /v2/[^ ]+/blobs/[^ ]+ HTTP/1.1" 20[0-9] [0-9]+' "$work/$1/log" || true; } | awk '{s+=$NF} END {printf "%.0f\n", s}'; }

src=$(start_registry source)
dst_p=$(start_registry target-portcullis)
dst_s=$(start_registry target-skopeo)
dst_c=$(start_registry target-curl)
echo "source $src, targets: portcullis $dst_p, skopeo $dst_s, curl $dst_c"
python3 "$here/seed.py" "http://$src" bench/app "$count" "$layer_mb"
echo "seeded $count two-platform images of 2 x $layer_mb MB: $(du -sh "$work/source/storage" | cut -f1)"

cat > "$work/portcullis.toml" <<TOML
[[mirror]]
from = "$src/bench/app"
to = "$dst_p/mirror/app"
tag-regex = '1\.\d+'
TOML

measure() { # NAME REGISTRY-TARGET-DIR COMMAND...
  local name=$1 target=$2; shift 2
  local r0 t0 b0; r0=$(requests source); t0=$(requests "$target"); b0=$(blob_bytes source)
  local log="$work/${name//[^a-z0-9]/_}"
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$log.out" 2> "$log.err" || { cat "$log.err" "$log.out"; exit 1; }
  read -r secs rss < "$work/time"
  local r1 t1 b1; r1=$(requests source); t1=$(requests "$target"); b1=$(blob_bytes source)
  printf '| %s | %s s | %s MiB | %s MB | %s | %s |\n' "$name" "$secs" "$((rss / 1024))" \
    "$(( (b1 - b0) / 1000000 ))" "$((r1 - r0))" "$((t1 - t0))" | tee -a "$work/results.md"
}
echo "| run | wall | peak RSS | blob bytes read | source requests | target requests |" | tee "$work/results.md"
echo "|:---|---:|---:|---:|---:|---:|" | tee -a "$work/results.md"
cd "$work"
measure "portcullis mirror (first copy)" target-portcullis "$bin" mirror --config "$work/portcullis.toml" --no-progress
measure "skopeo sync --all (first copy)" target-skopeo skopeo sync --all --src docker --dest docker \
  --src-tls-verify=false --dest-tls-verify=false "$src/bench/app" "$dst_s/mirror"
measure "portcullis mirror (no change)" target-portcullis "$bin" mirror --config "$work/portcullis.toml" --no-progress
measure "skopeo sync --all (no change)" target-skopeo skopeo sync --all --src docker --dest docker \
  --src-tls-verify=false --dest-tls-verify=false "$src/bench/app" "$dst_s/mirror"

# The no-change re-runs again, timed over several runs.
hyperfine --warmup 1 --runs "${RERUNS:-10}" --export-markdown "$work/rerun.md" \
  -n "portcullis mirror (no change)" "$bin mirror --config $work/portcullis.toml --no-progress" \
  -n "skopeo sync --all (no change)" "skopeo sync --all --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false $src/bench/app $dst_s/mirror" > /dev/null
cat "$work/rerun.md" | tee -a "$work/results.md"

# The portcullis target holds the source's index digests (and says whether skopeo's does).
digest_of() { curl -sI -H "Accept: application/vnd.oci.image.index.v1+json" "$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'; }
for i in $(seq 0 $((count - 1))); do
  want=$(digest_of "http://$src/v2/bench/app/manifests/1.$i")
  got=$(digest_of "http://$dst_p/v2/mirror/app/manifests/1.$i")
  [ -n "$want" ] && [ "$want" = "$got" ] || { echo "portcullis: digest differs for 1.$i: $got, not $want"; exit 1; }
  theirs=$(digest_of "http://$dst_s/v2/mirror/app/manifests/1.$i")
  [ "$want" = "$theirs" ] || echo "skopeo: 1.$i is ${theirs:-missing} in its target, $want in the source"
done
echo "the portcullis target holds the same $count index digests as the source"

# The ceiling: every blob of the source, GET piped into a monolithic PUT, N at a time.
find "$work/source/storage/docker/registry/v2/repositories/bench/app/_layers/sha256" -mindepth 1 -maxdepth 1 -printf '%f\n' > "$work/blobs.txt"
copy_blob() { # HEX REPO
  local loc; loc=$(curl -s -o /dev/null -D - -X POST "http://$dst_c/v2/$2/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case $loc in http*) ;; *) loc="http://$dst_c$loc" ;; esac
  curl -sf "http://$src/v2/bench/app/blobs/sha256:$1" | curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @- "$loc&digest=sha256:$1"
}
export -f copy_blob; export src dst_c
for n in 1 2 4; do
  /usr/bin/time -f "%e" -o "$work/time" xargs -a "$work/blobs.txt" -P "$n" -I{} bash -c "copy_blob {} ceiling$n"
  echo "| raw curl GET | PUT, $n at a time | $(cat "$work/time") s | | | | |" | tee -a "$work/results.md"
done

# Peak memory while copying one large layer.
head -c "$((big_mb * 1000 * 1000))" /dev/urandom > "$work/big.layer"
python3 "$here/seed.py" "http://$src" bench/app 0 0 --big "$big_mb" --file "$work/big.layer"
rm -f "$work/big.layer"
cat > "$work/big.toml" <<TOML
[[mirror]]
from = "$src/bench/app-big"
to = "$dst_p/mirror/app-big"
tags = ["1.0"]
TOML
measure "portcullis mirror (one $big_mb MB layer)" target-portcullis "$bin" mirror --config "$work/big.toml" --no-progress
echo
cat "$work/results.md"
