// Fused RMSNorm + Q/K/V projection + RoPE + KV-cache append
// (`rmsnorm_qkv_rope_kv_append`, kernels/qkv/qkv_rope.hpp) on the CPU
// backend against a float64 reference: x̂ = RMSNorm(x)·gamma, q = RoPE(Wq·x̂
// + bq, pos), k_cache[h, pos] = RoPE(Wk·x̂ + bk, pos)[h], v_cache[h, pos] =
// (Wv·x̂ + bv)[h], RoPE with θ_i = base^(−2i/d) in both pairings (rope.hpp).
//
// q is poisoned (NaN) before each run; the caches are filled with random
// values, and every element but the token's rows must keep its value (the
// kernel writes exactly its row of each KV head).
//
// Tolerance: ‖out − ref‖ / ‖mag‖ < 1e-5 + 2.5e-7·pos, where mag of a rotated
// element is the sum of its pair's row magnitudes Σ|w·x̂| + |b| (float32
// rounding scales with the terms summed, qkv_test.cpp) and 2.5e-7·pos bounds
// the float angle's error (rope_test.cpp derives it). Observed: 5e-9 to
// 1.5e-7. A wrong pairing, row order, head, position, cache row or sign
// gives errors of 1e-2 and more (one flipped sign in the rotation: 3e-2 to
// 8e-2; mag exceeds |ref| by about sqrt(hidden)).
// The 8-bit CPU activations (`_cpu_q8`) round x̂: 1e-2, as in qkv_test.cpp
// (observed ~3e-4).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
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

/// A projection rotated by RoPE at `pos` in float64 (heads of `d` rows),
/// each element's magnitude the sum of its pair's.
foundry_test::projection rotate(const foundry_test::projection& p, std::uint32_t d, std::uint32_t pos, double base,
                                bool neox) {
  foundry_test::projection r = p;
  for (std::size_t h = 0; h < p.y.size() / d; ++h)
    for (std::uint32_t i = 0; i < d / 2; ++i) {
      const double a = pos * std::pow(base, -2.0 * i / d);
      const std::size_t e0 = h * d + (neox ? i : 2 * i), e1 = h * d + (neox ? i + d / 2 : 2 * i + 1);
      r.y[e0] = p.y[e0] * std::cos(a) - p.y[e1] * std::sin(a);
      r.y[e1] = p.y[e0] * std::sin(a) + p.y[e1] * std::cos(a);
      r.mag[e0] = r.mag[e1] = p.mag[e0] + p.mag[e1];
    }
  return r;
}

struct run_case {
  qkv_shape shape;
  std::uint32_t pos, max_seq;
  bool biases;
  float base = 100000.0f;
};

std::string describe(const run_case& c) {
  return foundry_test::describe(c.shape) + " pos=" + std::to_string(c.pos) + "/" + std::to_string(c.max_seq) +
         " biases=" + std::to_string(c.biases);
}

