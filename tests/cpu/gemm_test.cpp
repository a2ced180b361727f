// The library GEMMs (kernels/gemm/aliases.hpp) of every policy (F16, F32,
// Q8_0, Q4_0, Q4_1) on shapes that are not tile multiples, against float64
// references computed from the dequantized planes (as in gemv_test: only
// the GEMM's arithmetic is measured). Outputs are poisoned (NaN) first.
//
// Tolerance: an output is a float32 accumulation of K ≤ 1536 products
// (in 8×8×8 steps, then a residual or bias), so its rounding error is
// bounded by K·u·(Σ|w·x| + |other terms|), u = 2^-24 (Higham, §3.1), not by
// |ref| (a single output can cancel). Errors are measured as
// ‖y − ref‖ / ‖mag‖ with mag the sum of the terms' magnitudes, ~1e-7 in
// practice; the bound 1e-5 is far below any indexing mistake (O(1) of mag).
// RMSNorm adds a few float operations per element (same order).
// The GPU tiles (gemm_tile_gpu, gemm_tile_gpu_pair) round both operands to
// half first: each product is then off by at most 2·2^-11 of |a·w| (binary16
// keeps 11 significant bits), so the error to ‖mag‖ is bounded by ~1e-3
// (kHalfTolerance), still far below an indexing mistake.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/gemm/aliases.hpp>
#include <kernels/policies/repack.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;
namespace quant = foundry::quant;

namespace {

constexpr double kTolerance = 1e-5;
constexpr double kHalfTolerance = 1e-3;
using foundry_test::exec;

/// A random [n, k] weight matrix in policy P: its planes and float values.
template <fd::weight_policy P>
struct weights {
  std::uint32_t n, k;
  fp::weight_planes<P> planes;
  std::vector<float> w;  // dequantized, row-major [n, k]

  weights(std::mt19937_64& g, std::uint32_t n_, std::uint32_t k_) : n(n_), k(k_) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f), scale(0.05f, 2.0f), shift(-0.3f, 0.3f);
    std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(n, k));
    const std::size_t row_bytes = gguf.size() / n;
    std::vector<float> row(k);
    for (std::uint32_t r = 0; r < n; ++r) {
      const float s = scale(g), o = shift(g);
      for (auto& v : row) v = s * u(g) + o;
      quant::quantize_row(fp::ggml_type_of<P>, row.data(), gguf.data() + r * row_bytes, k);
    }
    planes = fp::repack<P>(gguf.data(), n, k, fp::layout::row_major);
    w = fp::dequantize(planes);
  }
  std::vector<std::uint8_t> scales() const {
    return planes.scales.empty() ? std::vector<std::uint8_t>(1) : planes.scales;
  }
};

/// A (optionally RMS-normalised per row with gamma) as the reference sees it.
std::vector<double> reference_input(const std::vector<float>& x, std::uint32_t m, std::uint32_t k,
                                    const std::vector<float>* gamma, float eps) {
  std::vector<double> a(x.begin(), x.end());
  if (gamma == nullptr) return a;
  for (std::uint32_t r = 0; r < m; ++r) {
    double ss = 0;
    for (std::uint32_t i = 0; i < k; ++i) ss += double(x[std::size_t{r} * k + i]) * x[std::size_t{r} * k + i];
    const double inv = 1.0 / std::sqrt(ss / k + eps);
    for (std::uint32_t i = 0; i < k; ++i) a[std::size_t{r} * k + i] *= inv * (*gamma)[i];
  }
  return a;
}

/// ref[m, n] = Σ_i a[m, i]·w[n, i] and mag[m, n] = Σ_i |a[m, i]·w[n, i]|.
void reference_gemm(const std::vector<double>& a, const std::vector<float>& w, std::uint32_t m, std::uint32_t n,
                    std::uint32_t k, std::vector<double>& ref, std::vector<double>& mag) {
  ref.assign(std::size_t{m} * n, 0.0);
  mag.assign(std::size_t{m} * n, 0.0);
  for (std::uint32_t r = 0; r < m; ++r)
    for (std::uint32_t c = 0; c < n; ++c) {
      double s = 0, g = 0;
      for (std::uint32_t i = 0; i < k; ++i) {
        const double t = a[std::size_t{r} * k + i] * w[std::size_t{c} * k + i];
        s += t;
        g += std::abs(t);
      }
      ref[std::size_t{r} * n + c] = s;
      mag[std::size_t{r} * n + c] = g;
    }
}

