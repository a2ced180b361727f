// The library GEMVs of every policy (F16, Q8_0, Q4_0, Q4_1), row-major and
// canonical, single and batched, with and without the residual add, on the
// CPU backend against float64 references computed from the dequantized
// planes (kernels/policies/repack.hpp).
//
// Weights: random rows (each with its own scale and offset) quantized by
// ggml's reference quantizers, split into planes by `repack`; the reference
// uses `dequantize(planes)`, which repack_test checks bit for bit against
// quant::dequantize_row, so only the GEMV's arithmetic is measured here.
// Outputs are poisoned (0xFF bytes, NaN) before every run.
//
// Tolerance: y is a float32 accumulation of k ≤ 1536 products (per lane
// runs of 8, ≤ 6 runs, then a 32-lane tree, plus m·Σx per block for Q4_1).
// Its rounding error is bounded by the magnitude of the terms summed,
// |y − ref| ≲ k·u·(Σ|w·x| + |residual|) with u = 2^-24 (Higham, "Accuracy
// and Stability of Numerical Algorithms", §3.1), not by |ref|: one output
// row (n = 1) plus a residual can cancel to near zero. So the error is
// measured as ‖y − ref‖ / ‖mag‖ with mag = Σ|w·x| + |residual| per row,
// ~1e-7 in practice. The bound 1e-5 is 100x that and still orders of
// magnitude below any indexing mistake (a wrong block, row, item or scale
// changes y by O(1) of mag).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>
#include <kernels/policies/repack.hpp>
#include <kernels/common/rmsnorm_input.hpp>
#include <kernels/attention/flash_merged_input.hpp>
#include <limits>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;
namespace quant = foundry::quant;

namespace {

constexpr double kTolerance = 1e-5;
// The `_cpu_q8` aliases round x to 8 bits per block of 32 on the CPU
// (`cpu_q8_activations`): each element moves by at most d/2 = max|x_block|/254,
// so |y − ref| <= Σ|w|·max|x|/254, about Σ|w·x|/127 for x uniform in [−1, 1]
// (E|x| = max/2) if every rounding went the same way; independent roundings
// give ~1e-3 of mag (measured 1.2e-4 to 1.5e-3). 1e-2 still fails any indexing
// mistake (O(1) of mag) and a quantization that drops a block's scale.
constexpr double kQ8Tolerance = 1e-2;

using foundry_test::exec;
/// A random [n, k] weight matrix in policy P: GGUF rows and their float values.
template <fd::weight_policy P>
struct weights {
  std::uint32_t n, k;
  std::vector<std::uint8_t> gguf;
  std::vector<float> w;  // dequantized, row-major [n, k]

  weights(std::mt19937_64& g, std::uint32_t n_, std::uint32_t k_) : n(n_), k(k_) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f), scale(0.05f, 2.0f), shift(-0.3f, 0.3f);
    gguf.resize(fp::gguf_bytes<P>(n, k));
    const std::size_t row_bytes = gguf.size() / n;
    std::vector<float> row(k);
    for (std::uint32_t r = 0; r < n; ++r) {
      const float s = scale(g), o = shift(g);
      for (auto& v : row) v = s * u(g) + o;
      quant::quantize_row(fp::ggml_type_of<P>, row.data(), gguf.data() + r * row_bytes, k);
    }
    w = fp::dequantize(fp::repack<P>(gguf.data(), n, k, fp::layout::row_major));
  }
};

/// A float64 reference: y[b, r] = Σ_i w[r, i]·x[b, i] (+ residual[b, r]),
/// and mag[b, r] = Σ_i |w[r, i]·x[b, i]| (+ |residual[b, r]|), the scale
/// the float32 rounding error is proportional to.
struct reference_result {
  std::vector<double> y, mag;
};

reference_result reference(const std::vector<float>& w, const std::vector<float>& x, const std::vector<float>* res,
                           std::uint32_t n, std::uint32_t k, std::uint32_t batch) {
  reference_result out{std::vector<double>(std::size_t{batch} * n), std::vector<double>(std::size_t{batch} * n)};
  for (std::uint32_t b = 0; b < batch; ++b)
    for (std::uint32_t r = 0; r < n; ++r) {
      const double r0 = res ? (*res)[std::size_t{b} * n + r] : 0.0;
      double s = r0, m = std::abs(r0);
      const float* wr = w.data() + std::size_t{r} * k;
      const float* xb = x.data() + std::size_t{b} * k;
      for (std::uint32_t i = 0; i < k; ++i) {
        const double t = double(wr[i]) * xb[i];
        s += t;
        m += std::abs(t);
      }
      out.y[std::size_t{b} * n + r] = s;
      out.mag[std::size_t{b} * n + r] = m;
    }
  return out;
}

/// One library alias and what it computes.
template <class K, fd::weight_policy P, fp::layout L, bool Batched, bool Residual>
struct form {
  using kernel = K;
  using policy = P;
  static constexpr fp::layout lay = L;
  static constexpr bool batched = Batched, residual = Residual;
};

