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

#include <concepts>
#include <cstdint>
#include <string_view>

#include <string>

#include "foundry/core/ct_string.hpp"
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

/// Data-plane bytes of a row-major [rows, k] matrix in policy `P`.
/// `k` must be a multiple of `P::weights_per_block`.
template <weight_policy P>
constexpr std::uint64_t data_plane_bytes(std::uint64_t rows, std::uint64_t k) noexcept {
  return rows * (k / P::weights_per_block) * P::block_bytes;
}
/// Scale-plane bytes of a row-major [rows, k] matrix in policy `P`.
template <weight_policy P>
constexpr std::uint64_t scale_plane_bytes(std::uint64_t rows, std::uint64_t k) noexcept {
  return rows * (k / P::weights_per_block) * P::scale_bytes;
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
};

}  // namespace foundry
