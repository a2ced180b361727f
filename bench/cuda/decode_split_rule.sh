#!/usr/bin/env bash
# SmolLM2 decode speed on the CUDA backend per flash-decoding split rule
# (foundry-generate --flash-split-positions P --flash-max-splits S; the
# decoder's flash_split_rule), per layout of the split kernel
# (--flash-split-lanes: element lanes, the layout before, or position
# lanes) and per place of the merge of the splits' states (--flash-merge
# combine: a kernel of its own; split: the split kernel's last threadgroup
# per KV head, position lanes only; wo: the Wo GEMV as it reads its input),
# side by side in one run, with llama.cpp's llama-bench (flash attention off
# and on) before and after the Foundry runs, and optionally every
# configuration again with a second foundry-generate built from an older
# tree (BASELINE), so old and new kernels compare in one run. Configurations
# alternate within each round so that drift on the GPU hits all of them
# alike. Prints a Markdown table; ratios are against the first
# configuration (the baseline's when there is one, else the first layout
# with the first rule) and against llama.cpp with flash attention (mean of
# before and after). The host time per step is given over every step
# (prompt and the first decode step, which records the CUDA graph,
# included) and per decode step after the first.
#
# Usage: bench/cuda/decode_split_rule.sh [path/to/llama-bench]
#   FOUNDRY_GENERATE    foundry-generate binary (default build/default/examples/generate/foundry-generate)
#   FOUNDRY_MODEL_PATH  the GGUF file (default: the README's SmolLM2-135M Q4_1)
#   LANES               layouts to compare (default "elements positions")
#   RULES               "P/S ..." rules to compare (default "32/64 8/64 4/128"; 32/64 is the default rule)
#   MERGES              merge places to compare (default "combine"; "split" is the merge in the split
#                       kernel, for position lanes; "wo" the merge in the Wo GEMV)
#   BASELINE            a foundry-generate built from an older tree: its rows are labelled "baseline"
#                       and come first (default: none); it may be the same binary as
#                       FOUNDRY_GENERATE, with BASELINE_ARGS
#   BASELINE_ARGS       further options for the baseline's runs (e.g. --no-run-ahead)
#   CURRENT_ARGS        further options for the other runs (e.g. --fold-argmax)
#   LENGTHS             tokens generated per run (default "256 1024")
#   ROUNDS              runs of every configuration per length (default 2)
# Without a llama-bench path the llama.cpp rows are left out.
set -euo pipefail
gen="${FOUNDRY_GENERATE:-build/default/examples/generate/foundry-generate}"
model="${FOUNDRY_MODEL_PATH:-${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
lanes="${LANES:-elements positions}"
rules="${RULES:-32/64 8/64 4/128}"
merges="${MERGES:-combine}"
lengths="${LENGTHS:-256 1024}"
rounds="${ROUNDS:-2}"
llama_bench="${1:-}"
baseline="${BASELINE:-}"
baseline_args="${BASELINE_ARGS:-}"
current_args="${CURRENT_ARGS:-}"
[[ -x "$gen" ]] || { echo "foundry-generate not found at $gen (build the target first)" >&2; exit 1; }
[[ -z "$baseline" || -x "$baseline" ]] || { echo "baseline foundry-generate not found at $baseline" >&2; exit 1; }
prompt="Write a long story about a lighthouse keeper who finds a message in a bottle."