/// Runs form F on `wts` with `batch` items (1 for unbatched forms) and checks
/// it; `in_place` binds the residual buffer as y too.
template <class F, fd::weight_policy P>
void check(std::mt19937_64& g, const weights<P>& wts, std::uint32_t batch, bool in_place = false,
           double tolerance = kTolerance) {
  using K = typename F::kernel;
  const std::uint32_t n = wts.n, k = wts.k;
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " batch=" + std::to_string(batch) + (in_place ? " in place" : ""));
  const auto planes = fp::repack<P>(wts.gguf.data(), n, k, F::lay);
  const auto x = foundry_test::random_vector<float>(g, std::size_t{batch} * k, -1, 1);
  const auto res = foundry_test::random_vector<float>(g, std::size_t{batch} * n, -2, 2);
  const auto ref = reference(wts.w, x, F::residual ? &res : nullptr, n, k, batch);

  auto& ex = exec();
  fd::buffer wb = ex.upload(planes.data), xb = ex.upload(x), yb = ex.allocate<float>(std::size_t{batch} * n);
  fd::buffer sb = ex.upload(planes.scales.empty() ? std::vector<std::uint8_t>(1) : planes.scales);
  fd::buffer rb = ex.upload(res);
  if (!in_place) yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"n">(n).template set<"k">(k);
  a.template set<"y">(in_place ? rb : yb);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  if constexpr (F::batched) a.template set<"batch">(batch);
  if constexpr (F::residual) a.template set<"residual">(rb);
  ex.dispatch<K>(a);
  ex.synchronize();
  const auto y = (in_place ? rb : yb).template read<float>();
  ASSERT_EQ(y.size(), ref.y.size());
  EXPECT_LT(foundry_test::error_to_scale(y, ref.y, ref.mag), tolerance);
}

struct shape {
  std::uint32_t n, k;
};
// Rows not multiples of the 4 or 8 rows per threadgroup, k of 1, 2, 3 blocks,
// and the SmolLM2 shapes: 576 → 960 (Q), 1536 → 576 (down), 576 → 1536 (up),
// 576 → 3000 (a slice of the vocabulary head's rows).
constexpr shape kShapes[] = {{1, 32}, {7, 64}, {33, 96}, {960, 576}, {576, 1536}, {1536, 576}, {3000, 576}};
constexpr shape kSmallShapes[] = {{1, 32}, {7, 64}, {33, 96}, {576, 1536}};

template <fd::weight_policy P, class Plain, class Canonical, class Batched, class CanonicalBatched, class Residual,
          class ResidualBatched>
void check_policy() {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<typename Plain::kernel, typename Canonical::kernel, typename Batched::kernel,
                typename CanonicalBatched::kernel, typename Residual::kernel, typename ResidualBatched::kernel>();
  for (const shape& s : kShapes) {
    const weights<P> wts(g, s.n, s.k);
    check<Plain>(g, wts, 1);
    check<Canonical>(g, wts, 1);
    check<Batched>(g, wts, 3);
    check<CanonicalBatched>(g, wts, 3);
    check<Residual>(g, wts, 1);
    check<ResidualBatched>(g, wts, 3);
  }
  // Batch 1 through the batched forms (one grid row), on the smaller shapes.
  for (const shape& s : kSmallShapes) {
    const weights<P> wts(g, s.n, s.k);
    check<Batched>(g, wts, 1);
    check<CanonicalBatched>(g, wts, 1);
    check<ResidualBatched>(g, wts, 1);
  }
  // y = y + W·x in place (the residual stream updated by the projection).
  const weights<P> wts(g, 960, 576);
  check<Residual>(g, wts, 1, true);
  check<ResidualBatched>(g, wts, 3, true);
}

using layout = fp::layout;

TEST(Gemv, F16AllForms) {
  using P = fp::f16;
  check_policy<P, form<fk::gemv_f16, P, layout::row_major, false, false>,
               form<fk::gemv_f16_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_f16_batched, P, layout::row_major, true, false>,
               form<fk::gemv_f16_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_f16_residual, P, layout::row_major, false, true>,
               form<fk::gemv_f16_residual_batched, P, layout::row_major, true, true>>();
}
TEST(Gemv, Q8_0AllForms) {
  using P = fp::q8_0;
  check_policy<P, form<fk::gemv_q8_0, P, layout::row_major, false, false>,
               form<fk::gemv_q8_0_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q8_0_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q8_0_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q8_0_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q8_0_residual_batched, P, layout::row_major, true, true>>();
}
TEST(Gemv, Q4_0AllForms) {
  using P = fp::q4_0;
  check_policy<P, form<fk::gemv_q4_0, P, layout::row_major, false, false>,
               form<fk::gemv_q4_0_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q4_0_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q4_0_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q4_0_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q4_0_residual_batched, P, layout::row_major, true, true>>();
}
TEST(Gemv, Q4_1AllForms) {
  using P = fp::q4_1;
  check_policy<P, form<fk::gemv_q4_1, P, layout::row_major, false, false>,
               form<fk::gemv_q4_1_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q4_1_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q4_1_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q4_1_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q4_1_residual_batched, P, layout::row_major, true, true>>();
}

