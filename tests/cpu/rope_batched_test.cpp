// Batched RoPE + KV append (kernels/attention/rope_kv_append_batched.hpp),
// Qwen3's QK-norm + RoPE + KV append and the plain batched KV append
// (kernels/attention/qk_norm_rope_kv_append.hpp) against a float64 RoPE
// (Su et al., 2021; adjacent and NeoX pairs) and RMSNorm per head, for
// chunks of 1, 7 and 40 tokens starting at positions 0 and later: q
// normalised and rotated in place (unchanged without RoPE), normalised and
// rotated k and plain v in the caches at pos..pos+batch-1, every other cache
// element untouched (poison).
//
// Tolerance: the angle pos·θ is formed in float32 (as llama.cpp does), so
// its absolute error grows like pos·2^-24 (~1e-5 at position 150); with
// values of magnitude 1, ‖Δ‖/‖ref‖ < 1e-4 bounds that while a wrong pair,
// head, token or position is O(1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/attention/qk_norm_rope_kv_append.hpp>
#include <kernels/attention/rope_kv_append_batched.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

/// What the kernel under test does to a head before it is stored.
enum class mode { rope, qk_norm_rope, append_only };

template <class K, bool Neox, mode Mode = mode::rope>
void check(std::mt19937_64& g, std::uint32_t batch, std::uint32_t pos, std::uint32_t d = 16,
           std::uint32_t n_heads = 6, std::uint32_t n_kv = 2) {
  SCOPED_TRACE(std::string(K::name.view()) + " batch=" + std::to_string(batch) + " pos=" + std::to_string(pos) +
               " head_dim=" + std::to_string(d));
  const std::uint32_t max_seq = 200;
  const float base = 10000.0f, eps = 1e-6f;
  auto q = foundry_test::random_vector<float>(g, std::size_t{batch} * n_heads * d, -1, 1);
  const auto k = foundry_test::random_vector<float>(g, std::size_t{batch} * n_kv * d, -1, 1);
  const auto v = foundry_test::random_vector<float>(g, std::size_t{batch} * n_kv * d, -1, 1);
  const auto q_norm = foundry_test::random_vector<float>(g, d, 0.5, 1.5);
  const auto k_norm = foundry_test::random_vector<float>(g, d, 0.5, 1.5);
  const std::size_t cn = std::size_t{n_kv} * max_seq * d;
  std::vector<double> rq(q.size()), rk(cn, std::nan("")), rv(cn, std::nan(""));
  // One head: RMSNorm with `w` (QK-norm), then RoPE at position `at`.
  auto transform = [&](const float* x, double* out, std::uint32_t at, const std::vector<float>& w) {
    std::vector<double> y(x, x + d);
    if (Mode == mode::qk_norm_rope) {
      double ss = 0;
      for (const double e : y) ss += e * e;
      const double r = 1.0 / std::sqrt(ss / d + double(eps));
      for (std::uint32_t e = 0; e < d; ++e) y[e] *= r * double(w[e]);
    }
    if (Mode == mode::append_only) {
      std::copy(y.begin(), y.end(), out);
      return;
    }
    for (std::uint32_t i = 0; i < d / 2; ++i) {
      const std::uint32_t e0 = Neox ? i : 2 * i, e1 = Neox ? i + d / 2 : 2 * i + 1;
      const double a = at * std::pow(double(base), -2.0 * i / d);
      out[e0] = y[e0] * std::cos(a) - y[e1] * std::sin(a);
      out[e1] = y[e0] * std::sin(a) + y[e1] * std::cos(a);
    }
  };
  for (std::uint32_t m = 0; m < batch; ++m) {
    for (std::uint32_t h = 0; h < n_heads; ++h)
      transform(&q[(std::size_t{m} * n_heads + h) * d], &rq[(std::size_t{m} * n_heads + h) * d], pos + m, q_norm);
    for (std::uint32_t h = 0; h < n_kv && pos + m < max_seq; ++h) {  // past the cache: not stored
      const std::size_t src = (std::size_t{m} * n_kv + h) * d, dst = (std::size_t{h} * max_seq + pos + m) * d;
      transform(&k[src], &rk[dst], pos + m, k_norm);
      for (std::uint32_t e = 0; e < d; ++e) rv[dst + e] = v[src + e];
    }
  }
  auto& ex = foundry_test::exec();
  fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(v), kc = ex.allocate<float>(cn),
             vc = ex.allocate<float>(cn);
  kc.fill_bytes(0xFF);
  vc.fill_bytes(0xFF);
  fd::buffer qn = ex.upload(q_norm), kn = ex.upload(k_norm);
  typename K::arguments a;
  a.template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc).template set<"v_cache">(vc);
  a.template set<"n_kv">(n_kv).template set<"head_dim">(d).template set<"max_seq">(max_seq);
  a.template set<"pos">(pos).template set<"batch">(batch);
  if constexpr (Mode != mode::append_only)
    a.template set<"q">(qb).template set<"n_heads">(n_heads).template set<"freq_base">(base);
  if constexpr (Mode == mode::qk_norm_rope)
    a.template set<"q_norm">(qn).template set<"k_norm">(kn).template set<"eps">(eps);
  ex.dispatch<K>(a);
  ex.synchronize();
  if constexpr (Mode == mode::append_only)
    EXPECT_EQ(qb.read<float>(), q) << "q changed without RoPE";
  else
    EXPECT_LT(foundry_test::rel_error(qb.read<float>(), rq), 1e-4);
  for (const auto& [got, want] : {std::pair{kc.read<float>(), rk}, std::pair{vc.read<float>(), rv}}) {
    double e = 0, n = 0;
    for (std::size_t i = 0; i < cn; ++i) {
      if (std::isnan(want[i])) {
        ASSERT_TRUE(std::isnan(got[i])) << "cache element " << i << " outside the chunk was written";
        continue;
      }
      e += (got[i] - want[i]) * (got[i] - want[i]);
      n += want[i] * want[i];
    }
    EXPECT_LT(std::sqrt(e / n), 1e-4);
  }
}

TEST(RopeKvAppendBatched, NormalPairs) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<fk::rope_norm_kv_append_batched_f32, false>(g, 1, 0);
  check<fk::rope_norm_kv_append_batched_f32, false>(g, 7, 0);
  check<fk::rope_norm_kv_append_batched_f32, false>(g, 40, 113);
}

TEST(RopeKvAppendBatched, NeoxPairs) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<fk::rope_neox_kv_append_batched_f32, true>(g, 7, 31);
}

// Qwen3: head sizes 16 and 128 (two pairs per lane), 9 heads (the last
// threadgroup's SIMD-groups partly idle), a chunk reaching past max_seq.
TEST(QkNormRopeKvAppend, NeoxPairs) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  using K = fk::qk_norm_rope_neox_kv_append_f32;
  check<K, true, mode::qk_norm_rope>(g, 1, 0);
  check<K, true, mode::qk_norm_rope>(g, 7, 31, 128, 6, 3);
  check<K, true, mode::qk_norm_rope>(g, 40, 113, 64, 8, 2);
  check<K, true, mode::qk_norm_rope>(g, 5, 197, 16, 4, 4);
}

TEST(KvAppendBatched, WithoutRope) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check<fk::kv_append_batched_f32, false, mode::append_only>(g, 1, 0);
  check<fk::kv_append_batched_f32, false, mode::append_only>(g, 40, 113, 64, 6, 3);
  check<fk::kv_append_batched_f32, false, mode::append_only>(g, 6, 197);
}

}  // namespace
