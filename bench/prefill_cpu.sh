#!/usr/bin/env bash
# Prompt processing on the CPU backend, token by token (--prefill-chunk 1)
# against the batched prefill (default chunk, 512 tokens), side by side in
# one run: the default 42-token chat prompt and a 449-token prompt.
# Prints a Markdown table of prompt tokens/s and time to first token, and
# the speedup. Usage: bench/prefill_cpu.sh [path/to/foundry-generate]
set -euo pipefail
gen="${1:-build/default/examples/generate/foundry-generate}"
[[ -x "$gen" ]] || { echo "foundry-generate not found at $gen (build the target first)" >&2; exit 1; }

# 449 tokens of plain English text (32 repeats of one sentence; a 512-token chunk).
long=""
for _ in $(seq 32); do long+="The quick brown fox jumps over the lazy dog near the river bank. "; done

run() {  # run <chunk> <args...> -> "tokens rate ttft"
  local chunk="$1"; shift
  "$gen" --prefill-chunk "$chunk" --max-tokens 1 "$@" 2>&1 >/dev/null |
    sed -n 's/^prompt tokens: \([0-9]*\) (\([0-9.]*\) prompt tokens\/s.*time to first token: \([0-9.]*\) s.*/\1 \2 \3/p'
}

echo "| prompt | tokens | chunk 1: tokens/s | chunk 1: TTFT (s) | chunk 512: tokens/s | chunk 512: TTFT (s) | speedup |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for which in chat long; do
  if [[ $which == chat ]]; then args=(); else args=(--prompt "$long"); fi
  read -r n1 r1 t1 < <(run 1 "${args[@]}")
  read -r n2 r2 t2 < <(run 512 "${args[@]}")
  speed=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1fx", a / b }')
  echo "| $which | $n1 | $r1 | $t1 | $r2 | $t2 | $speed |"
done
