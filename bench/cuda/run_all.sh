#!/usr/bin/env bash
# Builds and runs everything of the CUDA backend on a machine with an NVIDIA
# GPU, and prints one markdown report: environment, test results, benchmarks.
#
#   bench/cuda/run_all.sh [--quick] [--no-tests] [--no-bench]
#
#   --quick     benchmark the SmolLM2 shapes only (skips Llama-3-8B shapes)
#   --no-tests  skip building/running the tests
#   --no-bench  skip the benchmarks
#
# Works offline: it installs nothing. Needs
#   cmake >= 3.21, g++ >= 12 (C++20), the CUDA toolkit (headers: cuda.h,
#   nvrtc.h, cublas_v2.h; libnvrtc; libcublas for the cuBLAS rows) and the
#   NVIDIA driver (libcuda.so.1),
#   {fmt} (libfmt-dev), Boost >= 1.81 with Boost.Context
#   (libboost-context1.81-dev), xxHash (libxxhash-dev) -- Foundry itself;
#   for the tests also GoogleTest/GoogleMock (libgtest-dev libgmock-dev, or
#   the `googletest` sources in /usr/src/googletest) and PCRE2 + pkg-config
#   (libpcre2-dev pkg-config; the top-level project wants them when tests are
#   on). ninja is used when present.
# What is missing is reported first; the tests are skipped (not the
# benchmarks) when only GoogleTest or PCRE2 is missing.
#
# Builds go to build/cuda (tests) and build/cuda-bench (benchmarks); compiled
# kernels are cached in build/cuda/kernel-cache (FOUNDRY_CACHE_DIR), which
# starts empty, so the NVRTC test measures cold compiles.
# Exit status: 0 when every test passed (or was skipped), 1 otherwise.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}" || exit 1

quick=""
run_tests=1
run_bench=1
for arg in "$@"; do
  case "${arg}" in
    --quick) quick="--quick" ;;
    --no-tests) run_tests=0 ;;
    --no-bench) run_bench=0 ;;
    -h | --help)
      sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run_all.sh: unknown argument '${arg}'" >&2
      exit 2
      ;;
  esac
done

jobs="$(nproc 2>/dev/null || echo 4)"
build="${repo_root}/build/cuda"
bench_build="${repo_root}/build/cuda-bench"
logs="${build}/logs"
mkdir -p "${logs}"
export FOUNDRY_CACHE_DIR="${build}/kernel-cache"
rm -rf "${FOUNDRY_CACHE_DIR}"

note() { echo "[run_all] $*" >&2; }

# ---------------------------------------------------------------------------
# Environment and dependencies.
cuda_root="${CUDA_HOME:-${CUDA_PATH:-/usr/local/cuda}}"
if [[ ! -e "${cuda_root}/include/cuda.h" ]] && command -v nvcc >/dev/null 2>&1; then
  cuda_root="$(cd "$(dirname "$(command -v nvcc)")/.." && pwd)"
fi
export PATH="${cuda_root}/bin:${PATH}"
export LD_LIBRARY_PATH="${cuda_root}/lib64:${LD_LIBRARY_PATH:-}"

have_header() {  # have_header <relative path> [extra dirs...]
  local h="$1"
  shift
  for d in /usr/include /usr/local/include "$@"; do
    [[ -e "${d}/${h}" ]] && return 0
  done
  return 1
}
have_lib() {  # have_lib <soname stem>
  ldconfig -p 2>/dev/null | grep -q "lib$1\.so" && return 0
  compgen -G "/usr/lib/x86_64-linux-gnu/lib$1.so*" >/dev/null || compgen -G "/usr/local/lib/lib$1.so*" >/dev/null
}
boost_version() {
  local f
  for f in /usr/include/boost/version.hpp /usr/local/include/boost/version.hpp; do
    if [[ -e "${f}" ]]; then
      sed -n 's/^#define BOOST_VERSION \([0-9]*\).*/\1/p' "${f}"
      return
    fi
  done
  echo 0
}

declare -a missing_core=() missing_tests=()
command -v cmake >/dev/null 2>&1 || missing_core+=("cmake")
command -v g++ >/dev/null 2>&1 || missing_core+=("g++")
have_header cuda.h "${cuda_root}/include" || missing_core+=("CUDA toolkit headers (cuda.h under ${cuda_root}/include)")
have_header nvrtc.h "${cuda_root}/include" || missing_core+=("nvrtc.h (CUDA toolkit)")
have_header cublas_v2.h "${cuda_root}/include" || missing_core+=("cublas_v2.h (CUDA toolkit, for the benchmark)")
have_header fmt/format.h || missing_core+=("{fmt} (libfmt-dev)")
have_header xxhash.h && have_lib xxhash || missing_core+=("xxHash (libxxhash-dev)")
bv="$(boost_version)"
if ((bv < 108100)); then
  missing_core+=("Boost >= 1.81 (found ${bv:-none}; libboost1.81-dev)")
fi
have_lib boost_context || missing_core+=("Boost.Context (libboost-context1.81-dev)")
gtest_args=()
if have_header gtest/gtest.h && have_header gmock/gmock.h; then
  :
elif [[ -e /usr/src/googletest/CMakeLists.txt ]]; then
  gtest_args=(-DFOUNDRY_GTEST_FROM_SOURCE=ON)
else
  missing_tests+=("GoogleTest/GoogleMock (libgtest-dev libgmock-dev, or googletest sources)")
fi
command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libpcre2-8 2>/dev/null ||
  missing_tests+=("PCRE2 + pkg-config (libpcre2-dev pkg-config)")
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

