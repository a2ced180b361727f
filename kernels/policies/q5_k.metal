// Q5_K weight policy (GGUF `GGML_TYPE_Q5_K`; ggml-common.h `block_q5_K`:
// 256-weight super-blocks of 8 sub-blocks of 32, 5-bit codes,
// w = (d*sc)*q - dmin*m). The contract's block is the 32-weight sub-block.
// Data plane: one byte per code (0..31), element order (32 bytes per
// sub-block). Scale plane: float d*sc then float -(dmin*m) per sub-block
// (8 bytes). Codes are read as uint words when N is a multiple of 4 (k is
// then a multiple of 4 and rows start at multiples of 32 bytes).
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyQ5_K {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return ((const device float*)scales)[2u * block];
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    return ((const device float*)scales)[2u * block + 1u];
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    if (N % 4 == 0) {
      const device uint* w = (const device uint*)(data + k);
      for (int i = 0; i < N / 4; ++i) {
        const uint v = w[i];
        for (int j = 0; j < 4; ++j) q[4 * i + j] = float((v >> (8u * uint(j))) & 255u);
      }
    } else {
      for (int i = 0; i < N; ++i) q[i] = float(data[k + uint(i)]);
    }
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    float q[N];
    load_weights<N>(data, k, q);
    float s = 0.0f;
    for (int i = 0; i < N; ++i) s += q[i] * x[i];
    return s;
  }
};
