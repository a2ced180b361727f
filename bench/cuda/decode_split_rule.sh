#!/usr/bin/env bash
# SmolLM2 decode speed on the CUDA backend per flash-decoding split rule
# (foundry-generate --flash-split-positions P --flash-max-splits S; the
# decoder's flash_split_rule), side by side in one run, with llama.cpp's
# llama-bench (flash attention off and on) before and after the Foundry runs.
# Rules alternate within each round so that drift on the GPU hits all of
# them alike. Prints a Markdown table.
#
# Usage: bench/cuda/decode_split_rule.sh [path/to/llama-bench]
#   FOUNDRY_GENERATE    foundry-generate binary (default build/default/examples/generate/foundry-generate)
#   FOUNDRY_MODEL_PATH  the GGUF file (default: the README's SmolLM2-135M Q4_1)
#   RULES               "P/S ..." rules to compare (default "32/64 16/64 8/64 4/64 4/128"; 32/64 is the default rule)
#   LENGTHS             tokens generated per run (default "256 1024")
#   ROUNDS              runs of every rule per length (default 2)
# Without a llama-bench path the llama.cpp rows are left out.
set -euo pipefail
gen="${FOUNDRY_GENERATE:-build/default/examples/generate/foundry-generate}"
model="${FOUNDRY_MODEL_PATH:-${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
rules="${RULES:-32/64 16/64 8/64 4/64 4/128}"
lengths="${LENGTHS:-256 1024}"
rounds="${ROUNDS:-2}"
llama_bench="${1:-}"
[[ -x "$gen" ]] || { echo "foundry-generate not found at $gen (build the target first)" >&2; exit 1; }
prompt="Write a long story about a lighthouse keeper who finds a message in a bottle."

# foundry <tokens> <P> <S> -> "decode_tokens_per_s host_us_per_step"
foundry() {
  "$gen" --backend cuda --model "$model" --prompt "$prompt" --max-tokens "$1" --ignore-eos \
    --flash-split-positions "$2" --flash-max-splits "$3" 2>&1 >/dev/null |
    sed -n -e 's/.*generated tokens: [0-9]* (\([0-9.]*\) decode tokens\/s.*/\1/p' \
      -e 's/^host time per step: \([0-9.]*\) us.*/\1/p' | paste -sd' '
}
# llama <tokens> <fa> -> tokens/s
llama() {
  "$llama_bench" -m "$model" -p 0 -n "$1" -fa "$2" -r 5 -o csv 2>/dev/null |
    awk -F, '{ gsub(/"/, "") } NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "avg_ts") c = i } NR == 2 { print $c }'
}

"$gen" --backend cuda --model "$model" --prompt Hi --max-tokens 4 --ignore-eos >/dev/null 2>&1  # compile the kernels
declare -A llama_before llama_after
if [[ -n "$llama_bench" ]]; then
  for n in $lengths; do for fa in 0 1; do llama_before[$n/$fa]="$(llama "$n" "$fa")"; done; done
fi
declare -A speed host
for n in $lengths; do
  for ((r = 1; r <= rounds; ++r)); do
    for rule in $rules; do
      read -r tps us <<<"$(foundry "$n" "${rule%/*}" "${rule#*/}")"
      speed[$n/$rule]+="${tps} "
      host[$n/$rule]+="${us} "
    done
  done
done
if [[ -n "$llama_bench" ]]; then
  for n in $lengths; do for fa in 0 1; do llama_after[$n/$fa]="$(llama "$n" "$fa")"; done; done
fi

echo "| tokens | positions per split / split cap | decode tokens/s (rounds) | host µs per step | vs 32/64 |"
echo "|---:|---|---:|---:|---:|"
for n in $lengths; do
  base="$(awk '{ s = 0; for (i = 1; i <= NF; ++i) s += $i; print s / NF }' <<<"${speed[$n/32/64]:-0}")"
  for rule in $rules; do
    mean="$(awk '{ s = 0; for (i = 1; i <= NF; ++i) s += $i; print s / NF }' <<<"${speed[$n/$rule]}")"
    ratio="$(awk -v a="$mean" -v b="$base" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')"
    echo "| $n | $rule | ${speed[$n/$rule]% } | ${host[$n/$rule]% } | $ratio |"
  done
  if [[ -n "$llama_bench" ]]; then
    for fa in 0 1; do
      echo "| $n | llama.cpp, flash attention $fa (before / after) | ${llama_before[$n/$fa]} / ${llama_after[$n/$fa]} | | |"
    done
  fi
done
