#!/usr/bin/env bash
# What actions/cache keeps faultline's cache (Debian kernels, kernel builds, helper, images) by:
# the directory faultline will use, and the parts of the key. Every entry inside is keyed by its
# own content, so a cache from another run is never wrong, only more or less useful: the key
# prefers one saved by the same faultline with the same config fragments, then the same faultline.
# Writes dir=, faultline= and config= to $GITHUB_OUTPUT.
set -euo pipefail
here=$(dirname "$0")
# The faultline step runs as the runner user, so its cache is that user's, unless set otherwise.
dir=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
# faultline's own tree id: the same whether it is a checkout of its own or a folder of the kernel tree.
faultline=$(git -C "$here/../.." rev-parse --short=16 HEAD:./ 2> /dev/null || echo unversioned)
# The fragments by name and content; one that is missing is faultline's to report, not this step's.
# shellcheck disable=SC2086 # FAULTLINE_CONFIG is a list of paths by design
config=$(for f in ${FAULTLINE_CONFIG:-}; do echo "$f"; cat -- "$f" 2> /dev/null || true; done | sha256sum | cut -c1-16)
printf 'dir=%s\nfaultline=%s\nconfig=%s\n' "$dir" "$faultline" "$config" >> "$GITHUB_OUTPUT"
