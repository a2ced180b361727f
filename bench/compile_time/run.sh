#!/usr/bin/env bash
# Compile-time benchmark of fused-kernel aliases.
#
#   bench/compile_time/run.sh [N...]      (default: 1 10 40)
#
# For each N, gen_tu.py writes a translation unit with N distinct
# fused_kernel aliases (GEMV main stage + 1 to 3 epilogues + store) that
# builds each alias's compile-time text; N = 0 (same headers, no alias) is
# the baseline. Every TU is compiled once with g++ (libstdc++) and once with
# clang++-16 -stdlib=libc++ under GNU time, and the script prints a table:
# wall seconds, seconds per alias above the baseline, peak RSS.
#
# Per-alias columns subtract the N = 0 row and divide by N. "CPU s" is user
# + system time, less sensitive than wall time to other load on the machine.
#
# Environment: GXX (default g++), CLANGXX (default clang++-16),
# BENCH_CXXFLAGS (default -O2), BENCH_REPEAT (default 1: compile each TU
# this many times and keep the fastest). Needs python3, cmake and GNU time
# (/usr/bin/time, Debian package `time`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"

die() {
  echo "run.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null || die "python3 not found"
command -v cmake >/dev/null || die "cmake not found (needed to embed kernels/*.metal)"
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
  die "GNU time not found at /usr/bin/time; install the Debian package 'time' (apt-get install time)"
fi

counts=("$@")
if [[ ${#counts[@]} -eq 0 ]]; then counts=(1 10 40); fi
for n in "${counts[@]}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '${n}'"
done
counts=(0 "${counts[@]}")

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

for n in "${counts[@]}"; do
  python3 "${here}/gen_tu.py" "${n}" "${tmp}/tu_${n}.cpp"
done

gxx="${GXX:-g++}"
clangxx="${CLANGXX:-clang++-16}"
read -r -a extra <<<"${BENCH_CXXFLAGS:--O2}"
repeat="${BENCH_REPEAT:-1}"
[[ "${repeat}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
compilers=()  # "label|command"
if command -v "${gxx}" >/dev/null; then
  compilers+=("${gxx} (libstdc++)|${gxx}")
else
  echo "run.sh: ${gxx} not found, skipped" >&2
fi
if command -v "${clangxx}" >/dev/null; then
  compilers+=("${clangxx} (libc++)|${clangxx} -stdlib=libc++")
else
  echo "run.sh: ${clangxx} not found, skipped" >&2
fi
[[ ${#compilers[@]} -gt 0 ]] || die "no compiler found"

echo "Foundry compile-time benchmark, $(date +%F), $(nproc) cores, $(uname -m)"
for c in "${compilers[@]}"; do
  read -r -a cmd <<<"${c#*|}"
  echo "  ${c%%|*}: $("${cmd[0]}" --version | head -n 1)"
done
echo "  flags: -std=c++20 ${extra[*]} -c; N = fused-kernel aliases in the TU; best of ${repeat} run(s)"
echo

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

printf '| %-22s | %3s | %7s | %9s | %7s | %9s | %12s |\n' compiler N "wall s" "s / alias" "CPU s" \
  "CPU/alias" "peak RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "----:" "--------:" "----------:" \
  "--------:" "----------:" "-------------:"
for c in "${compilers[@]}"; do
  label="${c%%|*}"
  read -r -a cmd <<<"${c#*|}"
  base_wall=""
  base_cpu=""
  for n in "${counts[@]}"; do
    wall=""
    cpu=""
    rss=0
    for ((r = 0; r < repeat; ++r)); do
      log="${tmp}/time_${n}.txt"
      if ! /usr/bin/time -v -o "${log}" "${cmd[@]}" -std=c++20 "${extra[@]}" \
          -I"${root}/include" -I"${root}" -I"${gen}" -c "${tmp}/tu_${n}.cpp" -o "${tmp}/tu_${n}.o" \
          >"${tmp}/out_${n}.txt" 2>&1; then
        echo "run.sh: ${label} failed on the TU with N=${n}:" >&2
        tail -n 30 "${tmp}/out_${n}.txt" >&2
        exit 1
      fi
      # Fastest of the repeats, largest peak RSS.
      wall="$(awk -v a="${wall}" -v b="$(wall_seconds "${log}")" 'BEGIN { print (a == "" || b < a) ? b : a }')"
      cpu="$(awk -v a="${cpu}" -v b="$(cpu_seconds "${log}")" 'BEGIN { print (a == "" || b < a) ? b : a }')"
      rss="$(awk -v a="${rss}" -v b="$(peak_mib "${log}")" 'BEGIN { print (b > a) ? b : a }')"
    done
    if [[ "${n}" -eq 0 ]]; then
      base_wall="${wall}"
      base_cpu="${cpu}"
      per_wall="-"
      per_cpu="-"
    else
      per_wall="$(awk -v w="${wall}" -v b="${base_wall}" -v n="${n}" 'BEGIN { printf "%.3f", (w - b) / n }')"
      per_cpu="$(awk -v w="${cpu}" -v b="${base_cpu}" -v n="${n}" 'BEGIN { printf "%.3f", (w - b) / n }')"
    fi
    printf '| %-22s | %3d | %7.2f | %9s | %7.2f | %9s | %12s |\n' "${label}" "${n}" "${wall}" \
      "${per_wall}" "${cpu}" "${per_cpu}" "${rss}"
  done
done
