// Decode attention: one query token against a KV cache, one threadgroup per
// query head.
//
//   y[h] = sum_{p <= pos} softmax_p(scale * q[h] . K[g, p]) V[g, p],
//   g = h / (n_heads / n_kv)  (grouped-query attention, Ainslie et al., 2023),
//   scale = 1 / sqrt(head_dim)  (Vaswani et al., 2017, eq. 1).
//
// The softmax is computed in one streaming pass (online softmax, Milakov &
// Gimelshein, 2018, "Online normalizer calculation for softmax", alg. 3,
// extended to the weighted sum of V as in FlashAttention, Dao et al., 2022):
// a running max m, normaliser l and accumulator acc over positions p:
//   m' = max(m, s_p),  c = exp(m - m'),  e = exp(s_p - m'),
//   l' = l c + e,      acc' = acc c + e V[p].
//
// Layouts: q, y [n_heads, head_dim] float; k_cache, v_cache [n_kv, max_seq,
// head_dim] of T (float or half). Threadgroup memory: m_part, l_part [nsg],
// acc_part [nsg * MAX_D] (used by the GPU form). Every thread of the
// threadgroup must call this function; heads or shapes outside the
// supported range write nothing.
//
// Two forms. On the CPU the threads of a threadgroup run one after another
// on one core, so thread 0 computes the head alone, 32 positions at a time
// (one rescale of acc and one max per tile, an exp per position, loops
// over head_dim the host compiler vectorises), and the function has no
// cross-lane operation: the kernel runs as lane loops (dsl/lane_loop.hpp).
// On GPUs the threadgroup shares the work (below, fenced off from the CPU).

#if FOUNDRY_TARGET_CPU
// The online-softmax state of query q (one head, head_dim D) over positions
// [p0, p1) of the rows k, v (one KV head): m = max score, l = sum of
// exp(score - m), acc[0..D) = sum of exp(score - m) V[p]; tiles of 32
// positions, one rescale of acc and one max per tile, an exp per position.
// Also the CPU form of flash-decoding's splits (flash_decode.metal).
template <typename T, int MAX_D>
ALWAYS_INLINE void foundry_attention_range_cpu(const device float* q, const device T* k_rows,
                                               const device T* v_rows, uint D, uint p0, uint p1,
                                               thread float& m, thread float& l, thread float* acc) {
  const float scale = 1.0f / precise::sqrt(float(D));
  float qv[MAX_D];
  for (uint d = 0; d < D; ++d) {
    qv[d] = q[d] * scale;
    acc[d] = 0.0f;
  }
  m = -INFINITY;
  l = 0.0f;
  for (uint t0 = p0; t0 < p1; t0 += 32u) {
    const uint np = min(32u, p1 - t0);
    float s[32];
    float tile_max = -INFINITY;
    for (uint i = 0; i < np; ++i) {
      const device T* k = k_rows + (ulong)(t0 + i) * D;
      float dot = 0.0f;
      for (uint d = 0; d < D; ++d) dot += qv[d] * float(k[d]);
      s[i] = dot;
      tile_max = max(tile_max, dot);
    }
    const float m_new = max(m, tile_max);
    const float c = precise::exp(m - m_new);  // 0 on the first tile (m = -inf)
    l *= c;
    for (uint d = 0; d < D; ++d) acc[d] *= c;
    for (uint i = 0; i < np; ++i) {
      const float e = precise::exp(s[i] - m_new);
      const device T* v = v_rows + (ulong)(t0 + i) * D;
      l += e;
      for (uint d = 0; d < D; ++d) acc[d] += e * float(v[d]);
    }
    m = m_new;
  }
}

