#pragma once
/// @file top_k_candidates.hpp
/// The candidates of top-k / top-p / min-p sampling, found on the device: per
/// chunk of the logits its K largest (value, index) pairs, best first, and
/// its softmax normalizer, so the host reads groups·K pairs and groups
/// (max, sum) pairs instead of the whole vocabulary (top_k_candidates.metal).
///
/// Kernel `top_k_candidates_f32` (K = 64): threadgroup g (256 threads, 16
/// elements each: chunk = 4096, ceil(n / 4096) threadgroups) writes
///   out_value[g·K + r], out_index[g·K + r]  r-th best of its chunk (r < K;
///                                           empty slots (-inf, 0xFFFFFFFF)
///                                           where the chunk has fewer than K
///                                           non-NaN elements),
///   out_max[g]                              the chunk's largest value,
///   out_sum[g]                              Σ exp((x − out_max[g]) / temperature)
///                                           over its non-NaN elements
///                                           (0 and −inf when there are none).
/// Order: larger value first, equal values by smaller index (as argmax_f32);
/// NaN is never a candidate. The host merges the groups (`merge` in
/// examples/generate/sampling.hpp): the global top K are the top K of the
/// groups·K pairs, and the exact normalizer over the whole vocabulary is
/// Z = Σ_g out_sum[g] · exp((out_max[g] − M) / temperature), M = max_g out_max[g].
///
/// Why the host merges: for SmolLM2's 49152 logits that is 12·64 pairs
/// (6 KiB), read in the same synchronization as the rest, where a second
/// merging pass would cost another dispatch and still leave the host to sort
/// what it reads.
///
/// Logits must be finite or −inf (+inf makes the normalizer NaN).

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/argument_access.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/sampling/top_k_candidates.metal.hpp"
#include "kernels/elementwise/argmax.hpp"

namespace foundry::kernels {

/// Metal helper `foundry_topk_block` (top_k_candidates.metal).
using top_k_candidates_piece =
    source_piece<"top_k_candidates", embedded::sampling::top_k_candidates_metal, argmax_piece>;

/// Threadgroups of a top-k candidates kernel of `Chunk` elements per
/// threadgroup: ceil(n / Chunk).
template <std::uint32_t Chunk>
struct top_k_candidate_groups {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return (std::uint64_t{argument<"n">(a).value} + Chunk - 1) / Chunk;
  }
};
/// Candidate slots of a top-k candidates kernel: ceil(n / Chunk) · K.
template <std::uint32_t Chunk, std::uint32_t K>
struct top_k_candidate_slots {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return top_k_candidate_groups<Chunk>::get(a) * K;
  }
};

/// Top-k candidates main stage (see the file comment): K pairs per
/// threadgroup of `Threads` threads holding `PerThread` elements each.
/// Arguments: `x` (float [n]), `n` (uint), `temperature` (float, > 0: the
/// normalizer's), `out_value` (float [groups·K]), `out_index` (uint
/// [groups·K]), `out_max`, `out_sum` (float [groups]).
template <std::uint32_t K, std::uint32_t Threads, std::uint32_t PerThread>
struct top_k_candidates_stage {
  static_assert(K >= 1 && K <= 1024, "top_k_candidates: K must be 1 to 1024");
  static_assert(Threads % 32 == 0 && Threads >= 32 && Threads <= 1024,
                "top_k_candidates: Threads must be a multiple of 32, at most 1024");
  static_assert(PerThread >= 1 && PerThread <= 64, "top_k_candidates: PerThread must be 1 to 64");
  static constexpr std::uint32_t chunk = Threads * PerThread;
  static constexpr fixed_string name = "top_k_candidates";
  static constexpr stage_role role = stage_role::main;
  using arguments =
      type_list<arg<"x", input<float, min_elements<size_arg<"n">>>>, arg<"n", scalar<std::uint32_t>>,
                arg<"temperature", scalar<float, default_value<1>>>,
                arg<"out_value", output<float, min_elements<top_k_candidate_slots<chunk, K>>>>,
                arg<"out_index", output<std::uint32_t, min_elements<top_k_candidate_slots<chunk, K>>>>,
                arg<"out_max", output<float, min_elements<top_k_candidate_groups<chunk>>>>,
                arg<"out_sum", output<float, min_elements<top_k_candidate_groups<chunk>>>>>;
  using threadgroup = type_list<tg_array<"topk_value", float, (Threads / 32) * K>,
                                tg_array<"topk_index", std::uint32_t, (Threads / 32) * K>,
                                tg_array<"topk_max", float, Threads / 32>, tg_array<"topk_sum", float, Threads / 32>>;
  using helpers = type_list<top_k_candidates_piece>;
  static constexpr ct_string emit() {
    const ct_string P = to_text(PerThread);
    return "float lv_[" + P + "];\n"
           "uint li_[" + P + "];\n"
           "foundry_topk_block($x, $n, $temperature, " + to_text(K) + "u, " + P + "u, lv_, li_, $out_value,\n"
           "                   $out_index, $out_max, $out_sum, $topk_value, $topk_index, $topk_max, $topk_sum,\n"
           "                   $threadgroup_position_in_grid.x, $thread_index_in_threadgroup,\n"
           "                   $threads_per_threadgroup.x, $thread_index_in_simdgroup,\n"
           "                   $simdgroup_index_in_threadgroup, $simdgroups_per_threadgroup);";
  }
};

/// Dispatch of a top-k candidates kernel: ceil(n / (Threads·PerThread))
/// threadgroups of `Threads`.
template <std::uint32_t Threads, std::uint32_t PerThread>
struct top_k_candidates_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = Threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    const std::uint64_t groups = top_k_candidate_groups<Threads * PerThread>::get(a);
    if (groups > 0xffffffffu) throw dispatch_error("kernel top_k_candidates: too many threadgroups");
    return {{static_cast<std::uint32_t>(groups), 1, 1}, {Threads, 1, 1}};
  }
};

/// A top-k candidates kernel named `Name` (see the file comment).
template <fixed_string Name, std::uint32_t K, std::uint32_t Threads = 256, std::uint32_t PerThread = 16>
using top_k_candidates_kernel = fused_kernel<Name, top_k_candidates_dispatch<Threads, PerThread>,
                                             top_k_candidates_stage<K, Threads, PerThread>>;

/// Candidates per chunk (K) of `top_k_candidates_f32`.
inline constexpr std::uint32_t top_k_candidates_k = 64;
/// Elements per chunk (threadgroup) of `top_k_candidates_f32`.
inline constexpr std::uint32_t top_k_candidates_chunk = top_k_candidates_stage<top_k_candidates_k, 256, 16>::chunk;

/// The library's candidates kernel: K = 64 per 4096-element chunk.
/// Arguments, in buffer order: `x`, `n`, `temperature` (default 1),
/// `out_value`, `out_index`, `out_max`, `out_sum`.
using top_k_candidates_f32 = top_k_candidates_kernel<"top_k_candidates_f32", top_k_candidates_k, 256, 16>;

}  // namespace foundry::kernels
