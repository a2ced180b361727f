// Flash-decoding: decode attention with the KV length split across
// SIMD-groups of several threadgroups, then a combine pass (flash_decode.hpp).
//
// Pass 1 (foundry_attention_split): the SIMD-group of split s of KV head g
// owns positions [s·chunk, min(n_pos, (s+1)·chunk)), chunk = ceil(n_pos /
// splits), n_pos = pos + 1, and computes for each of the G = n_heads / n_kv
// query heads h = g·G + i of its group the online-softmax state of that
// range (Milakov & Gimelshein, 2018, alg. 3; FlashAttention, Dao et al.,
// 2022):
//   m = max_p s_p,  l = sum_p exp(s_p - m),  acc = sum_p exp(s_p - m) V[g, p],
//   s_p = q[h] . K[g, p] / sqrt(head_dim),
// written to partials[h, s] = (m, l, acc[0..head_dim)) (head_dim + 2
// floats). Each K and V row is read once for the G heads that share it
// (grouped-query attention, Ainslie et al., 2023). An empty range writes
// (-inf, 0, 0...).
//
// Pass 2 (foundry_attention_combine): per query head h,
//   M = max_s m_s,  L = sum_s l_s exp(m_s - M),
//   y[h, d] = sum_s acc_s[d] exp(m_s - M) / L
// (the merge rule of "Flash-Decoding for long-context inference", Dao et
// al., 2023), with the helpers of flash_merge.metal. Split 0 is never
// empty, so M is finite.
//
// Layouts: q, y [n_heads, head_dim] float; k_cache, v_cache [n_kv, max_seq,
// head_dim] of T; partials [n_heads, splits, head_dim + 2] float.
//
// ROPE (template argument of pass 1): 0 reads q as it is and the token at
// pos from the caches. 1 (adjacent pairs) or 2 (NeoX pairs) folds RoPE and
// the KV-cache append into pass 1 (rope.metal): q and k_new are this
// token's unrotated projections, q[h] is rotated at pos as it is loaded (q
// is left as it is), and the split whose range holds pos first writes the
// rotated k_new and v_new to the caches at pos, then reads that row back
// with the others. No other split reads row pos. With element lanes each
// lane reads back only the elements it wrote itself; with position lanes
// the whole threadgroup waits after writing q_group (which orders device
// memory too) before any lane scores a position.
//
// Forms of pass 1: on the CPU lane 0 of each SIMD-group computes its split
// alone with attention.metal's foundry_attention_range_cpu (no cross-lane
// operation: the kernel runs as lane loops). On GPUs, LANES picks one of
// two layouts:
//  * element lanes (LANES 0, foundry_attention_split_elements): lane i owns
//    head elements d = i, i + 32, ... and a score is one SIMD-group sum per
//    query head and position, so a split walks its positions one after
//    another, a few rows in flight;
//  * position lanes (LANES 1, foundry_attention_split_positions): the split
//    is walked 32 positions at a time. Lane i scores position p + i against
//    every head of the group (a whole K row per lane, no cross-lane sum),
//    one SIMD-group max per head and step rescales the states, and the
//    weights reach the element lanes of the V pass by shuffles. The group's
//    q, rotated and scaled, sits in threadgroup memory (q_group,
//    MAX_G * MAX_D floats), written by the whole threadgroup: every
//    SIMD-group of a threadgroup serves the same KV head.
// (The CPU's lane-loop analysis reads this text outside the GPU fence: no
// collective may be named here, not even in a comment.)

// Whether the shapes are supported; both passes write nothing otherwise.
template <int MAX_D, int MAX_G>
ALWAYS_INLINE bool foundry_split_valid(uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos, uint splits) {
  return n_kv > 0u && n_heads % n_kv == 0u && n_heads / n_kv <= uint(MAX_G) && head_dim > 0u &&
         head_dim <= uint(MAX_D) && pos < max_seq && splits > 0u;
}

