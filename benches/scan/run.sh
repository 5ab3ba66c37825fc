#!/usr/bin/env bash
# Benchmark: gate on a 50 MB Trivy report (`portcullis scan IMAGE --report FILE`), against
# jq and Python's json module reading the same file (the parse floor of general JSON tools).
# Usage: benches/scan/run.sh [WORKDIR] [SIZE_MB]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/scan}
size=${2:-50}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
bin=$root/target/release/portcullis
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# The image the report is about (its RepoTags): a report for another image is refused.
image=ghcr.io/aquasecurity/trivy-test-images:centos-7
python3 "$here/generate.py" "$root/crates/scan/tests/data/centos-7.json" big.json "$size"
ls -l big.json
printf '[scan]\nfail-on = "none"\n' > portcullis.toml

hyperfine --warmup 1 --runs 5 --ignore-failure --export-markdown "$work/scan.md" \
  -n "portcullis scan --report (parse, merge, gate, JSON out)" "$bin scan $image --report big.json --format json --output /dev/null" \
  -n "jq (count findings)" "jq '[.Results[].Vulnerabilities[]] | length' big.json" \
  -n "python3 json.load" "python3 -c 'import json; json.load(open(\"big.json\"))'"
cat "$work/scan.md"
/usr/bin/time -f "portcullis: %e s, %M KiB max RSS" "$bin" scan "$image" --report big.json --format json --output /dev/null
/usr/bin/time -f "jq: %e s, %M KiB max RSS" jq '[.Results[].Vulnerabilities[]] | length' big.json > /dev/null
