// Arg-max (greedy sampling): the index of the largest value.
//
// Order: (v, i) beats (bv, bi) when v > bv, or v == bv and i < bi, so ties
// go to the smallest index; NaN never compares greater or equal, so a NaN
// is never selected (an all-NaN or empty range yields (-INFINITY,
// 0xFFFFFFFF)). This is a total order on the (value, index) pairs that can
// win, so any reduction tree gives the same result as a sequential scan.

ALWAYS_INLINE bool foundry_argmax_better(float v, uint i, float bv, uint bi) {
  return v > bv || (v == bv && i < bi);
}

// Reduces (bv, bi) over the SIMD-group in place (butterfly; every lane gets
// the result). Must be called by all lanes of the SIMD-group.
ALWAYS_INLINE void foundry_argmax_simd(thread float& bv, thread uint& bi) {
  for (uint off = 16u; off > 0u; off >>= 1u) {
    const float ov = simd_shuffle_xor(bv, off);
    const uint oi = simd_shuffle_xor(bi, off);
    if (foundry_argmax_better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
}

// Threadgroup `group` reduces elements [group * chunk, min((group + 1) *
// chunk, n)) of x to out_value[group], out_index[group]. The index of
// element e is x_index[e] when has_index (a second pass over partial
// results), else e. Every thread of the threadgroup must call this function
// (one threadgroup barrier).
ALWAYS_INLINE void foundry_argmax_block(const device float* x, const device uint* x_index, bool has_index,
                                        uint n, uint chunk, device float* out_value, device uint* out_index,
                                        threadgroup float* val_part, threadgroup uint* idx_part,
                                        uint group, uint tid, uint threads, uint lane, uint sg, uint nsg) {
  const ulong begin = (ulong)group * (ulong)chunk;
  const ulong stop = begin + (ulong)chunk;
  const ulong end = stop < (ulong)n ? stop : (ulong)n;
  float bv = -INFINITY;
  uint bi = 0xFFFFFFFFu;
  for (ulong e = begin + tid; e < end; e += threads) {
    const float v = x[e];
    const uint i = has_index ? x_index[e] : uint(e);
    if (foundry_argmax_better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  foundry_argmax_simd(bv, bi);
  if (lane == 0u) {
    val_part[sg] = bv;
    idx_part[sg] = bi;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  bv = lane < nsg ? val_part[lane] : -INFINITY;
  bi = lane < nsg ? idx_part[lane] : 0xFFFFFFFFu;
  foundry_argmax_simd(bv, bi);
  if (tid == 0u) {
    out_value[group] = bv;
    out_index[group] = bi;
  }
}
