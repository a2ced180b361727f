#pragma once
/// @file logits_at_least.hpp
/// Compaction of a logits vector: every token whose logit is at least a
/// threshold, as (value, index) pairs, for the sampler's second round
/// (examples/generate/device_sampler.hpp). When the K best candidates of
/// top_k_candidates.hpp hold too little probability mass to decide top-p
/// (or top-k above K, or min-p), the host asks for all logits ≥ τ with τ
/// below the K-th candidate: a set that contains every token at least as
/// likely as its least likely member, so the sampler chain decides on it
/// exactly as on the whole vocabulary, and only those pairs come back.
///
/// Kernel `logits_at_least_f32`: one thread per logit (threadgroups of
/// 256). A thread whose logit x[i] ≥ `threshold` (NaN never is) takes a
/// slot from the counter `count[0]` (an atomic add, relaxed) and, when the
/// slot is below `capacity`, writes x[i] and i there. The slots' order
/// depends on the scheduling; the host sorts them. `count[0]` must be 0
/// before the dispatch and ends as the number of qualifying logits, which
/// may exceed `capacity` (then only `capacity` of them were written, an
/// arbitrary subset: the caller must not use them).

#include <cstdint>
#include <string>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::kernels {

/// Compaction main stage (see the file comment). Arguments: `x` (float
/// [n]), `n`, `threshold` (float), `capacity` (uint), `out_value` (float
/// [capacity]), `out_index` (uint [capacity]), `count` (uint [1], used as
/// an atomic_uint).
struct logits_at_least_stage {
  static constexpr fixed_string name = "logits_at_least";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"x", input<float, min_elements<size_arg<"n">>>>, arg<"n", scalar<std::uint32_t>>,
                              arg<"threshold", scalar<float>>, arg<"capacity", scalar<std::uint32_t>>,
                              arg<"out_value", output<float, min_elements<size_arg<"capacity">>>>,
                              arg<"out_index", output<std::uint32_t, min_elements<size_arg<"capacity">>>>,
                              arg<"count", inout<std::uint32_t, min_elements<size_const<1>>>>>;
  static constexpr std::string_view body = R"(const uint i_ = $thread_position_in_grid.x;
if (i_ < $n && $x[i_] >= $threshold) {
  const uint slot_ = atomic_fetch_add_explicit((device atomic_uint*)$count, 1u, memory_order_relaxed);
  if (slot_ < $capacity) {
    $out_value[slot_] = $x[i_];
    $out_index[slot_] = i_;
  }
})";
};

/// Every logit ≥ threshold with its index (see the file comment). Arguments,
/// in buffer order: `x`, `n`, `threshold`, `capacity`, `out_value`,
/// `out_index`, `count`.
using logits_at_least_f32 =
    fused_kernel<"logits_at_least_f32", per_element<size_arg<"n">, 256>, logits_at_least_stage>;

}  // namespace foundry::kernels
