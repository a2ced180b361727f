// Batched RoPE + KV append (kernels/attention/rope_kv_append_batched.hpp)
// against a float64 RoPE (Su et al., 2021; adjacent and NeoX pairs) for
// chunks of 1, 7 and 40 tokens starting at positions 0 and later: q rotated
// in place, rotated k and plain v in the caches at pos..pos+batch-1, every
// other cache element untouched (poison).
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
#include <kernels/attention/rope_kv_append_batched.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

template <class K, bool Neox>
void check(std::mt19937_64& g, std::uint32_t batch, std::uint32_t pos) {
  SCOPED_TRACE(std::string(K::name.view()) + " batch=" + std::to_string(batch) + " pos=" + std::to_string(pos));
  const std::uint32_t n_heads = 6, n_kv = 2, d = 16, max_seq = 200;
  const float base = 10000.0f;
  auto q = foundry_test::random_vector<float>(g, std::size_t{batch} * n_heads * d, -1, 1);
  const auto k = foundry_test::random_vector<float>(g, std::size_t{batch} * n_kv * d, -1, 1);
  const auto v = foundry_test::random_vector<float>(g, std::size_t{batch} * n_kv * d, -1, 1);
  const std::size_t cn = std::size_t{n_kv} * max_seq * d;
  std::vector<double> rq(q.size()), rk(cn, std::nan("")), rv(cn, std::nan(""));
  auto rotate = [&](const float* x, double* out, std::uint32_t at, std::size_t out_stride_unused) {
    (void)out_stride_unused;
    for (std::uint32_t i = 0; i < d / 2; ++i) {
      const std::uint32_t e0 = Neox ? i : 2 * i, e1 = Neox ? i + d / 2 : 2 * i + 1;
      const double a = at * std::pow(double(base), -2.0 * i / d);
      out[e0] = x[e0] * std::cos(a) - x[e1] * std::sin(a);
      out[e1] = x[e0] * std::sin(a) + x[e1] * std::cos(a);
    }
  };
  for (std::uint32_t m = 0; m < batch; ++m) {
    for (std::uint32_t h = 0; h < n_heads; ++h)
      rotate(&q[(std::size_t{m} * n_heads + h) * d], &rq[(std::size_t{m} * n_heads + h) * d], pos + m, 0);
    for (std::uint32_t h = 0; h < n_kv; ++h) {
      const std::size_t src = (std::size_t{m} * n_kv + h) * d, dst = (std::size_t{h} * max_seq + pos + m) * d;
      rotate(&k[src], &rk[dst], pos + m, 0);
      for (std::uint32_t e = 0; e < d; ++e) rv[dst + e] = v[src + e];
    }
  }
  auto& ex = foundry_test::exec();
  fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(v), kc = ex.allocate<float>(cn),
             vc = ex.allocate<float>(cn);
  kc.fill_bytes(0xFF);
  vc.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"q">(qb).template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc);
  a.template set<"v_cache">(vc).template set<"n_heads">(n_heads).template set<"n_kv">(n_kv);
  a.template set<"head_dim">(d).template set<"max_seq">(max_seq).template set<"pos">(pos);
  a.template set<"freq_base">(base).template set<"batch">(batch);
  ex.dispatch<K>(a);
  ex.synchronize();
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

}  // namespace
