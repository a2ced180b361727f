// Numerically stable softmax of one row of n floats (the max is subtracted
// before exponentiating, so no exp overflows; Goodfellow, Bengio &
// Courville, 2016, "Deep Learning", sec. 4.1):
//   y_i = exp(x_i - M) / S,   M = max_j x_j,   S = sum_j exp(x_j - M).
// Three passes over the row by all threads of the threadgroup: the max
// (SIMD-group max, then one slot per SIMD-group in max_part), y_i = exp(x_i
// - M) with the sum reduced the same way through sum_part, then y_i /= S.
// A thread only ever touches its own elements i = tid, tid + threads, ...
// after the first pass, so y may be x (in place). Every thread of the
// threadgroup must call this function (two threadgroup barriers).
ALWAYS_INLINE void foundry_softmax_row(const device float* x, device float* y, uint n,
                                       threadgroup float* max_part, threadgroup float* sum_part,
                                       uint tid, uint threads, uint lane, uint sg, uint nsg) {
  float m = -INFINITY;
  for (uint i = tid; i < n; i += threads) m = max(m, x[i]);
  m = simd_max(m);
  if (lane == 0u) max_part[sg] = m;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  m = simd_max(lane < nsg ? max_part[lane] : -INFINITY);

  float s = 0.0f;
  for (uint i = tid; i < n; i += threads) {
    const float e = precise::exp(x[i] - m);
    y[i] = e;
    s += e;
  }
  s = simd_sum(s);
  if (lane == 0u) sum_part[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  s = simd_sum(lane < nsg ? sum_part[lane] : 0.0f);

  for (uint i = tid; i < n; i += threads) y[i] = y[i] / s;
}
