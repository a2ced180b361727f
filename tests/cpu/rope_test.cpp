// RoPE kernels (kernels/rope/rope.hpp) and RoPE fused with the KV-cache
// append (kernels/attention/kv_cache.hpp) on the CPU backend, against a
// float64 reference: θ_i = base^(−2i/d), angle = pos·θ_i, both pairings.
//
// Tolerance: the kernels compute the angle in float (as llama.cpp does), so
// its absolute error grows with pos: pow and the product pos·θ each round
// once (≈ 2^-24 relative) and the rounded exponent −2i/d adds at most
// ln(base)·e·base^(−e)·2^-24 ≤ 0.37·2^-24 relative to pos; together below
// 2.5e-7·pos radians. The rotated values then differ from float64 by about
// |x| times that, plus a few float ulps from the products: the relative
// error ‖out − ref‖/‖ref‖ must stay below 2e-6 + 2.5e-7·pos (5.2e-5 at pos
// 200; about 1e-8·pos is observed), far below what a wrong pairing,
// frequency or sign gives (O(1)).
// Half caches round each value: 2^-11 relative, tolerance 1e-3.
#include <gtest/gtest.h>

#include <cmath>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/attention/kv_cache.hpp>
#include <kernels/rope/rope.hpp>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

using foundry_test::exec;
using foundry_test::rel_error;
double tolerance(std::uint32_t pos) { return 2e-6 + 2.5e-7 * pos; }

/// Float64 RoPE of `heads` vectors of `d` elements.
std::vector<double> rope_ref(const std::vector<float>& x, std::uint32_t heads, std::uint32_t d, std::uint32_t pos,
                             double base, bool neox) {
  std::vector<double> y(x.begin(), x.begin() + std::ptrdiff_t(heads) * d);
  for (std::uint32_t h = 0; h < heads; ++h)
    for (std::uint32_t i = 0; i < d / 2; ++i) {
      const double a = pos * std::pow(base, -2.0 * i / d);
      const std::size_t e0 = h * d + (neox ? i : 2 * i), e1 = h * d + (neox ? i + d / 2 : 2 * i + 1);
      const double x0 = x[e0], x1 = x[e1];
      y[e0] = x0 * std::cos(a) - x1 * std::sin(a);
      y[e1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
  return y;
}

struct rope_case {
  std::uint32_t n_heads, n_kv, head_dim;
  float base;
};
// SmolLM2 (9 heads, 3 KV heads, head_dim 64, base 100000), head_dim 128
// (Llama-style 32/8 and an odd 5/1), and head_dim 96 with base 10000.
const rope_case kCases[] = {{9, 3, 64, 100000.0f}, {32, 8, 128, 500000.0f}, {5, 1, 128, 10000.0f}, {3, 3, 96, 10000.0f}};
const std::uint32_t kPositions[] = {0, 1, 17, 200, 4095};

template <class K>
void check_rope(bool neox) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (const rope_case& c : kCases)
    for (std::uint32_t pos : kPositions) {
      SCOPED_TRACE(std::string(K::name.view()) + " heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv) +
                   " d=" + std::to_string(c.head_dim) + " pos=" + std::to_string(pos));
      const std::size_t nq = std::size_t{c.n_heads} * c.head_dim, nk = std::size_t{c.n_kv} * c.head_dim;
      // 5 guard elements after each vector must stay untouched.
      auto q = foundry_test::random_vector<float>(g, nq + 5, -2, 2);
      auto k = foundry_test::random_vector<float>(g, nk + 5, -2, 2);
      fd::buffer qb = ex.upload(q), kb = ex.upload(k);
      typename K::arguments a;
      a.template set<"q">(qb).template set<"k">(kb).template set<"n_heads">(c.n_heads).template set<"n_kv">(c.n_kv);
      a.template set<"head_dim">(c.head_dim).template set<"pos">(pos).template set<"freq_base">(c.base);
      ex.dispatch<K>(a);
      const auto qo = qb.read<float>(), ko = kb.read<float>();
      EXPECT_LT(rel_error(qo, rope_ref(q, c.n_heads, c.head_dim, pos, c.base, neox)), tolerance(pos));
      EXPECT_LT(rel_error(ko, rope_ref(k, c.n_kv, c.head_dim, pos, c.base, neox)), tolerance(pos));
      for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(qo[nq + i], q[nq + i]);
        EXPECT_EQ(ko[nk + i], k[nk + i]);
      }
    }
}

TEST(Rope, NormalPairing) { check_rope<fk::rope_norm>(false); }
TEST(Rope, NeoxPairing) { check_rope<fk::rope_neox>(true); }

// The two pairings differ (a kernel using the wrong one fails the checks
// above): here, directly, for one SmolLM2 head at pos 17.
TEST(Rope, PairingsDiffer) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto x = foundry_test::random_vector<float>(g, 64, -1, 1);
  EXPECT_GT(rel_error(std::vector<float>(x.begin(), x.end()), rope_ref(x, 1, 64, 17, 1e5, true)), 0.0);
  const auto a = rope_ref(x, 1, 64, 17, 1e5, false), b = rope_ref(x, 1, 64, 17, 1e5, true);
  std::vector<float> af(a.begin(), a.end());
  EXPECT_GT(rel_error(af, b), 0.1);
}

