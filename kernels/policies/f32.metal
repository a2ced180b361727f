// F32 weight policy: one IEEE 754 binary32 value per weight, no scale.
// Data plane: `float` per weight, row-major. Scale plane: unused.
// Implements the loading contract of include/foundry/dsl/policy.hpp.
struct PolicyF32 {
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
    const device float* w = (const device float*)data + k;
    for (int i = 0; i < N; ++i) q[i] = w[i];
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    const device float* w = (const device float*)data + k;
    float p[N];  // products summed pairwise (foundry_pairwise_sum)
    for (int i = 0; i < N; ++i) p[i] = w[i] * x[i];
    return foundry_pairwise_sum<N>(p);
  }
  // Σ_j w_j·x[j] over the 4 floats of one 16-byte load `v` of the data plane
  // (policy.hpp; `x_sum` unused).
  static ALWAYS_INLINE float dot_vector(uint4 v, thread const float* x, float x_sum) {
    (void)x_sum;
    const float4 w = as_type<float4>(v);
    return fma(w.x, x[0], w.y * x[1]) + fma(w.z, x[2], w.w * x[3]);
  }
};