// 8-bit CPU activations (`cpu_q8_activations`): Q8_0, Q4_0 and Q4_1 rows,
// single, batched (one quantized x per item) and with the residual in place.
TEST(Gemv, CpuQ8Activations) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<fk::gemv_q8_0_cpu_q8, fk::gemv_q4_0_residual_cpu_q8, fk::gemv_q4_1_residual_cpu_q8,
                 fk::gemv_q4_1_batched_cpu_q8>();
  for (const shape& s : kShapes) {
    const weights<fp::q8_0> w8(g, s.n, s.k);
    check<form<fk::gemv_q8_0_cpu_q8, fp::q8_0, layout::row_major, false, false>>(g, w8, 1, false, kQ8Tolerance);
    const weights<fp::q4_0> w40(g, s.n, s.k);
    check<form<fk::gemv_q4_0_residual_cpu_q8, fp::q4_0, layout::row_major, false, true>>(g, w40, 1, false,
                                                                                          kQ8Tolerance);
    const weights<fp::q4_1> w41(g, s.n, s.k);
    check<form<fk::gemv_q4_1_residual_cpu_q8, fp::q4_1, layout::row_major, false, true>>(g, w41, 1, true,
                                                                                          kQ8Tolerance);
    check<form<fk::gemv_q4_1_batched_cpu_q8, fp::q4_1, layout::row_major, true, false>>(g, w41, 3, false,
                                                                                         kQ8Tolerance);
  }
}

// The quantized x is kept per dispatch: a second dispatch on the same
// buffers after x changed must quantize the new x (a stale copy would give
// the first dispatch's y).
TEST(Gemv, CpuQ8ActivationsFollowNewInput) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using K = fk::gemv_q4_1_residual_cpu_q8;
  const weights<fp::q4_1> wts(g, 960, 576);
  const auto planes = fp::repack<fp::q4_1>(wts.gguf.data(), wts.n, wts.k, layout::row_major);
  auto& ex = exec();
  fd::buffer wb = ex.upload(planes.data), sb = ex.upload(planes.scales), xb = ex.allocate<float>(wts.k);
  fd::buffer rb = ex.allocate<float>(wts.n), yb = ex.allocate<float>(wts.n);
  K::arguments a;
  a.set<"w">(wb).set<"w_scales">(sb).set<"x">(xb).set<"n">(wts.n).set<"k">(wts.k).set<"residual">(rb).set<"y">(yb);
  for (int run = 0; run < 3; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const auto x = foundry_test::random_vector<float>(g, wts.k, -1, 1);
    const auto res = foundry_test::random_vector<float>(g, wts.n, -2, 2);
    xb.write(x);
    rb.write(res);
    yb.fill_bytes(0xFF);
    ex.dispatch<K>(a);
    ex.synchronize();
    const auto ref = reference(wts.w, x, &res, wts.n, wts.k, 1);
    EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref.y, ref.mag), kQ8Tolerance);
  }
}

// F16 takes any k: the row-major tail loop (k % 4 != 0) and the canonical
// (column-major) form on k that is not a multiple of 32.
TEST(Gemv, F16OddK) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using P = fp::f16;
  for (const shape& s : {shape{5, 33}, shape{37, 100}, shape{9, 7}}) {
    const weights<P> wts(g, s.n, s.k);
    check<form<fk::gemv_f16, P, layout::row_major, false, false>>(g, wts, 1);
    check<form<fk::gemv_f16_batched, P, layout::row_major, true, false>>(g, wts, 3);
    check<form<fk::gemv_f16_canonical_batched, P, layout::canonical, true, false>>(g, wts, 3);
  }
}

// The RMSNorm hook composed with both Q4_1 GEMV stages (the model's
// normalised projections): its preamble's barrier and the canonical stage's
// barrier in one kernel.
using hooked_gemv_q4_1 = fd::fused_kernel<"test_rmsnorm_gemv_q4_1", fk::gemv_dispatch,
                                           fk::gemv_row_major<fk::rmsnorm_input<fp::q4_1>>,
                                           fd::epi::store<"y", "value", fd::size_arg<"n">>>;
using hooked_gemv_q4_1_canonical =
    fd::fused_kernel<"test_rmsnorm_gemv_q4_1_canonical", fd::simdgroup_per_row<fd::size_arg<"n">, 8>,
                     fk::gemv_canonical<fk::rmsnorm_input<fp::q4_1>>, fd::epi::store<"y", "value", fd::size_arg<"n">>>;

/// The RMSNorm-hooked GEMV `K` against float64 (RMSNorm: Zhang & Sennrich,
/// 2019, `rmsnorm_ref`), measured against the magnitude of the products
/// (`gemv_error`): a single output row (n = 1) can cancel to near zero, where
/// a relative error measures the cancellation, not the kernel (seen at
/// n = 1, k = 32: 3e-4 relative for float32 sums). 1e-5 of the magnitude
/// for float forms; `Q8` forms round x̂ to 8 bits: kQ8Tolerance.
template <class K, fd::weight_policy P, bool Q8 = false>
void check_rmsnorm(std::mt19937_64& g, const weights<P>& wts, layout lay) {
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(wts.n) + " k=" + std::to_string(wts.k));
  const std::uint32_t n = wts.n, k = wts.k;
  const auto planes = fp::repack<P>(wts.gguf.data(), n, k, lay);
  const auto x = foundry_test::random_vector<float>(g, k, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, k, 0.5, 1.5);
  const float eps = 1e-5f;
  auto& ex = exec();
  fd::buffer wb = ex.upload(planes.data), xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(n);
  fd::buffer sb = ex.upload(planes.scales.empty() ? std::vector<std::uint8_t>(1) : planes.scales);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"gamma">(gb);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  a.template set<"eps">(eps).template set<"n">(n).template set<"k">(k).template set<"y">(yb);
  ex.dispatch<K>(a);
  const double error = foundry_test::gemv_error(yb.read<float>(), wts.w, foundry_test::rmsnorm_ref(x, gamma, eps), n);
  EXPECT_LT(error, Q8 ? kQ8Tolerance : kTolerance);
}