# foundry <binary> <further options> <tokens> <lanes> <P> <S> <merge>
#   -> "decode_tokens_per_s host_us_per_step host_us_per_decode_step_after_the_first"
# (the last "-" where the binary does not print it)
foundry() {
  local bin="$1" extra="$2"
  shift 2
  local out
  # shellcheck disable=SC2086 # the further options split into words
  out="$("$bin" --backend cuda --model "$model" --prompt "$prompt" --max-tokens "$1" --ignore-eos \
    --flash-split-lanes "$2" --flash-split-positions "$3" --flash-max-splits "$4" --flash-merge "$5" $extra 2>&1 >/dev/null)"
  local tps all steady
  tps="$(sed -n 's/.*generated tokens: [0-9]* (\([0-9.]*\) decode tokens\/s.*/\1/p' <<<"$out")"
  all="$(sed -n 's/^host time per step: \([0-9.]*\) us.*/\1/p' <<<"$out")"
  steady="$(sed -n 's/.*; \([0-9.]*\) us per decode step after the first.*/\1/p' <<<"$out")"
  echo "${tps:--} ${all:--} ${steady:--}"
}
# llama <tokens> <fa> -> tokens/s
llama() {
  "$llama_bench" -m "$model" -p 0 -n "$1" -fa "$2" -r 5 -o csv 2>/dev/null |
    awk -F, '{ gsub(/"/, "") } NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "avg_ts") c = i } NR == 2 { print $c }'
}

for bin in "$gen" ${baseline:+"$baseline"}; do  # compile the kernels of every configuration
  for m in $merges; do
    "$bin" --backend cuda --model "$model" --prompt Hi --max-tokens 4 --ignore-eos --flash-merge "$m" >/dev/null 2>&1
  done
done
declare -A llama_before llama_after
if [[ -n "$llama_bench" ]]; then
  for n in $lengths; do for fa in 0 1; do llama_before[$n/$fa]="$(llama "$n" "$fa")"; done; done
fi
configs=()
for tree in ${baseline:+baseline} current; do
  for l in $lanes; do
    for rule in $rules; do
      for m in $merges; do
        [[ "$l" == elements && "$m" == split ]] && continue  # the merging split kernel has position lanes
        configs+=("$tree $l $rule $m")
      done
    done
  done
done
declare -A speed host steady
for n in $lengths; do
  for ((r = 1; r <= rounds; ++r)); do
    for c in "${configs[@]}"; do
      read -r tree l rule m <<<"$c"
      bin="$gen" extra="$current_args"
      [[ "$tree" == baseline ]] && bin="$baseline" extra="$baseline_args"
      read -r tps us us_steady <<<"$(foundry "$bin" "$extra" "$n" "$l" "${rule%/*}" "${rule#*/}" "$m")"
      speed[$n/$c]+="${tps} "
      host[$n/$c]+="${us} "
      steady[$n/$c]+="${us_steady} "
    done
  done
done
if [[ -n "$llama_bench" ]]; then
  for n in $lengths; do for fa in 0 1; do llama_after[$n/$fa]="$(llama "$n" "$fa")"; done; done
fi

mean() { awk '{ s = 0; for (i = 1; i <= NF; ++i) s += $i; print (NF ? s / NF : 0) }' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
echo "| tokens | tree | layout | positions per split / split cap | merge | decode tokens/s (rounds) | host µs per step | host µs per decode step after the first | vs ${configs[0]} | vs llama.cpp FA on |"
echo "|---:|---|---|---|---|---:|---:|---:|---:|---:|"
for n in $lengths; do
  base="$(mean "${speed[$n/${configs[0]}]}")"
  fa_on="$(mean "${llama_before[$n/1]:-} ${llama_after[$n/1]:-}")"
  for c in "${configs[@]}"; do
    read -r tree l rule place <<<"$c"
    m="$(mean "${speed[$n/$c]}")"
    echo "| $n | $tree | $l | $rule | $place | ${speed[$n/$c]% } | ${host[$n/$c]% } | ${steady[$n/$c]% } | $(ratio "$m" "$base") | $(ratio "$m" "$fa_on") |"
  done
  if [[ -n "$llama_bench" ]]; then
    for fa in 0 1; do
      echo "| $n | llama.cpp, flash attention $fa | | | | ${llama_before[$n/$fa]} / ${llama_after[$n/$fa]} (before / after) | | | | |"
    done
  fi
done
