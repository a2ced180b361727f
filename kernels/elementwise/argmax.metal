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

#if !FOUNDRY_TARGET_CPU
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
#endif

// Threadgroup `group` reduces elements [group * chunk, min((group + 1) *
// chunk, n)) of x to out_value[group], out_index[group]. The index of
// element e is x_index[e] when has_index (a second pass over partial
// results), else e. Every thread of the threadgroup must call this function.
#if FOUNDRY_TARGET_CPU
// The CPU forms scan a threadgroup's range with thread 0 alone (no cross-lane
// operation, so the kernels run as lane loops, dsl/lane_loop.hpp). The order
// is total (see the top), so the result is the GPU forms'. `value(e)` and
// `index(e)` give element e's value and index; the best pair of [group *
// chunk, min((group + 1) * chunk, n)) goes to out_value[group],
// out_index[group]. (C++ lambdas: this text is compiled by the host only.)
template <class Value, class Index>
ALWAYS_INLINE void foundry_argmax_scan(uint n, uint chunk, uint group, Value value, Index index,
                                       device float* out_value, device uint* out_index) {
  const ulong begin = (ulong)group * (ulong)chunk;
  const ulong stop = begin + (ulong)chunk;
  const ulong end = stop < (ulong)n ? stop : (ulong)n;
  float bv = -INFINITY;
  uint bi = 0xFFFFFFFFu;
  for (ulong e = begin; e < end; ++e) {
    const float v = value(e);
    const uint i = index(e);
    if (foundry_argmax_better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  out_value[group] = bv;
  out_index[group] = bi;
}
ALWAYS_INLINE void foundry_argmax_block(const device float* x, const device uint* x_index, bool has_index,
                                        uint n, uint chunk, device float* out_value, device uint* out_index,
                                        threadgroup float* val_part, threadgroup uint* idx_part,
                                        uint group, uint tid, uint threads, uint lane, uint sg, uint nsg) {
  (void)val_part; (void)idx_part; (void)threads; (void)lane; (void)sg; (void)nsg;
  if (tid == 0u)
    foundry_argmax_scan(n, chunk, group, [&](ulong e) { return x[e]; },
                        [&](ulong e) { return has_index ? x_index[e] : uint(e); }, out_value, out_index);
}
#endif
#if !FOUNDRY_TARGET_CPU
// The GPU form: a strided scan per thread, SIMD-group butterflies, one
// threadgroup barrier.
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
#endif
