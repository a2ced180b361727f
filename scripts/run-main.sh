#!/usr/bin/env bash
# Sets up the machine (packages, the SmolLM2 model), builds the generation
# example with the `default` preset and runs it: text generation with
# SmolLM2-135M-Instruct through Foundry's fused kernels on the CPU backend.
#
#   scripts/run-main.sh [arguments for foundry-generate...]
#   e.g. scripts/run-main.sh --prompt "The quick brown fox" --max-tokens 32
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
cmake --build --preset default --target foundry-generate

# Text generation with SmolLM2-135M-Instruct on the CPU backend; with no
# arguments it answers a default chat prompt. See --help for the options.
exec build/default/examples/generate/foundry-generate "$@"
