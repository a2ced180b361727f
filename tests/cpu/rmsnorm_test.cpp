// RMSNorm kernels on the CPU backend against float64 references:
//  * the standalone batched kernel `rmsnorm_f32` (one threadgroup per row);
//  * the prologue stage `rmsnorm_prologue` in a kernel whose main stage is
//    element-wise (several threadgroups, each computing inv_rms itself);
//  * RMSNorm fused into a GEMV's input (`rmsnorm_gemv<P>`) for every policy.
//
// Reference: y = x / sqrt(mean(x²) + eps) · gamma (Zhang & Sennrich, 2019),
// in double; GEMV weights are the policy's host dequantization of the very
// planes the kernel reads (policies::dequantize), so quantization itself is
// not an error source.
//
// Tolerances, relative ‖out − ref‖ / ‖ref‖:
//  * RMSNorm alone 1e-6: a float32 sum of ≤ 1536 squares (relative error
//    ≲ n·2⁻²⁴ in the worst case, ~1e-7 in practice) and two rounded products.
//  * Fused GEMV 1e-5: float32 dot products over k ≤ 1536 terms on top of it
//    (as tests/cpu/executor_test.cpp); a wrong row, block, scale or dropped
//    tail element is off by orders of magnitude more.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/gemv/aliases.hpp>
#include <kernels/policies/repack.hpp>
#include <kernels/rmsnorm/aliases.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

namespace {

using foundry_test::rel_error;
using foundry_test::exec;
/// RMSNorm of row `r` of [rows, n] `x`, in double.
std::vector<double> rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& gamma, std::size_t r,
                                std::size_t n, double eps) {
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
  const double inv = 1.0 / std::sqrt(ss / double(n) + eps);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = x[r * n + i] * inv * gamma[i];
  return y;
}

// --- standalone, batched ------------------------------------------------------

struct rows_shape {
  std::uint32_t rows, n;
};

TEST(RmsNorm, StandaloneBatchedRows) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  // n below, equal to, and above the 256 threads of a row; not multiples of
  // 32; SmolLM2's hidden 576 and FFN 1536.
  for (const rows_shape s : {rows_shape{1, 1}, rows_shape{7, 33}, rows_shape{3, 256}, rows_shape{4, 1000},
                             rows_shape{5, 576}, rows_shape{2, 1536}}) {
    SCOPED_TRACE("rows=" + std::to_string(s.rows) + " n=" + std::to_string(s.n));
    auto x = foundry_test::random_vector<float>(g, std::size_t{s.rows} * s.n, -3, 3);
    auto gamma = foundry_test::random_vector<float>(g, s.n, 0.5, 1.5);
    const float eps = 1e-5f;
    fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(x.size());
    yb.fill_bytes(0xFF);
    fk::rmsnorm_f32::arguments a;
    a.set<"x">(xb).set<"gamma">(gb).set<"y">(yb).set<"eps">(eps).set<"rows">(s.rows).set<"n">(s.n);
    ex.dispatch<fk::rmsnorm_f32>(a);
    const auto y = yb.read<float>();
    for (std::uint32_t r = 0; r < s.rows; ++r) {
      const std::vector<float> yr(y.begin() + std::ptrdiff_t(r) * s.n, y.begin() + std::ptrdiff_t(r + 1) * s.n);
      EXPECT_LT(rel_error(yr, rmsnorm_ref(x, gamma, r, s.n, eps)), 1e-6) << "row " << r;
    }
  }
}

TEST(RmsNorm, StandaloneInPlace) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::uint32_t rows = 3, n = 577;
  auto x = foundry_test::random_vector<float>(g, std::size_t{rows} * n, -2, 2);
  auto gamma = foundry_test::random_vector<float>(g, n, 0.5, 1.5);
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma);
  fk::rmsnorm_f32::arguments a;
  a.set<"x">(xb).set<"gamma">(gb).set<"y">(xb).set<"eps">(1e-6f).set<"rows">(rows).set<"n">(n);
  ex.dispatch<fk::rmsnorm_f32>(a);
  const auto y = xb.read<float>();
  for (std::uint32_t r = 0; r < rows; ++r) {
    const std::vector<float> yr(y.begin() + std::ptrdiff_t(r) * n, y.begin() + std::ptrdiff_t(r + 1) * n);
    EXPECT_LT(rel_error(yr, rmsnorm_ref(x, gamma, r, n, 1e-6)), 1e-6) << "row " << r;
  }
}

// --- the prologue stage in a kernel whose main stage is not a GEMV -----------

