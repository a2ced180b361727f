// Fused RMSNorm + Q/K/V projection (`rmsnorm_qkv<PQ, PK, PV>`) on the CPU
// backend against a float64 reference: x̂ = RMSNorm(x)·gamma, then
// q = Wq·x̂ + bq, k = Wk·x̂ + bk, v = Wv·x̂ + bv, each matrix in its own
// weight policy (three different ones in one dispatch included). The
// library aliases use the folded RMSNorm hook; the `qkv_projection` stage
// is also run with the threadgroup-reduction hook and with no RMSNorm.
//
// Weights are random, quantized with ggml's reference quantizer, repacked
// into the policy's planes (policies::repack) and, for the reference,
// dequantized on the host from those same planes (policies::dequantize):
// the comparison measures the kernel's arithmetic, not quantization error.
// Outputs are poisoned (0xFF bytes, NaN) before each run.
//
// Tolerance: ‖out − ref‖ / ‖mag‖ < 1e-5 per output, where mag is per row
// Σ|w·x̂| + |b|: float32 rounding error is proportional to the magnitude of
// the terms summed (Higham, "Accuracy and Stability of Numerical
// Algorithms", §3.1), not to |ref|, and a single-row output (n_kv·head_dim
// = 1) plus a bias can cancel to near zero. The kernel computes float32 dot
// products of hidden ≤ 576 terms (block formats add a float32 d·Σq·x̂ +
// m·Σx̂ per 8-element run) from a float32 RMSNorm; observed errors are
// ~1e-7. A wrong row mapping, head, part, block, scale, bias or a dropped
// tail element gives errors of order 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/policies/repack.hpp>
#include <kernels/qkv/aliases.hpp>
#include <string>
#include <vector>

#include "qkv_reference.hpp"
#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

namespace {

using foundry_test::exec;
using foundry_test::qkv_shape;
using foundry_test::random_matrix;
using foundry_test::project;
using foundry_test::projection_error;
using foundry_test::describe;
// SmolLM2-135M: hidden 576, 9 query heads, 3 KV heads of 64 (960 rows).
constexpr qkv_shape kSmolLM2{576, 9, 3, 64};

/// Which biases are bound.
struct biases {
  bool q, k, v;
};

/// Runs kernel `K` (Q/K/V in PQ/PK/PV) on random inputs of shape `s` and
/// compares q, k, v with the float64 reference.
template <class K, class PQ, class PK, class PV, bool Normalised = true>
void check(std::mt19937_64& g, const qkv_shape& s, biases with, double tolerance = 1e-5) {
  SCOPED_TRACE(std::string(K::name.view()) + " " + describe(s) + " bias q/k/v=" + std::to_string(with.q) +
               std::to_string(with.k) + std::to_string(with.v));
  auto& ex = exec();
  const std::size_t nq = std::size_t{s.n_heads} * s.head_dim, nkv = std::size_t{s.n_kv} * s.head_dim;
  const auto mq = random_matrix<PQ>(g, nq, s.hidden);
  const auto mk = random_matrix<PK>(g, nkv, s.hidden);
  const auto mv = random_matrix<PV>(g, nkv, s.hidden);
  const auto x = foundry_test::random_vector<float>(g, s.hidden, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, s.hidden, 0.5, 1.5);
  const auto bq = with.q ? foundry_test::random_vector<float>(g, nq, -1, 1) : std::vector<float>{};
  const auto bk = with.k ? foundry_test::random_vector<float>(g, nkv, -1, 1) : std::vector<float>{};
  const auto bv = with.v ? foundry_test::random_vector<float>(g, nkv, -1, 1) : std::vector<float>{};
  const float eps = 1e-5f;

  // Reference: x̂ = x / sqrt(mean(x²) + eps) · gamma (x̂ = x without the
  // RMSNorm), then the projections.
  std::vector<double> xn(x.begin(), x.end());
  if constexpr (Normalised) xn = foundry_test::rmsnorm_ref(x, gamma, eps);

  fd::buffer wq = ex.upload(mq.planes.data), wk = ex.upload(mk.planes.data), wv = ex.upload(mv.planes.data);
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma);
  fd::buffer qb = ex.allocate<float>(nq), kb = ex.allocate<float>(nkv), vb = ex.allocate<float>(nkv);
  for (fd::buffer* b : {&qb, &kb, &vb}) b->fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"wq">(wq).template set<"wk">(wk).template set<"wv">(wv);
  a.template set<"x">(xb);
  if constexpr (Normalised) a.template set<"gamma">(gb).template set<"eps">(eps);
  a.template set<"hidden">(s.hidden).template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv);
  a.template set<"head_dim">(s.head_dim);
  a.template set<"q">(qb).template set<"k">(kb).template set<"v">(vb);
  // Scale planes and biases, kept alive until the dispatch is done; a handle
  // points at its buffer object, so the vector must never reallocate.
  std::vector<fd::buffer> keep;
  keep.reserve(6);
  if constexpr (PQ::has_scale) a.template set<"wq_scales">(keep.emplace_back(ex.upload(mq.planes.scales)));
  if constexpr (PK::has_scale) a.template set<"wk_scales">(keep.emplace_back(ex.upload(mk.planes.scales)));
  if constexpr (PV::has_scale) a.template set<"wv_scales">(keep.emplace_back(ex.upload(mv.planes.scales)));
  if (with.q) a.template set<"bq">(keep.emplace_back(ex.upload(bq)));
  if (with.k) a.template set<"bk">(keep.emplace_back(ex.upload(bk)));
  if (with.v) a.template set<"bv">(keep.emplace_back(ex.upload(bv)));
  ex.dispatch<K>(a);
  ex.synchronize();

  EXPECT_LT(projection_error(qb.read<float>(), project(mq.w, xn, nq, bq)), tolerance) << "q";
  EXPECT_LT(projection_error(kb.read<float>(), project(mk.w, xn, nkv, bk)), tolerance) << "k";
  EXPECT_LT(projection_error(vb.read<float>(), project(mv.w, xn, nkv, bv)), tolerance) << "v";
}

