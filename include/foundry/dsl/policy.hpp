#pragma once
/// @file policy.hpp
/// Weight policies: how a weight format is stored and loaded.
///
/// A policy is a type with constexpr traits and a Metal helper that
/// implements the loading contract below. Traits are members of the type —
/// never global macros — so several policies coexist in one kernel (F16
/// activations with Q8_0 weights; Q, K and V each in its own format).
///
/// Storage: weights are split into a data plane (`const device uchar*`,
/// quantized values; 4-bit values repacked so adjacent weights share a byte)
/// and a scale plane (`const device uchar*`, per block: scale `d`, then for
/// affine formats the min `m`). A weight's value is `d·q` (`has_scale`),
/// `d·q + m` (`has_affine`) or `q` (neither).
///
/// Metal loading contract — the policy's Metal struct `P::metal_name`
/// provides, with `k` a logical element index within a row (a multiple of
/// `N`, `N` dividing `weights_per_block`) and `block = k / weights_per_block`:
///   `static float load_scale(const device uchar* scales, uint block)`   → d (1 if none)
///   `static float load_affine(const device uchar* scales, uint block)`  → m (0 if none)
///   `template <int N> static void load_weights(const device uchar* data, uint k, thread float* q)`
///        → the N stored values q[k..k+N) (unscaled)
///   `template <int N> static float dot(const device uchar* data, uint k, thread const float* x)`
///        → Σ q[k+i]·x[i], i < N (unscaled)
/// Row `r` of a row-major [rows, K] matrix starts at data-plane byte
/// `r · (K / weights_per_block) · block_bytes` and scale-plane byte
/// `r · (K / weights_per_block) · scale_bytes`.
///
/// Generalisations (all optional members; a user policy needs no library edit):
///   - Per-row scales: `static constexpr scale_granularity scale_per =
///     scale_granularity::row;` — the scale plane holds `scale_bytes` per
///     row (not per block), row r at byte `r · scale_bytes`; kernels pass
///     `load_scale`/`load_affine` a pointer to the row's scales (and a block
///     index the policy ignores). Int8 weights with one float per row are
///     such a policy (examples/per_row_int8).
///   - Two-level super-blocks: the contract's block is the unit of one
///     scale; a file format whose block holds several (K-quants: 256-weight
///     super-blocks of 16 or 32-weight sub-blocks) declares
///     `sub_blocks` (policy blocks per file block) and a
///     `split_block(file_block, s, data, scales)` per sub-block
///     (kernels/policies/repack.hpp), resolving the super-block scale on the
///     host (kernels/policies/q4_k.hpp).
///
///   - Vector loads: `static constexpr std::uint32_t vector_load_weights`,
///     the weights held by 16 bytes of the data plane (F16 8, Q8_0 16,
///     Q4_0/Q4_1 32), with the Metal member
///     `static float dot_vector(uint4 v, thread const float* x)` → Σ q·x over
///     those weights, `v` the 16 bytes at data-plane byte
///     `k · block_bytes / weights_per_block` of a row (k a multiple of
///     `vector_load_weights`, which divides or is a multiple of
///     `weights_per_block`; unscaled, like `dot`). Main stages that read the
///     weights in 16-byte loads (`gemv_multi_row`) require it; a policy
///     without it fails there at compile time. `has_vector_loads<P>` tests it.
///   - 8-bit activations on top of vector loads: `static constexpr bool
///     vector_i8_pair_split` (the order the activation codes must be in: per
///     8 elements 0, 2, 4, 6, 1, 3, 5, 7 when true, else element order) with
///     the Metal member `static int dot_vector_i8(uint4 v, thread const uint*
///     c, int c_sum)` → Σ (q + o)·c exactly, over the `vector_load_weights`
///     weights of `v` and their activation codes `c` (int8, four per word),
///     `c_sum` = Σ c, o the code offset of `load_weights` (−8 for Q4_0, else
///     0; the scale d and the affine m·Σx are the caller's). The
///     activations are quantized per block of 32 by
///     kernels/gemv/q8_activations.hpp. `has_vector_i8<P>` tests it.
///
/// The Metal struct is checked at C++ compile time: every fused kernel
/// verifies (`policy_contract_check`) that the text of each policy's source
/// piece defines `struct <metal_name>` with the four functions above, and a
/// policy missing one fails with a message naming the policy and the
/// function, before any Metal, CUDA or host compiler sees the source.

