// Q6_K weight policy (GGUF `GGML_TYPE_Q6_K`; ggml-common.h `block_q6_K`:
// 256-weight super-blocks of 16 sub-blocks of 16, w = (d*scales[s])*(q - 32)).
// The contract's block is the 16-weight sub-block. Data plane: the signed
// codes q - 32 (-32..31) as int8 in element order (16 bytes per sub-block),
// read with PolicyQ8_0's int8 loaders. Scale plane: the float effective
// scale d*scales[s], computed on the host (4 bytes per sub-block).
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyQ6_K {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return ((const device float*)scales)[block];
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 0.0f;
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    PolicyQ8_0::load_weights<N>(data, k, q);
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    return PolicyQ8_0::dot<N>(data, k, x);
  }
};