template <class PQ, class PK = PQ, class PV = PK>
void check_alias(std::mt19937_64& g, const qkv_shape& s, biases with = {false, false, false}) {
  check<fk::rmsnorm_qkv<PQ, PK, PV>, PQ, PK, PV>(g, s, with);
}

/// The same projection with the threadgroup-reduction RMSNorm hook instead
/// of the folded one (not a library alias).
template <class PQ, class PK, class PV>
using qkv_threadgroup_rms =
    fd::fused_kernel<fd::fixed_string("qkv_tg_rms_") + PQ::name + fd::fixed_string("_") + PK::name +
                         fd::fixed_string("_") + PV::name,
                     fk::qkv_dispatch, fk::qkv_projection<PQ, PK, PV, fk::rmsnorm_hidden_input_threadgroup<PQ>>,
                     fk::qkv_bias_add, fk::qkv_store>;

/// The projection of x as is (`plain_input`, no RMSNorm).
using qkv_plain_f16 = fd::fused_kernel<"qkv_plain_f16", fk::qkv_dispatch,
                                       fk::qkv_projection<fp::f16, fp::f16, fp::f16, fd::plain_input<fp::f16>>,
                                       fk::qkv_bias_add, fk::qkv_store>;

// All kernels of this file compile in one compiler invocation.
struct PrepareKernels : ::testing::Environment {
  void SetUp() override {
    exec().prepare<fk::rmsnorm_qkv_f16, fk::rmsnorm_qkv<fp::f32>, fk::rmsnorm_qkv_q4_1, fk::rmsnorm_qkv_q8_0,
                  fk::rmsnorm_qkv<fp::f16, fp::f32, fp::q8_0>, fk::rmsnorm_qkv<fp::q4_1, fp::q8_0, fp::q4_0>,
                  fk::rmsnorm_qkv<fp::f32, fp::f16, fp::f32>, qkv_threadgroup_rms<fp::f16, fp::f32, fp::q8_0>,
                  qkv_threadgroup_rms<fp::f16, fp::f16, fp::f16>, qkv_plain_f16, fk::rmsnorm_qkv_q4_1_cpu_q8,
                  fk::rmsnorm_qkv_cpu_q8<fp::q4_1, fp::q8_0, fp::q4_0>,
                  fk::rmsnorm_qkv_cpu_q8<fp::f16, fp::q8_0, fp::f32>>();
  }
};
[[maybe_unused]] auto* const kPrepare = ::testing::AddGlobalTestEnvironment(new PrepareKernels);

TEST(RmsNormQkv, F16SmolLM2Shapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::f16>(g, kSmolLM2);
}

TEST(RmsNormQkv, Q4_1SmolLM2Shapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::q4_1>(g, kSmolLM2);
}