// y[i] = x[i] · inv_rms · gamma[i], one thread per element; every
// threadgroup computes inv_rms of the whole x in its prologue.
struct scale_elements {
  static constexpr fd::fixed_string name = "scale_elements";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float>>, fd::arg<"gamma", fd::input<float>>,
                                  fd::arg<"y", fd::output<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using consumes = fd::type_list<fd::port<"inv_rms", float>>;
  static constexpr std::string_view body = R"(const uint i = $thread_position_in_grid.x;
if (i < $n) $y[i] = $x[i] * $inv_rms * $gamma[i];)";
};
using rms_elementwise = fd::fused_kernel<"rms_elementwise", fd::per_element<fd::size_arg<"n">, 64>,
                                         fk::rmsnorm_prologue<"x", "n">, scale_elements>;

TEST(RmsNorm, PrologueStageInEveryThreadgroup) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (std::uint32_t n : {1u, 63u, 576u, 1000u}) {  // 1 to 16 threadgroups, the last one partly idle
    SCOPED_TRACE("n=" + std::to_string(n));
    auto x = foundry_test::random_vector<float>(g, n, -3, 3);
    auto gamma = foundry_test::random_vector<float>(g, n, 0.5, 1.5);
    fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(n);
    yb.fill_bytes(0xFF);
    rms_elementwise::arguments a;
    a.set<"x">(xb).set<"gamma">(gb).set<"y">(yb).set<"eps">(1e-5f).set<"n">(n);
    ex.dispatch<rms_elementwise>(a);
    EXPECT_LT(rel_error(yb.read<float>(), rmsnorm_ref(x, gamma, 0, n, 1e-5)), 1e-6);
  }
}

// --- RMSNorm fused into a GEMV's input, every policy -------------------------

/// Planes of a random [rows, k] matrix in policy P (quantized with ggml's
/// reference quantizer, then repacked) and their host dequantization.
template <class P>
struct matrix {
  fp::weight_planes<P> planes;
  std::vector<float> w;  ///< dequantized, row-major [rows, k]
};
template <class P>
matrix<P> random_matrix(std::mt19937_64& g, std::size_t rows, std::size_t k) {
  const auto src = foundry_test::random_vector<float>(g, rows * k, -1, 1);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, k));
  fd::quant::quantize_row(fp::ggml_type_of<P>, src.data(), gguf.data(), rows * k);
  matrix<P> m{fp::repack<P>(gguf.data(), rows, k, fp::layout::row_major), {}};
  m.w = fp::dequantize(m.planes);
  return m;
}

template <class P>
void check_rmsnorm_gemv(std::mt19937_64& g, std::uint32_t n, std::uint32_t k) {
  using K = fk::rmsnorm_gemv<P>;
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  auto& ex = exec();
  const auto m = random_matrix<P>(g, n, k);
  auto x = foundry_test::random_vector<float>(g, k, -3, 3);
  auto gamma = foundry_test::random_vector<float>(g, k, 0.5, 1.5);
  const auto xn = rmsnorm_ref(x, gamma, 0, k, 1e-5);
  std::vector<double> ref(n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < k; ++i) ref[r] += double(m.w[r * k + i]) * xn[i];
  fd::buffer wb = ex.upload(m.planes.data), xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(n);
  fd::buffer sb = P::has_scale ? ex.upload(m.planes.scales) : ex.allocate<float>(1);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(1e-5f);
  a.template set<"y">(yb).template set<"n">(n).template set<"k">(k);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  ex.dispatch<K>(a);
  EXPECT_LT(rel_error(yb.read<float>(), ref), 1e-5);
}

TEST(RmsNorm, FusedGemvEveryPolicy) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<fk::rmsnorm_gemv<fp::f32>, fk::rmsnorm_gemv<fp::f16>, fk::rmsnorm_gemv_q8_0,
                fk::rmsnorm_gemv<fp::q4_0>, fk::rmsnorm_gemv_q4_1>();
  // Rows not a multiple of the 4 rows per threadgroup; k not a multiple of
  // 32 for the plain formats; SmolLM2's 576 → 960 (attention output) shape.
  check_rmsnorm_gemv<fp::f32>(g, 37, 99);
  check_rmsnorm_gemv<fp::f16>(g, 37, 99);
  check_rmsnorm_gemv<fp::q8_0>(g, 37, 96);
  check_rmsnorm_gemv<fp::q4_0>(g, 37, 96);
  check_rmsnorm_gemv<fp::q4_1>(g, 37, 96);
  check_rmsnorm_gemv<fp::q4_1>(g, 960, 576);
  check_rmsnorm_gemv<fp::q8_0>(g, 131, 1536);
}

TEST(RmsNorm, GenericGemvAliasIsTheLibraryF16Alias) {
  static_assert(std::is_same_v<fk::rmsnorm_gemv<fp::f16>, fk::rmsnorm_gemv_f16>);
  SUCCEED();
}

}  // namespace
