// Fused RMSNorm + gate/up projection + SwiGLU
// (`rmsnorm_gate_up_swiglu<P>`; `gate_up_projection` with two policies and
// with the threadgroup-reduction RMSNorm hook) on the CPU backend against a
// float64 reference:
//   x̂ = RMSNorm(x)·gamma,  y_i = SiLU(W_gate[i]·x̂) · (W_up[i]·x̂),
//   SiLU(z) = z / (1 + e^(−z))  (Shazeer, 2020).
//
// Weights are random, quantized with ggml's reference quantizer, repacked
// into the policy's planes and dequantized on the host from those same
// planes for the reference. Outputs are poisoned (0xFF bytes, NaN).
//
// Tolerance: relative ‖y − ref‖ / ‖ref‖ < 1e-5. Each y_i is the product of
// SiLU of one float32 dot product (hidden ≤ 1536 terms) and another; SiLU's
// relative condition number is ≤ ~1.3 and the CPU backend's exp is
// correctly rounded or nearly, so the error stays at the dot products' ~1e-7
// (observed). A swapped gate/up, a wrong row or block is off by O(1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/ffn/aliases.hpp>
#include <kernels/policies/repack.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

namespace {

using foundry_test::rel_error;
using foundry_test::exec;
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

/// Gate/up kernel with W_gate in PG and W_up in PU (not a library alias).
template <class PG, class PU>
using gate_up_mixed = fd::fused_kernel<fd::fixed_string("gate_up_swiglu_") + PG::name + fd::fixed_string("_") + PU::name,
                                       fk::gate_up_dispatch, fk::gate_up_projection<PG, PU>,
                                       fd::epi::swiglu<"gate", "up", "value">,
                                       fd::epi::store<"y", "value", fd::size_arg<"ffn">>>;

/// The alias's composition with the threadgroup-reduction RMSNorm hook.
template <class P>
using gate_up_threadgroup_rms =
    fd::fused_kernel<fd::fixed_string("gate_up_tg_rms_") + P::name, fk::gate_up_dispatch,
                     fk::gate_up_projection<P, P, fk::rmsnorm_hidden_input_threadgroup<P>>,
                     fd::epi::swiglu<"gate", "up", "value">, fd::epi::store<"y", "value", fd::size_arg<"ffn">>>;

template <class K, class PG, class PU>
void check(std::mt19937_64& g, std::uint32_t hidden, std::uint32_t ffn, double tolerance = 1e-5) {
  SCOPED_TRACE(std::string(K::name.view()) + " hidden=" + std::to_string(hidden) + " ffn=" + std::to_string(ffn));
  auto& ex = exec();
  const auto mg = random_matrix<PG>(g, ffn, hidden);
  const auto mu = random_matrix<PU>(g, ffn, hidden);
  const auto x = foundry_test::random_vector<float>(g, hidden, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, hidden, 0.5, 1.5);
  const float eps = 1e-5f;

  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / hidden + double(eps));
  std::vector<double> ref(ffn);
  for (std::size_t r = 0; r < ffn; ++r) {
    double gate = 0, up = 0;
    for (std::size_t i = 0; i < hidden; ++i) {
      const double xn = x[i] * inv * gamma[i];
      gate += double(mg.w[r * hidden + i]) * xn;
      up += double(mu.w[r * hidden + i]) * xn;
    }
    ref[r] = gate / (1.0 + std::exp(-gate)) * up;
  }

  fd::buffer wg = ex.upload(mg.planes.data), wu = ex.upload(mu.planes.data);
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(ffn);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w_gate">(wg).template set<"w_up">(wu).template set<"x">(xb).template set<"gamma">(gb);
  a.template set<"eps">(eps).template set<"hidden">(hidden).template set<"ffn">(ffn).template set<"y">(yb);
  std::vector<fd::buffer> keep;
  keep.reserve(2);  // handles point at buffer objects: no reallocation
  if constexpr (PG::has_scale) a.template set<"w_gate_scales">(keep.emplace_back(ex.upload(mg.planes.scales)));
  if constexpr (PU::has_scale) a.template set<"w_up_scales">(keep.emplace_back(ex.upload(mu.planes.scales)));
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(rel_error(yb.read<float>(), ref), tolerance);
}

template <class P>
void check_alias(std::mt19937_64& g, std::uint32_t hidden, std::uint32_t ffn) {
  check<fk::rmsnorm_gate_up_swiglu<P>, P, P>(g, hidden, ffn);
}

