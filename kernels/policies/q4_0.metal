// Q4_0 weight policy (GGUF `GGML_TYPE_Q4_0`; ggml-common.h `block_q4_0`:
// half d; uint8 qs[16]; w_j = d * (q_j - 8)).
// Data plane: the 32 codes of each block repacked two per byte in element
// order (see Q4Nibbles; 16 bytes per block). Scale plane: d as one half
// (2 bytes per block). The -8 offset is applied by the loader:
// load_weights returns q - 8 (-8..7) and dot returns sum((q - 8) * x), so
// w = load_scale * load_weights and the policy has no affine term.
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyQ4_0 {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return float(((const device half*)scales)[block]);
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 0.0f;
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    Q4Nibbles::load<N>(data, k, -8, q);
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    return Q4Nibbles::dot<N>(data, k, -8, x);
  }
  // One 16-byte load of the data plane: a whole block (policy.hpp).
  static ALWAYS_INLINE float dot_vector(uint4 v, thread const float* x, float x_sum) {
    return Q4Nibbles::dot_vector(v, -8, x, x_sum);
  }
  // With 8-bit activations (policy.hpp): Σ (q − 8)·c = Σ q·c − 8·Σ c.
  static ALWAYS_INLINE int dot_vector_i8(uint4 v, thread const uint* c, int c_sum) {
    return Q4Nibbles::dot_vector_i8(v, c) - 8 * c_sum;
  }
#if FOUNDRY_TARGET_CPU
  // The CPU's row dot product with 8-bit activations (row_dot.hpp; x̂ in
  // nibble order): Σ_b d_b · x.d[b] · (Σ_j q_j · c_j − 8 · Σ_j c_j), the
  // inner sums exact in integers (as llama.cpp's ggml_vec_dot_q4_0_q8_0).
  static ALWAYS_INLINE float row_dot_q8(const device uchar* data, const device uchar* scales,
                                        thread const foundry_q8_vector& x) {
    float acc = 0.0f;
    for (uint b = 0; b < x.blocks; ++b) {
      const int s = Q4Nibbles::dot_q8_block(data + 16u * b, x.q + 32u * b) - 8 * x.sum[b];
      acc += load_scale(scales, b) * (x.d[b] * float(s));
    }
    return acc;
  }
#endif
};