struct shape {
  std::uint32_t m, n, k;
};
std::string describe(const shape& s) {
  return "M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k);
}
// M 1, 7, 33, 130; N 1, 65, 577; K 32, 96, 1536 (a subset of the product:
// every value appears, with tails in M, N and K slices).
constexpr shape kShapes[] = {{1, 65, 96}, {7, 577, 32}, {33, 1, 1536}, {130, 65, 1536}, {130, 577, 96}, {7, 1, 32}};

enum class form { plain, residual, bias_silu };

template <class K, fd::weight_policy P, form F>
void check_gemm(std::mt19937_64& g, const shape& s, double tolerance = kTolerance) {
  SCOPED_TRACE(std::string(K::name.view()) + " " + describe(s));
  const weights<P> w(g, s.n, s.k);
  const auto x = foundry_test::random_vector<float>(g, std::size_t{s.m} * s.k, -1, 1);
  const auto res = foundry_test::random_vector<float>(g, std::size_t{s.m} * s.n, -2, 2);
  const auto bias = foundry_test::random_vector<float>(g, s.n, -1, 1);
  std::vector<double> ref, mag;
  reference_gemm(reference_input(x, s.m, s.k, nullptr, 0), w.w, s.m, s.n, s.k, ref, mag);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (F == form::residual) {
      ref[i] += res[i];
      mag[i] += std::abs(res[i]);
    } else if (F == form::bias_silu) {
      const double z = ref[i] + bias[i % s.n];
      ref[i] = z / (1.0 + std::exp(-z));
      mag[i] += std::abs(bias[i % s.n]);
    }
  }
  auto& ex = exec();
  fd::buffer wb = ex.upload(w.planes.data), sb = ex.upload(w.scales()), xb = ex.upload(x), rb = ex.upload(res),
             bb = ex.upload(bias), yb = ex.allocate<float>(std::size_t{s.m} * s.n);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"n">(s.n).template set<"k">(s.k);
  a.template set<"batch">(s.m).template set<"y">(yb);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  if constexpr (F == form::residual) a.template set<"residual">(rb);
  if constexpr (F == form::bias_silu) a.template set<"bias">(bb);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref, mag), tolerance);
}

template <fd::weight_policy P>
void check_policy(std::initializer_list<shape> extra = {}) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using plain = fk::gemm<P>;
  using residual = fk::gemm_residual<P>;
  exec().prepare<plain, residual>();
  for (const shape& s : kShapes) check_gemm<plain, P, form::plain>(g, s);
  for (const shape& s : extra) check_gemm<plain, P, form::plain>(g, s);
  for (const shape& s : {shape{33, 65, 96}, shape{130, 577, 32}}) check_gemm<residual, P, form::residual>(g, s);
}

// F16 and F32 take any K: 45 and 100 leave partial runs of the loader.
TEST(Gemm, F16) { check_policy<fp::f16>({{33, 65, 45}, {7, 64, 100}}); }
TEST(Gemm, F32) { check_policy<fp::f32>({{33, 65, 45}}); }
TEST(Gemm, Q8_0) { check_policy<fp::q8_0>(); }
TEST(Gemm, Q4_0) { check_policy<fp::q4_0>(); }
TEST(Gemm, Q4_1) { check_policy<fp::q4_1>(); }

TEST(Gemm, BiasAndSiluEpilogues) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_gemm<fk::gemm_bias_silu<fp::f16>, fp::f16, form::bias_silu>(g, {33, 65, 96});
  check_gemm<fk::gemm_bias_silu<fp::f16>, fp::f16, form::bias_silu>(g, {7, 577, 32});
}