// The range [p0, p1) of split `split` of `splits` over n_pos positions.
ALWAYS_INLINE void foundry_split_range(uint n_pos, uint splits, uint split, thread uint& p0, thread uint& p1) {
  const uint chunk = (n_pos + splits - 1u) / splits;
  p0 = min(n_pos, split * chunk);
  p1 = min(n_pos, p0 + chunk);
}

#if FOUNDRY_TARGET_CPU
// The CPU form of either layout; q_group, tid and threads are unused.
template <typename T, int MAX_D, int MAX_G, int ROPE, int LANES>
ALWAYS_INLINE void foundry_attention_split(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* partials,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos, uint splits, float freq_base,
    uint kv_head, uint split, uint lane, threadgroup float* q_group, uint tid, uint threads) {
  (void)q_group;
  (void)tid;
  (void)threads;
  if (lane != 0u || kv_head >= n_kv || split >= splits ||
      !foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits))
    return;
  const uint G = n_heads / n_kv, D = head_dim;
  uint p0, p1;
  foundry_split_range(pos + 1u, splits, split, p0, p1);
  const ulong base = (ulong)kv_head * max_seq * D;
  for (uint i = 0; i < G; ++i) {
    const uint h = kv_head * G + i;
    float qr[MAX_D];
    for (uint d = 0; d < D; ++d)
      qr[d] = ROPE != 0 ? foundry_rope_element(q + (ulong)h * D, d,
                                               foundry_rope_pair_of(d, D, pos, freq_base, ROPE == 2))
                        : q[(ulong)h * D + d];
    float m, l, acc[MAX_D];
    foundry_attention_range_cpu<T, MAX_D>(qr, k_cache + base, v_cache + base, D, p0, p1, m, l, acc);
    device float* out = partials + ((ulong)h * splits + split) * (D + 2u);
    out[0] = m;
    out[1] = l;
    for (uint d = 0; d < D; ++d) out[2u + d] = acc[d];
  }
}
#endif

#if !FOUNDRY_TARGET_CPU
// Writes query head `head`'s state of split `split` to `partials` (the
// layout of the file comment): m and l by lane 0, acc[j] (head element
// lane + 32 j) by every lane, as both GPU layouts hold them.
template <int PER_LANE>
ALWAYS_INLINE void foundry_split_store(device float* partials, uint head, uint splits, uint split, uint D, uint lane,
                                       float m, float l, thread const float* acc) {
  device float* out = partials + ((ulong)head * splits + split) * (D + 2u);
  if (lane == 0u) {
    out[0] = m;
    out[1] = l;
  }
  for (int j = 0; j < PER_LANE; ++j) {
    const uint d = lane + 32u * uint(j);
    if (d < D) out[2u + d] = acc[j];
  }
}