TEST(Gemv, RmsNormHookWithQ4_1) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<hooked_gemv_q4_1, hooked_gemv_q4_1_canonical>();
  for (const shape& s : {shape{7, 64}, shape{960, 576}}) {
    const weights<fp::q4_1> wts(g, s.n, s.k);
    check_rmsnorm<hooked_gemv_q4_1>(g, wts, layout::row_major);
    check_rmsnorm<hooked_gemv_q4_1_canonical>(g, wts, layout::canonical);
  }
}

// Other tilings of the two stages: whole-block runs (Chunk 32) with 2 rows
// per threadgroup, and a canonical SIMD-group of 16 rows × 2 lanes with runs
// of 16 (16 splits per row, 512 threads), on shapes that leave partial
// threadgroups.
using tiled_row_major_q4_1 = fd::fused_kernel<"test_tiled_row_major_q4_1",
                                              fd::simdgroup_per_row<fd::size_arg<"n">, 2, fd::size_arg<"batch">>,
                                              fk::gemv_row_major<fd::plain_input<fp::q4_1>, 2, true, 32>,
                                              fd::epi::store_indexed<"y">>;
using tiled_canonical_q8_0 = fd::fused_kernel<"test_tiled_canonical_q8_0",
                                              fd::simdgroup_per_row<fd::size_arg<"n">, 16, fd::size_arg<"batch">>,
                                              fk::gemv_canonical<fd::plain_input<fp::q8_0>, 16, true, 2, 16>,
                                              fd::epi::store_indexed<"y">>;
using tiled_canonical_q4_0 = fd::fused_kernel<"test_tiled_canonical_q4_0",
                                              fd::simdgroup_per_row<fd::size_arg<"n">, 4, fd::size_arg<"batch">>,
                                              fk::gemv_canonical<fd::plain_input<fp::q4_0>, 4, true, 8, 4>,
                                              fd::epi::store_indexed<"y">>;

TEST(Gemv, OtherTilings) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<tiled_row_major_q4_1, tiled_canonical_q8_0, tiled_canonical_q4_0>();
  for (const shape& s : {shape{7, 64}, shape{33, 96}, shape{577, 576}}) {
    check<form<tiled_row_major_q4_1, fp::q4_1, layout::row_major, true, false>>(g, weights<fp::q4_1>(g, s.n, s.k), 3);
    check<form<tiled_canonical_q8_0, fp::q8_0, layout::canonical, true, false>>(g, weights<fp::q8_0>(g, s.n, s.k), 3);
    check<form<tiled_canonical_q4_0, fp::q4_0, layout::canonical, true, false>>(g, weights<fp::q4_0>(g, s.n, s.k), 2);
  }
}

// --- several rows per SIMD-group, 16-byte loads (gemv_multi_row) ------------

// The policy `P` with its CPU form turned off (`host_elementwise_runs`), so
// the CPU runs the stage's GPU loop (16-byte loads, `dot_vector`) as Metal
// and CUDA do: what checks each policy's `dot_vector` on the CPU.
template <fd::weight_policy P>
struct gpu_form : P {
  static constexpr bool host_elementwise_runs = false;
};

template <fd::weight_policy P, unsigned R, unsigned S, bool Batched = false, class Hook = fd::plain_input<P>>
using multi_row_gemv =
    fd::fused_kernel<"test_multi_row", typename fk::gemv_multi_row<Hook, R, S, Batched>::template dispatch_for<
                                           std::conditional_t<Batched, fd::size_arg<"batch">, fd::size_const<1>>>,
                     fk::gemv_multi_row<Hook, R, S, Batched>,
                     std::conditional_t<Batched, fd::epi::store_indexed<"y">,
                                        fd::epi::store<"y", "value", fd::size_arg<"n">>>>;

