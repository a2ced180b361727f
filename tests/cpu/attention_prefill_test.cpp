// FlashAttention prefill (kernels/attention/flash_prefill.hpp) against a
// float64 causal attention with GQA: chunks of 1, 5, 32, 33 and 70 queries,
// starting at position 0 and later (the cache holding earlier tokens), head
// dims 64 and 128. Outputs are poisoned (NaN) first.
//
// Tolerance: each output is a softmax-weighted mean of values, computed in
// float32 (dot products of 64-128 terms, exp, a running rescale per key
// tile); its error is a few float32 ulps of the values' magnitude (~1e-7
// relative), so ‖y − ref‖/‖ref‖ < 1e-5 holds with margin while a wrong
// position, head or mask changes the result by O(1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/attention/flash_prefill.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

struct case_ {
  std::uint32_t batch, pos, n_heads, n_kv, max_seq;
};

template <class K, std::uint32_t D>
void check(std::mt19937_64& g, const case_& c) {
  SCOPED_TRACE(std::string(K::name.view()) + " batch=" + std::to_string(c.batch) + " pos=" + std::to_string(c.pos) +
               " heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv));
  const std::size_t qn = std::size_t{c.batch} * c.n_heads * D, cn = std::size_t{c.n_kv} * c.max_seq * D;
  const auto q = foundry_test::random_vector<float>(g, qn, -1, 1);
  const auto kc = foundry_test::random_vector<float>(g, cn, -1, 1);
  const auto vc = foundry_test::random_vector<float>(g, cn, -1, 1);
  std::vector<double> ref(qn);
  const std::uint32_t group = c.n_heads / c.n_kv;
  for (std::uint32_t i = 0; i < c.batch; ++i)
    for (std::uint32_t h = 0; h < c.n_heads; ++h) {
      const std::uint32_t kv = h / group, keys = c.pos + i + 1;
      const float* qi = &q[(std::size_t{i} * c.n_heads + h) * D];
      std::vector<double> s(keys);
      double mx = -INFINITY;
      for (std::uint32_t p = 0; p < keys; ++p) {
        double t = 0;
        for (std::uint32_t d = 0; d < D; ++d) t += double(qi[d]) * kc[(std::size_t{kv} * c.max_seq + p) * D + d];
        s[p] = t / std::sqrt(double(D));
        mx = std::max(mx, s[p]);
      }
      double l = 0;
      for (auto& v : s) l += (v = std::exp(v - mx));
      for (std::uint32_t d = 0; d < D; ++d) {
        double a = 0;
        for (std::uint32_t p = 0; p < keys; ++p) a += s[p] * vc[(std::size_t{kv} * c.max_seq + p) * D + d];
        ref[(std::size_t{i} * c.n_heads + h) * D + d] = a / l;
      }
    }
  auto& ex = foundry_test::exec();
  fd::buffer qb = ex.upload(q), kb = ex.upload(kc), vb = ex.upload(vc), yb = ex.allocate<float>(qn);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"q">(qb).template set<"k_cache">(kb).template set<"v_cache">(vb).template set<"y">(yb);
  a.template set<"n_heads">(c.n_heads).template set<"n_kv">(c.n_kv).template set<"head_dim">(D);
  a.template set<"max_seq">(c.max_seq).template set<"pos">(c.pos).template set<"batch">(c.batch);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::rel_error(yb.read<float>(), ref), 1e-5);
}

TEST(AttentionPrefill, HeadDim64CausalGqa) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const case_& c : {case_{1, 0, 3, 1, 8}, case_{5, 0, 9, 3, 16}, case_{33, 7, 9, 3, 64}, case_{70, 45, 4, 2, 128},
                         case_{32, 0, 2, 2, 40}})
    check<fk::attention_prefill_f32_d64, 64>(g, c);
}

TEST(AttentionPrefill, HeadDim128CausalGqa) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const case_& c : {case_{7, 3, 8, 2, 16}, case_{40, 100, 4, 1, 160}, case_{1, 12, 2, 1, 13}})
    check<fk::attention_prefill_f32_d128, 128>(g, c);
}

}  // namespace
