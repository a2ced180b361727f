// Flash-decoding's merge of the splits' partial states (pass 2 of
// flash_decode.metal), shared by the combine kernel, by the merge in the
// split kernel (flash_split_merge.metal) and by the input hook that merges
// inside the next GEMV (flash_merged_input.hpp).
//
// One query head's states: part[s] = (m_s, l_s, acc_s[0..head_dim)) for
// s < splits, head_dim + 2 floats each (flash_decode.metal, pass 1):
//   M = max_s m_s,  L = sum_s l_s exp(m_s - M),
//   y[d] = sum_s acc_s[d] exp(m_s - M) / L
// (the merge rule of "Flash-Decoding for long-context inference", Dao et
// al., 2023). An empty split holds (-inf, 0, 0...) and adds nothing; split
// 0 is never empty, so M is finite.
//
// The merge is latency-bound: a few hundred floats per head, just written
// by pass 1 and read from L2. So it is one pass over the splits, batches of
// FOUNDRY_FLASH_MERGE_BATCH splits whose loads are all issued before any is
// used, with the running maximum rescaling the sums between batches (the
// online softmax of Milakov and Gimelshein, 2018): one round trip to memory
// per batch, where a pass for M, a pass for L and a pass per element took
// three chains of loads per element.
//
// No cross-lane operation: the combine kernel runs as lane loops on the CPU.

#define FOUNDRY_FLASH_MERGE_BATCH 8u

// Elements d0 .. d0 + N - 1 (< head_dim) of one head's merged output, into
// out[0..N). part: the head's states, [splits, head_dim + 2]; splits > 0.
template <int N>
ALWAYS_INLINE void foundry_flash_merge_run(const device float* part, uint head_dim, uint splits, uint d0,
                                           thread float* out) {
  const ulong stride = (ulong)head_dim + 2u;
  float M = -INFINITY, L = 0.0f, o[N];
  for (int n = 0; n < N; ++n) o[n] = 0.0f;
  for (uint s0 = 0u; s0 < splits; s0 += FOUNDRY_FLASH_MERGE_BATCH) {
    float m[FOUNDRY_FLASH_MERGE_BATCH], l[FOUNDRY_FLASH_MERGE_BATCH], a[FOUNDRY_FLASH_MERGE_BATCH][N];
    for (uint j = 0u; j < FOUNDRY_FLASH_MERGE_BATCH; ++j) {
      // Past the last split: read the last split again (in bounds) and
      // weigh it 0 through m = -inf.
      const device float* ps = part + (ulong)min(s0 + j, splits - 1u) * stride;
      m[j] = s0 + j < splits ? ps[0] : -INFINITY;
      l[j] = ps[1];
      for (int n = 0; n < N; ++n) a[j][n] = ps[2u + d0 + uint(n)];
    }
    float M1 = M;
    for (uint j = 0u; j < FOUNDRY_FLASH_MERGE_BATCH; ++j) M1 = max(M1, m[j]);
    const float r = precise::exp(M - M1);  // 0 in the first batch (M = -inf, M1 = m_0 finite)
    L *= r;
    for (int n = 0; n < N; ++n) o[n] *= r;
    for (uint j = 0u; j < FOUNDRY_FLASH_MERGE_BATCH; ++j) {
      const float e = precise::exp(m[j] - M1);
      L += l[j] * e;
      for (int n = 0; n < N; ++n) o[n] += a[j][n] * e;
    }
    M = M1;
  }
  const float inv_L = 1.0f / L;
  for (int n = 0; n < N; ++n) out[n] = o[n] * inv_L;
}

// The merged outputs of consecutive heads, out[h * head_dim + d] for
// i = h * head_dim + d < n (n a multiple of head_dim), one element per
// thread: threads tid, tid + threads, ... partials: those heads' states,
// [n / head_dim, splits, head_dim + 2]; head_dim, splits > 0. Out: a device
// or threadgroup float pointer.
template <typename Out>
ALWAYS_INLINE void foundry_flash_merge_elements(const device float* partials, uint n, uint head_dim, uint splits,
                                                Out out, uint tid, uint threads) {
  const ulong head_stride = (ulong)splits * ((ulong)head_dim + 2u);
  for (uint i = tid; i < n; i += threads) {
    const uint h = i / head_dim;
    float v;
    foundry_flash_merge_run<1>(partials + h * head_stride, head_dim, splits, i - h * head_dim, &v);
    out[i] = v;
  }
}

// As foundry_flash_merge_elements, in runs of 4 elements per thread when
// head_dim is a multiple of 4 (one batch of loads serves 4 outputs), for
// merges that cover more elements than the threadgroup has threads.
template <typename Out>
ALWAYS_INLINE void foundry_flash_merge_heads(const device float* partials, uint n, uint head_dim, uint splits,
                                             Out out, uint tid, uint threads) {
  if (head_dim % 4u != 0u) {
    foundry_flash_merge_elements(partials, n, head_dim, splits, out, tid, threads);
    return;
  }
  const ulong head_stride = (ulong)splits * ((ulong)head_dim + 2u);
  for (uint i = tid * 4u; i < n; i += threads * 4u) {
    const uint h = i / head_dim;
    float v[4];
    foundry_flash_merge_run<4>(partials + h * head_stride, head_dim, splits, i - h * head_dim, v);
    for (uint c = 0u; c < 4u; ++c) out[i + c] = v[c];
  }
}

// The merged vector of all heads into `x` (threadgroup memory of at least
// max_k floats; the caller synchronizes the threadgroup before reading it)
// by threads tid, tid + threads, ... of a threadgroup. partials:
// [k / head_dim, splits, head_dim + 2] float. Shapes the merge cannot take
// (head_dim or splits 0, k not a multiple of head_dim, k above max_k) give
// NaN in every element (of the first max_k), so the GEMV that reads them
// outputs NaN rather than a plausible wrong vector.
ALWAYS_INLINE void foundry_flash_merge_into(const device float* partials, uint k, uint head_dim, uint splits,
                                            threadgroup float* x, uint max_k, uint tid, uint threads) {
  if (head_dim > 0u && splits > 0u && k % head_dim == 0u && k <= max_k) {
    foundry_flash_merge_heads(partials, k, head_dim, splits, x, tid, threads);
    return;
  }
  for (uint i = tid; i < min(k, max_k); i += threads) x[i] = NAN;
}