/// Runs kernel `K` (policies PQ/PK/PV, NeoX pairing or not, the position
/// from a buffer or not) on random inputs and checks q, both caches at
/// `pos` against the float64 reference and every other cache element
/// against its value before the run.
template <class K, class PQ, class PK, class PV, bool Neox, bool PositionBuffer>
void check(std::mt19937_64& g, const run_case& c, double tolerance = 1e-5) {
  SCOPED_TRACE(std::string(K::name.view()) + " " + describe(c));
  auto& ex = exec();
  const qkv_shape& s = c.shape;
  const std::size_t nq = std::size_t{s.n_heads} * s.head_dim, nkv = std::size_t{s.n_kv} * s.head_dim;
  const std::size_t cache_elems = nkv * c.max_seq;
  const auto mq = foundry_test::random_matrix<PQ>(g, nq, s.hidden);
  const auto mk = foundry_test::random_matrix<PK>(g, nkv, s.hidden);
  const auto mv = foundry_test::random_matrix<PV>(g, nkv, s.hidden);
  const auto x = foundry_test::random_vector<float>(g, s.hidden, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, s.hidden, 0.5, 1.5);
  const auto bq = c.biases ? foundry_test::random_vector<float>(g, nq, -1, 1) : std::vector<float>{};
  const auto bk = c.biases ? foundry_test::random_vector<float>(g, nkv, -1, 1) : std::vector<float>{};
  const auto bv = c.biases ? foundry_test::random_vector<float>(g, nkv, -1, 1) : std::vector<float>{};
  const auto k_before = foundry_test::random_vector<float>(g, cache_elems, -2, 2);
  const auto v_before = foundry_test::random_vector<float>(g, cache_elems, -2, 2);
  const float eps = 1e-5f;

  const auto xn = foundry_test::rmsnorm_ref(x, gamma, eps);
  const auto q_ref = rotate(foundry_test::project(mq.w, xn, nq, bq), s.head_dim, c.pos, c.base, Neox);
  const auto k_ref = rotate(foundry_test::project(mk.w, xn, nkv, bk), s.head_dim, c.pos, c.base, Neox);
  const auto v_ref = foundry_test::project(mv.w, xn, nkv, bv);

  std::vector<fd::buffer> keep;  // buffers bound by reference; reserved so they never move
  keep.reserve(16);
  auto up = [&](const auto& v) -> fd::buffer& { return keep.emplace_back(ex.upload(v)); };
  fd::buffer qb = ex.allocate<float>(nq);
  qb.fill_bytes(0xFF);
  fd::buffer& kc = up(k_before);
  fd::buffer& vc = up(v_before);
  typename K::arguments a;
  a.template set<"wq">(up(mq.planes.data)).template set<"wk">(up(mk.planes.data));
  a.template set<"wv">(up(mv.planes.data));
  if constexpr (PQ::has_scale) a.template set<"wq_scales">(up(mq.planes.scales));
  if constexpr (PK::has_scale) a.template set<"wk_scales">(up(mk.planes.scales));
  if constexpr (PV::has_scale) a.template set<"wv_scales">(up(mv.planes.scales));
  a.template set<"x">(up(x)).template set<"gamma">(up(gamma)).template set<"eps">(eps);
  a.template set<"hidden">(s.hidden).template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv);
  a.template set<"head_dim">(s.head_dim).template set<"max_seq">(c.max_seq).template set<"freq_base">(c.base);
  if (c.biases) a.template set<"bq">(up(bq)).template set<"bk">(up(bk)).template set<"bv">(up(bv));
  a.template set<"q">(qb).template set<"k_cache">(kc).template set<"v_cache">(vc);
  if constexpr (PositionBuffer)
    a.template set<"position">(up(std::vector<std::uint32_t>{c.pos}));
  else
    a.template set<"pos">(c.pos);
  ex.dispatch<K>(a);
  ex.synchronize();

  const double tol = tolerance + 2.5e-7 * c.pos;
  EXPECT_LT(foundry_test::projection_error(qb.read<float>(), q_ref), tol) << "q";
  const auto k_after = kc.read<float>(), v_after = vc.read<float>();
  const bool appends = c.pos < c.max_seq;
  // The token's rows of the caches, [n_kv, head_dim], and every other element.
  std::vector<float> k_row(nkv), v_row(nkv);
  std::size_t changed_elsewhere = 0;
  for (std::size_t h = 0; h < s.n_kv; ++h)
    for (std::size_t p = 0; p < c.max_seq; ++p)
      for (std::size_t d = 0; d < s.head_dim; ++d) {
        const std::size_t e = (h * c.max_seq + p) * s.head_dim + d;
        if (appends && p == c.pos) {
          k_row[h * s.head_dim + d] = k_after[e];
          v_row[h * s.head_dim + d] = v_after[e];
        } else if (std::memcmp(&k_after[e], &k_before[e], 4) != 0 || std::memcmp(&v_after[e], &v_before[e], 4) != 0) {
          ++changed_elsewhere;
        }
      }
  EXPECT_EQ(changed_elsewhere, 0u) << "cache elements outside the token's rows changed";
  if (appends) {
    EXPECT_LT(foundry_test::projection_error(k_row, k_ref), tol) << "k_cache";
    EXPECT_LT(foundry_test::projection_error(v_row, v_ref), tol) << "v_cache";
  }
}

template <fk::rope_pairing R, fk::position_source Pos, class PQ, class PK = PQ, class PV = PK, bool Q8 = false>
void check_alias(std::mt19937_64& g, const run_case& c, double tolerance = 1e-5) {
  check<fk::rmsnorm_qkv_rope_kv_append<R, Pos, PQ, PK, PV, Q8>, PQ, PK, PV, R == fk::rope_pairing::neox,
        Pos == fk::position_source::buffer>(g, c, tolerance);
}

