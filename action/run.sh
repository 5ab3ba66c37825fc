#!/usr/bin/env bash
# Runs `portcullis ci` with the GitHub Action's inputs, which action.yml passes as INPUT_*
# environment variables (never expanded into this script). portcullis writes the step's
# outputs (result, errors, warnings, signed-digest) to $GITHUB_OUTPUT itself.
set -euo pipefail

args=(ci)
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
[ -n "${INPUT_IMAGE:-}" ] && args+=(--image "$INPUT_IMAGE")
[ "${INPUT_CHANGED_ONLY:-false}" = true ] && args+=(--changed-only)
[ "${INPUT_SCAN:-true}" = false ] && args+=(--no-scan)
[ "${INPUT_SIGN:-true}" = false ] && args+=(--no-sign)
[ "${INPUT_ATTEST:-true}" = false ] && args+=(--no-attest)
for name in CHANGED_ONLY SCAN SIGN ATTEST; do
  var="INPUT_$name"
  case "${!var:-}" in
    "" | true | false) ;;
    *)
      echo "::error title=portcullis::input \`$(echo "$name" | tr 'A-Z_' 'a-z-')\` must be \`true\` or \`false\`, not \`${!var}\`"
      exit 2
      ;;
  esac
done
# Split on whitespace (newlines too), never glob.
set -f
# shellcheck disable=SC2206
formats=(${INPUT_FORMAT:-})
# shellcheck disable=SC2206
extra=(${INPUT_ARGS:-})
set +f
for f in "${formats[@]}"; do
  args+=(-f "$f")
done
args+=("${extra[@]}")

exec portcullis "${args[@]}"