// Every multi-row alias on the shapes of the other forms (rows that leave
// partial SIMD-groups and threadgroups, k of one to 48 blocks), the
// residual in place, and the 8-bit CPU activations.
TEST(Gemv, MultiRowAliases) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<fk::gemv_f16_multi_row, fk::gemv_q8_0_multi_row, fk::gemv_q4_0_multi_row, fk::gemv_q4_1_multi_row,
                 fk::gemv_f16_residual_multi_row, fk::gemv_q8_0_residual_multi_row,
                 fk::gemv_q4_0_residual_multi_row, fk::gemv_q4_1_residual_multi_row>();
  for (const shape& s : kShapes) {
    const weights<fp::f16> wf(g, s.n, s.k);
    check<form<fk::gemv_f16_multi_row, fp::f16, layout::row_major, false, false>>(g, wf, 1);
    check<form<fk::gemv_f16_residual_multi_row, fp::f16, layout::row_major, false, true>>(g, wf, 1);
    const weights<fp::q8_0> w8(g, s.n, s.k);
    check<form<fk::gemv_q8_0_multi_row, fp::q8_0, layout::row_major, false, false>>(g, w8, 1);
    check<form<fk::gemv_q8_0_residual_multi_row, fp::q8_0, layout::row_major, false, true>>(g, w8, 1);
    const weights<fp::q4_0> w40(g, s.n, s.k);
    check<form<fk::gemv_q4_0_multi_row, fp::q4_0, layout::row_major, false, false>>(g, w40, 1);
    check<form<fk::gemv_q4_0_residual_multi_row, fp::q4_0, layout::row_major, false, true>>(g, w40, 1);
    const weights<fp::q4_1> w41(g, s.n, s.k);
    check<form<fk::gemv_q4_1_multi_row, fp::q4_1, layout::row_major, false, false>>(g, w41, 1);
    check<form<fk::gemv_q4_1_residual_multi_row, fp::q4_1, layout::row_major, false, true>>(g, w41, 1, true);
  }
  using q8_cpu = fk::gemv_multi_row_kernel<"test_multi_row_q4_1_cpu_q8", fp::q4_1, true, true>;
  const weights<fp::q4_1> w41(g, 960, 576);
  check<form<q8_cpu, fp::q4_1, layout::row_major, false, true>>(g, w41, 1, false, kQ8Tolerance);
}

// The GPU loop on the CPU for every policy (16-byte loads and `dot_vector`),
// with 1, 2 and 4 rows per SIMD-group, batched, odd F16 k (the element loop),
// and an RMSNorm hook (element loads of x).
TEST(Gemv, MultiRowGpuLoop) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using f16g = gpu_form<fp::f16>;
  using q40g = gpu_form<fp::q4_0>;
  using q41g = gpu_form<fp::q4_1>;
  for (const shape& s : {shape{1, 32}, shape{7, 64}, shape{33, 96}, shape{577, 576}, shape{41, 1536}}) {
    check<form<multi_row_gemv<f16g, 4, 3>, f16g, layout::row_major, false, false>>(g, weights<f16g>(g, s.n, s.k), 1);
    check<form<multi_row_gemv<fp::q8_0, 1, 8>, fp::q8_0, layout::row_major, false, false>>(
        g, weights<fp::q8_0>(g, s.n, s.k), 1);
    check<form<multi_row_gemv<q40g, 2, 4>, q40g, layout::row_major, false, false>>(g, weights<q40g>(g, s.n, s.k), 1);
    check<form<multi_row_gemv<q41g, 4, 2, true>, q41g, layout::row_major, true, false>>(
        g, weights<q41g>(g, s.n, s.k), 3);
    check<form<multi_row_gemv<fp::q4_1, 4, 2, true>, fp::q4_1, layout::row_major, true, false>>(
        g, weights<fp::q4_1>(g, s.n, s.k), 3);
  }
  for (const shape& s : {shape{5, 33}, shape{37, 100}, shape{9, 7}, shape{13, 40}}) {
    const weights<f16g> wg(g, s.n, s.k);
    check<form<multi_row_gemv<f16g, 2, 4>, f16g, layout::row_major, false, false>>(g, wg, 1);
    const weights<fp::f16> wf(g, s.n, s.k);
    check<form<fk::gemv_f16_multi_row, fp::f16, layout::row_major, false, false>>(g, wf, 1);
  }
  using hooked = fd::fused_kernel<"test_rmsnorm_multi_row_q4_1",
                                  fk::gemv_multi_row<fk::rmsnorm_input<q41g>, 2, 4>::dispatch_for<>,
                                  fk::gemv_multi_row<fk::rmsnorm_input<q41g>, 2, 4>,
                                  fd::epi::store<"y", "value", fd::size_arg<"n">>>;
  for (const shape& s : {shape{7, 64}, shape{960, 576}}) {
    const weights<fp::q4_1> wts(g, s.n, s.k);
    check_rmsnorm<hooked>(g, wts, layout::row_major);
  }
}

// The multi-row stage with the SIMD-group RMSNorm hook (the GPU LM head of
// the decoder): Σx² per SIMD-group, then x and gamma in 16-byte loads
// (`load_input4`). The GPU loop on the CPU for Q4_1 and Q8_0, the host run
// loop for F16 and for the 8-bit CPU form, 4 rows × 2 SIMD-groups and
// 1 row × 4, on rows that leave partial SIMD-groups and threadgroups.
template <fd::weight_policy P, unsigned R, unsigned S, class Hook = fk::rmsnorm_simdgroup_input<P>>
using simdgroup_rms_multi_row =
    fd::fused_kernel<"test_simdgroup_rms_multi_row", typename fk::gemv_multi_row<Hook, R, S>::template dispatch_for<>,
                     fk::gemv_multi_row<Hook, R, S>, fd::epi::store<"y", "value", fd::size_arg<"n">>>;

