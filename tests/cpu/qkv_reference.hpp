// Float64 references shared by the QKV tests (qkv_test.cpp,
// qkv_rope_test.cpp): random quantized matrices and the projections
// W·x̂ + b with the magnitude of their terms (the RMSNorm of the input is
// test_support.hpp's rmsnorm_ref).
#pragma once

#include <cmath>
#include <cstdint>
#include <foundry/foundry.hpp>
#include <kernels/policies/repack.hpp>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace foundry_test {

/// Planes of a random [rows, k] matrix in policy P and their host
/// dequantization (row-major [rows, k]). The weights are quantized with
/// ggml's reference quantizer and dequantized from the repacked planes, so
/// a comparison measures the kernel's arithmetic, not quantization error.
template <class P>
struct matrix {
  foundry::policies::weight_planes<P> planes;
  std::vector<float> w;
};
template <class P>
matrix<P> random_matrix(std::mt19937_64& g, std::size_t rows, std::size_t k) {
  namespace fp = foundry::policies;
  const auto src = random_vector<float>(g, rows * k, -1, 1);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, k));
  foundry::quant::quantize_row(fp::ggml_type_of<P>, src.data(), gguf.data(), rows * k);
  matrix<P> m{fp::repack<P>(gguf.data(), rows, k, fp::layout::row_major), {}};
  m.w = fp::dequantize(m.planes);
  return m;
}

/// W·x̂ + b (b may be empty) in double, and per row the magnitude of its
/// terms Σ|w·x̂| + |b| (the scale of float32 rounding error in the row).
struct projection {
  std::vector<double> y, mag;
};
inline projection project(const std::vector<float>& w, const std::vector<double>& xn, std::size_t rows,
                          const std::vector<float>& b) {
  const std::size_t k = xn.size();
  projection p{std::vector<double>(rows), std::vector<double>(rows)};
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < k; ++i) {
      p.y[r] += double(w[r * k + i]) * xn[i];
      p.mag[r] += std::abs(double(w[r * k + i]) * xn[i]);
    }
    if (!b.empty()) p.y[r] += b[r], p.mag[r] += std::abs(double(b[r]));
  }
  return p;
}

/// ‖out − ref‖ / ‖mag‖ for one projection.
inline double projection_error(const std::vector<float>& out, const projection& ref) {
  return error_to_scale(out, ref.y, ref.mag);
}

/// A QKV shape: hidden size, query and KV heads, head size.
struct qkv_shape {
  std::uint32_t hidden, n_heads, n_kv, head_dim;
};
inline std::string describe(const qkv_shape& s) {
  return "hidden=" + std::to_string(s.hidden) + " heads=" + std::to_string(s.n_heads) + "/" +
         std::to_string(s.n_kv) + "x" + std::to_string(s.head_dim);
}

}  // namespace foundry_test
