#pragma once
/// @file sizes.hpp
/// Size sources built from other size sources: products, sums and quotients
/// of scalar arguments, e.g.
/// `sizes::product<size_arg<"n_kv">, size_arg<"max_seq">, size_arg<"head_dim">>`
/// for the elements of a KV cache.
///
/// A size source is any type with `static std::uint64_t get(const Args&)`
/// reading a kernel's argument struct: the leaves `size_arg`, `size_field`
/// and `size_const` live in dispatch.hpp (which includes this header); they
/// size grids (dispatch presets) and buffers (`min_elements`). These
/// combinators depend on nothing else, so they sit at the DSL floor and
/// every kernel family and epilogue can use them.

#include <cstdint>

namespace foundry::sizes {

/// The product of size sources `S...` (64-bit).
template <class... S>
struct product {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return (std::uint64_t{1} * ... * S::get(a));
  }
};

/// The sum of size sources `S...`.
template <class... S>
struct sum {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return (std::uint64_t{0} + ... + S::get(a));
  }
};

/// `S / D`, rounded down (`D` > 0).
template <class S, std::uint64_t D>
struct quotient {
  static_assert(D > 0, "foundry: sizes::quotient by zero");
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return S::get(a) / D;
  }
};

/// `S / D`, rounded up (`D` > 0): e.g. the SIMD-groups of a GEMV that gives
/// each SIMD-group `D` rows.
template <class S, std::uint64_t D>
struct ceil_quotient {
  static_assert(D > 0, "foundry: sizes::ceil_quotient by zero");
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return (S::get(a) + D - 1) / D;
  }
};

}  // namespace foundry::sizes