TEST(Gemv, MultiRowSimdgroupRmsNorm) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using q41g = gpu_form<fp::q4_1>;
  using q8_cpu = fk::cpu_q8_activations<fk::rmsnorm_simdgroup_input<fp::q8_0>>;
  static_assert(fk::hook_loads_float4<fk::rmsnorm_simdgroup_input<q41g>>);
  for (const shape& s : {shape{1, 32}, shape{7, 64}, shape{33, 96}, shape{577, 576}, shape{3001, 576}}) {
    const weights<q41g> w41(g, s.n, s.k);
    check_rmsnorm<simdgroup_rms_multi_row<q41g, 4, 2>>(g, w41, layout::row_major);
    check_rmsnorm<simdgroup_rms_multi_row<q41g, 1, 4>>(g, w41, layout::row_major);
    const weights<fp::q8_0> w8(g, s.n, s.k);
    check_rmsnorm<simdgroup_rms_multi_row<fp::q8_0, 4, 2>>(g, w8, layout::row_major);
    check_rmsnorm<simdgroup_rms_multi_row<fp::q8_0, 4, 2, q8_cpu>, fp::q8_0, true>(g, w8, layout::row_major);
    const weights<fp::f16> wf(g, s.n, s.k);
    check_rmsnorm<simdgroup_rms_multi_row<fp::f16, 4, 2>>(g, wf, layout::row_major);
  }
}

// --- flash-decoding's merge folded into the Wo GEMV (flash_merged_input) ---

/// Flash-decoding partial states [heads, splits, head_dim + 2] = (m, l,
/// acc[head_dim]) drawn at random (m in [−4, 4], l in [0.5, 3], acc in
/// [−2, 2]; split 1 empty, (−inf, 0, 0...), when there are several), and
/// their merge in float64 (Dao et al., 2023): x[h·D + d] =
/// Σ_s acc_s[d]·e^(m_s − M) / Σ_s l_s·e^(m_s − M).
struct merge_case {
  std::vector<float> partials;
  std::vector<double> x;
  merge_case(std::mt19937_64& g, std::uint32_t heads, std::uint32_t d, std::uint32_t splits) {
    std::uniform_real_distribution<float> um(-4, 4), ul(0.5f, 3), ua(-2, 2);
    partials.resize(std::size_t{heads} * splits * (d + 2));
    for (std::uint32_t h = 0; h < heads; ++h)
      for (std::uint32_t s = 0; s < splits; ++s) {
        float* p = partials.data() + (std::size_t{h} * splits + s) * (d + 2);
        const bool empty = splits > 1 && s == 1;
        p[0] = empty ? -std::numeric_limits<float>::infinity() : um(g);
        p[1] = empty ? 0.0f : ul(g);
        for (std::uint32_t e = 0; e < d; ++e) p[2 + e] = empty ? 0.0f : ua(g);
      }
    x.resize(std::size_t{heads} * d);
    for (std::uint32_t h = 0; h < heads; ++h) {
      const float* part = partials.data() + std::size_t{h} * splits * (d + 2);
      double M = -std::numeric_limits<double>::infinity(), L = 0;
      for (std::uint32_t s = 0; s < splits; ++s) M = std::max(M, double(part[s * (d + 2)]));
      for (std::uint32_t s = 0; s < splits; ++s) L += part[s * (d + 2) + 1] * std::exp(part[s * (d + 2)] - M);
      for (std::uint32_t e = 0; e < d; ++e) {
        double o = 0;
        for (std::uint32_t s = 0; s < splits; ++s) o += part[s * (d + 2) + 2 + e] * std::exp(part[s * (d + 2)] - M);
        x[std::size_t{h} * d + e] = o / L;
      }
    }
  }
};

template <fd::weight_policy P>
using flash_merged = fk::gemv_residual_flash_merged<"test_flash_merged", P>;

/// y = W·merge(partials) + residual against float64, measured against the
/// magnitude of the products (`gemv_error` plus the residual): the merge's
/// float exps and divisions and the row sums stay far below 1e-5 of it.
template <fd::weight_policy P>
void check_flash_merged(std::mt19937_64& g, std::uint32_t n, std::uint32_t heads, std::uint32_t d,
                        std::uint32_t splits) {
  const std::uint32_t k = heads * d;
  SCOPED_TRACE(std::string(P::name.view()) + " n=" + std::to_string(n) + " heads=" + std::to_string(heads) +
               " head_dim=" + std::to_string(d) + " splits=" + std::to_string(splits));
  const weights<P> wts(g, n, k);
  const merge_case mc(g, heads, d, splits);
  const auto res = foundry_test::random_vector<float>(g, n, -2, 2);
  const auto planes = fp::repack<P>(wts.gguf.data(), n, k, layout::row_major);
  auto& ex = exec();
  fd::buffer wb = ex.upload(planes.data), pb = ex.upload(mc.partials), rb = ex.upload(res);
  fd::buffer sb = ex.upload(planes.scales.empty() ? std::vector<std::uint8_t>(1) : planes.scales);
  fd::buffer yb = ex.allocate<float>(n);
  yb.fill_bytes(0xFF);
  using K = flash_merged<P>;
  typename K::arguments a;
  a.template set<"w">(wb).template set<"partials">(pb).template set<"head_dim">(d).template set<"splits">(splits);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  a.template set<"n">(n).template set<"k">(k).template set<"residual">(rb).template set<"y">(yb);
  ex.dispatch<K>(a);
  const auto y = yb.read<float>();
  std::vector<double> ref(n), mag(n);
  for (std::uint32_t r = 0; r < n; ++r) {
    ref[r] = res[r];
    mag[r] = std::abs(res[r]);
    for (std::uint32_t i = 0; i < k; ++i) {
      const double t = double(wts.w[std::size_t{r} * k + i]) * mc.x[i];
      ref[r] += t;
      mag[r] += std::abs(t);
    }
  }
  EXPECT_LT(foundry_test::error_to_scale(y, ref, mag), kTolerance);
}

