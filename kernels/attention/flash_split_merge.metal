// Flash-decoding's merge folded into pass 1 (flash_decode.metal): the last
// threadgroup of a KV head to finish its splits merges the partial states
// of that head's query heads (flash_merge.metal) and writes y, so no combine
// kernel is dispatched. The pattern is the serial reduction of CUDA's
// threadFenceReduction sample and of split-K GEMMs: each threadgroup
// publishes its states, then counts itself in with an atomic add; the one
// that sees the count reach the threadgroups per KV head knows every state
// is written.
//
// counters: uint [n_kv], zero before the first dispatch; the last
// threadgroup of each KV head stores 0 again, so the next dispatch (the
// next layer, the next token) finds it zero. The add is acq_rel: release
// orders this threadgroup's states before its count, acquire orders the
// last threadgroup's reads after every count (on Apple GPUs this needs the
// memory orders of MSL 3.2; the CUDA prelude fences with __threadfence).
//
// Shapes pass 1 does not take write nothing (foundry_split_valid), as pass 1.
// Every thread of the threadgroup must call this (it synchronizes the
// threadgroup), after its part of pass 1.
template <int MAX_D, int MAX_G>
ALWAYS_INLINE void foundry_attention_merge_last(const device float* partials, device float* y,
                                                device atomic_uint* counters, uint n_heads, uint n_kv,
                                                uint head_dim, uint max_seq, uint pos, uint splits, uint kv_head,
                                                uint threadgroups_per_kv_head, uint tid, uint threads,
                                                threadgroup uint* last) {
  if (kv_head >= n_kv ||  // uniform over the threadgroup
      !foundry_split_valid<MAX_D, MAX_G>(n_heads, n_kv, head_dim, max_seq, pos, splits))
    return;
  threadgroup_barrier(mem_flags::mem_device);  // every SIMD-group of this threadgroup wrote its states
  if (tid == 0u) {
    const uint before = atomic_fetch_add_explicit(counters + kv_head, 1u, memory_order_acq_rel);
    const bool is_last = before + 1u == threadgroups_per_kv_head;
    if (is_last) atomic_store_explicit(counters + kv_head, 0u, memory_order_relaxed);
    *last = is_last ? 1u : 0u;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (*last == 0u) return;
  const uint G = n_heads / n_kv, D = head_dim;
  const ulong h0 = (ulong)kv_head * G;  // the KV head's query heads are consecutive
  foundry_flash_merge_heads(partials + h0 * splits * (D + 2u), G * D, D, splits, y + h0 * D, tid,
                            threads);  // flash_merge.metal
}
