#!/usr/bin/env bash
# A pull request's commits as their author wrote them, on the commit they were written on,
# against that commit alone: for a pull request of N commits the series is HEAD~N..HEAD of the
# checked-out head (the clone holds N+1 commits, no more). With FAULTLINE_MERGE_RESULT=true,
# what GitHub merged (GITHUB_SHA) runs too, as one more kernel against the same base.
# faultline itself writes the annotations and the step summary (GITHUB_ACTIONS=true) and exits by
# the comparison: 1 on a regression, 3 when a kernel does not build or boot; this script exits 2
# when the checkout is not the one the workflow makes, 3 when the merge result cannot be had.
set -uo pipefail
faultline=$(cd "$(dirname "$0")/../.." && pwd)/dist/runner/cli.js
tree=${FAULTLINE_TREE:-${GITHUB_WORKSPACE:-$PWD}}
results=${FAULTLINE_RESULTS:-${RUNNER_TEMP:-/tmp}/faultline-results}
fail() {
  echo "::error title=faultline::$2"
  exit "$1"
}
# GitHub describes the pull request in the event file; other events have none.
event() {
  [ -n "${GITHUB_EVENT_PATH:-}" ] || return 0
  node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = process.argv[2].split(".").reduce((o, k) => o?.[k], e.pull_request); if (v !== undefined) console.log(v)' "$GITHUB_EVENT_PATH" "$1"
}
commits=$(event commits)
head=$(event head.sha)

base=${FAULTLINE_BASE:-}
if [ -z "$base" ] && [ -n "$commits" ]; then
  # HEAD~N of the merge GitHub makes would be N commits of the base branch, not the series.
  [ "$(git -C "$tree" rev-parse HEAD)" = "$head" ] ||
    fail 2 "the checkout is not the pull request's head $head: give actions/checkout ref: \${{ github.event.pull_request.head.sha }} (see kernel-tree-workflow.yml)"
  base=$(git -C "$tree" rev-parse --verify --quiet "HEAD~$commits^{commit}") ||
    fail 2 "the clone does not reach HEAD~$commits, the commit the $commits commits of the pull request go on: give actions/checkout a fetch-depth of $((commits + 1)) (see kernel-tree-workflow.yml)"
  # A merge inside the pull request brings other commits along; HEAD~N follows first parents.
  [ "$(git -C "$tree" rev-list --count "$base..HEAD")" = "$commits" ] ||
    echo "::warning title=faultline::the pull request has merge commits: the series is $base..HEAD along first parents, with what the merges brought"
fi
base=${base:-$(git -C "$tree" rev-parse HEAD~1)}
echo "faultline: the series $base..HEAD of $tree against its base"

# Config fragments are the same for every kernel, so kernels differ by their source alone.
config=()
fragments=()
# shellcheck disable=SC2086 # FAULTLINE_CONFIG is a list of paths by design
for f in ${FAULTLINE_CONFIG:-}; do
  config+=(--config "$f")
  fragments+=("$(realpath -m -- "$f")")
done

merge=()
if [ "${FAULTLINE_MERGE_RESULT:-false}" = true ]; then
  if [ -z "$head" ] || [ -z "${GITHUB_SHA:-}" ] || [ "$GITHUB_SHA" = "$head" ]; then
    echo "::notice title=faultline::no merge result to test: this is not a pull request's merge"
  else
    # Its tree is all a build needs: one commit, in a worktree beside the checkout.
    merged=${RUNNER_TEMP:-/tmp}/faultline-merge-result
    if ! git -C "$tree" fetch --quiet --no-tags --depth=1 origin "$GITHUB_SHA" ||
      ! git -C "$tree" worktree add --quiet --detach "$merged" "$GITHUB_SHA"; then
      fail 3 "cannot fetch the merge result $GITHUB_SHA"
    fi
    # A kernel definition (JSON is YAML): the merged tree, the same fragments.
    node -e 'const [file, sha, tree, ...config] = process.argv.slice(1); require("fs").writeFileSync(file, JSON.stringify({ description: "the merge result " + sha, tree, config }, null, 1) + "\n")' \
      "$merged.yaml" "$GITHUB_SHA" "$merged" "${fragments[@]}"
    merge=(--kernel "$merged.yaml")
    echo "faultline: and the merge result $GITHUB_SHA against the same base"
  fi
fi

# shellcheck disable=SC2086 # FAULTLINE_ARGS is a list of words by design
node "$faultline" run --tree "$tree" --patches "$base..HEAD" --baseline --junit "$results/junit.xml" --results "$results" "${config[@]}" "${merge[@]}" ${FAULTLINE_ARGS:-}
