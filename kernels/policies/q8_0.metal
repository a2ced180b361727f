// Q8_0 weight policy (GGUF `GGML_TYPE_Q8_0`; ggml-common.h `block_q8_0`:
// half d; int8 qs[32]; w_j = d * qs[j]).
// Data plane: the 32 int8 codes of each block, in element order (32 bytes per
// block). Scale plane: the block's d as one half (2 bytes per block).
// Implements the loading contract of include/foundry/dsl/policy.hpp.
// Codes are read as uint words when N is a multiple of 4 (k is then a multiple
// of 4 and every row starts at a multiple of 32 bytes, so the words are
// aligned), else as bytes; a byte b becomes the signed code (b ^ 128) - 128,
// which does not depend on the signedness of `char`.
struct PolicyQ8_0 {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    return float(((const device half*)scales)[block]);
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 0.0f;
  }
  /// The signed code in bits [8j, 8j+8) of v, as a float.
  static ALWAYS_INLINE float code(uint v, uint j) {
    return float(int(((v >> (8u * j)) & 255u) ^ 128u) - 128);
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    if (N % 4 == 0) {
      const device uint* w = (const device uint*)(data + k);
      for (int i = 0; i < N / 4; ++i) {
        const uint v = w[i];
        for (int j = 0; j < 4; ++j) q[4 * i + j] = code(v, uint(j));
      }
    } else {
      for (int i = 0; i < N; ++i) q[i] = code(uint(data[k + uint(i)]), 0u);
    }
  }
  // Products summed pairwise (foundry_pairwise_sum, see Q4Nibbles::dot).
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    float p[N];
    if (N % 4 == 0) {
      const device uint* w = (const device uint*)(data + k);
      for (int i = 0; i < N / 4; ++i) {
        const uint v = w[i];
        for (int j = 0; j < 4; ++j) p[4 * i + j] = code(v, uint(j)) * x[4 * i + j];
      }
    } else {
      for (int i = 0; i < N; ++i) p[i] = code(uint(data[k + uint(i)]), 0u) * x[i];
    }
    return foundry_pairwise_sum<N>(p);
  }
  // Σ_j q_j·x[j] over the 16 codes of one 16-byte load `v` of the data plane
  // (half a block; byte j of word i is code 4i+j), given `x_sum` = Σ_j x[j]
  // (summed once per run by the caller), for GEMVs that read 16 bytes per
  // load (policy.hpp). A code becomes a float without an integer
  // conversion: q + 128 (the byte with its sign bit flipped) placed in
  // mantissa bits 15..22 of 1.0f gives f = 1 + (q + 128)/256 exactly, and
  // Σ q·x = 256·(Σ f·x − Σ x) − 128·Σ x. Four partial sums of fused
  // multiply-adds.
  static ALWAYS_INLINE float dot_vector(uint4 v, thread const float* x, float x_sum) {
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 4; ++i) {
      const uint w = v[i] ^ 0x80808080u;  // every code + 128, as unsigned bytes
      for (int j = 0; j < 4; ++j) {
        const uint placed = j < 2 ? w << (15u - 8u * uint(j)) : w >> (8u * uint(j) - 15u);
        p[j] = fma(as_type<float>(0x3F800000u | (placed & 0x007F8000u)), x[4 * i + j], p[j]);
      }
    }
    return 256.0f * ((p[0] + p[1]) + (p[2] + p[3])) - 384.0f * x_sum;
  }
  // With 8-bit activations (policy.hpp): Σ q·c over the 16 codes of one
  // 16-byte load and 16 activation codes in element order, four dp4a.
  static ALWAYS_INLINE int dot_vector_i8(uint4 v, thread const uint* c, int c_sum) {
    (void)c_sum;
    int s = 0;
    for (int i = 0; i < 4; ++i) s = foundry_dot4_i8(v[i], c[i], s);
    return s;
  }
#if FOUNDRY_TARGET_CPU
  // The CPU's row dot product with 8-bit activations (row_dot.hpp):
  // Σ_b d_b · x.d[b] · (Σ_j q_j · c_j) over the row's x.blocks blocks, the
  // inner sum exact in integers (llama.cpp's CPU backend computes Q8_0 rows
  // the same way, ggml_vec_dot_q8_0_q8_0). A code is read as the unsigned
  // byte q + 128 (its sign bit flipped) and 128 · Σc is taken off: an
  // unsigned-by-signed byte product is what host compilers vectorise (VNNI
  // / maddubs), and GCC 12 miscompiles the signed-by-signed form for
  // AVX-512 VNNI. `data`, `scales`: the row's planes.
  static ALWAYS_INLINE float row_dot_q8(const device uchar* data, const device uchar* scales,
                                        thread const foundry_q8_vector& x) {
    float acc = 0.0f;
    for (uint b = 0; b < x.blocks; ++b) {
      const device uchar* w = data + 32u * b;
      const int8_t* c = x.q + 32u * b;
      int s = 0;
      for (int i = 0; i < 32; ++i) s += int(uchar(w[i] ^ 128u)) * int(c[i]);
      acc += load_scale(scales, b) * (x.d[b] * float(s - 128 * x.sum[b]));
    }
    return acc;
  }
#endif
};
