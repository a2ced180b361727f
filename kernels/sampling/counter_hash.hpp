#pragma once
/// @file counter_hash.hpp
/// The counter-based random numbers of the sampling kernels, on the host.
///
/// Gumbel-max sampling (gumbel_argmax.hpp) perturbs logit i of draw number
/// `step` of a generation seeded with `seed` by noise computed from
/// (seed, step, i) alone, so every backend and the host reference draw the
/// same noise without sharing generator state:
///
///   key   = gumbel_key_for(seed, step)           host, 64-bit (SplitMix64)
///   h_i   = mix32(mix32(i ^ key.a) + key.b)      device and host, 32-bit only
///   u_i   = ((h_i >> 9) + 0.5) · 2^-23           exact in float: (0, 1)
///   g_i   = −log(−log(u_i))                      standard Gumbel noise
///
/// The device part uses only 32-bit unsigned multiply, add, xor and shift,
/// which Metal, CUDA and C++ define identically (wrap-around), so h_i and u_i
/// are bit-identical everywhere; g_i then differs only by the targets' `log`
/// rounding (a few ulp). kernels/sampling/counter_hash.metal is the same
/// function in Metal; the kernel tests check both against each other.
///
/// Sources: `mix32` is the 32-bit finalizer of MurmurHash3 (Austin Appleby,
/// public domain), a bijection with full avalanche; SplitMix64 is Steele,
/// Lea and Flood, "Fast splittable pseudorandom number generators"
/// (OOPSLA 2014). The Gumbel-max trick: argmax_i (l_i / T + g_i) is
/// distributed as softmax(l / T) (Gumbel 1954; see e.g. Maddison, Tarlow and
/// Minka, "A* Sampling", NeurIPS 2014, section 2).

#include <cstdint>

namespace foundry::kernels {

/// MurmurHash3's 32-bit finalizer (a bijection of uint32).
constexpr std::uint32_t sampling_mix32(std::uint32_t x) noexcept {
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

/// SplitMix64's output function of state `z` (host only: 64-bit).
constexpr std::uint64_t sampling_splitmix64(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// The two 32-bit keys of one draw: the kernels' `key_a`, `key_b` scalars.
struct gumbel_key {
  std::uint32_t a = 0, b = 0;
};

/// Keys of draw number `step` (0, 1, 2, ... per generated token) of a
/// generation seeded with `seed`.
constexpr gumbel_key gumbel_key_for(std::uint64_t seed, std::uint64_t step) noexcept {
  const std::uint64_t z = sampling_splitmix64(seed ^ sampling_splitmix64(step ^ 0x5851f42d4c957f2dull));
  return {static_cast<std::uint32_t>(z), static_cast<std::uint32_t>(z >> 32)};
}

/// h_i: the 32 random bits of element `i` under `key`.
constexpr std::uint32_t gumbel_bits(gumbel_key key, std::uint32_t i) noexcept {
  return sampling_mix32(sampling_mix32(i ^ key.a) + key.b);
}

/// u_i in (0, 1): the top 23 bits of h_i, centred in their interval. The
/// result has at most 24 significant bits, so float holds it exactly (with
/// 24 bits of h the + 0.5 would need 25), and it is never 0 or 1, so both
/// logarithms of the Gumbel noise are finite.
constexpr double gumbel_uniform(std::uint32_t bits) noexcept {
  return (static_cast<double>(bits >> 9) + 0.5) * 0x1.0p-23;
}

}  // namespace foundry::kernels
