// Packed 4-bit codes shared by the Q4_0 and Q4_1 policies.
// Data plane: byte i of a row holds element 2i in its low nibble and element
// 2i+1 in its high nibble (16 bytes per 32-weight block), so a run of N
// adjacent elements starting at an N-aligned k is N/2 consecutive bytes.
// Loads: a uint word per 8 elements (k a multiple of 8: the word is aligned,
// every row starting at a multiple of 16 bytes), a ushort for 4, a uchar
// for 2, one nibble of a uchar for 1. `offset` is added to each code as an
// integer (Q4_0 passes -8), so the values are exact.
struct Q4Nibbles {
  template <int N>
  static ALWAYS_INLINE void load(const device uchar* data, uint k, int offset, thread float* q) {
    if (N % 8 == 0) {
      const device uint* w = (const device uint*)(data + k / 2u);
      for (int i = 0; i < N / 8; ++i) {
        const uint v = w[i];
        for (int j = 0; j < 8; ++j) q[8 * i + j] = float(int((v >> (4u * uint(j))) & 15u) + offset);
      }
    } else {
      const uint v = N == 4 ? uint(*(const device ushort*)(data + k / 2u))
                            : uint(data[k / 2u]) >> ((k & 1u) * 4u);
      for (int j = 0; j < N; ++j) q[j] = float(int((v >> (4u * uint(j))) & 15u) + offset);
    }
  }
  template <int N>
  // The products are summed pairwise (foundry_pairwise_sum): short
  // dependency chains, and products the CPU compiler computes as one vector.
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, int offset, thread const float* x) {
    float p[N];
    if (N % 8 == 0) {
      const device uint* w = (const device uint*)(data + k / 2u);
      for (int i = 0; i < N / 8; ++i) {
        const uint v = w[i];
        for (int j = 0; j < 8; ++j) p[8 * i + j] = float(int((v >> (4u * uint(j))) & 15u) + offset) * x[8 * i + j];
      }
    } else {
      const uint v = N == 4 ? uint(*(const device ushort*)(data + k / 2u))
                            : uint(data[k / 2u]) >> ((k & 1u) * 4u);
      for (int j = 0; j < N; ++j) p[j] = float(int((v >> (4u * uint(j))) & 15u) + offset) * x[j];
    }
    return foundry_pairwise_sum<N>(p);
  }
  // Σ_j (q_j + offset)·x[j] over the 32 codes of one 16-byte load `v` of the
  // data plane (word i: elements 8i..8i+7, element 8i+j in bits 4j..4j+3),
  // given `x_sum` = Σ_j x[j] (the caller sums a run once for all its rows),
  // for GEMVs that read a whole block per load (dsl/policy.hpp, vector
  // loads). A code becomes a float without an integer conversion
  // (conversions run at an eighth of the rate of fused multiply-adds on
  // current NVIDIA GPUs): placed in mantissa bits 19..22 of 1.0f it gives
  // f = 1 + q/16 exactly (one shift, one mask-and-or), and
  // Σ q·x = 16·(Σ f·x − Σ x). f and q/16 are of one magnitude, so the
  // subtraction loses at most a few bits of the float sum. Four partial
  // sums, each a chain of fused multiply-adds.
  static ALWAYS_INLINE float dot_vector(uint4 v, int offset, thread const float* x, float x_sum) {
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 4; ++i) {
      const uint w = v[i];
      for (int j = 0; j < 8; ++j) {
        const uint placed = j < 5 ? w << (19u - 4u * uint(j)) : w >> (4u * uint(j) - 19u);
        p[j & 3] = fma(as_type<float>(0x3F800000u | (placed & 0x00780000u)), x[8 * i + j], p[j & 3]);
      }
    }
    return 16.0f * ((p[0] + p[1]) + (p[2] + p[3])) + float(offset - 16) * x_sum;
  }
  // Σ_j q_j·c_j, exactly, over the 32 codes q (0..15) of one 16-byte load
  // `v` and the run's 32 8-bit activation codes c (8 words) in pair-split
  // order (per 8 elements: 0, 2, 4, 6, then 1, 3, 5, 7; dsl/policy.hpp):
  // the low nibbles of word i are elements 8i, 8i+2, 8i+4, 8i+6, so one mask
  // gives the four bytes of one `foundry_dot4_i8` (dp4a), the high nibbles
  // the next four.
  static ALWAYS_INLINE int dot_vector_i8(uint4 v, thread const uint* c) {
    int s = 0;
    for (int i = 0; i < 4; ++i) {
      s = foundry_dot4_i8(v[i] & 0x0F0F0F0Fu, c[2 * i], s);
      s = foundry_dot4_i8((v[i] >> 4u) & 0x0F0F0F0Fu, c[2 * i + 1], s);
    }
    return s;
  }
#if FOUNDRY_TARGET_CPU
  // Σ_j q_j · c_j over one block: the 16 bytes at `w` (codes q_j, 0..15) and
  // the block's 32 8-bit codes c of x̂ in nibble order (foundry_q8_vector:
  // elements 0, 2, ..., 30 then 1, 3, ..., 31), exactly, as an integer. The
  // products are unsigned by signed bytes, which host compilers vectorise as
  // such (VNNI / maddubs instructions). Two loops, low nibbles then high: as
  // one loop GCC 12 multiplies in 16-bit lanes and takes twice as long
  // (measured on the SmolLM2 head's shape, 49152 x 576).
  static ALWAYS_INLINE int dot_q8_block(const device uchar* w, const int8_t* c) {
    int s = 0;
    for (int i = 0; i < 16; ++i) s += int(w[i] & 15u) * int(c[i]);
    for (int i = 0; i < 16; ++i) s += int(w[i] >> 4) * int(c[16 + i]);
    return s;
  }
#endif
};
