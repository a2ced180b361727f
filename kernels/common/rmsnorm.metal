// RMSNorm (Zhang & Sennrich, 2019, "Root Mean Square Layer Normalization",
// eq. 4): y_i = x_i / RMS(x) * g_i with RMS(x) = sqrt(mean_i(x_i^2) + eps)
// (eps inside the root, as llama.cpp's `ggml_rms_norm` and Hugging Face
// `LlamaRMSNorm` compute it).
//
// foundry_rms_inv returns 1 / RMS(x) of the n floats at x, computed by the
// whole threadgroup: each thread sums the squares of a strided slice, each
// SIMD-group reduces with simd_sum, the SIMD-group sums meet in `partial`
// (one float per SIMD-group, at most 32), and every thread reduces those
// again, so every thread of the threadgroup gets the bit-identical result.
// It contains a threadgroup barrier: every thread of the threadgroup must
// call it, at the same place, once per kernel (a second call would overwrite
// `partial` while slower SIMD-groups may still read it).
ALWAYS_INLINE float foundry_rms_inv(const device float* x, uint n, float eps, threadgroup float* partial,
                                    uint thread_index, uint threads, uint lane, uint simdgroup,
                                    uint simdgroups) {
  float ss = 0.0f;
  for (uint i = thread_index; i < n; i += threads) ss += x[i] * x[i];
  ss = simd_sum(ss);
  if (lane == 0u) partial[simdgroup] = ss;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = lane < simdgroups ? partial[lane] : 0.0f;
  total = simd_sum(total);
  return rsqrt(total / float(n) + eps);
}
