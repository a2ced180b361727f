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
  // One 16-byte load of the data plane: a whole block (policy.hpp).
  static ALWAYS_INLINE float dot_vector(uint4 v, thread const float* x, float x_sum) {
    return Q4Nibbles::dot_vector(v, 0, x, x_sum);
  }
  // With 8-bit activations (policy.hpp): Σ q·c; the caller adds m·Σx.
  static ALWAYS_INLINE int dot_vector_i8(uint4 v, thread const uint* c, int c_sum) {
    (void)c_sum;
    return Q4Nibbles::dot_vector_i8(v, c);
  }
#if FOUNDRY_TARGET_CPU
  // The CPU's row dot product with 8-bit activations (row_dot.hpp; x̂ in
  // nibble order): Σ_b x.d[b] · (d_b · Σ_j q_j · c_j + m_b · Σ_j c_j), the
  // inner sums exact in integers (as llama.cpp's ggml_vec_dot_q4_1_q8_1).
  static ALWAYS_INLINE float row_dot_q8(const device uchar* data, const device uchar* scales,
                                        thread const foundry_q8_vector& x) {
    float acc = 0.0f;
    for (uint b = 0; b < x.blocks; ++b) {
      const int s = Q4Nibbles::dot_q8_block(data + 16u * b, x.q + 32u * b);
      acc += x.d[b] * (load_scale(scales, b) * float(s) + load_affine(scales, b) * float(x.sum[b]));
    }
    return acc;
  }
#endif
};