gpu_line="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
nvcc_line="$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -1)"

echo "# Foundry CUDA backend: tests and benchmarks"
echo
echo "| item | value |"
echo "|---|---|"
echo "| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)') |"
echo "| GPU (nvidia-smi) | ${gpu_line:-not found} |"
echo "| CUDA toolkit | ${cuda_root} (nvcc ${nvcc_line:-not found}) |"
echo "| compiler | $(g++ --version 2>/dev/null | head -1) |"
echo "| cmake | $(cmake --version 2>/dev/null | head -1) |"
echo "| Boost | ${bv} |"
echo "| CPU cores | ${jobs} |"
if ((${#missing_core[@]})); then
  echo
  echo "**Cannot build:** missing ${missing_core[*]}"
  exit 1
fi
if ((${#missing_tests[@]})) && ((run_tests)); then
  echo
  echo "**Tests skipped:** missing ${missing_tests[*]}"
  run_tests=0
fi

status=0

# ---------------------------------------------------------------------------
# Tests: tests/cuda/*_test.cpp (label cuda) and tests/unit/cuda_nvrtc_test.cpp.
if ((run_tests)); then
  note "configuring the tests (build/cuda)"
  if ! cmake -S . -B "${build}" ${generator[@]+"${generator[@]}"} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
    -DFOUNDRY_BUILD_TESTS=ON -DFOUNDRY_BUILD_EXAMPLES=OFF -DFOUNDRY_BUILD_BENCH=OFF -DFOUNDRY_INSTALL=OFF \
    -DCUDAToolkit_ROOT="${cuda_root}" ${gtest_args[@]+"${gtest_args[@]}"} >"${logs}/configure.log" 2>&1; then
    echo
    echo "**Test configuration failed** (build/cuda/logs/configure.log):"
    echo '```'
    tail -30 "${logs}/configure.log"
    echo '```'
    status=1
  else
    targets=(foundry_unit_cuda_nvrtc_test)
    for f in tests/cuda/*_test.cpp; do
      targets+=("foundry_cuda_$(basename "${f}" .cpp)")
    done
    note "building ${targets[*]}"
    if ! cmake --build "${build}" -j "${jobs}" --target "${targets[@]}" >"${logs}/build.log" 2>&1; then
      echo
      echo "**Test build failed** (build/cuda/logs/build.log):"
      echo '```'
      grep -E "error|Error" "${logs}/build.log" | head -40
      echo '```'
      status=1
    else
      echo
      echo "## Tests"
      echo
      echo "| test | result | seconds | detail |"
      echo "|---|---|---:|---|"
      for t in "${targets[@]}"; do
        exe="$(find "${build}/tests" -type f -name "${t}" | head -1)"
        t0="$(date +%s%N)"
        "${exe}" >"${logs}/${t}.log" 2>&1
        rc=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        summary="$(grep -E '^\[  (PASSED|FAILED)  \]' "${logs}/${t}.log" | head -2 | tr '\n' ' ')"
        case "${rc}" in
          0) result="pass" ;;
          77) result="skipped"; summary="$(grep -m1 '^skipped' "${logs}/${t}.log")" ;;
          *) result="**FAIL (${rc})**"; status=1 ;;
        esac
        printf '| %s | %s | %d.%01d | %s |\n' "${t}" "${result}" $((ms / 1000)) $((ms % 1000 / 100)) "${summary}"
      done
      for t in "${targets[@]}"; do
        if grep -q '^\[  FAILED  \]' "${logs}/${t}.log" 2>/dev/null; then
          echo
          echo "### ${t}: failures"
          echo '```'
          grep -B2 -A12 -E 'Failure|FAILED' "${logs}/${t}.log" | head -80
          echo '```'
        fi
      done
      # NVRTC logs with warnings, if any kernel had some.
      if grep -q "^NVRTC log for" "${logs}/foundry_unit_cuda_nvrtc_test.log" 2>/dev/null; then
        echo
        echo "NVRTC printed warnings for some kernels: see build/cuda/logs/foundry_unit_cuda_nvrtc_test.log"
      fi
    fi
  fi
fi

# ---------------------------------------------------------------------------
# Benchmarks: bench/cuda as a project of its own.
if ((run_bench)); then
  note "configuring the benchmarks (build/cuda-bench)"
  if ! cmake -S bench/cuda -B "${bench_build}" ${generator[@]+"${generator[@]}"} -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER=g++ -DCUDAToolkit_ROOT="${cuda_root}" >"${logs}/bench-configure.log" 2>&1 ||
    ! cmake --build "${bench_build}" -j "${jobs}" >"${logs}/bench-build.log" 2>&1; then
    echo
    echo "**Benchmark build failed** (build/cuda/logs/bench-*.log):"
    echo '```'
    tail -30 "${logs}/bench-configure.log"
    grep -E "error|Error" "${logs}/bench-build.log" 2>/dev/null | head -30
    echo '```'
    status=1
  else
    note "running the benchmarks (a few minutes)"
    echo
    # shellcheck disable=SC2086  # $quick is empty or one flag
    "${bench_build}/foundry_cuda_gemv_bench" ${quick} 2>"${logs}/bench.err"
    rc=$?
    if ((rc != 0)); then
      echo
      echo "**Benchmark exited with ${rc}**:"
      echo '```'
      tail -30 "${logs}/bench.err"
      echo '```'
      ((rc == 77)) || status=1
    fi
  fi
fi

exit "${status}"