template <typename T, int MAX_D, int MAX_G, int ROPE>
ALWAYS_INLINE void foundry_attention_split_elements(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* partials,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos, uint splits, float freq_base,
    uint kv_head, uint split, uint lane) {
  const int PER_LANE = MAX_D / 32;
  if (kv_head >= n_kv || split >= splits ||  // uniform over the SIMD-group
      !foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits))
    return;
  const uint G = n_heads / n_kv, D = head_dim;
  uint p0, p1;
  foundry_split_range(pos + 1u, splits, split, p0, p1);
  const ulong base = (ulong)kv_head * max_seq * D;
  const float scale = 1.0f / precise::sqrt(float(D));
  // With ROPE, lane i's pairs (one angle each) rotate q[h, d] for every
  // head of the group: the angles are computed once, not once per head.
  RopePair pair[PER_LANE];
  for (int j = 0; j < PER_LANE; ++j) {
    const uint d = lane + 32u * uint(j);
    if (ROPE != 0 && d < D) pair[j] = foundry_rope_pair_of(d, D, pos, freq_base, ROPE == 2);
  }
  float qv[MAX_G][PER_LANE], acc[MAX_G][PER_LANE], m[MAX_G], l[MAX_G];
  for (int i = 0; i < MAX_G; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    for (int j = 0; j < PER_LANE; ++j) {
      const uint d = lane + 32u * uint(j);
      const device float* qh = q + (ulong)(kv_head * G + uint(i)) * D;
      float x = 0.0f;
      if (uint(i) < G && d < D) x = ROPE != 0 ? foundry_rope_element(qh, d, pair[j]) : qh[d];
      qv[i][j] = x * scale;
      acc[i][j] = 0.0f;
    }
  }
  // Rows are loaded ROWS at a time before any of them is used, so ROWS
  // K/V row loads per lane are in flight at once: the loop is bound by
  // memory latency, not by bandwidth, at decode's short splits.
  const int ROWS = 4;
  for (uint p = p0; p < p1; p += uint(ROWS)) {
    float kr[ROWS][PER_LANE], vr[ROWS][PER_LANE];
    for (int b = 0; b < ROWS; ++b) {
      const ulong row = base + (ulong)min(p + uint(b), p1 - 1u) * D;  // a tail row repeats the last (unused)
      for (int j = 0; j < PER_LANE; ++j) {  // K and V rows once for the group's heads
        const uint d = lane + 32u * uint(j);
        kr[b][j] = d < D ? float(k_cache[row + d]) : 0.0f;
        vr[b][j] = d < D ? float(v_cache[row + d]) : 0.0f;
      }
    }
    for (int b = 0; b < ROWS; ++b) {
      if (p + uint(b) >= p1) break;  // the same in every lane
      for (int i = 0; i < MAX_G; ++i) {
        if (uint(i) >= G) break;  // G is the same in every lane
        float partial = 0.0f;
        for (int j = 0; j < PER_LANE; ++j) partial += qv[i][j] * kr[b][j];
        const float s = simd_sum(partial);
        const float m_new = max(m[i], s);
        const float c = precise::exp(m[i] - m_new);
        const float e = precise::exp(s - m_new);
        l[i] = l[i] * c + e;
        for (int j = 0; j < PER_LANE; ++j) acc[i][j] = acc[i][j] * c + e * vr[b][j];
        m[i] = m_new;
      }
    }
  }
  for (int i = 0; i < MAX_G; ++i) {
    if (uint(i) >= G) break;
    foundry_split_store<PER_LANE>(partials, kv_head * G + uint(i), splits, split, D, lane, m[i], l[i], acc[i]);
  }
}

