#!/usr/bin/env bash
# Benchmark: keyless `portcullis sign-blob` and `portcullis verify-blob` (with the stack's
# trust config, and `--offline`) on a 10 MB file, against sigstore-python `sign` and
# `verify identity` on the same file, all against one local Sigstore stack
# (`portcullis-testkit sigstore-stack`: OIDC issuer, Fulcio, Rekor on loopback).
# Usage: benches/sign/run.sh [WORKDIR] [SIZE_MB]
# Needs hyperfine, curl, jq and sigstore-python (`sigstore`, e.g. /work/main/.venv/bin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/sign}
size=${2:-10}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p portcullis-testkit --bin portcullis-testkit
bin=$root/target/release/portcullis
sigstore=${SIGSTORE:-$(command -v sigstore || echo "$root/.venv/bin/sigstore")}
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$root/target/release/portcullis-testkit" sigstore-stack --dir "$work/stack" > stack.json &
stack_pid=$!
trap 'kill "$stack_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s stack.json ] && break; sleep 0.1; done
trust=$(jq -r .trust_config stack.json)
rekor=$(jq -r .rekor_url stack.json)
issuer=$(jq -r .issuer_url stack.json)
identity="https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
# One token, fetched as a GitHub runner does; both clients sign with it (it lives 10 min).
token=$(curl -sf -H "Authorization: bearer $(jq -r .request_token stack.json)" \
  "$(jq -r .token_url stack.json)&audience=sigstore" | jq -r .value)
head -c "$((size * 1024 * 1024))" /dev/urandom > artifact.bin
ls -l artifact.bin

# Bundles to verify, one from each client.
"$bin" sign-blob artifact.bin --bundle portcullis.sigstore.json --trust-config "$trust" --identity-token "$token" -q
"$sigstore" --trust-config "$trust" sign --identity-token "$token" --bundle python.sigstore.json artifact.bin > /dev/null 2>&1
log_size() { curl -sf "$rekor/api/v1/log" | jq .treeSize; }
before=$(log_size)

export COLUMNS=200
hyperfine --warmup 1 --runs 10 --export-markdown "$work/sign.md" \
  -n "portcullis sign-blob (keyless)" \
  "$bin sign-blob artifact.bin --bundle out-p.json --trust-config $trust --identity-token $token -q" \
  -n "sigstore-python sign" \
  "$sigstore --trust-config $trust sign --overwrite --identity-token $token --bundle out-py.json artifact.bin"
signs=$(( $(log_size) - before ))
hyperfine --warmup 1 --runs 10 --export-markdown "$work/verify.md" \
  -n "portcullis verify-blob --trust-config" \
  "$bin verify-blob artifact.bin --bundle portcullis.sigstore.json --trust-config $trust --certificate-identity $identity --certificate-oidc-issuer $issuer -q" \
  -n "portcullis verify-blob --trusted-root --offline" \
  "$bin verify-blob artifact.bin --bundle portcullis.sigstore.json --trusted-root $work/stack/trusted_root.json --offline --certificate-identity $identity --certificate-oidc-issuer $issuer -q" \
  -n "sigstore-python verify identity" \
  "$sigstore --trust-config $trust verify identity --bundle portcullis.sigstore.json --cert-identity $identity --cert-oidc-issuer $issuer artifact.bin"
after_verify=$(log_size)
cat "$work/sign.md" "$work/verify.md"
echo
# Each client ran warmup + runs = 11 signs; each sign is one certificate request to Fulcio
# and one POST to Rekor (asserted per request in tests/sigstore_blob.rs).
echo "Rekor log entries written by 22 signs (11 per client): $signs"
echo "Rekor log entries written while verifying: $(( after_verify - before - signs ))"
/usr/bin/time -f "portcullis sign-blob: %e s, %M KiB max RSS" \
  "$bin" sign-blob artifact.bin --bundle rss.json --trust-config "$trust" --identity-token "$token" -q
/usr/bin/time -f "portcullis verify-blob --offline: %e s, %M KiB max RSS" \
  "$bin" verify-blob artifact.bin --bundle portcullis.sigstore.json --trusted-root "$work/stack/trusted_root.json" \
  --offline --certificate-identity "$identity" --certificate-oidc-issuer "$issuer" -q
