// F16 weight policy: one IEEE 754 binary16 value per weight, no scale.
// Data plane: `half` per weight, row-major. Scale plane: unused.
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyF16 {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 1.0f;
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 0.0f;
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    const device half* w = (const device half*)data + k;
    for (int i = 0; i < N; ++i) q[i] = float(w[i]);
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    const device half* w = (const device half*)data + k;
    float p[N];  // products summed pairwise (foundry_pairwise_sum)
    for (int i = 0; i < N; ++i) p[i] = float(w[i]) * x[i];
    return foundry_pairwise_sum<N>(p);
  }
  // Σ_j w_j·x[j] over the 8 halves of one 16-byte load `v` of the data plane
  // (word i holds elements 2i and 2i+1), for GEMVs that read 16 bytes per
  // load (policy.hpp; `x_sum` unused). Two partial sums of fused
  // multiply-adds.
  static ALWAYS_INLINE float dot_vector(uint4 v, thread const float* x, float x_sum) {
    (void)x_sum;
    float p[2] = {0.0f, 0.0f};
    for (int i = 0; i < 4; ++i) {
      const float2 w = float2(as_type<half2>(v[i]));
      p[0] = fma(w.x, x[2 * i], p[0]);
      p[1] = fma(w.y, x[2 * i + 1], p[1]);
    }
    return p[0] + p[1];
  }
};