template <class Tile>
void check_gate_up(double tolerance) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const float eps = 1e-5f;
  for (const shape& s : {shape{7, 65, 96}, shape{130, 577, 1536}, shape{33, 1, 32}}) {
    SCOPED_TRACE(describe(s));
    using P = fp::q4_1;
    using K = fk::rmsnorm_gate_up_swiglu_gemm<P, Tile>;
    const weights<P> wg(g, s.n, s.k), wu(g, s.n, s.k);
    const auto x = foundry_test::random_vector<float>(g, std::size_t{s.m} * s.k, -1, 1);
    const auto gamma = foundry_test::random_vector<float>(g, s.k, 0.5, 1.5);
    const auto a = reference_input(x, s.m, s.k, &gamma, eps);
    std::vector<double> rg, mg, ru, mu;
    reference_gemm(a, wg.w, s.m, s.n, s.k, rg, mg);
    reference_gemm(a, wu.w, s.m, s.n, s.k, ru, mu);
    std::vector<double> ref(rg.size()), mag(rg.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const double silu = rg[i] / (1.0 + std::exp(-rg[i]));
      ref[i] = silu * ru[i];
      // d(silu(g)·u) ≈ |u|·δg + |silu(g)|·δu, δ proportional to the magnitudes.
      mag[i] = std::abs(ru[i]) * mg[i] + std::abs(silu) * mu[i] + 1e-30;
    }
    auto& ex = exec();
    fd::buffer gw = ex.upload(wg.planes.data), gs = ex.upload(wg.scales()), uw = ex.upload(wu.planes.data),
               us = ex.upload(wu.scales()), xb = ex.upload(x), gb = ex.upload(gamma),
               yb = ex.allocate<float>(std::size_t{s.m} * s.n);
    yb.fill_bytes(0xFF);
    typename K::arguments args;
    args.template set<"w_gate">(gw).template set<"w_gate_scales">(gs).template set<"w_up">(uw);
    args.template set<"w_up_scales">(us).template set<"x">(xb).template set<"k">(s.k).template set<"ffn">(s.n);
    args.template set<"batch">(s.m).template set<"gamma">(gb).template set<"eps">(eps).template set<"y">(yb);
    ex.dispatch<K>(args);
    ex.synchronize();
    EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref, mag), tolerance);
  }
}

TEST(Gemm, RmsnormGateUpSwiglu) { check_gate_up<fk::gemm_tile_default>(kTolerance); }

template <fd::weight_policy PQ, fd::weight_policy PK, fd::weight_policy PV, class Tile = fk::gemm_tile_default>
void check_qkv(std::mt19937_64& g, std::uint32_t m, std::uint32_t hidden, std::uint32_t n_heads, std::uint32_t n_kv,
               std::uint32_t head_dim, bool biases = false, double tolerance = kTolerance) {
  using K = fk::rmsnorm_qkv_gemm<PQ, PK, PV, Tile>;
  SCOPED_TRACE(std::string(K::name.view()) + " M=" + std::to_string(m) + " hidden=" + std::to_string(hidden));
  const float eps = 1e-5f;
  const std::uint32_t qr = n_heads * head_dim, kvr = n_kv * head_dim;
  const weights<PQ> wq(g, qr, hidden);
  const weights<PK> wk(g, kvr, hidden);
  const weights<PV> wv(g, kvr, hidden);
  const auto x = foundry_test::random_vector<float>(g, std::size_t{m} * hidden, -1, 1);
  const auto gamma = foundry_test::random_vector<float>(g, hidden, 0.5, 1.5);
  const auto a = reference_input(x, m, hidden, &gamma, eps);
  std::vector<double> rq, mq, rk, mk, rv, mv;
  reference_gemm(a, wq.w, m, qr, hidden, rq, mq);
  reference_gemm(a, wk.w, m, kvr, hidden, rk, mk);
  reference_gemm(a, wv.w, m, kvr, hidden, rv, mv);
  // Qwen2-style biases, added per feature to every token's row.
  const auto bq = foundry_test::random_vector<float>(g, qr, -1, 1);
  const auto bk = foundry_test::random_vector<float>(g, kvr, -1, 1);
  const auto bv = foundry_test::random_vector<float>(g, kvr, -1, 1);
  if (biases) {
    for (auto [r, mg, b, n] : {std::tuple{&rq, &mq, &bq, qr}, std::tuple{&rk, &mk, &bk, kvr}, std::tuple{&rv, &mv, &bv, kvr}})
      for (std::size_t i = 0; i < r->size(); ++i) {
        (*r)[i] += (*b)[i % n];
        (*mg)[i] += std::abs((*b)[i % n]);
      }
  }
  auto& ex = exec();
  fd::buffer qw = ex.upload(wq.planes.data), qs = ex.upload(wq.scales()), kw = ex.upload(wk.planes.data),
             ks = ex.upload(wk.scales()), vw = ex.upload(wv.planes.data), vs = ex.upload(wv.scales()),
             xb = ex.upload(x), gb = ex.upload(gamma), qb = ex.allocate<float>(std::size_t{m} * qr),
             kb = ex.allocate<float>(std::size_t{m} * kvr), vb = ex.allocate<float>(std::size_t{m} * kvr);
  for (fd::buffer* b : {&qb, &kb, &vb}) b->fill_bytes(0xFF);
  typename K::arguments args;
  args.template set<"wq">(qw).template set<"wk">(kw).template set<"wv">(vw);
  if constexpr (PQ::has_scale) args.template set<"wq_scales">(qs);
  if constexpr (PK::has_scale) args.template set<"wk_scales">(ks);
  if constexpr (PV::has_scale) args.template set<"wv_scales">(vs);
  args.template set<"n_heads">(n_heads).template set<"n_kv">(n_kv).template set<"head_dim">(head_dim);
  args.template set<"x">(xb).template set<"k">(hidden).template set<"batch">(m).template set<"gamma">(gb);
  args.template set<"eps">(eps).template set<"q">(qb).template set<"k_out">(kb).template set<"v_out">(vb);
  fd::buffer bqb = ex.upload(bq), bkb = ex.upload(bk), bvb = ex.upload(bv);
  if (biases) args.template set<"bq">(bqb).template set<"bk">(bkb).template set<"bv">(bvb);
  ex.dispatch<K>(args);
  ex.synchronize();
  EXPECT_LT(foundry_test::error_to_scale(qb.read<float>(), rq, mq), tolerance);
  EXPECT_LT(foundry_test::error_to_scale(kb.read<float>(), rk, mk), tolerance);
  EXPECT_LT(foundry_test::error_to_scale(vb.read<float>(), rv, mv), tolerance);
}

