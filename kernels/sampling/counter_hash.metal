// Counter-based random numbers of the sampling kernels: the device half of
// kernels/sampling/counter_hash.hpp (same functions, same constants; only
// 32-bit unsigned arithmetic, which wraps identically on every target).

// MurmurHash3's 32-bit finalizer (a bijection of uint).
ALWAYS_INLINE uint foundry_sampling_mix32(uint x) {
  x ^= x >> 16u;
  x *= 0x85ebca6bu;
  x ^= x >> 13u;
  x *= 0xc2b2ae35u;
  x ^= x >> 16u;
  return x;
}

// Standard Gumbel noise of element i under the draw's keys:
// u = ((h >> 9) + 0.5) * 2^-23 lies in (0, 1) and is exact in float (24
// significant bits at most), so -log(-log(u)) is finite (about -2.8 to 16.6).
ALWAYS_INLINE float foundry_gumbel_noise(uint key_a, uint key_b, uint i) {
  const uint h = foundry_sampling_mix32(foundry_sampling_mix32(i ^ key_a) + key_b);
  const float u = (float(h >> 9u) + 0.5f) * 1.1920928955078125e-7f;
  return -log(-log(u));
}
