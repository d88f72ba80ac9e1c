#!/usr/bin/env bash
# The series of a pull request (base..HEAD) against its base, on the checked-out kernel tree.
# faultline itself writes the annotations and the step summary (GITHUB_ACTIONS=true) and exits
# by the comparison: 1 on a regression, 3 when a kernel does not build or boot.
set -uo pipefail
faultline=$(cd "$(dirname "$0")/../.." && pwd)/dist/runner/cli.js
tree=${FAULTLINE_TREE:-${GITHUB_WORKSPACE:-$PWD}}
results=${FAULTLINE_RESULTS:-${RUNNER_TEMP:-/tmp}/faultline-results}
base=${FAULTLINE_BASE:-}
if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
  git -C "$tree" fetch --quiet --no-tags origin "$GITHUB_BASE_REF" || true
  base=$(git -C "$tree" merge-base HEAD "origin/$GITHUB_BASE_REF" 2> /dev/null || true)
fi
base=${base:-$(git -C "$tree" rev-parse HEAD~1)}
echo "faultline: the series $base..HEAD of $tree against its base"
# shellcheck disable=SC2086 # FAULTLINE_ARGS is a list of words by design
node "$faultline" run --tree "$tree" --patches "$base..HEAD" --baseline --junit "$results/junit.xml" --results "$results" ${FAULTLINE_ARGS:-}