#include <concepts>
#include <cstdint>
#include <string_view>

#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_error.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"

namespace foundry {

/// A weight policy (see the file comment for the contract).
///   `name`                 short name used in kernel names (`"f16"`, `"q8_0"`)
///   `metal_name`           the Metal struct implementing the loading contract
///   `source`               a `source_piece` with that struct's Metal code
///   `has_scale`, `has_affine`
///   `weights_per_block`    weights per block (1 for F16/F32)
///   `block_bytes`          data-plane bytes per block
///   `scale_bytes`          scale-plane bytes per block (0 without scale)
///   `element_type`         host type of one stored value (`half`, `int8_t`, `std::byte`)
template <class P>
concept weight_policy = requires {
  { P::name.view() } -> std::convertible_to<std::string_view>;
  { P::metal_name } -> std::convertible_to<std::string_view>;
  typename P::source;
  typename P::element_type;
  { P::has_scale } -> std::convertible_to<bool>;
  { P::has_affine } -> std::convertible_to<bool>;
  { P::weights_per_block } -> std::convertible_to<std::uint32_t>;
  { P::block_bytes } -> std::convertible_to<std::uint32_t>;
  { P::scale_bytes } -> std::convertible_to<std::uint32_t>;
} && (!P::has_affine || P::has_scale) && (P::has_scale == (P::scale_bytes > 0));

/// Whether policy `P` declares vector loads (`vector_load_weights` and the
/// Metal `dot_vector`, see the file comment).
template <class P>
inline constexpr bool has_vector_loads = requires {
  { P::vector_load_weights } -> std::convertible_to<std::uint32_t>;
};

/// Whether policy `P` has integer dot products with 8-bit activations on top
/// of its vector loads (`vector_i8_pair_split`, Metal `dot_vector_i8`).
template <class P>
inline constexpr bool has_vector_i8 = has_vector_loads<P> && requires {
  { P::vector_i8_pair_split } -> std::convertible_to<bool>;
};

/// Where a policy's scales live: one entry per block (the default) or one
/// per row (`P::scale_per`).
enum class scale_granularity { block, row };

/// `P::scale_per` when declared, else `scale_granularity::block`.
template <class P>
inline constexpr scale_granularity scale_granularity_of = scale_granularity::block;
template <class P>
  requires requires { P::scale_per; }
inline constexpr scale_granularity scale_granularity_of<P> = P::scale_per;

/// Data-plane bytes of a row-major [rows, k] matrix in policy `P`.
/// `k` must be a multiple of `P::weights_per_block`.
template <weight_policy P>
constexpr std::uint64_t data_plane_bytes(std::uint64_t rows, std::uint64_t k) noexcept {
  return rows * (k / P::weights_per_block) * P::block_bytes;
}
/// Scale-plane bytes of a row-major [rows, k] matrix in policy `P`
/// (`rows · scale_bytes` for per-row scales).
template <weight_policy P>
constexpr std::uint64_t scale_plane_bytes(std::uint64_t rows, std::uint64_t k) noexcept {
  if constexpr (scale_granularity_of<P> == scale_granularity::row) return rows * P::scale_bytes;
  else return rows * (k / P::weights_per_block) * P::scale_bytes;
}

/// Metal expression of the scale pointer of row `row` (an expression that
/// binds tighter than `*`) of a row-major matrix with `blocks` blocks per
/// row whose scale plane is `base`: what kernels pass `load_scale(·, b)`,
/// b the block index within the row.
template <weight_policy P>
constexpr ct_string row_scales_expr(std::string_view base, std::string_view row, std::string_view blocks) {
  const ct_string s = to_text(P::scale_bytes) + "u";
  if constexpr (scale_granularity_of<P> == scale_granularity::row)
    return ct_string(base) + " + (ulong)" + ct_string(row) + " * " + s;
  else
    return ct_string(base) + " + (ulong)" + ct_string(row) + " * " + ct_string(blocks) + " * " + s;
}

/// Metal expression of a pointer to the scales of block `block` (a ulong
/// expression: the block's index in the plane, any layout) of row `row`;
/// kernels pass it to `load_scale(·, 0u)`.
template <weight_policy P>
constexpr ct_string block_scales_expr(std::string_view base, std::string_view block, std::string_view row) {
  const ct_string s = to_text(P::scale_bytes) + "u";
  if constexpr (scale_granularity_of<P> == scale_granularity::row)
    return ct_string(base) + " + (ulong)" + ct_string(row) + " * " + s;
  else
    return ct_string(base) + " + " + ct_string(block) + " * " + s;
}

namespace detail {

/// Whether `text` holds `struct <name>` followed (before the next
/// `struct `) by a definition of function `fn`: the name preceded by a space
/// and followed by `(` — a declaration such as `float dot(` or
/// `void load_weights(`, not a qualified call such as `Q4Nibbles::dot<N>(`.
constexpr bool metal_struct_defines(std::string_view text, std::string_view name, std::string_view fn) {
  const ct_string head = "struct " + ct_string(name);
  std::size_t at = text.find(head);
  while (at != std::string_view::npos) {
    const std::size_t end = at + head.size();
    if (end < text.size() && (text[end] == ' ' || text[end] == '{' || text[end] == '\n')) break;
    at = text.find(head, end);
  }
  if (at == std::string_view::npos) return false;
  const std::size_t next = text.find("struct ", at + head.size());
  const std::string_view body = text.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
  return body.find(" " + ct_string(fn) + "(") != std::string_view::npos;
}

template <class P, fixed_string Fn>
constexpr bool check_metal_function() {
  constexpr bool ok = metal_struct_defines(P::source::text, P::metal_name, Fn.view());
  if constexpr (!ok)
    // Qualified: inside namespace detail, plain `ct_error` would find the
    // piece-list template of ct_error.hpp's clang branch.
    static_assert(foundry::ct_error<fixed_string("weight policy ") + P::name +
                           fixed_string(": its Metal struct (metal_name, in the text of its source piece) "
                                        "does not define the loading-contract function ") +
                           Fn>::ok);
  return ok;
}

}  // namespace detail

/// Compile-time check of policy `P`'s Metal side against the loading
/// contract: `load_scale`, `load_affine`, `load_weights` and `dot` are
/// defined in `struct P::metal_name` of `P::source`'s text. A missing one is
/// a compile error naming the policy and the function.
template <weight_policy P>
constexpr bool policy_contract_check() {
  return detail::check_metal_function<P, "load_scale">() && detail::check_metal_function<P, "load_affine">() &&
         detail::check_metal_function<P, "load_weights">() && detail::check_metal_function<P, "dot">();
}

/// policy_contract_check for every policy of a type list (fused_kernel
/// checks the policies its stages use).
template <class... Ps>
constexpr bool policy_contract_check_all(type_list<Ps...>) {
  return (policy_contract_check<Ps>() && ...);
}

/// Size source (see `min_elements`): data-plane bytes of a [Rows, K] matrix.
template <weight_policy P, class Rows, class K>
struct data_plane_size {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return data_plane_bytes<P>(Rows::get(a), K::get(a));
  }
};
/// Size source: scale-plane bytes of a [Rows, K] matrix.
template <weight_policy P, class Rows, class K>
struct scale_plane_size {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return scale_plane_bytes<P>(Rows::get(a), K::get(a));
  }
};

