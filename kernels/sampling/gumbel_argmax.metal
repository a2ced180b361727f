// Gumbel-max sampling, first pass: the arg-max of x[e] / temperature + g_e
// over one chunk, where g_e is the Gumbel noise of element e
// (counter_hash.metal). The second pass is the plain arg-max kernel over the
// chunks' results (argmax.metal), whose order (ties to the smaller index,
// NaN never selected) this pass shares.

// Threadgroup `group` reduces elements [group * chunk, min((group + 1) *
// chunk, n)) to out_value[group] (the perturbed value) and out_index[group].
// Every thread of the threadgroup must call this function.
#if FOUNDRY_TARGET_CPU
// The CPU form: thread 0 scans the range alone (foundry_argmax_scan,
// argmax.metal).
ALWAYS_INLINE void foundry_gumbel_argmax_block(const device float* x, uint n, uint chunk, float temperature,
                                               uint key_a, uint key_b, device float* out_value,
                                               device uint* out_index, threadgroup float* val_part,
                                               threadgroup uint* idx_part, uint group, uint tid, uint threads,
                                               uint lane, uint sg, uint nsg) {
  (void)val_part; (void)idx_part; (void)threads; (void)lane; (void)sg; (void)nsg;
  if (tid == 0u)
    foundry_argmax_scan(
        n, chunk, group, [&](ulong e) { return x[e] / temperature + foundry_gumbel_noise(key_a, key_b, uint(e)); },
        [](ulong e) { return uint(e); }, out_value, out_index);
}
#endif
#if !FOUNDRY_TARGET_CPU
// The GPU form: a strided scan per thread, SIMD-group butterflies
// (foundry_argmax_simd), one threadgroup barrier.
ALWAYS_INLINE void foundry_gumbel_argmax_block(const device float* x, uint n, uint chunk, float temperature,
                                               uint key_a, uint key_b, device float* out_value,
                                               device uint* out_index, threadgroup float* val_part,
                                               threadgroup uint* idx_part, uint group, uint tid, uint threads,
                                               uint lane, uint sg, uint nsg) {
  const ulong begin = (ulong)group * (ulong)chunk;
  const ulong stop = begin + (ulong)chunk;
  const ulong end = stop < (ulong)n ? stop : (ulong)n;
  float bv = -INFINITY;
  uint bi = 0xFFFFFFFFu;
  for (ulong e = begin + tid; e < end; e += threads) {
    const uint i = uint(e);
    const float v = x[e] / temperature + foundry_gumbel_noise(key_a, key_b, i);
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