template <typename T, int MAX_D, int MAX_G, int ROPE>
ALWAYS_INLINE void foundry_attention_split_positions(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* partials,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos, uint splits, float freq_base,
    uint kv_head, uint split, uint lane, threadgroup float* q_group, uint tid, uint threads) {
  const int PER_LANE = MAX_D / 32;
  // K float4s per lane loaded before any is used, V rows per lane likewise:
  // one memory round trip covers a 64-element K row (16 float4s) with up to
  // 4 heads; the 8-head form keeps half as many in registers.
  const int K_CHUNK = MAX_G <= 4 ? 16 : 8, V_ROWS = MAX_G <= 4 ? 16 : 8;
  if (kv_head >= n_kv ||  // uniform over the threadgroup: its x is the KV head
      !foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits))
    return;
  const uint G = n_heads / n_kv, D = head_dim;
  const float scale = 1.0f / precise::sqrt(float(D));
  for (uint e = tid; e < G * D; e += threads) {
    const uint i = e / D, d = e - i * D;
    const device float* qh = q + (ulong)(kv_head * G + i) * D;
    const float x = ROPE != 0 ? foundry_rope_element(qh, d, foundry_rope_pair_of(d, D, pos, freq_base, ROPE == 2))
                              : qh[d];
    q_group[i * uint(MAX_D) + d] = x * scale;
  }
  // Device memory too: the folded KV-cache append (foundry_attention_split_append)
  // wrote row pos with other lanes than the one that scores it here.
  threadgroup_barrier(mem_flags::mem_threadgroup | mem_flags::mem_device);
  if (split >= splits) return;  // uniform over the SIMD-group
  uint p0, p1;
  foundry_split_range(pos + 1u, splits, split, p0, p1);
  const ulong base = (ulong)kv_head * max_seq * D;
  const bool by_float4 = D % 4u == 0u;  // rows then start 16-byte aligned in a 16-byte aligned cache
  float m[MAX_G], l[MAX_G], acc[MAX_G][PER_LANE];  // m is the same in every lane; l is this lane's share
  for (int i = 0; i < MAX_G; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    for (int j = 0; j < PER_LANE; ++j) acc[i][j] = 0.0f;
  }
  for (uint p = p0; p < p1; p += 32u) {
    const uint n = min(32u, p1 - p);  // positions of this step; lanes >= n score the last one again, unused
    const ulong k_row = base + (ulong)(p + min(lane, n - 1u)) * D;
    float s[MAX_G];
    for (int i = 0; i < MAX_G; ++i) s[i] = 0.0f;
    if (by_float4) {
      for (uint d0 = 0; d0 < D; d0 += 4u * uint(K_CHUNK)) {
        float4 k4[K_CHUNK];
        for (int c = 0; c < K_CHUNK; ++c)  // clamped: a chunk past the row's end reloads its last float4, unused
          k4[c] = float4(*(const device vec<T, 4>*)(k_cache + k_row + min(d0 + 4u * uint(c), D - 4u)));
        for (int c = 0; c < K_CHUNK; ++c) {
          const uint d = d0 + 4u * uint(c);
          if (d >= D) break;
          for (int i = 0; i < MAX_G; ++i) {
            if (uint(i) >= G) break;
            s[i] += dot(*(const threadgroup float4*)(q_group + uint(i) * uint(MAX_D) + d), k4[c]);
          }
        }
      }
    } else {
      for (uint d = 0; d < D; ++d) {
        const float k1 = float(k_cache[k_row + d]);
        for (int i = 0; i < MAX_G; ++i) {
          if (uint(i) >= G) break;
          s[i] += q_group[uint(i) * uint(MAX_D) + d] * k1;
        }
      }
    }
    float e[MAX_G];
    for (int i = 0; i < MAX_G; ++i) {
      e[i] = 0.0f;
      if (uint(i) >= G) continue;
      const float m_new = max(m[i], simd_max(lane < n ? s[i] : -INFINITY));  // finite: lane 0 scores a position
      const float c = precise::exp(m[i] - m_new);
      e[i] = lane < n ? precise::exp(s[i] - m_new) : 0.0f;
      l[i] = l[i] * c + e[i];
      for (int j = 0; j < PER_LANE; ++j) acc[i][j] *= c;
      m[i] = m_new;
    }
    for (uint b0 = 0; b0 < n; b0 += uint(V_ROWS)) {
      float vr[V_ROWS][PER_LANE];
      for (int b = 0; b < V_ROWS; ++b) {
        const ulong v_row = base + (ulong)(p + min(b0 + uint(b), n - 1u)) * D;
        for (int j = 0; j < PER_LANE; ++j) {
          const uint d = lane + 32u * uint(j);
          vr[b][j] = d < D ? float(v_cache[v_row + d]) : 0.0f;
        }
      }
      for (int b = 0; b < V_ROWS; ++b) {
        if (b0 + uint(b) >= n) break;  // the same in every lane
        for (int i = 0; i < MAX_G; ++i) {
          if (uint(i) >= G) break;
          const float w = simd_shuffle(e[i], ushort(b0 + uint(b)));
          for (int j = 0; j < PER_LANE; ++j) acc[i][j] += w * vr[b][j];
        }
      }
    }
  }
  for (int i = 0; i < MAX_G; ++i) {
    if (uint(i) >= G) break;
    const float l_sum = simd_sum(l[i]);  // each lane holds its positions' share
    foundry_split_store<PER_LANE>(partials, kv_head * G + uint(i), splits, split, D, lane, m[i], l_sum, acc[i]);
  }
}

