#!/usr/bin/env bash
# Benchmark: signing, attesting and verifying one image against the local Sigstore stack
# (portcullis-testkit sigstore-stack) and a local Distribution registry: client-side wall
# time (hyperfine) and the requests each command sends (the registry's access log, and
# portcullis's own request counts at -vv). Then, as a reference point, sigstore-python
# signing and verifying a blob the size of the image manifest against the same stack.
# Needs: docker-registry, hyperfine, jq, curl, python3, .venv/bin/sigstore (scripts/install-test-deps).
# Usage: benches/sign/image.sh [WORKDIR]; RUNS (10).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/sign-image}
runs=${RUNS:-10}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p portcullis-testkit --bin portcullis-testkit
bin=$root/target/release/portcullis
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$root/target/release/portcullis-testkit" sigstore-stack --dir "$work/stack" > "$work/stack.json" 2> "$work/stack.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/stack.json" ] && break; sleep 0.1; done
trust=$(jq -r .trust_config "$work/stack.json")
issuer=$(jq -r .issuer_url "$work/stack.json")
token_url=$(jq -r .token_url "$work/stack.json")
token() { curl -sf "$token_url&audience=sigstore" | jq -r .value; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log: { level: info, formatter: text, accesslog: { disabled: false } }
storage: { filesystem: { rootdirectory: $work/registry/storage }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port, secret: bench }
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
python3 "$root/benches/mirror/seed.py" "http://127.0.0.1:$port" bench/app 1 1 > /dev/null
digest=$(curl -sI -H "Accept: application/vnd.oci.image.index.v1+json" "http://127.0.0.1:$port/v2/bench/app/manifests/1.0" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
image="127.0.0.1:$port/bench/app@$digest"
identity="https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
cat > "$work/vuln.json" <<'JSON'
{"invocation":{"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"pkg:github/aquasecurity/trivy","version":"0.50.0","db":{"uri":"","version":""},"result":{}},"metadata":{"scanStartedOn":"2026-12-01T00:00:00Z","scanFinishedOn":"2026-12-01T00:00:01Z"}}
JSON
cd "$work"
requests() { grep -c '" [0-9][0-9][0-9] ' "$work/registry/log" || true; }
# One run of each, counting registry requests (Fulcio and Rekor requests per command are
# held by tests/sign_verify.rs: one of each per signature written, none to verify).
count() { # NAME COMMAND...
  local name=$1; shift
  local r0; r0=$(requests)
  "$@" > "$work/one.out" 2> "$work/one.err" || { cat "$work/one.err"; exit 1; }
  local r1; r1=$(requests)
  printf '| %s | %s |\n' "$name" "$((r1 - r0))" | tee -a "$work/requests.md"
}
echo "| command | registry requests |" | tee "$work/requests.md"
echo "|:---|---:|" | tee -a "$work/requests.md"
T=$(token)
count "portcullis sign" "$bin" sign "$image" --trust-config "$trust" --identity-token "$T"
count "portcullis attest (vuln)" "$bin" attest "$image" --type vuln --predicate "$work/vuln.json" --trust-config "$trust" --identity-token "$T"
count "portcullis verify" "$bin" verify "$image" --trusted-root "$trust" --certificate-identity "$identity" --certificate-oidc-issuer "$issuer"
count "portcullis verify --offline" "$bin" verify "$image" --offline --trusted-root "$trust" --certificate-identity "$identity" --certificate-oidc-issuer "$issuer"

# Wall time; every sign and attest run adds one more signature to the image.
export T
hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$work/times.md" \
  -n "portcullis sign" "$bin sign $image --trust-config $trust --identity-token $T" \
  -n "portcullis attest (vuln)" "$bin attest $image --type vuln --predicate $work/vuln.json --trust-config $trust --identity-token $T" \
  -n "portcullis verify (online)" "$bin verify $image --trusted-root $trust --certificate-identity $identity --certificate-oidc-issuer $issuer" \
  -n "portcullis verify --offline" "$bin verify $image --offline --trusted-root $trust --certificate-identity $identity --certificate-oidc-issuer $issuer" > /dev/null

# The reference point: sigstore-python on a blob of the manifest's size.
curl -sf -H "Accept: application/vnd.oci.image.index.v1+json" "http://127.0.0.1:$port/v2/bench/app/manifests/1.0" > "$work/blob"
py=$root/.venv/bin/sigstore
hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/python.md" \
  -n "sigstore-python sign (blob)" "$py --trust-config $trust sign --overwrite --identity-token $T $work/blob" \
  -n "sigstore-python verify (blob)" "$py --trust-config $trust verify identity --cert-identity $identity --cert-oidc-issuer $issuer $work/blob" > /dev/null
echo; cat "$work/requests.md"; echo; cat "$work/times.md"; echo; cat "$work/python.md"
