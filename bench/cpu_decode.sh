#!/usr/bin/env bash
# SmolLM2 decode and prompt speed on the CPU backend, side by side in one run:
# Foundry as it runs by default (lane loops, dsl/lane_loop.hpp; decode GEMVs
# with 8-bit activations, `cpu_q8_activations`), Foundry with float
# activations (--float-activations: the decode GEMVs before the 8-bit form),
# Foundry with one fiber per thread forced (FOUNDRY_CPU_EXECUTION=fibers: the
# execution model before lane loops), and llama.cpp's CPU backend
# (llama-bench), at 1 thread and at all cores. Prints a Markdown table.
#
# Usage: bench/cpu_decode.sh [path/to/llama-bench]
#   FOUNDRY_GENERATE  foundry-generate binary (default build/default/examples/generate/foundry-generate)
#   FOUNDRY_MODEL_PATH  the GGUF file (default: the README's SmolLM2-135M Q4_1)
#   TOKENS            tokens to generate per run (default 64)
# Without a llama-bench path the llama.cpp rows are left out.
set -euo pipefail
gen="${FOUNDRY_GENERATE:-build/default/examples/generate/foundry-generate}"
model="${FOUNDRY_MODEL_PATH:-${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
tokens="${TOKENS:-64}"
llama_bench="${1:-}"
[[ -x "$gen" ]] || { echo "foundry-generate not found at $gen (build the target first)" >&2; exit 1; }
cores="$(nproc)"

# foundry <execution> <threads> [options] -> "decode_tokens_per_s prompt_tokens_per_s"
foundry() {
  FOUNDRY_CPU_EXECUTION="$1" FOUNDRY_CPU_THREADS="$2" "$gen" --model "$model" --max-tokens "$tokens" \
    --ignore-eos --prompt "Once upon a time" "${@:3}" 2>&1 >/dev/null |
    sed -n 's/^prompt tokens: [0-9]* (\([0-9.]*\) prompt tokens\/s.*generated tokens: [0-9]* (\([0-9.]*\) decode tokens\/s.*/\2 \1/p'
}
# llama <threads> <-n> <-p> -> tokens/s of the one test (tg: -p 0, pp: -n 0)
llama() {
  "$llama_bench" -m "$model" -t "$1" -n "$2" -p "$3" -r 3 -o csv 2>/dev/null |
    awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i ~ /avg_ts/) c = i } NR == 2 { gsub(/"/, "", $c); printf "%.1f\n", $c }'
}
ratio() { awk -v a="$1" -v b="$2" -v pct="${3:-}" 'BEGIN { if (pct) printf "%.1f%%", 100 * a / b; else printf "%.2fx", a / b }'; }

# Decode: 64 generated tokens after a 4-token prompt (llama-bench: tg64).
# Prompt: the 4-token prompt of the same runs (Foundry's batched prefill;
# llama-bench: pp4), so both read as prompt processing at that length.
echo "| threads | test | Foundry (tok/s) | Foundry float activations (tok/s) | Foundry fibers (tok/s) |" \
     "Foundry / float activations | Foundry / fibers | llama.cpp (tok/s) | Foundry / llama.cpp |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for t in 1 "$cores"; do
  read -r lane_dec lane_pp < <(foundry lanes "$t")
  read -r flt_dec flt_pp < <(foundry lanes "$t" --float-activations)
  read -r fib_dec fib_pp < <(foundry fibers "$t")
  ll_dec="-"; ll_pp="-"; vs_dec="-"; vs_pp="-"
  if [[ -n "$llama_bench" ]]; then
    ll_dec=$(llama "$t" "$tokens" 0); vs_dec=$(ratio "$lane_dec" "$ll_dec" pct)
    ll_pp=$(llama "$t" 0 4); vs_pp=$(ratio "$lane_pp" "$ll_pp" pct)
  fi
  echo "| $t | decode (tg$tokens) | $lane_dec | $flt_dec | $fib_dec | $(ratio "$lane_dec" "$flt_dec") |" \
       "$(ratio "$lane_dec" "$fib_dec") | $ll_dec | $vs_dec |"
  echo "| $t | prompt (pp4) | $lane_pp | $flt_pp | $fib_pp | $(ratio "$lane_pp" "$flt_pp") |" \
       "$(ratio "$lane_pp" "$fib_pp") | $ll_pp | $vs_pp |"
done
