// Flash-decoding's merge of the splits' partial states (pass 2 of
// flash_decode.metal), shared by the combine kernel and by the input hook
// that reads the merged vector inside the next GEMV (flash_merged_input.hpp).
//
// One query head's states: part[s] = (m_s, l_s, acc_s[0..head_dim)) for
// s < splits, head_dim + 2 floats each (flash_decode.metal, pass 1):
//   M = max_s m_s,  L = sum_s l_s exp(m_s - M),
//   y[d] = sum_s acc_s[d] exp(m_s - M) / L
// (the merge rule of "Flash-Decoding for long-context inference", Dao et
// al., 2023). An empty split holds (-inf, 0, 0...) and adds nothing; split
// 0 is never empty, so M is finite.
//
// No cross-lane operation: the combine kernel runs as lane loops on the CPU.

// M and 1 / L of one head's states.
struct foundry_flash_merge_weights {
  float M;
  float inv_L;
};

ALWAYS_INLINE foundry_flash_merge_weights foundry_flash_merge_of(const device float* part, uint head_dim,
                                                                 uint splits) {
  const ulong stride = (ulong)head_dim + 2u;
  float M = -INFINITY;
  for (uint s = 0; s < splits; ++s) M = max(M, part[(ulong)s * stride]);
  float L = 0.0f;
  for (uint s = 0; s < splits; ++s) {
    const device float* ps = part + (ulong)s * stride;
    L += ps[1] * precise::exp(ps[0] - M);
  }
  foundry_flash_merge_weights w;
  w.M = M;
  w.inv_L = 1.0f / L;
  return w;
}

// Element d of the head's merged output.
ALWAYS_INLINE float foundry_flash_merge_element(const device float* part, uint head_dim, uint splits,
                                                foundry_flash_merge_weights w, uint d) {
  const ulong stride = (ulong)head_dim + 2u;
  float o = 0.0f;
  for (uint s = 0; s < splits; ++s) {
    const device float* ps = part + (ulong)s * stride;
    o += ps[2u + d] * precise::exp(ps[0] - w.M);
  }
  return o * w.inv_L;
}

// The merged vector of all heads, x[h * head_dim + d] for i = h * head_dim +
// d < k, written by threads tid, tid + threads, ... of a threadgroup into
// `x` (threadgroup memory of at least k floats; the caller synchronizes the
// threadgroup before reading it). partials: [k / head_dim, splits,
// head_dim + 2] float. Shapes the merge cannot take (head_dim or splits 0,
// k not a multiple of head_dim, k above max_k) give NaN in every element
// (of the first max_k), so the GEMV that reads them outputs NaN rather than
// a plausible wrong vector.
ALWAYS_INLINE void foundry_flash_merge_into(const device float* partials, uint k, uint head_dim, uint splits,
                                            threadgroup float* x, uint max_k, uint tid, uint threads) {
  const bool ok = head_dim > 0u && splits > 0u && k % head_dim == 0u && k <= max_k;
  const uint n = min(k, max_k);
  for (uint i = tid; i < n; i += threads) {
    float v = NAN;
    if (ok) {
      const uint h = i / head_dim, d = i - h * head_dim;
      const device float* part = partials + (ulong)h * splits * ((ulong)head_dim + 2u);
      v = foundry_flash_merge_element(part, head_dim, splits, foundry_flash_merge_of(part, head_dim, splits), d);
    }
    x[i] = v;
  }
}
