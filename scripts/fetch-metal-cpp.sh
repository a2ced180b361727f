#!/usr/bin/env bash
# Fetches Apple's metal-cpp headers for the Linux syntax check of the Metal
# backend (tests/metal_syntax). Idempotent; prints where they are.
#
#   scripts/fetch-metal-cpp.sh
#
# The headers come from PyPI: the source distribution of `pymetal-cpp`
# vendors metal-cpp (Apple's headers, Apache License 2.0) in
# thirdparty/metal-cpp. The version and the archive's SHA-256 are pinned
# below; the headers are extracted to
#   ${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/metal-cpp
# (Foundation/, Metal/, QuartzCore/, ...), with a stamp file naming the
# source. macOS builds do not use this: cmake/FoundryMetal.cmake fetches
# metal-cpp from Apple.
set -euo pipefail

pymetal_version="0.1.5"
pymetal_sdist="pymetal_cpp-${pymetal_version}.tar.gz"
pymetal_sha256="1118062f635277a2781659fbc4e7e5bac7d565d6948a3461c3b04d6425c15a0e"
# metal-cpp inside it: Metal/MTLVersion.hpp says 367.4.2 (the macOS 15 / iOS 18 headers).
metal_cpp_version="367.4.2"

log() { echo "[fetch-metal-cpp] $*"; }
die() {
  echo "[fetch-metal-cpp] error: $*" >&2
  exit 1
}

cache_dir="${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/foundry}"
dest="${cache_dir}/metal-cpp"
stamp="${dest}/.foundry-source"
want_stamp="pymetal-cpp ${pymetal_version} ${pymetal_sha256} metal-cpp ${metal_cpp_version}"

if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want_stamp}" && -f "${dest}/Metal/Metal.hpp" ]]; then
  log "metal-cpp ${metal_cpp_version} present: ${dest}"
  exit 0
fi

python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is needed (Debian: apt-get install python3-pip)"

mkdir -p "${cache_dir}"
tmp_dir="$(mktemp -d "${cache_dir}/.metal-cpp.XXXXXX")"
trap 'rm -rf "${tmp_dir}"' EXIT

log "downloading pymetal-cpp==${pymetal_version} (source distribution) from PyPI"
if ! python3 -m pip download --no-deps --no-binary :all: --disable-pip-version-check --quiet \
  "pymetal-cpp==${pymetal_version}" -d "${tmp_dir}"; then
  die "could not download pymetal-cpp==${pymetal_version} with pip; check access to PyPI"
fi
archive="${tmp_dir}/${pymetal_sdist}"
[[ -f "${archive}" ]] || die "pip reported success but ${pymetal_sdist} is not in ${tmp_dir}"

actual="$(sha256sum "${archive}" | awk '{print $1}')"
[[ "${actual}" == "${pymetal_sha256}" ]] ||
  die "checksum mismatch for ${pymetal_sdist}: expected ${pymetal_sha256}, got ${actual}"

mkdir -p "${tmp_dir}/x"
tar -xzf "${archive}" -C "${tmp_dir}/x"
src="$(find "${tmp_dir}/x" -type f -path '*/metal-cpp/Metal/Metal.hpp' | head -n 1)"
[[ -n "${src}" ]] || die "no metal-cpp/Metal/Metal.hpp inside ${pymetal_sdist}"
src="$(dirname "$(dirname "${src}")")"
[[ -f "${src}/Foundation/Foundation.hpp" ]] || die "${src} has no Foundation/Foundation.hpp"
grep -q "METALCPP_VERSION_MAJOR ${metal_cpp_version%%.*}" "${src}/Metal/MTLVersion.hpp" ||
  die "${src}/Metal/MTLVersion.hpp is not metal-cpp ${metal_cpp_version}"

# Replace the old copy only once the new one is complete.
echo "${want_stamp}" >"${src}/.foundry-source"
rm -rf "${dest}.old"
[[ -e "${dest}" ]] && mv "${dest}" "${dest}.old"
mv "${src}" "${dest}"
rm -rf "${dest}.old"
log "metal-cpp ${metal_cpp_version} ready: ${dest}"
