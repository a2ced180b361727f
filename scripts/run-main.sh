#!/usr/bin/env bash
# Sets up the machine, builds Foundry with the `default` preset and runs the
# quickstart example.
#
#   scripts/run-main.sh [arguments for foundry-quickstart...]
#
# FOUNDRY_SETUP_ARGS is passed to scripts/setup.sh (e.g. "--no-model").
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

jobs="$(nproc 2>/dev/null || echo 2)"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-${jobs}}"

# shellcheck disable=SC2086  # FOUNDRY_SETUP_ARGS is a word list on purpose
scripts/setup.sh ${FOUNDRY_SETUP_ARGS:-}

cmake --preset default
cmake --build --preset default

main="build/default/examples/quickstart/foundry-quickstart"
if [[ ! -x "${main}" ]]; then
  echo "run-main.sh: ${main} was not built (is examples/quickstart/CMakeLists.txt present?)" >&2
  exit 1
fi
exec "${main}" "$@"