// The Wo GEMV with flash-decoding's merge folded into its input: SmolLM2's
// shape (9 heads of 64, 576 rows) and odd ones (3 heads of 32; 4 heads of
// 80 on 33 rows: partial SIMD-groups and threadgroups; 16 heads of 18, not a
// multiple of 4: one element per thread), one split, several with an empty
// one, SmolLM2's 9 (a batch of loads, flash_merge.metal, and one more), 17
// (two and one), 64; the GPU loop on the CPU (`gpu_form`) and the host run
// loop, Q4_1, Q8_0, F16.
TEST(Gemv, FlashMergedInput) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using q41g = gpu_form<fp::q4_1>;
  static_assert(!flash_merged<fp::q4_1>::lane_loop(), "the merge's barrier keeps the kernel on fibers");
  static_assert(fd::kernels::hook_reads_own_input<fk::flash_merged_input<fp::q4_1>>);
  struct merged_shape {
    std::uint32_t n, heads, d, splits;
  };
  for (const merged_shape& c : {merged_shape{576, 9, 64, 9}, merged_shape{7, 3, 32, 1}, merged_shape{33, 4, 80, 3},
                                merged_shape{40, 2, 64, 64}, merged_shape{50, 16, 18, 17}}) {
    check_flash_merged<q41g>(g, c.n, c.heads, c.d, c.splits);
    check_flash_merged<fp::q4_1>(g, c.n, c.heads, c.d, c.splits);
    check_flash_merged<fp::q8_0>(g, c.n, c.heads, c.d, c.splits);
    check_flash_merged<fp::f16>(g, c.n, c.heads, c.d, c.splits);
  }
}

// Shapes the merge cannot take (k not a multiple of head_dim, head_dim 0,
// no split, k above the threadgroup vector) give NaN in every row rather
// than a plausible vector.
TEST(Gemv, FlashMergedInputBadShapesGiveNaN) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using K = flash_merged<fp::q8_0>;
  const std::uint32_t n = 9;
  auto& ex = exec();
  auto run = [&](std::uint32_t k, std::uint32_t d, std::uint32_t splits) {
    SCOPED_TRACE("k=" + std::to_string(k) + " head_dim=" + std::to_string(d) + " splits=" + std::to_string(splits));
    const weights<fp::q8_0> wts(g, n, k);
    const auto planes = fp::repack<fp::q8_0>(wts.gguf.data(), n, k, layout::row_major);
    fd::buffer wb = ex.upload(planes.data), sb = ex.upload(planes.scales);
    fd::buffer pb = ex.upload(foundry_test::random_vector<float>(g, std::size_t{k} * 3 * 4 + 64, 0.5, 1));
    fd::buffer rb = ex.upload(foundry_test::random_vector<float>(g, n, -1, 1)), yb = ex.allocate<float>(n);
    yb.fill_bytes(0);
    K::arguments a;
    a.set<"w">(wb).set<"w_scales">(sb).set<"partials">(pb).set<"head_dim">(d).set<"splits">(splits);
    a.set<"n">(n).set<"k">(k).set<"residual">(rb).set<"y">(yb);
    ex.dispatch<K>(a);
    for (float v : yb.read<float>()) EXPECT_TRUE(std::isnan(v)) << v;
  };
  run(96, 64, 2);     // 96 is not a multiple of 64
  run(64, 0, 2);      // no head_dim
  run(64, 32, 0);     // no split
  run(4096 + 32, 32, 1);  // above MaxK = 4096
}

// --- 8-bit activations: quantize_q8_activations + the integer GEMVs ---------

/// x quantized on the host by the rule of q8_activations.hpp (GGUF's Q8_0:
/// d = max|x|/127, c = round(x·(1/d))), codes in element order.
struct host_q8 {
  std::vector<std::int8_t> codes;
  std::vector<float> d, csum;
  explicit host_q8(const std::vector<float>& x) {
    for (std::size_t b = 0; b < x.size() / 32; ++b) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(x[32 * b + i]));
      const float db = amax / 127.0f, id = amax > 0 ? 1.0f / db : 0.0f;
      int s = 0;
      for (int i = 0; i < 32; ++i) {
        const int c = amax > 0 ? int(std::round(x[32 * b + i] * id)) : 0;
        codes.push_back(std::int8_t(c));
        s += c;
      }
      d.push_back(db);
      csum.push_back(float(s));
    }
  }
};

