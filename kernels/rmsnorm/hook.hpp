#pragma once
/// @file hook.hpp
/// RMSNorm-fused input for main stages: each threadgroup normalises the
/// input vector itself, so no separate RMSNorm kernel (and no grid-wide
/// barrier) runs before the GEMV.
///
/// RMSNorm (Zhang & Sennrich, 2019, "Root Mean Square Layer Normalization"):
///   inv_rms = 1 / sqrt(mean_k(x_k²) + eps),   x̂_k = x_k · inv_rms · gamma_k.
/// The main stage reads input element k as `x[k] * inv_rms * gamma[k]`.
///
/// The preamble sums x² over the k elements with all threads of the
/// threadgroup (SIMD-group sums, then one slot per SIMD-group in threadgroup
/// memory), so every thread of the threadgroup must execute it: main stages
/// guard their rows after the hook's preamble, never return before it.

#include <cstdint>
#include <string>
#include <string_view>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"

namespace foundry::kernels {

/// Hook: weights in policy `P`, input RMS-normalised inside each threadgroup.
/// Adds arguments `gamma` (float[k], the RMSNorm weight) and `eps` (float),
/// port `inv_rms` and 32 floats of threadgroup memory. Uses the main stage's
/// `x` and `k`.
template <weight_policy P>
struct rmsnorm_input {
  using policy = P;
  using policies = type_list<P>;
  using arguments = type_list<arg<"gamma", input<float, min_elements<size_arg<"k">>>>, arg<"eps", scalar<float>>>;
  using produces = type_list<port<"inv_rms", float>>;
  using threadgroup = type_list<tg_array<"rms_partial", float, 32>>;

  static constexpr std::string preamble() {
    return R"({
  float ss = 0.0f;
  for (uint i = $thread_index_in_threadgroup; i < $k; i += $threads_per_threadgroup.x) ss += $x[i] * $x[i];
  ss = simd_sum(ss);
  if ($thread_index_in_simdgroup == 0u) $rms_partial[$simdgroup_index_in_threadgroup] = ss;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = $thread_index_in_simdgroup < $simdgroups_per_threadgroup ? $rms_partial[$thread_index_in_simdgroup] : 0.0f;
  total = simd_sum(total);
  $inv_rms = rsqrt(total / float($k) + $eps);
}
)";
  }
  /// Input element `k` of vector `x`, normalised.
  static constexpr std::string load_input(std::string_view x, std::string_view k) {
    return "(" + std::string(x) + "[" + std::string(k) + "] * $inv_rms * $gamma[" + std::string(k) + "])";
  }
};

}  // namespace foundry::kernels
