#pragma once
/// @file policies.hpp
/// Every weight policy of the library (`all`, the one list), the weight
/// layouts, and the mapping from GGUF tensor types to policies (derived from
/// `all` and each policy's `ggml_type`).
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

#include <cstddef>
#include <string>
#include <type_traits>

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

/// Every library policy: the one list the GGUF mapping below derives from.
/// A new policy gets its header's include above and one entry here (and a
/// row in the table of the file comment); it must declare
/// `static constexpr quant::ggml_type ggml_type`, the GGUF tensor type it
/// loads, and no two policies may load the same type.
using all = type_list<f32, f16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k>;

/// The GGUF tensor type policy `P` loads (`P::ggml_type`).
template <weight_policy P>
inline constexpr quant::ggml_type ggml_type_of = P::ggml_type;

namespace detail {
template <class... Ps>
consteval bool distinct_ggml_types(type_list<Ps...>) {
  const quant::ggml_type types[] = {ggml_type_of<Ps>...};
  for (std::size_t i = 0; i < sizeof...(Ps); ++i)
    for (std::size_t j = i + 1; j < sizeof...(Ps); ++j)
      if (types[i] == types[j]) return false;
  return true;
}
static_assert(distinct_ggml_types(all{}),
              "policies::all: two policies load the same GGUF tensor type, so visit_policy could not choose");

/// `f(P{})` for the first `P` of `Ps` loading `t`; `R` is the common result.
template <class R, class F, class P, class... Ps>
R visit_policy_in(quant::ggml_type t, F& f) {
  if (t == ggml_type_of<P>) return f(P{});
  if constexpr (sizeof...(Ps) > 0)
    return visit_policy_in<R, F, Ps...>(t, f);
  else
    throw quant_error("no weight policy for GGUF tensor type " + std::string(quant::to_string(t)) + " (id " +
                      std::to_string(static_cast<unsigned>(t)) + ")");
}
template <class F, class P, class... Ps>
decltype(auto) visit_policy_of(quant::ggml_type t, F& f, type_list<P, Ps...>) {
  using R = decltype(f(P{}));
  static_assert((std::is_same_v<R, decltype(f(Ps{}))> && ...),
                "visit_policy: the function must return the same type for every policy");
  return visit_policy_in<R, F, P, Ps...>(t, f);
}
}  // namespace detail

/// Whether some library policy (`all`) loads GGUF tensor type `t`.
constexpr bool has_policy(quant::ggml_type t) noexcept {
  return []<class... Ps>(quant::ggml_type u, type_list<Ps...>) {
    return ((u == ggml_type_of<Ps>) || ...);
  }(t, all{});
}

/// Calls `f(P{})` with the policy of `all` that loads GGUF tensor type `t`
/// (for a loader choosing kernels by a tensor's type). Every call must
/// return the same type (a compile-time error otherwise). Throws
/// `quant_error` for a type no policy loads.
template <class F>
decltype(auto) visit_policy(quant::ggml_type t, F&& f) {
  return detail::visit_policy_of(t, f, all{});
}

}  // namespace foundry::policies