/// Runs the quantizer `Q` on x and checks codes (in its order), d and Σc
/// exactly against `host_q8`; returns the device buffers.
template <class Q>
std::pair<fd::buffer, fd::buffer> quantize_on_device(const std::vector<float>& x, bool pair_split) {
  auto& ex = exec();
  const auto k = std::uint32_t(x.size());
  fd::buffer xb = ex.upload(x), xq = ex.allocate<std::int8_t>(k), xs = ex.allocate<float>(k / 16);
  xq.fill_bytes(0x7F);
  xs.fill_bytes(0xFF);
  typename Q::arguments a;
  a.template set<"x">(xb).template set<"k">(k).template set<"xq">(xq).template set<"xq_scales">(xs);
  ex.dispatch<Q>(a);
  ex.synchronize();
  const host_q8 ref(x);
  const auto codes = xq.read<std::int8_t>();
  const auto scales = xs.read<float>();
  for (std::uint32_t i = 0; i < k; ++i) {
    const std::uint32_t t = i % 8, pos = pair_split ? i - t + (t % 2) * 4 + t / 2 : i;
    if (codes[pos] != ref.codes[i]) {
      ADD_FAILURE() << "code of element " << i << ": " << int(codes[pos]) << " vs " << int(ref.codes[i]);
      break;
    }
  }
  for (std::uint32_t b = 0; b < k / 32; ++b) {
    EXPECT_EQ(scales[2 * b], ref.d[b]) << "block " << b;
    EXPECT_EQ(scales[2 * b + 1], ref.csum[b]) << "block " << b;
  }
  return {std::move(xq), std::move(xs)};
}

/// The integer GEMV `K` (policy P; residual when `Residual`) on x quantized
/// by the matching quantizer, against float64 on the unquantized x.
template <class K, fd::weight_policy P, bool Residual = false>
void check_q8_act(std::mt19937_64& g, const weights<P>& wts) {
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(wts.n) + " k=" + std::to_string(wts.k));
  constexpr bool pair_split = P::vector_i8_pair_split;
  using Q = std::conditional_t<pair_split, fk::quantize_q8_activations_pair_split, fk::quantize_q8_activations>;
  const auto x = foundry_test::random_vector<float>(g, wts.k, -1, 1);
  const auto res = foundry_test::random_vector<float>(g, wts.n, -2, 2);
  auto [xq, xs] = quantize_on_device<Q>(x, pair_split);
  const auto planes = fp::repack<P>(wts.gguf.data(), wts.n, wts.k, layout::row_major);
  auto& ex = exec();
  fd::buffer wb = ex.upload(planes.data), sb = ex.upload(planes.scales), yb = ex.allocate<float>(wts.n);
  fd::buffer rb = ex.upload(res);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"w_scales">(sb).template set<"xq">(xq).template set<"xq_scales">(xs);
  a.template set<"n">(wts.n).template set<"k">(wts.k).template set<"y">(yb);
  if constexpr (Residual) a.template set<"residual">(rb);
  ex.dispatch<K>(a);
  ex.synchronize();
  const auto ref = reference(wts.w, x, Residual ? &res : nullptr, wts.n, wts.k, 1);
  EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref.y, ref.mag), kQ8Tolerance);
}

// The quantizers (exact against the host rule, both code orders) and the
// integer GEMVs of Q8_0, Q4_0 and Q4_1 on the shapes of the other forms.
TEST(Gemv, MultiRowQ8Activations) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  exec().prepare<fk::quantize_q8_activations, fk::quantize_q8_activations_pair_split, fk::gemv_q8_0_multi_row_q8_act,
                 fk::gemv_q4_0_multi_row_q8_act, fk::gemv_q4_1_multi_row_q8_act,
                 fk::gemv_q4_1_residual_multi_row_q8_act>();
  for (const shape& s : kShapes) {
    check_q8_act<fk::gemv_q8_0_multi_row_q8_act>(g, weights<fp::q8_0>(g, s.n, s.k));
    check_q8_act<fk::gemv_q4_0_multi_row_q8_act>(g, weights<fp::q4_0>(g, s.n, s.k));
    const weights<fp::q4_1> w41(g, s.n, s.k);
    check_q8_act<fk::gemv_q4_1_multi_row_q8_act>(g, w41);
    check_q8_act<fk::gemv_q4_1_residual_multi_row_q8_act, fp::q4_1, true>(g, w41);
  }
  // A block of zeros (d = 0: codes 0) next to ordinary ones.
  std::vector<float> x = foundry_test::random_vector<float>(g, 96, -1, 1);
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
  quantize_on_device<fk::quantize_q8_activations_pair_split>(x, true);
}

// Binding checks derive from the shapes: a batched x one item short, or a
// scale plane one block short, is refused before the kernel runs.
TEST(Gemv, UndersizedBuffersAreRejected) {
  auto& ex = exec();
  const std::uint32_t n = 8, k = 64, batch = 3;
  fd::buffer w = ex.allocate_bytes(fd::data_plane_bytes<fp::q4_1>(n, k)),
             s = ex.allocate_bytes(fd::scale_plane_bytes<fp::q4_1>(n, k) - 4), x = ex.allocate<float>(batch * k),
             xs = ex.allocate<float>((batch - 1) * k), y = ex.allocate<float>(batch * n),
             s_ok = ex.allocate_bytes(fd::scale_plane_bytes<fp::q4_1>(n, k));
  fk::gemv_q4_1_batched::arguments a;
  a.set<"w">(w).set<"w_scales">(s).set<"x">(x).set<"n">(n).set<"k">(k).set<"batch">(batch).set<"y">(y);
  EXPECT_THROW(ex.dispatch<fk::gemv_q4_1_batched>(a), fd::binding_error);
  a.set<"w_scales">(s_ok).set<"x">(xs);
  EXPECT_THROW(ex.dispatch<fk::gemv_q4_1_batched>(a), fd::binding_error);
}

}  // namespace