template <class T>
std::vector<float> to_float(const std::vector<T>& v) {
  return std::vector<float>(v.begin(), v.end());
}

template <class K, class T>
void check_rope_kv_append(bool neox, double cache_tol) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::uint32_t max_seq = 257;
  for (const rope_case& c : kCases)
    for (std::uint32_t pos : {0u, 1u, 17u, 200u, 256u}) {
      SCOPED_TRACE(std::string(K::name.view()) + " heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv) +
                   " d=" + std::to_string(c.head_dim) + " pos=" + std::to_string(pos));
      const std::uint32_t d = c.head_dim;
      const std::size_t nq = std::size_t{c.n_heads} * d, nk = std::size_t{c.n_kv} * d;
      auto q = foundry_test::random_vector<float>(g, nq, -2, 2);
      auto k = foundry_test::random_vector<float>(g, nk, -2, 2);
      auto v = foundry_test::random_vector<float>(g, nk, -2, 2);
      // Earlier cache contents: random, must survive except at row pos.
      const auto before = foundry_test::random_vector<float>(g, nk * max_seq, -1, 1);
      std::vector<T> cache0(before.begin(), before.end());
      fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(v);
      fd::buffer kc = ex.upload(cache0), vc = ex.upload(cache0);
      typename K::arguments a;
      a.template set<"q">(qb).template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc);
      a.template set<"v_cache">(vc).template set<"n_heads">(c.n_heads).template set<"n_kv">(c.n_kv);
      a.template set<"head_dim">(d).template set<"max_seq">(max_seq).template set<"pos">(pos);
      a.template set<"freq_base">(c.base);
      ex.dispatch<K>(a);
      EXPECT_LT(rel_error(qb.read<float>(), rope_ref(q, c.n_heads, d, pos, c.base, neox)), tolerance(pos));
      EXPECT_EQ(kb.read<float>(), k) << "k must be left unchanged";
      const auto kco = to_float(kc.template read<T>()), vco = to_float(vc.template read<T>());
      const auto kref = rope_ref(k, c.n_kv, d, pos, c.base, neox);
      std::vector<float> krow, vrow;
      std::size_t changed = 0;
      for (std::uint32_t h = 0; h < c.n_kv; ++h)
        for (std::uint32_t p = 0; p < max_seq; ++p)
          for (std::uint32_t e = 0; e < d; ++e) {
            const std::size_t i = (std::size_t{h} * max_seq + p) * d + e;
            if (p == pos) {
              krow.push_back(kco[i]);
              vrow.push_back(vco[i]);
            } else {
              changed += kco[i] != float(cache0[i]) || vco[i] != float(cache0[i]);
            }
          }
      EXPECT_EQ(changed, 0u) << "cache rows other than pos were written";
      EXPECT_LT(rel_error(krow, kref), tolerance(pos) + cache_tol);
      EXPECT_LT(rel_error(vrow, std::vector<double>(v.begin(), v.end())), 1e-7 + cache_tol);
    }
}

TEST(RopeKvAppend, NormalF32) { check_rope_kv_append<fk::rope_norm_kv_append_f32, float>(false, 0); }
TEST(RopeKvAppend, NeoxF32) { check_rope_kv_append<fk::rope_neox_kv_append_f32, float>(true, 0); }
TEST(RopeKvAppend, NormalF16) { check_rope_kv_append<fk::rope_norm_kv_append_f16, fd::half>(false, 1e-3); }

// pos ≥ max_seq: the cache is left alone (q is still rotated).
TEST(RopeKvAppend, PositionPastTheCacheWritesNothing) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::uint32_t n_heads = 9, n_kv = 3, d = 64, max_seq = 16;
  auto q = foundry_test::random_vector<float>(g, n_heads * d, -1, 1);
  auto k = foundry_test::random_vector<float>(g, n_kv * d, -1, 1);
  auto cache = foundry_test::random_vector<float>(g, n_kv * max_seq * d, -1, 1);
  fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(k), kc = ex.upload(cache), vc = ex.upload(cache);
  fk::rope_norm_kv_append_f32::arguments a;
  a.set<"q">(qb).set<"k">(kb).set<"v">(vb).set<"k_cache">(kc).set<"v_cache">(vc).set<"n_heads">(n_heads);
  a.set<"n_kv">(n_kv).set<"head_dim">(d).set<"max_seq">(max_seq).set<"pos">(max_seq).set<"freq_base">(1e5f);
  ex.dispatch<fk::rope_norm_kv_append_f32>(a);
  EXPECT_EQ(kc.read<float>(), cache);
  EXPECT_EQ(vc.read<float>(), cache);
}

}  // namespace
