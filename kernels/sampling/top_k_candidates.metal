// Top-k candidates of a chunk of logits, with the chunk's softmax normalizer.
//
// Order: (v, i) comes before (w, j) when v > w, or v == w and i < j
// (foundry_argmax_better: ties to the smaller index). NaN values are never
// candidates and are left out of the normalizer. The empty slot is
// (-INFINITY, 0xFFFFFFFF), which every real element precedes (a real -inf
// logit has an index below 0xFFFFFFFF).
//
// Threadgroup `group` owns elements [group * chunk, (group + 1) * chunk),
// chunk = threads * per_thread; thread t holds elements begin + t + j *
// threads (j < per_thread) in `lv`/`li`, sorted best first. Then:
//   1. each SIMD-group selects its k best in k rounds: every lane offers its
//      best element not yet taken, simd_max finds the best value and
//      simd_min the smallest index holding it, the owning lane advances;
//      the k results go to threadgroup memory (one list per SIMD-group);
//   2. after the one threadgroup barrier, SIMD-group 0 merges the sorted
//      lists the same way (lane l advancing through list l).
// Each round is two SIMD-group reductions and no barrier, so the CPU
// backend (fibers) and GPUs both pay little for the k rounds.
//
// The normalizer: each thread computes (m, s) = (its max, Σ exp((x - m) /
// temperature)) over its elements, and SIMD-group reductions combine them
// as (M, Σ s · exp((m - M) / temperature)) - the online-softmax rule (Milakov
// and Gimelshein, "Online normalizer calculation for softmax", 2018).
// A part whose values are all -inf (or empty) contributes (-inf, 0).

// (m, s) of one part rescaled to the common maximum mm; 0 for an empty part.
ALWAYS_INLINE float foundry_topk_rescale(float m, float s, float mm, float temperature) {
  return m == -INFINITY ? 0.0f : s * exp((m - mm) / temperature);
}

// Writes out_value/out_index[group * k .. group * k + k) (best first; empty
// slots where the chunk has fewer than k elements) and out_max/out_sum[group].
// lv/li: per_thread floats/uints of thread memory. tg_value/tg_index:
// nsg * k elements of threadgroup memory; tg_max/tg_sum: nsg. Every thread
// of the threadgroup must call this function (one threadgroup barrier).
ALWAYS_INLINE void foundry_topk_block(const device float* x, uint n, float temperature, uint k, uint per_thread,
                                      thread float* lv, thread uint* li, device float* out_value,
                                      device uint* out_index, device float* out_max, device float* out_sum,
                                      threadgroup float* tg_value, threadgroup uint* tg_index,
                                      threadgroup float* tg_max, threadgroup float* tg_sum, uint group, uint tid,
                                      uint threads, uint lane, uint sg, uint nsg) {
  const ulong begin = (ulong)group * (ulong)threads * (ulong)per_thread;
  // This thread's elements, sorted best first (insertion sort; they arrive
  // in increasing index order, so equal values keep the smaller index first).
  uint count = 0u;
  for (uint j = 0u; j < per_thread; ++j) {
    const ulong e = begin + (ulong)tid + (ulong)j * (ulong)threads;
    if (e >= (ulong)n) break;
    const float v = x[e];
    if (isnan(v)) continue;
    uint p = count;
    while (p > 0u && foundry_argmax_better(v, uint(e), lv[p - 1u], li[p - 1u])) {
      lv[p] = lv[p - 1u];
      li[p] = li[p - 1u];
      --p;
    }
    lv[p] = v;
    li[p] = uint(e);
    ++count;
  }
  const float m = count > 0u ? lv[0] : -INFINITY;
  float s = 0.0f;
  if (m != -INFINITY)
    for (uint j = 0u; j < count; ++j) s += exp((lv[j] - m) / temperature);

  // 1. The SIMD-group's k best.
  uint cur = 0u;
  for (uint r = 0u; r < k; ++r) {
    const bool has = cur < count;
    const float hv = has ? lv[cur] : -INFINITY;
    const uint hi = has ? li[cur] : 0xFFFFFFFFu;
    const float bv = simd_max(hv);
    const uint bi = simd_min(hv == bv ? hi : 0xFFFFFFFFu);
    if (has && hi == bi) ++cur;
    if (lane == 0u) {
      tg_value[sg * k + r] = bv;
      tg_index[sg * k + r] = bi;
    }
  }
  const float m_sg = simd_max(m);
  const float s_sg = simd_sum(foundry_topk_rescale(m, s, m_sg, temperature));
  if (lane == 0u) {
    tg_max[sg] = m_sg;
    tg_sum[sg] = s_sg;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);

  // 2. SIMD-group 0 merges the nsg lists (lane l walks list l).
  if (sg != 0u) return;
  uint c = 0u;
  for (uint r = 0u; r < k; ++r) {
    const bool has = lane < nsg && c < k;
    const float hv = has ? tg_value[lane * k + c] : -INFINITY;
    const uint hi = has ? tg_index[lane * k + c] : 0xFFFFFFFFu;
    const float bv = simd_max(hv);
    const uint bi = simd_min(hv == bv ? hi : 0xFFFFFFFFu);
    if (has && hi == bi) ++c;
    if (lane == 0u) {
      out_value[group * k + r] = bv;
      out_index[group * k + r] = bi;
    }
  }
  const float pm = lane < nsg ? tg_max[lane] : -INFINITY;
  const float ps = lane < nsg ? tg_sum[lane] : 0.0f;
  const float mm = simd_max(pm);
  const float ss = simd_sum(foundry_topk_rescale(pm, ps, mm, temperature));
  if (lane == 0u) {
    out_max[group] = mm;
    out_sum[group] = ss;
  }
}
