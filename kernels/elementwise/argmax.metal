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
  ulong e = begin + tid;
  // Four elements per thread in flight: the loop over a few thousand
  // partial pairs (a second pass) is otherwise one memory round trip per
  // element and thread.
  for (; e + 3ul * threads < end; e += 4ul * threads) {
    float v[4];
    uint i[4];
    for (uint j = 0u; j < 4u; ++j) {
      v[j] = x[e + j * threads];
      i[j] = has_index ? x_index[e + j * threads] : uint(e + j * threads);
    }
    for (uint j = 0u; j < 4u; ++j) {
      if (foundry_argmax_better(v[j], i[j], bv, bi)) {
        bv = v[j];
        bi = i[j];
      }
    }
  }
  for (; e < end; e += threads) {
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

// The pair a row enters the reduction as: (-INFINITY, 0xFFFFFFFF) for a NaN
// row and for a thread that holds none (`counts` false), which loses to
// every number.
ALWAYS_INLINE void foundry_argmax_candidate(bool counts, float value, uint row, thread float& v, thread uint& i) {
  const bool number = counts && value == value;
  v = number ? value : -INFINITY;
  i = number ? row : 0xFFFFFFFFu;
}

// The argmax epilogue of a GEMV (argmax_partial, argmax.hpp): the rows that
// the writer threads of one SIMD-group hold, reduced to one (value, index)
// pair at part_value[slot], part_index[slot] (slot: the SIMD-group's, the
// same for all its writers). A NaN row counts as (-INFINITY, 0xFFFFFFFF),
// as in foundry_argmax_block. Every thread of the SIMD-group must call it.
#if FOUNDRY_TARGET_CPU
// The CPU form: the lane loops run the writer lanes of a SIMD-group in lane
// order (dsl/lane_loop.hpp), so the first writer (lane 0) stores its pair
// and each later one keeps the better of its own and the stored one.
ALWAYS_INLINE void foundry_argmax_rows(float value, uint row, bool writer, uint slot, uint lane,
                                       device float* part_value, device uint* part_index) {
  if (!writer) return;
  float v;
  uint i;
  foundry_argmax_candidate(true, value, row, v, i);
  if (lane == 0u || foundry_argmax_better(v, i, part_value[slot], part_index[slot])) {
    part_value[slot] = v;
    part_index[slot] = i;
  }
}
#endif
#if !FOUNDRY_TARGET_CPU
// The GPU form: one butterfly over the SIMD-group; lane 0 (a writer when
// the SIMD-group has a row inside the output) stores.
ALWAYS_INLINE void foundry_argmax_rows(float value, uint row, bool writer, uint slot, uint lane,
                                       device float* part_value, device uint* part_index) {
  float bv;
  uint bi;
  foundry_argmax_candidate(writer, value, row, bv, bi);
  foundry_argmax_simd(bv, bi);
  if (lane == 0u && writer) {
    part_value[slot] = bv;
    part_index[slot] = bi;
  }
}
#endif
