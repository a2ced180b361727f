#pragma once
/// @file sizes.hpp
/// Size sources (see `dispatch.hpp`, `min_elements`) built from other size
/// sources: products, sums and quotients of scalar arguments, e.g.
/// `sizes::product<size_arg<"n_kv">, size_arg<"max_seq">, size_arg<"head_dim">>`
/// for the elements of a KV cache.

#include <cstdint>

namespace foundry::kernels::sizes {

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

}  // namespace foundry::kernels::sizes