template <typename T, int MAX_D, int MAX_G, int ROPE, int LANES>
ALWAYS_INLINE void foundry_attention_split(
    const device float* q, const device T* k_cache, const device T* v_cache, device float* partials,
    uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos, uint splits, float freq_base,
    uint kv_head, uint split, uint lane, threadgroup float* q_group, uint tid, uint threads) {
  if (LANES == 1)
    foundry_attention_split_positions<T, MAX_D, MAX_G, ROPE>(q, k_cache, v_cache, partials, n_heads, n_kv, head_dim,
                                                             max_seq, pos, splits, freq_base, kv_head, split, lane,
                                                             q_group, tid, threads);
  else
    foundry_attention_split_elements<T, MAX_D, MAX_G, ROPE>(q, k_cache, v_cache, partials, n_heads, n_kv, head_dim,
                                                            max_seq, pos, splits, freq_base, kv_head, split, lane);
}
#endif

// Pass 1 with RoPE and the KV-cache append folded in (ROPE 1 or 2, see the
// top of this file): the split whose range holds pos writes this token's
// rotated k_new and v_new at pos (on GPUs lane i writes d = i, i + 32, ...;
// on the CPU lane 0 the whole row), then the split runs as above.
template <typename T, int MAX_D, int MAX_G, int ROPE, int LANES>
ALWAYS_INLINE void foundry_attention_split_append(
    const device float* q, const device float* k_new, const device float* v_new, device T* k_cache,
    device T* v_cache, device float* partials, uint n_heads, uint n_kv, uint head_dim, uint max_seq, uint pos,
    uint splits, float freq_base, uint kv_head, uint split, uint lane, threadgroup float* q_group, uint tid,
    uint threads) {
  if (kv_head < n_kv && split < splits &&
      foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits)) {
    const uint D = head_dim;
    uint p0, p1;
    foundry_split_range(pos + 1u, splits, split, p0, p1);
#if FOUNDRY_TARGET_CPU
    const bool writes = lane == 0u;
    const uint first = 0u, stride = 1u;
#else
    const bool writes = true;
    const uint first = lane, stride = 32u;
#endif
    if (writes && p0 <= pos && pos < p1) {
      const ulong row = ((ulong)kv_head * max_seq + pos) * D;
      for (uint d = first; d < D; d += stride) {
        k_cache[row + d] = T(foundry_rope_element(k_new + (ulong)kv_head * D, d,
                                                  foundry_rope_pair_of(d, D, pos, freq_base, ROPE == 2)));
        v_cache[row + d] = T(v_new[(ulong)kv_head * D + d]);
      }
    }
  }
  foundry_attention_split<T, MAX_D, MAX_G, ROPE, LANES>(q, k_cache, v_cache, partials, n_heads, n_kv, head_dim,
                                                         max_seq, pos, splits, freq_base, kv_head, split, lane,
                                                         q_group, tid, threads);
}

// Pass 2: thread tid of head h's threadgroup writes y[h, d] for d = tid,
// tid + threads, ... (no cross-lane operation: lane loops on the CPU).
template <int MAX_D, int MAX_G>
ALWAYS_INLINE void foundry_attention_combine(const device float* partials, device float* y, uint n_heads, uint n_kv,
                                             uint head_dim, uint max_seq, uint pos, uint splits, uint head,
                                             uint tid, uint threads) {
  if (head >= n_heads || !foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits)) return;
  const uint D = head_dim;
  // One element per thread: the most loads in flight per head (flash_merge.metal).
  foundry_flash_merge_elements(partials + (ulong)head * splits * (D + 2u), D, D, splits, y + (ulong)head * D, tid,
                               threads);
}
