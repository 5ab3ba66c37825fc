#!/usr/bin/env bash
# Benchmark: `portcullis pin` of 300 unique tags across 30 repositories on a local
# token-auth registry, against a loop of `skopeo inspect --raw` over the same references.
# Also counts the registry requests one `portcullis pin` makes, from the registry's log.
# Usage: benches/pin/run.sh [WORKDIR] [REPOS] [TAGS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/pin}
repos=${2:-30}
tags=${3:-10}

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p portcullis-testkit --bin bench-registry
bin=$root/target/release/portcullis
rm -rf "$work" && mkdir -p "$work"

coproc REG { "$root/target/release/bench-registry" "$work" "$repos" "$tags"; }
read -r -u "${REG[0]}" info
echo "registry: $info"
export DOCKER_CONFIG=$work/docker
creds=$(python3 -c 'import base64,json,sys; a=json.load(open(sys.argv[1]))["auths"]; print(base64.b64decode(next(iter(a.values()))["auth"]).decode())' "$DOCKER_CONFIG/config.json")

count() { echo count >&"${REG[1]}"; read -r -u "${REG[0]}" line; echo "$line"; }
count > /dev/null

# One measured run of each, with request counts.
/usr/bin/time -f "portcullis pin --check: %e s, %M KiB max RSS" "$bin" pin --check "$work/repo" > /dev/null 2> "$work/pin.stderr" || true
tail -n 2 "$work/pin.stderr"
echo "portcullis requests: $(count)"
/usr/bin/time -f "skopeo loop: %e s" bash -c "while read -r ref; do skopeo inspect --raw --tls-verify=false --creds '$creds' docker://\$ref > /dev/null; done < $work/refs.txt" 2>&1 | tail -n 1
echo "skopeo requests: $(count)"

hyperfine --warmup 1 --runs 5 --ignore-failure --export-markdown "$work/pin.md" \
  -n "portcullis pin --check (300 refs)" "$bin pin --check $work/repo > /dev/null 2>&1" \
  -n "skopeo inspect loop (300 refs)" "while read -r ref; do skopeo inspect --raw --tls-verify=false --creds '$creds' docker://\$ref > /dev/null; done < $work/refs.txt"
cat "$work/pin.md"
exec {REG[1]}>&-
wait