TEST(RmsNormQkv, Q8_0WithBiases) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::q8_0>(g, {96, 6, 2, 5}, {true, true, true});
}

// The acceptance case: Q, K and V in three different policies, one dispatch.
TEST(RmsNormQkv, ThreeDifferentPolicies) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::f16, fp::f32, fp::q8_0>(g, kSmolLM2);
  check_alias<fp::q4_1, fp::q8_0, fp::q4_0>(g, kSmolLM2);
  // 96 = 3 blocks, less than one 256-element lane stride of the block
  // formats; 50 rows (30 + 10 + 10) not a multiple of the 4 rows per
  // threadgroup, so threadgroups hold rows of two parts.
  check_alias<fp::f16, fp::f32, fp::q8_0>(g, {96, 6, 2, 5}, {true, false, true});
  check_alias<fp::q4_1, fp::q8_0, fp::q4_0>(g, {96, 6, 2, 5}, {false, true, false});
}

// Plain formats take any hidden size: the lanes' 4-element runs leave a tail.
TEST(RmsNormQkv, OddShapesPlainFormats) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const qkv_shape s : {qkv_shape{99, 5, 1, 7}, qkv_shape{33, 3, 3, 3}, qkv_shape{130, 2, 1, 1}}) {
    check_alias<fp::f16>(g, s);
    check_alias<fp::f32>(g, s, {true, true, true});
    check_alias<fp::f32, fp::f16, fp::f32>(g, s, {false, true, true});
  }
}

// The stage with the other RMSNorm hook: a threadgroup reduction before the
// rows (every thread passes its barrier; rows are guarded after it).
TEST(RmsNormQkv, ThreadgroupReductionHook) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<qkv_threadgroup_rms<fp::f16, fp::f32, fp::q8_0>, fp::f16, fp::f32, fp::q8_0>(g, kSmolLM2, {true, true, true});
  check<qkv_threadgroup_rms<fp::f16, fp::f16, fp::f16>, fp::f16, fp::f16, fp::f16>(g, {99, 5, 1, 7}, {false, true, false});
}

// The stage without RMSNorm (plain input hook).
TEST(RmsNormQkv, PlainInputHook) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<qkv_plain_f16, fp::f16, fp::f16, fp::f16, false>(g, {99, 5, 1, 7}, {true, false, true});
}

// 8-bit CPU activations (`rmsnorm_qkv_cpu_q8`): x̂ (RMS-normalised) rounded
// to 8 bits per block of 32, |Δx̂| <= max|x̂_block|/254 per element; bound 1e-2
// of mag as in gemv_test.cpp (measured over 40 seeds: 2.3e-4 to 1.1e-3).
// F16/F32 parts keep float (1e-8 here).
TEST(RmsNormQkv, CpuQ8Activations) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<fk::rmsnorm_qkv_q4_1_cpu_q8, fp::q4_1, fp::q4_1, fp::q4_1>(g, kSmolLM2, {false, false, false}, 1e-2);
  check<fk::rmsnorm_qkv_cpu_q8<fp::q4_1, fp::q8_0, fp::q4_0>, fp::q4_1, fp::q8_0, fp::q4_0>(g, kSmolLM2,
                                                                                        {true, false, true}, 1e-2);
  check<fk::rmsnorm_qkv_cpu_q8<fp::q4_1, fp::q8_0, fp::q4_0>, fp::q4_1, fp::q8_0, fp::q4_0>(g, {96, 6, 2, 5},
                                                                                        {false, true, false}, 1e-2);
  check<fk::rmsnorm_qkv_cpu_q8<fp::f16, fp::q8_0, fp::f32>, fp::f16, fp::q8_0, fp::f32>(g, kSmolLM2,
                                                                                     {true, true, true}, 1e-2);
}

TEST(RmsNormQkv, KernelNames) {
  EXPECT_EQ(fk::rmsnorm_qkv_q4_1::name.view(), "rmsnorm_qkv_q4_1");
  EXPECT_EQ(fk::rmsnorm_qkv_f16::name.view(), "rmsnorm_qkv_f16");
  EXPECT_EQ((fk::rmsnorm_qkv<fp::f16, fp::f32, fp::q8_0>::name.view()), "rmsnorm_qkv_f16_f32_q8_0");
  EXPECT_EQ(fk::rmsnorm_qkv_q4_1_cpu_q8::name.view(), "rmsnorm_qkv_q4_1_cpu_q8");
}

}  // namespace
