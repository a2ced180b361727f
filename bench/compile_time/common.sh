# Shared by bench/compile_time/run.sh and library.sh (sourced, not run):
# tool checks, the embedded Metal sources, the compilers, GNU time parsing.
# Expects `root` (the repository) and `script` (the caller's name) to be set;
# sets `tmp` (removed on exit), `gen` (include folder of the embedded
# sources), `compilers` ("label|command" entries) and `extra` (flags).

die() {
  echo "${script}: $*" >&2
  exit 1
}

command -v python3 >/dev/null || die "python3 not found"
command -v cmake >/dev/null || die "cmake not found (needed to embed kernels/*.metal)"
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
  die "GNU time not found at /usr/bin/time; install the Debian package 'time' (apt-get install time)"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/foundry-ctbench.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

# Embedded Metal sources, as the CMake build generates them:
# kernels/<family>/<name>.metal -> <gen>/foundry/embedded/<family>/<name>.metal.hpp
gen="${tmp}/generated/include"
while IFS= read -r -d '' metal; do
  rel="${metal#"${root}/kernels/"}"
  dir="$(dirname "${rel}")"
  stem="$(basename "${rel}" .metal)"
  ns="foundry::embedded"
  if [[ "${dir}" != "." ]]; then
    IFS='/' read -r -a parts <<<"${dir}"
    for p in "${parts[@]}"; do ns+="::${p//[^A-Za-z0-9_]/_}"; done
  fi
  mkdir -p "${gen}/foundry/embedded/${dir}"
  cmake -DINPUT="${metal}" -DOUTPUT="${gen}/foundry/embedded/${rel}.hpp" -DNAMESPACE="${ns}" \
        -DNAME="${stem//[^A-Za-z0-9_]/_}_metal" -DSOURCE_LABEL="kernels/${rel}" \
        -P "${root}/cmake/embed_file.cmake" >/dev/null
done < <(find "${root}/kernels" -name '*.metal' -print0)

gxx="${GXX:-g++}"
clangxx="${CLANGXX:-clang++-16}"
read -r -a extra <<<"${BENCH_CXXFLAGS:--O2}"
compilers=()  # "label|command"
if command -v "${gxx}" >/dev/null; then
  compilers+=("${gxx} (libstdc++)|${gxx}")
else
  echo "${script}: ${gxx} not found, skipped" >&2
fi
if command -v "${clangxx}" >/dev/null; then
  # The constexpr step budget that foundry::foundry gives clang (CMakeLists.txt).
  compilers+=("${clangxx} (libc++)|${clangxx} -stdlib=libc++ -fconstexpr-steps=33554432")
else
  echo "${script}: ${clangxx} not found, skipped" >&2
fi
[[ ${#compilers[@]} -gt 0 ]] || die "no compiler found"

print_compilers() {
  local c cmd
  for c in "${compilers[@]}"; do
    read -r -a cmd <<<"${c#*|}"
    echo "  ${c%%|*}: $("${cmd[0]}" --version | head -n 1)"
  done
}

# Seconds from GNU time's "Elapsed (wall clock) time (h:mm:ss or m:ss): ..."
wall_seconds() {
  awk -F': ' '/Elapsed \(wall clock\) time/ { print $NF }' "$1" |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }'
}
cpu_seconds() {
  awk -F': ' '/(User|System) time \(seconds\)/ { t += $NF } END { print t }' "$1"
}
peak_mib() {
  awk -F': ' '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"
}

# compile_timed LOG COMMAND... : runs a compile under GNU time (its report in
# LOG); on failure prints the compiler's last lines and exits.
compile_timed() {
  local log="$1"
  shift
  if ! /usr/bin/time -v -o "${log}" "$@" >"${log}.out" 2>&1; then
    echo "${script}: compile failed: $*" >&2
    tail -n 30 "${log}.out" >&2
    exit 1
  fi
}
