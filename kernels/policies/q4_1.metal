// Q4_1 weight policy (GGUF `GGML_TYPE_Q4_1`; ggml-common.h `block_q4_1`:
// half d; half m; uint8 qs[16]; w_j = d * q_j + m).
// Data plane: the 32 codes of each block repacked two per byte in element
// order (see Q4Nibbles; 16 bytes per block). Scale plane: d then m, two
// halves (4 bytes per block). load_weights returns q (0..15), dot returns
// sum(q * x); the caller adds m * sum(x) (has_affine).
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyQ4_1 {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return float(((const device half*)scales)[2u * block]);
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    return float(((const device half*)scales)[2u * block + 1u]);
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    Q4Nibbles::load<N>(data, k, 0, q);
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    return Q4Nibbles::dot<N>(data, k, 0, x);
  }
};
