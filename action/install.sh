#!/usr/bin/env bash
# Installs portcullis for the GitHub Action: the release binary for this runner, accepted
# only when its SHA-256 matches the line for it in digests.txt beside this script; when the
# release has no binary for this runner, a build from the action's own source.
#
# Environment: RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH, GITHUB_ACTION_PATH (set by
# the runner); PORTCULLIS_VERSION (the `version` input; empty: the action's ref);
# PORTCULLIS_ACTION_REPOSITORY, PORTCULLIS_ACTION_REF (where the action comes from);
# PORTCULLIS_RELEASE_BASE (default: that repository's GitHub release downloads).
set -euo pipefail

fail() {
  echo "::error title=portcullis install::$1"
  echo "portcullis install: $1" >&2
  exit 1
}

action_dir=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}
digests="$action_dir/digests.txt"

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  *) fail "no portcullis build for runner \`${RUNNER_OS:-unset}/${RUNNER_ARCH:-unset}\` (Linux or macOS, X64 or ARM64)" ;;
esac

version=${PORTCULLIS_VERSION:-${PORTCULLIS_ACTION_REF:-}}
case "$version" in
  v[0-9]*) ;;
  [0-9]*) version="v$version" ;;
  *) version="" ;; # a branch or commit of the action: no release to download
esac

root="${RUNNER_TEMP:?RUNNER_TEMP is not set}/portcullis"
bin="$root/bin"
mkdir -p "$bin"

install_from_source() {
  echo "portcullis install: $1; building $(cd "$action_dir/.." && pwd) with cargo install --locked" >&2
  command -v cargo >/dev/null || fail "$1, and \`cargo\` is not installed to build portcullis from source"
  cargo install --locked --quiet --path "$action_dir/.." --root "$root" --bin portcullis
}

if [ -z "$version" ]; then
  install_from_source "the action's ref \`${PORTCULLIS_ACTION_REF:-}\` names no release"
else
  asset="portcullis-$version-$target"
  repo=${PORTCULLIS_ACTION_REPOSITORY:-portcullis-dev/portcullis}
  base=${PORTCULLIS_RELEASE_BASE:-${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download}
  url="$base/$version/$asset"
  download="$root/$asset.download"
  status=$(curl --silent --show-error --location --retry 3 --output "$download" \
    --write-out '%{http_code}' "$url") || fail "downloading \`$url\` failed"
  case "$status" in
    200) ;;
    404)
      rm -f "$download"
      install_from_source "release \`$version\` has no asset \`$asset\` at \`$url\`"
      ;;
    *) fail "downloading \`$url\` answered HTTP $status" ;;
  esac
  if [ -f "$download" ]; then
    [ -f "$digests" ] || fail "\`$digests\` is missing, so \`$asset\` cannot be checked"
    expected=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1; exit }' "$digests")
    [ -n "$expected" ] || fail "\`$digests\` has no SHA-256 for \`$asset\`; refusing to run an unchecked binary (pin \`version\` to a release this action lists)"
    if command -v sha256sum >/dev/null; then
      actual=$(sha256sum "$download" | awk '{print $1}')
    else
      actual=$(shasum -a 256 "$download" | awk '{print $1}')
    fi
    if [ "$actual" != "$expected" ]; then
      rm -f "$download"
      fail "SHA-256 of \`$asset\` from \`$url\` is \`$actual\`, but digests.txt expects \`$expected\`; refusing to install it"
    fi
    mv "$download" "$bin/portcullis"
    chmod +x "$bin/portcullis"
    echo "portcullis install: \`$asset\` matches sha256:$expected" >&2
  fi
fi

"$bin/portcullis" --version
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$bin" >>"$GITHUB_PATH"
fi
