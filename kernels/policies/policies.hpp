#pragma once
/// @file policies.hpp
/// Every weight policy of the library, the weight layouts, and the mapping
/// from GGUF tensor types to policies.
///
/// | policy | GGUF type | weights/block | data bytes/block | scale bytes/block | w        |
/// |--------|-----------|---------------|------------------|-------------------|----------|
/// | f32    | F32       | 1             | 4                | 0                 | x        |
/// | f16    | F16       | 1             | 2                | 0                 | x        |
/// | q8_0   | Q8_0      | 32            | 32               | 2 (d)             | d·q      |
/// | q4_0   | Q4_0      | 32            | 16               | 2 (d)             | d·(q−8)  |
/// | q4_1   | Q4_1      | 32            | 16               | 4 (d, m)          | d·q + m  |
/// | q4_k   | Q4_K      | 32 (of 256)   | 16               | 8 (d·sc, −dmin·m) | d1·q − m1 |
/// | q5_k   | Q5_K      | 32 (of 256)   | 32               | 8 (d·sc, −dmin·m) | d1·q − m1 |
/// | q6_k   | Q6_K      | 16 (of 256)   | 16               | 4 (d·sc)          | d1·(q−32) |
///
/// K-quant policies use the GGUF super-block's sub-block as their block
/// (kernels/policies/k_quant_planes.hpp).

#include <string>

#include "foundry/core/type_list.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/f16.hpp"
#include "kernels/policies/f32.hpp"
#include "kernels/policies/q4_0.hpp"
#include "kernels/policies/q4_1.hpp"
#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q5_k.hpp"
#include "kernels/policies/q6_k.hpp"
#include "kernels/policies/q8_0.hpp"

namespace foundry::policies {

/// How the blocks of an [N rows, K] weight matrix are ordered in its planes
/// (wpb = weights_per_block):
///   `row_major`: row after row; block (n, kb) is block `n·(K/wpb) + kb`.
///   `canonical`: k-block after k-block, rows interleaved; block (n, kb) is
///                block `kb·N + n` (element (n, k) at
///                `(k % wpb) + wpb·(n + (k / wpb)·N)`); see
///                kernels/gemv/gemv_canonical.hpp.
/// The scale plane follows the same block order.
enum class layout { row_major, canonical };

/// Every library policy.
using all = type_list<f32, f16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k>;

/// The GGUF tensor type policy `P` loads (`P::ggml_type`; F16 and F32 are
/// mapped here).
template <weight_policy P>
inline constexpr quant::ggml_type ggml_type_of = P::ggml_type;
template <>
inline constexpr quant::ggml_type ggml_type_of<f32> = quant::ggml_type::f32;
template <>
inline constexpr quant::ggml_type ggml_type_of<f16> = quant::ggml_type::f16;

/// Whether some library policy loads GGUF tensor type `t`.
constexpr bool has_policy(quant::ggml_type t) noexcept {
  return t == quant::ggml_type::f32 || t == quant::ggml_type::f16 || t == quant::ggml_type::q8_0 ||
         t == quant::ggml_type::q4_0 || t == quant::ggml_type::q4_1 || t == quant::ggml_type::q4_k ||
         t == quant::ggml_type::q5_k || t == quant::ggml_type::q6_k;
}

/// Calls `f(P{})` with the policy that loads GGUF tensor type `t` (for a
/// loader choosing kernels by a tensor's type). Every call must return the
/// same type. Throws `quant_error` for a type no policy loads.
template <class F>
decltype(auto) visit_policy(quant::ggml_type t, F&& f) {
  switch (t) {
    case quant::ggml_type::f32:
      return f(f32{});
    case quant::ggml_type::f16:
      return f(f16{});
    case quant::ggml_type::q8_0:
      return f(q8_0{});
    case quant::ggml_type::q4_0:
      return f(q4_0{});
    case quant::ggml_type::q4_1:
      return f(q4_1{});
    case quant::ggml_type::q4_k:
      return f(q4_k{});
    case quant::ggml_type::q5_k:
      return f(q5_k{});
    case quant::ggml_type::q6_k:
      return f(q6_k{});
    default:
      throw quant_error("no weight policy for GGUF tensor type " + std::string(quant::to_string(t)) + " (id " +
                        std::to_string(static_cast<unsigned>(t)) + ")");
  }
}

}  // namespace foundry::policies