template <typename T, int MAX_D>
ALWAYS_INLINE void foundry_attention_decode(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* y,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos,
    threadgroup float* m_part, threadgroup float* l_part, threadgroup float* acc_part,
    uint head, uint tid, uint threads, uint lane, uint sg, uint nsg) {
  (void)m_part; (void)l_part; (void)acc_part; (void)threads; (void)lane; (void)sg; (void)nsg;
  const bool valid = head < n_heads && n_kv > 0u && n_heads % n_kv == 0u && head_dim > 0u &&
                     head_dim <= uint(MAX_D) && pos < max_seq;
  if (tid != 0u || !valid) return;
  const uint D = head_dim;
  const ulong base = (ulong)(head / (n_heads / n_kv)) * max_seq * D;
  float m, l, acc[MAX_D];
  foundry_attention_range_cpu<T, MAX_D>(q + (ulong)head * D, k_cache + base, v_cache + base, D, 0u, pos + 1u, m, l,
                                        acc);
  const float inv_l = 1.0f / l;
  for (uint d = 0; d < D; ++d) y[(ulong)head * D + d] = acc[d] * inv_l;
}
#endif

#if !FOUNDRY_TARGET_CPU
// Each SIMD-group keeps (m, l, acc) over the positions p = sg, sg + nsg, ...
// it owns; the SIMD-groups' states are then merged through threadgroup
// memory:
//   M = max_j m_j,  L = sum_j l_j exp(m_j - M),  y = sum_j acc_j exp(m_j - M) / L.
// Within a SIMD-group, lane i owns head elements d = i, i + 32, ... (at most
// MAX_D / 32 of them) and the score q . K[p] is a simd_sum of the lanes'
// partial dot products, so every lane holds the same s_p, m and l. The
// function contains a threadgroup barrier.
template <typename T, int MAX_D>
ALWAYS_INLINE void foundry_attention_decode(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* y,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos,
    threadgroup float* m_part, threadgroup float* l_part, threadgroup float* acc_part,
    uint head, uint tid, uint threads, uint lane, uint sg, uint nsg) {
  const int PER_LANE = MAX_D / 32;
  const bool valid = head < n_heads && n_kv > 0u && n_heads % n_kv == 0u && head_dim > 0u &&
                     head_dim <= uint(MAX_D) && pos < max_seq;
  const uint n_pos = valid ? pos + 1u : 0u;
  const uint kv_head = valid ? head / (n_heads / n_kv) : 0u;
  const float scale = 1.0f / precise::sqrt(float(head_dim));

  // This lane's slice of q, pre-scaled.
  float qv[PER_LANE];
  float acc[PER_LANE];
  for (int j = 0; j < PER_LANE; ++j) {
    const uint d = lane + 32u * uint(j);
    qv[j] = (valid && d < head_dim) ? q[(ulong)head * head_dim + d] * scale : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY;
  float l = 0.0f;
  const ulong base = (ulong)kv_head * max_seq * head_dim;
  for (uint p = sg; p < n_pos; p += nsg) {
    const ulong row = base + (ulong)p * head_dim;
    float partial = 0.0f;
    for (int j = 0; j < PER_LANE; ++j) {
      const uint d = lane + 32u * uint(j);
      if (d < head_dim) partial += qv[j] * float(k_cache[row + d]);
    }
    const float s = simd_sum(partial);
    const float m_new = max(m, s);
    const float c = precise::exp(m - m_new);
    const float e = precise::exp(s - m_new);
    l = l * c + e;
    for (int j = 0; j < PER_LANE; ++j) {
      const uint d = lane + 32u * uint(j);
      const float v = d < head_dim ? float(v_cache[row + d]) : 0.0f;
      acc[j] = acc[j] * c + e * v;
    }
    m = m_new;
  }

  // Merge the SIMD-groups' partial results.
  if (lane == 0u) {
    m_part[sg] = m;
    l_part[sg] = l;
  }
  for (int j = 0; j < PER_LANE; ++j) {
    const uint d = lane + 32u * uint(j);
    if (d < head_dim) acc_part[sg * uint(MAX_D) + d] = acc[j];
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (valid) {
    float m_all = -INFINITY;
    for (uint j = 0; j < nsg; ++j) m_all = max(m_all, m_part[j]);
    float l_all = 0.0f;
    for (uint j = 0; j < nsg; ++j) l_all += l_part[j] * precise::exp(m_part[j] - m_all);
    for (uint d = tid; d < head_dim; d += threads) {
      float o = 0.0f;
      for (uint j = 0; j < nsg; ++j) o += acc_part[j * uint(MAX_D) + d] * precise::exp(m_part[j] - m_all);
      y[(ulong)head * head_dim + d] = o / l_all;
    }
  }
}
#endif