constexpr auto kNorm = fk::rope_pairing::normal;
constexpr auto kNeox = fk::rope_pairing::neox;
constexpr auto kScalar = fk::position_source::scalar_arg;
constexpr auto kBuffer = fk::position_source::buffer;

// SmolLM2-135M: hidden 576, 9 query heads, 3 KV heads of 64.
constexpr qkv_shape kSmolLM2{576, 9, 3, 64};

struct PrepareKernels : ::testing::Environment {
  void SetUp() override {
    exec().prepare<fk::rmsnorm_qkv_rope_norm_kv_append_q4_1, fk::rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer,
                   fk::rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer_cpu_q8,
                   fk::rmsnorm_qkv_rope_neox_kv_append_q8_0_position_buffer, fk::rmsnorm_qkv_rope_norm_kv_append_f16,
                   fk::rmsnorm_qkv_rope_kv_append<kNeox, kScalar, fp::f16, fp::f32, fp::q8_0>,
                   fk::rmsnorm_qkv_rope_kv_append<kNorm, kBuffer, fp::q4_1, fp::q8_0, fp::q4_0>>();
  }
};
[[maybe_unused]] auto* const kPrepare = ::testing::AddGlobalTestEnvironment(new PrepareKernels);

TEST(RmsNormQkvRopeKvAppend, Q4_1SmolLM2) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<kNorm, kScalar, fp::q4_1>(g, {kSmolLM2, 0, 8, false});
  check_alias<kNorm, kScalar, fp::q4_1>(g, {kSmolLM2, 37, 64, false});
  check_alias<kNorm, kBuffer, fp::q4_1>(g, {kSmolLM2, 200, 256, false});
}

// NeoX pairs (i, i + d/2) and biases (Qwen2-style); 6·6 + 2·2·6 = 60 rows, 30
// pairs: threadgroups of 4 pairs hold pairs of two parts.
TEST(RmsNormQkvRopeKvAppend, NeoxWithBiases) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<kNeox, kBuffer, fp::q8_0>(g, {{96, 6, 2, 6}, 5, 9, true, 10000.0f});
  check_alias<kNeox, kBuffer, fp::q8_0>(g, {kSmolLM2, 1000, 1024, true});
}

// Three policies in one dispatch; plain formats with a hidden size that is
// no multiple of the lanes' runs, and head_dim 2 (one pair per head).
TEST(RmsNormQkvRopeKvAppend, MixedPoliciesOddShapes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<kNeox, kScalar, fp::f16, fp::f32, fp::q8_0>(g, {kSmolLM2, 3, 4, true});
  check_alias<kNorm, kBuffer, fp::q4_1, fp::q8_0, fp::q4_0>(g, {{96, 6, 2, 8}, 7, 8, false});
  check_alias<kNorm, kScalar, fp::f16>(g, {{99, 5, 1, 2}, 11, 12, true, 10000.0f});
  check_alias<kNorm, kScalar, fp::f16>(g, {{33, 3, 3, 10}, 0, 1, false, 10000.0f});
}

// A position at or past max_seq appends nothing (every cache element keeps
// its value) and still rotates q.
TEST(RmsNormQkvRopeKvAppend, PositionPastTheCacheAppendsNothing) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<kNorm, kScalar, fp::q4_1>(g, {kSmolLM2, 16, 16, false});
  check_alias<kNeox, kBuffer, fp::q8_0>(g, {{96, 6, 2, 6}, 40, 9, true});
}

// 8-bit CPU activations: x̂ rounded per block of 32 (see the file comment).
TEST(RmsNormQkvRopeKvAppend, CpuQ8Activations) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_alias<kNorm, kBuffer, fp::q4_1, fp::q4_1, fp::q4_1, true>(g, {kSmolLM2, 100, 128, false}, 1e-2);
}

TEST(RmsNormQkvRopeKvAppend, KernelNames) {
  EXPECT_EQ(fk::rmsnorm_qkv_rope_norm_kv_append_q4_1::name.view(), "rmsnorm_qkv_rope_norm_kv_append_q4_1");
  EXPECT_EQ(fk::rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer_cpu_q8::name.view(),
            "rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer_cpu_q8");
  EXPECT_EQ((fk::rmsnorm_qkv_rope_kv_append<kNeox, kScalar, fp::f16, fp::f32, fp::q8_0>::name.view()),
            "rmsnorm_qkv_rope_neox_kv_append_f16_f32_q8_0");
}

}  // namespace
