// Q4_K weight policy (GGUF `GGML_TYPE_Q4_K`; ggml-common.h `block_q4_K`:
// 256-weight super-blocks of 8 sub-blocks of 32, w = (d*sc)*q - dmin*m).
// The contract's block is the 32-weight sub-block. Data plane: its 32 codes
// repacked two per byte in element order (see Q4Nibbles; 16 bytes per
// sub-block). Scale plane: per sub-block the float effective scale d*sc and
// the float negated effective min -(dmin*m), both computed on the host when
// the planes are built (8 bytes per sub-block). load_weights returns q
// (0..15), dot returns sum(q * x); the caller adds load_affine * sum(x).
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyQ4_K {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return ((const device float*)scales)[2u * block];
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    return ((const device float*)scales)[2u * block + 1u];
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