/// A hook: the policy choice of a main stage plus the preamble that prepares
/// its input. It may declare, like a stage, `arguments`, ports,
/// `threadgroup`, `helpers`, and a constexpr `preamble()` returning Metal
/// text with `$` placeholders; these are merged into the main stage that
/// names it as `using hook = H;`. The main stage's `emit()` may call the
/// hook's constexpr functions to read its input (e.g. `H::load_input("$x", "k")`).
template <class H>
concept hook = weight_policy<typename H::policy>;

/// The plain hook: weights in policy `P`, the input vector read as is.
template <weight_policy P>
struct plain_input {
  using policy = P;
  using policies = type_list<P>;
  /// Expression for input element `k` of the input vector named by the
  /// main stage (`x` is the already resolved input pointer expression).
  static constexpr ct_string load_input(std::string_view x, std::string_view k) {
    return ct_string(x) + "[" + ct_string(k) + "]";
  }
  /// Expression for the float4 of input elements k..k+3 in one 16-byte load
  /// (`k` a multiple of 4; the input pointer 16-byte aligned). Optional in
  /// a hook: main stages that read runs of x (`gemv_multi_row`) use it where
  /// present, else four `load_input`s.
  static constexpr ct_string load_input4(std::string_view x, std::string_view k) {
    return "(*(const device float4*)(" + ct_string(x) + " + " + ct_string(k) + "))";
  }
};

}  // namespace foundry
