#!/usr/bin/env bash
# Sets up the machine, builds Foundry with the `default` preset and runs every
# test (all labels).
#
#   scripts/run-tests.sh [ctest arguments...]
#
# Extra arguments go to ctest, e.g. `scripts/run-tests.sh -L unit`.
# FOUNDRY_SETUP_ARGS is passed to scripts/setup.sh (e.g. "--no-model").
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

jobs="$(nproc 2>/dev/null || echo 2)"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-${jobs}}"
export CTEST_PARALLEL_LEVEL="${CTEST_PARALLEL_LEVEL:-${jobs}}"

# shellcheck disable=SC2086  # FOUNDRY_SETUP_ARGS is a word list on purpose
scripts/setup.sh ${FOUNDRY_SETUP_ARGS:-}

cmake --preset default
cmake --build --preset default
ctest --preset default "$@"
