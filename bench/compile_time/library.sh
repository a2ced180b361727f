#!/usr/bin/env bash
# Compile-time benchmark of the real kernel library (kernels/library.hpp).
#
#   bench/compile_time/library.sh [each] [all]     (default: both)
#
# With each compiler (g++ with libstdc++, clang++-16 with libc++), compiles
# library_tu.cpp under GNU time:
#   include   the library included, nothing instantiated (the baseline: the
#             cost of `#include <kernels/library.hpp>`)
#   all       every alias of foundry::kernels::library in one TU
#   each      every alias in a TU of its own (one compile per alias)
# and prints a table: wall and CPU seconds, CPU seconds added per alias
# (above the baseline; for `each` the mean, the median and the largest, with
# its kernel name), peak RSS. "Instantiating" an alias builds what Foundry
# computes at compile time (see library_tu.cpp).
#
# Environment: GXX, CLANGXX, BENCH_CXXFLAGS as for run.sh. `each` takes
# about (number of aliases) x 2 compiles of ~1 s on one core.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
script=library.sh
modes=("$@")
if [[ ${#modes[@]} -eq 0 ]]; then modes=(each all); fi
for m in "${modes[@]}"; do
  [[ "${m}" == each || "${m}" == all ]] || { echo "library.sh: unknown mode '${m}' (each, all)" >&2; exit 1; }
done

# shellcheck source=common.sh
source "${here}/common.sh"

src="${here}/library_tu.cpp"
incs=(-I"${root}/include" -I"${root}" -I"${gen}")

# The aliases' names, in library order (index = FOUNDRY_BENCH_ALIAS).
read -r -a first <<<"${compilers[0]#*|}"
"${first[@]}" -std=c++20 -O0 "${incs[@]}" -DFOUNDRY_BENCH_LIST "${src}" -o "${tmp}/list" ||
  die "could not build the alias list"
mapfile -t names < <("${tmp}/list")
count=${#names[@]}

echo "Foundry kernel-library compile time, $(date +%F), $(nproc) cores, $(uname -m), ${count} aliases"
print_compilers
echo "  flags: -std=c++20 ${extra[*]} -c"
echo

printf '| %-22s | %-34s | %8s | %8s | %14s | %12s |\n' compiler TU "wall s" "CPU s" "CPU s / alias" "peak RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------" "------------------------------------" \
  "---------:" "---------:" "---------------:" "-------------:"
row() { printf '| %-22s | %-34s | %8s | %8s | %14s | %12s |\n' "$@"; }

for c in "${compilers[@]}"; do
  label="${c%%|*}"
  read -r -a cmd <<<"${c#*|}"
  base="${tmp}/base.time"
  compile_timed "${base}" "${cmd[@]}" -std=c++20 "${extra[@]}" "${incs[@]}" -c "${src}" -o "${tmp}/x.o"
  base_cpu="$(cpu_seconds "${base}")"
  row "${label}" "include (baseline)" "$(wall_seconds "${base}")" "${base_cpu}" "-" "$(peak_mib "${base}")"
  for m in "${modes[@]}"; do
    if [[ "${m}" == all ]]; then
      log="${tmp}/all.time"
      compile_timed "${log}" "${cmd[@]}" -std=c++20 "${extra[@]}" "${incs[@]}" -DFOUNDRY_BENCH_ALL \
        -c "${src}" -o "${tmp}/x.o"
      cpu="$(cpu_seconds "${log}")"
      row "${label}" "all ${count} aliases in one TU" "$(wall_seconds "${log}")" "${cpu}" \
        "$(awk -v a="${cpu}" -v b="${base_cpu}" -v n="${count}" 'BEGIN { printf "%.3f", (a - b) / n }')" \
        "$(peak_mib "${log}")"
    else
      : >"${tmp}/each.txt"
      wall_sum=0 cpu_sum=0 rss_max=0
      for ((i = 0; i < count; ++i)); do
        log="${tmp}/each.time"
        compile_timed "${log}" "${cmd[@]}" -std=c++20 "${extra[@]}" "${incs[@]}" -DFOUNDRY_BENCH_ALIAS="${i}" \
          -c "${src}" -o "${tmp}/x.o"
        cpu="$(cpu_seconds "${log}")"
        echo "$(awk -v a="${cpu}" -v b="${base_cpu}" 'BEGIN { printf "%.3f", a - b }') ${names[i]}" >>"${tmp}/each.txt"
        wall_sum="$(awk -v a="${wall_sum}" -v b="$(wall_seconds "${log}")" 'BEGIN { print a + b }')"
        cpu_sum="$(awk -v a="${cpu_sum}" -v b="${cpu}" 'BEGIN { print a + b }')"
        rss_max="$(awk -v a="${rss_max}" -v b="$(peak_mib "${log}")" 'BEGIN { print (b > a) ? b : a }')"
      done
      sort -n "${tmp}/each.txt" >"${tmp}/each.sorted"
      mean="$(awk '{ t += $1 } END { printf "%.3f", t / NR }' "${tmp}/each.sorted")"
      median="$(awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' "${tmp}/each.sorted")"
      read -r worst worst_name < <(tail -n 1 "${tmp}/each.sorted")
      row "${label}" "each alias alone (${count} TUs)" "${wall_sum}" "${cpu_sum}" "mean ${mean}" "${rss_max}"
      row "${label}" "  median alias" "" "" "${median}" ""
      row "${label}" "  largest: ${worst_name:0:24}" "" "" "${worst}" ""
    fi
  done
done
