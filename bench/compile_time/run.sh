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

script=run.sh
counts=("$@")
if [[ ${#counts[@]} -eq 0 ]]; then counts=(1 10 40); fi
for n in "${counts[@]}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: N must be a positive integer, got '${n}'" >&2; exit 1; }
done
counts=(0 "${counts[@]}")

# shellcheck source=common.sh
source "${here}/common.sh"

for n in "${counts[@]}"; do
  python3 "${here}/gen_tu.py" "${n}" "${tmp}/tu_${n}.cpp"
done

repeat="${BENCH_REPEAT:-1}"
[[ "${repeat}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"

echo "Foundry compile-time benchmark, $(date +%F), $(nproc) cores, $(uname -m)"
print_compilers
echo "  flags: -std=c++20 ${extra[*]} -c; N = fused-kernel aliases in the TU; best of ${repeat} run(s)"
echo

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
      compile_timed "${log}" "${cmd[@]}" -std=c++20 "${extra[@]}" \
        -I"${root}/include" -I"${root}" -I"${gen}" -c "${tmp}/tu_${n}.cpp" -o "${tmp}/tu_${n}.o"
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