struct PrepareKernels : ::testing::Environment {
  void SetUp() override {
    exec().prepare<fk::rmsnorm_gate_up_swiglu_f16, fk::rmsnorm_gate_up_swiglu<fp::f32>,
                  fk::rmsnorm_gate_up_swiglu_q4_1, fk::rmsnorm_gate_up_swiglu_q8_0,
                  fk::rmsnorm_gate_up_swiglu<fp::q4_0>, gate_up_mixed<fp::q4_1, fp::q8_0>,
                  gate_up_mixed<fp::f16, fp::f32>, gate_up_threadgroup_rms<fp::q4_1>,
                  gate_up_threadgroup_rms<fp::f32>, fk::rmsnorm_gate_up_swiglu_q4_1_cpu_q8,
                  fk::rmsnorm_gate_up_swiglu_cpu_q8<fp::q8_0>, fk::rmsnorm_gate_up_swiglu_cpu_q8<fp::q4_0>>();
  }
};
[[maybe_unused]] auto* const kPrepare = ::testing::AddGlobalTestEnvironment(new PrepareKernels);

// SmolLM2-135M: hidden 576, FFN 1536.
TEST(RmsNormGateUpSwiGlu, F16SmolLM2Shapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::f16>(g, 576, 1536);
}

TEST(RmsNormGateUpSwiGlu, Q4_1SmolLM2Shapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::q4_1>(g, 576, 1536);
}

// Block formats: hidden a multiple of 32 but not of the 256-element lane
// stride; row counts not multiples of the 4 rows per threadgroup.
TEST(RmsNormGateUpSwiGlu, BlockFormatsOddRows) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::q8_0>(g, 96, 37);
  check_alias<fp::q4_0>(g, 160, 45);
  check_alias<fp::q4_1>(g, 1536, 13);  // the down-projection's k, as a long row
}

// Plain formats take any hidden size (a tail after the 4-element runs).
TEST(RmsNormGateUpSwiGlu, PlainFormatsOddShapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<fp::f16>(g, 99, 37);
  check_alias<fp::f32>(g, 1, 5);
  check_alias<fp::f32>(g, 130, 129);
}

// Gate and up in different policies: two passes over x̂ in one SIMD-group.
TEST(RmsNormGateUpSwiGlu, GateAndUpInDifferentPolicies) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<gate_up_mixed<fp::q4_1, fp::q8_0>, fp::q4_1, fp::q8_0>(g, 576, 133);
  check<gate_up_mixed<fp::f16, fp::f32>, fp::f16, fp::f32>(g, 99, 21);
}

// The stage with the other RMSNorm hook (threadgroup reduction first).
TEST(RmsNormGateUpSwiGlu, ThreadgroupReductionHook) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<gate_up_threadgroup_rms<fp::q4_1>, fp::q4_1, fp::q4_1>(g, 576, 1536);
  check<gate_up_threadgroup_rms<fp::f32>, fp::f32, fp::f32>(g, 99, 37);
}

// 8-bit CPU activations (`rmsnorm_gate_up_swiglu_cpu_q8`): x̂ rounded to 8
// bits per block of 32 (|Δx̂| <= max|x̂_block|/254, ~max/440 rms). Each dot
// product then moves by ~max|x̂|/440·‖w‖, a few 1e-3 of its value for these
// random rows, and SwiGLU multiplies the gate's relative error by up to
// ~1.3 and adds the up's; the error here is relative to ‖y‖ (rows whose
// gate and up nearly cancel count fully). Measured over 40 seeds: 2.5e-3 to
// 1.7e-2 (median 7e-3; the short rows, 96 and 160, spread most), so the
// bound is 5e-2; a wrong block, scale or row gives O(1).
TEST(RmsNormGateUpSwiGlu, CpuQ8Activations) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<fk::rmsnorm_gate_up_swiglu_q4_1_cpu_q8, fp::q4_1, fp::q4_1>(g, 576, 1536, 5e-2);
  check<fk::rmsnorm_gate_up_swiglu_cpu_q8<fp::q8_0>, fp::q8_0, fp::q8_0>(g, 96, 37, 5e-2);
  check<fk::rmsnorm_gate_up_swiglu_cpu_q8<fp::q4_0>, fp::q4_0, fp::q4_0>(g, 160, 45, 5e-2);
}

TEST(RmsNormGateUpSwiGlu, KernelNames) {
  EXPECT_EQ(fk::rmsnorm_gate_up_swiglu_q4_1::name.view(), "rmsnorm_gate_up_swiglu_q4_1");
  EXPECT_EQ(fk::rmsnorm_gate_up_swiglu_f16::name.view(), "rmsnorm_gate_up_swiglu_f16");
}

}  // namespace
