#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang-16 with
# -fsanitize=fuzzer,address,undefined) and runs each for a given time.
#
#   scripts/run-fuzz.sh [seconds] [target...]
#
# seconds   time per target (default 60)
# target    gguf_memory, gguf_file, tokenizer, quant, model_metadata
#           (default: all of them)
#
# Each target starts from its committed seeds (fuzz/corpus/<corpus>/, read
# only) and keeps what it finds in build/fuzz/corpus/<target>/, so a later
# run continues from there. A crash, a sanitizer report, a leak, a timeout
# (25 s per input) or running out of memory (2 GiB) fails the script; the
# input that did it is saved as build/fuzz/artifacts/<target>-crash-<sha1>
# (reproduce: build/fuzz/fuzz/foundry_fuzz_<target> <that file>). The last
# lines print the executions of each target; full logs are in
# build/fuzz/logs/<target>.log.
#
# Environment: FOUNDRY_FUZZ_JOBS=N runs N fuzzing processes per target
# (libFuzzer -fork=N; default 1), FOUNDRY_FUZZ_SKIP_BUILD=1 skips the build,
# FOUNDRY_FUZZ_WORK=<dir> keeps corpora, artifacts and logs there instead of
# build/fuzz (for two runs side by side).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

seconds="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(gguf_memory gguf_file tokenizer quant model_metadata)
fi
jobs="${FOUNDRY_FUZZ_JOBS:-1}"

corpus_of() {
  case "$1" in
    gguf_memory | gguf_file) echo gguf ;;
    *) echo "$1" ;;
  esac
}

if [[ "${FOUNDRY_FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  cmake --preset fuzz ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}} >/dev/null
  cmake --build --preset fuzz --target "${targets[@]/#/foundry_fuzz_}"
fi

bin=build/fuzz/fuzz
out="${FOUNDRY_FUZZ_WORK:-build/fuzz}"
mkdir -p "${out}/artifacts" "${out}/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" && -x /usr/lib/llvm-16/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-16/bin/llvm-symbolizer
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  seeds="fuzz/corpus/$(corpus_of "$t")"
  work="${out}/corpus/${t}"
  log="${out}/logs/${t}.log"
  mkdir -p "${work}"
  args=(-max_total_time="${seconds}" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="${out}/artifacts/${t}-")
  if [[ "$t" != tokenizer && "$t" != quant ]]; then
    args+=(-dict=fuzz/gguf.dict)
  fi
  if [[ "${jobs}" -gt 1 ]]; then
    args+=(-fork="${jobs}" -ignore_crashes=0)
  fi
  printf '== %s: %s s, seeds %s\n' "$t" "${seconds}" "${seeds}"
  rc=0
  "${bin}/foundry_fuzz_${t}" "${args[@]}" "${work}" "${seeds}" >"${log}" 2>&1 || rc=$?
  execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "${log}" | tail -n 1 | grep -Eo '[0-9]+$' || true)"
  if [[ -z "${execs}" ]]; then
    # -fork mode prints no final stats: take the last status line.
    execs="$(grep -Eo '^#[0-9]+' "${log}" | tail -n 1 | tr -d '#' || true)"
  fi
  if [[ ${rc} -ne 0 ]]; then
    failed+=("$t")
    tail -n 40 "${log}"
    summary+=("$(printf '%-16s %12s execs  FAILED (exit %d), log %s' "$t" "${execs:-?}" "${rc}" "${log}")")
  else
    summary+=("$(printf '%-16s %12s execs  ok' "$t" "${execs:-?}")")
  fi
done

printf '\n%s\n' "fuzzing, ${seconds} s per target:"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzzing FAILED: ${failed[*]}" >&2
  exit 1
fi
