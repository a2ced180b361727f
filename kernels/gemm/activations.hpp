#pragma once
/// @file activations.hpp
/// The activation side of a GEMM: how the A tile (rows of X [M, K], float,
/// row m at element m·K) is read into threadgroup memory.
///
///   `gemm_input_plain`    A = X as is.
///   `gemm_input_rmsnorm`  A = RMSNorm(X) row by row (Zhang & Sennrich 2019,
///                         inv_rms_m = 1 / sqrt(mean_k X[m,k]² + eps),
///                         A[m,k] = X[m,k] · inv_rms_m · gamma_k): the
///                         threadgroup computes 1/rms of its BM rows first
///                         (one SIMD-group per row, `simd_sum`), then
///                         applies it as the tile is loaded. Arguments
///                         `gamma` (float[K]) and `eps` (float).
///
/// An input type provides `arguments`, `rms` (whether it needs the per-row
/// 1/rms array `gemm_inv_rms`), `preamble<Tile>()` (statements run once per
/// threadgroup before the K loop, by every thread) and `load(x, m, k, r)`
/// (the expression of element A[m, k], tile row r).

#include <string>
#include <string_view>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"

namespace foundry::kernels {

/// A = X as is.
struct gemm_input_plain {
  using arguments = type_list<>;
  static constexpr bool rms = false;
  template <class Tile>
  static constexpr ct_string preamble() {
    return "";
  }
  static constexpr ct_string load(std::string_view x, std::string_view m, std::string_view k, std::string_view) {
    return ct_string(x) + "[(ulong)" + ct_string(m) + " * $k + " + ct_string(k) + "]";
  }
};

/// A = RMSNorm(X) per row, with `gamma` (float[K]) and `eps` (see the file
/// comment).
struct gemm_input_rmsnorm {
  using arguments = type_list<arg<"gamma", input<float, min_elements<size_arg<"k">>>>, arg<"eps", scalar<float>>>;
  static constexpr bool rms = true;
  template <class Tile>
  static constexpr ct_string preamble() {
    return "for (uint r_ = sg_; r_ < " + to_text(Tile::bm) + "u; r_ += " + to_text(Tile::simdgroups) + "u) {\n"
           "  const uint m_ = m0_ + r_;\n"
           "  float s_ = 0.0f;\n"
           "  if (m_ < $batch)\n"
           "    for (uint c_ = lane_; c_ < $k; c_ += 32u) {\n"
           "      const float v_ = $x[(ulong)m_ * $k + c_];\n"
           "      s_ += v_ * v_;\n"
           "    }\n"
           "  s_ = simd_sum(s_);\n"
           "  if (lane_ == 0u) $gemm_inv_rms[r_] = rsqrt(s_ / float($k) + $eps);\n"
           "}\n"
           "threadgroup_barrier(mem_flags::mem_threadgroup);\n";
  }
  static constexpr ct_string load(std::string_view x, std::string_view m, std::string_view k, std::string_view r) {
    return "(" + gemm_input_plain::load(x, m, k, r) + " * $gemm_inv_rms[" + ct_string(r) + "] * $gamma[" +
           ct_string(k) + "])";
  }
};

}  // namespace foundry::kernels