TEST(Gemm, RmsnormQkv) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_qkv<fp::q4_1, fp::q4_1, fp::q4_1>(g, 33, 576, 9, 3, 64);  // SmolLM2-135M's shapes
  check_qkv<fp::q8_0, fp::q4_0, fp::f16>(g, 7, 96, 3, 1, 20);     // mixed policies, q/k/v borders inside tiles
  check_qkv<fp::f16, fp::f16, fp::f16>(g, 1, 64, 2, 2, 4);
}

TEST(Gemm, RmsnormQkvBiases) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_qkv<fp::q8_0, fp::q8_0, fp::q8_0>(g, 33, 128, 4, 2, 32, true);  // Qwen2-style
  check_qkv<fp::q8_0, fp::q4_0, fp::f16>(g, 7, 96, 3, 1, 20, true);
}

// The GPU tiles: 2x2 SIMD-groups, half operands, on shapes with tails in M,
// N and K slices; each fused form the decoder's prefill uses.
TEST(Gemm, GpuTilesHalfOperands) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using T = fk::gemm_tile_gpu;
  static_assert(fk::gemm<fp::q4_1, T>::name.view() == "gemm_q4_1_64x64x32_2x2_f16");
  for (const shape& s : {shape{130, 577, 96}, shape{7, 65, 1536}, shape{1, 1, 32}})
    check_gemm<fk::gemm<fp::q4_1, T>, fp::q4_1, form::plain>(g, s, kHalfTolerance);
  check_gemm<fk::gemm<fp::f16, T>, fp::f16, form::plain>(g, {33, 65, 45}, kHalfTolerance);
  check_gemm<fk::gemm<fp::q8_0, T>, fp::q8_0, form::plain>(g, {65, 130, 64}, kHalfTolerance);
  check_gemm<fk::gemm_residual<fp::q4_1, T>, fp::q4_1, form::residual>(g, {130, 577, 32}, kHalfTolerance);
  check_qkv<fp::q4_1, fp::q4_1, fp::q4_1, T>(g, 33, 576, 9, 3, 64, false, kHalfTolerance);
  check_qkv<fp::q8_0, fp::q4_0, fp::f16, T>(g, 7, 96, 3, 1, 20, true, kHalfTolerance);
}

TEST(Gemm, GpuPairTileGateUp) { check_gate_up<fk::gemm_tile_gpu_pair>(kHalfTolerance); }

}  // namespace
