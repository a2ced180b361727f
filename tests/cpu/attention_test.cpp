// KV-cache append and decode attention (kernels/attention/) on the CPU
// backend, against float64 references.
//
// Attention tolerance: each score is a float dot product of head_dim ≤ 128
// terms and each output a float sum over ≤ 257 positions of softmax-weighted
// values, with float exp and a final division: the relative error
// ‖out − ref‖/‖ref‖ is a few 1e-7; 1e-5 leaves margin and still catches a
// wrong head, group, position range, scale or softmax (errors of 1e-2 and
// more). Half caches are compared with a reference built from the stored
// half values (exact in float), so the same tolerance applies. Cache rows
// after `pos` are filled with NaN: reading any of them (a causality bug)
// makes the output NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/attention/attention.hpp>
#include <kernels/attention/flash_decode.hpp>
#include <kernels/attention/kv_cache.hpp>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

using foundry_test::exec;
using foundry_test::rel_error;
struct attn_shape {
  std::uint32_t n_heads, n_kv, head_dim;
};

/// Float64 decode attention: q [n_heads, d], caches [n_kv, max_seq, d] (as
/// floats), positions 0..pos.
std::vector<double> attention_ref(const attn_shape& s, std::uint32_t max_seq, std::uint32_t pos,
                                  const std::vector<float>& q, const std::vector<float>& kc,
                                  const std::vector<float>& vc) {
  const std::uint32_t d = s.head_dim, group = s.n_heads / s.n_kv;
  std::vector<double> y(std::size_t{s.n_heads} * d, 0.0);
  for (std::uint32_t h = 0; h < s.n_heads; ++h) {
    const std::size_t base = std::size_t{h / group} * max_seq * d;
    std::vector<double> w(pos + 1);
    double m = -std::numeric_limits<double>::infinity();
    for (std::uint32_t p = 0; p <= pos; ++p) {
      double dot = 0;
      for (std::uint32_t e = 0; e < d; ++e) dot += double(q[h * d + e]) * kc[base + std::size_t{p} * d + e];
      w[p] = dot / std::sqrt(double(d));
      m = std::max(m, w[p]);
    }
    double sum = 0;
    for (double& x : w) sum += (x = std::exp(x - m));
    for (std::uint32_t p = 0; p <= pos; ++p)
      for (std::uint32_t e = 0; e < d; ++e) y[h * d + e] += w[p] / sum * vc[base + std::size_t{p} * d + e];
  }
  return y;
}

template <class T>
std::vector<float> to_float(const std::vector<T>& v) {
  return std::vector<float>(v.begin(), v.end());
}

/// Random caches [n_kv, max_seq, d] with rows after pos set to NaN.
template <class T>
std::vector<T> causal_cache(std::mt19937_64& g, const attn_shape& s, std::uint32_t max_seq, std::uint32_t pos) {
  auto c = foundry_test::random_vector<float>(g, std::size_t{s.n_kv} * max_seq * s.head_dim, -1, 1);
  for (std::uint32_t h = 0; h < s.n_kv; ++h)
    for (std::uint32_t p = pos + 1; p < max_seq; ++p)
      for (std::uint32_t e = 0; e < s.head_dim; ++e)
        c[(std::size_t{h} * max_seq + p) * s.head_dim + e] = std::numeric_limits<float>::quiet_NaN();
  return std::vector<T>(c.begin(), c.end());
}

template <class K, class T>
void check_attention(const attn_shape& s, std::uint32_t max_seq, std::initializer_list<std::uint32_t> positions) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::size_t nq = std::size_t{s.n_heads} * s.head_dim;
  fd::buffer y = ex.allocate<float>(nq + 4);  // 4 guard elements
  for (std::uint32_t pos : positions) {
    SCOPED_TRACE(std::string(K::name.view()) + " heads=" + std::to_string(s.n_heads) + "/" + std::to_string(s.n_kv) +
                 " d=" + std::to_string(s.head_dim) + " max_seq=" + std::to_string(max_seq) +
                 " pos=" + std::to_string(pos));
    // Scores of O(1) and larger, so the softmax is far from uniform.
    auto q = foundry_test::random_vector<float>(g, nq, -3, 3);
    const auto kc = causal_cache<T>(g, s, max_seq, pos), vc = causal_cache<T>(g, s, max_seq, pos);
    fd::buffer qb = ex.upload(q), kb = ex.upload(kc), vb = ex.upload(vc);
    y.fill_bytes(0xFF);
    typename K::arguments a;
    a.template set<"q">(qb).template set<"k_cache">(kb).template set<"v_cache">(vb).template set<"y">(y);
    a.template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv).template set<"head_dim">(s.head_dim);
    a.template set<"max_seq">(max_seq).template set<"pos">(pos);
    ex.dispatch<K>(a);
    const auto out = y.read<float>();
    EXPECT_LT(rel_error(out, attention_ref(s, max_seq, pos, q, to_float(kc), to_float(vc))), 1e-5);
    for (std::size_t i = nq; i < nq + 4; ++i) EXPECT_TRUE(std::isnan(out[i])) << "guard element " << i;
  }
}

// SmolLM2: 9 query heads, 3 KV heads (groups of 3), head_dim 64.
TEST(Attention, SmolLM2ShapesF32) {
  check_attention<fk::attention_decode_f32, float>({9, 3, 64}, 256, {0, 1, 17, 200, 255});
}
// head_dim 128: grouped (32/8), multi-query (5/1), multi-head (4/4); fewer
// positions than SIMD-groups (pos 0..6 with 8 SIMD-groups) are covered by
// pos 0, 1.
TEST(Attention, HeadDim128F32) {
  check_attention<fk::attention_decode_f32, float>({32, 8, 128}, 257, {0, 1, 17, 200});
  check_attention<fk::attention_decode_f32, float>({5, 1, 128}, 300, {0, 3, 299});
  check_attention<fk::attention_decode_f32, float>({4, 4, 128}, 64, {33});
}
// head_dim not a multiple of 32 (lanes with fewer elements), and 256.
TEST(Attention, OddHeadDimsF32) {
  check_attention<fk::attention_decode_f32, float>({6, 2, 80}, 40, {0, 39});
  check_attention<fk::attention_decode_f32, float>({2, 1, 256}, 20, {19});
  check_attention<fk::attention_decode_f32, float>({3, 3, 1}, 9, {8});
}
TEST(Attention, HalfCaches) {
  check_attention<fk::attention_decode_f16, fd::half>({9, 3, 64}, 256, {0, 17, 200});
  check_attention<fk::attention_decode_f16, fd::half>({8, 2, 128}, 256, {1, 255});
}

// Shapes the kernel does not support write nothing (the host is expected to
// reject them): pos ≥ max_seq, n_heads not a multiple of n_kv, head_dim > 256.
TEST(Attention, UnsupportedShapesWriteNothing) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  struct bad {
    attn_shape s;
    std::uint32_t max_seq, pos;
  };
  for (const bad& b : {bad{{9, 3, 64}, 16, 16}, bad{{9, 4, 64}, 16, 3}, bad{{2, 1, 288}, 4, 1}}) {
    const std::size_t nq = std::size_t{b.s.n_heads} * b.s.head_dim;
    auto q = foundry_test::random_vector<float>(g, nq, -1, 1);
    auto c = foundry_test::random_vector<float>(g, std::size_t{b.s.n_kv} * b.max_seq * b.s.head_dim, -1, 1);
    fd::buffer qb = ex.upload(q), kb = ex.upload(c), vb = ex.upload(c), y = ex.allocate<float>(nq);
    y.fill_bytes(0xFF);
    fk::attention_decode_f32::arguments a;
    a.set<"q">(qb).set<"k_cache">(kb).set<"v_cache">(vb).set<"y">(y).set<"n_heads">(b.s.n_heads);
    a.set<"n_kv">(b.s.n_kv).set<"head_dim">(b.s.head_dim).set<"max_seq">(b.max_seq).set<"pos">(b.pos);
    ex.dispatch<fk::attention_decode_f32>(a);
    for (float v : y.read<float>()) ASSERT_TRUE(std::isnan(v));
  }
}

// Flash-decoding (flash_decode.hpp) against the same float64 reference and
// tolerance: each split is the single-threadgroup recurrence over fewer
// positions, and the merge adds one rescale per split (a few more float
// roundings); the `_position_buffer` form must give the same bits.
// `partials` and `y` are poisoned (NaN) so a split state the merge reads
// but pass 1 never wrote, or an output never written, fails the check;
// split counts above the position count leave empty splits, which must
// merge as nothing.
void check_flash_decode(const attn_shape& s, std::uint32_t max_seq, std::initializer_list<std::uint32_t> positions,
                        std::initializer_list<std::uint32_t> split_counts) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::size_t nq = std::size_t{s.n_heads} * s.head_dim;
  fd::buffer y = ex.allocate<float>(nq + 4);  // 4 guard elements
  for (std::uint32_t pos : positions) {
    auto q = foundry_test::random_vector<float>(g, nq, -3, 3);
    const auto kc = causal_cache<float>(g, s, max_seq, pos), vc = causal_cache<float>(g, s, max_seq, pos);
    fd::buffer qb = ex.upload(q), kb = ex.upload(kc), vb = ex.upload(vc);
    const auto ref = attention_ref(s, max_seq, pos, q, kc, vc);
    for (std::uint32_t splits : split_counts) {
      SCOPED_TRACE("heads=" + std::to_string(s.n_heads) + "/" + std::to_string(s.n_kv) + " d=" +
                   std::to_string(s.head_dim) + " pos=" + std::to_string(pos) + " splits=" + std::to_string(splits));
      fd::buffer partials = ex.allocate<float>(std::size_t{s.n_heads} * splits * (s.head_dim + 2));
      partials.fill_bytes(0xFF);
      y.fill_bytes(0xFF);
      fk::attention_flash_decode(ex, qb, kb, vb, partials, y, s.n_heads, s.n_kv, s.head_dim, max_seq, pos, splits);
      const auto out = y.read<float>();
      EXPECT_LT(rel_error(out, ref), 1e-5);
      for (std::size_t i = nq; i < nq + 4; ++i) EXPECT_TRUE(std::isnan(out[i])) << "guard element " << i;
      // The `_position_buffer` kernels: the same text but for where the
      // position comes from, so the same bits.
      partials.fill_bytes(0xFF);
      y.fill_bytes(0xFF);
      fd::buffer position = ex.upload(std::vector<std::uint32_t>{pos});
      fk::attention_flash_decode(ex, qb, kb, vb, partials, y, s.n_heads, s.n_kv, s.head_dim, max_seq,
                                 fd::buffer_ref(position), splits);
      const auto got = y.read<float>();  // bit patterns: the NaN guard elements compare equal too
      EXPECT_EQ(std::memcmp(got.data(), out.data(), out.size() * sizeof(float)), 0) << "position in device memory";
      // Element lanes, pass 1's other GPU layout (the same CPU form): the
      // scores and weights summed in another order, so against float64.
      partials.fill_bytes(0xFF);
      y.fill_bytes(0xFF);
      fk::attention_flash_decode(ex, qb, kb, vb, partials, y, s.n_heads, s.n_kv, s.head_dim, max_seq,
                                 fd::buffer_ref(position), splits, fk::flash_merge::combine_kernel,
                                 fk::split_lanes::elements);
      const auto by_elements = y.read<float>();
      EXPECT_LT(rel_error(by_elements, ref), 1e-5) << "element lanes";
      for (std::size_t i = nq; i < nq + 4; ++i) EXPECT_TRUE(std::isnan(by_elements[i])) << "guard element " << i;
      // Pass 2 folded into pass 1 (the last threadgroup of each KV head
      // merges, with the combine kernel's arithmetic): against float64,
      // twice with one counter buffer, which each run must leave zero for
      // the next.
      fd::buffer counters = ex.upload(std::vector<std::uint32_t>(s.n_kv, 0));
      for (int run = 0; run < 2; ++run) {
        partials.fill_bytes(0xFF);
        y.fill_bytes(0xFF);
        fk::attention_flash_decode_merged(ex, qb, kb, vb, partials, counters, y, s.n_heads, s.n_kv, s.head_dim,
                                          max_seq, fd::buffer_ref(position), splits);
        const auto merged = y.read<float>();
        EXPECT_LT(rel_error(merged, ref), 1e-5) << "merged by pass 1, run " << run;
        for (std::size_t i = nq; i < nq + 4; ++i) EXPECT_TRUE(std::isnan(merged[i])) << "guard element " << i;
        EXPECT_EQ(counters.read<std::uint32_t>(), std::vector<std::uint32_t>(s.n_kv, 0)) << "run " << run;
      }
    }
  }
}

// SmolLM2 (9/3 heads, d 64); GQA groups of 4, 6 and 8 (the largest
// supported), multi-head, head_dim not a multiple of 32, and one not a
// multiple of 4 (position lanes then load K element by element; groups of
// up to 4 take attention_split_f32_g4, larger ones attention_split_f32);
// one split, several, more splits than positions, splits of more than 32
// positions (several steps of position lanes), and the count
// flash_decode_splits picks.
TEST(FlashDecode, MatchesFloat64) {
  check_flash_decode({9, 3, 64}, 300, {0, 2, 40, 299}, {1, 3, 7, fk::flash_decode_splits(300)});
  check_flash_decode({32, 8, 128}, 257, {0, 100, 256}, {1, 5, 64});
  check_flash_decode({8, 1, 96}, 70, {69}, {2, 9});
  check_flash_decode({4, 4, 80}, 33, {1, 32}, {4});
  check_flash_decode({12, 2, 64}, 50, {49}, {3});  // 6 heads per KV head: the 8-head form
  check_flash_decode({6, 2, 37}, 80, {0, 79}, {1, 3});
}

// Flash-decoding with RoPE and the KV-cache append folded into pass 1
// (`attention_flash_decode_rope`) against the separate kernels
// (`rope_*_kv_append_f32`, then `attention_flash_decode` with the same split
// count): the same float operations in another kernel, so the caches and y
// must agree to float rounding (1e-6). Row `pos` of the caches is NaN
// before the run, so a split that failed to append the token poisons y; q
// and k must come back unmodified. Shapes: SmolLM2's (groups of 3), a
// group of 6 (the 8-head form), head_dim 80 (NeoX partners in other lanes,
// a partial last lane column); a split count with empty splits.
TEST(FlashDecode, FoldedRopeMatchesSeparateKernels) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  struct shape_case {
    attn_shape s;
    std::uint32_t max_seq, pos, splits;
  };
  for (const fk::rope_pairing pairing : {fk::rope_pairing::normal, fk::rope_pairing::neox})
    for (const shape_case& c : {shape_case{{9, 3, 64}, 300, 299, 10}, shape_case{{9, 3, 64}, 40, 0, 3},
                                shape_case{{12, 2, 64}, 50, 17, 4}, shape_case{{4, 4, 80}, 33, 5, 9}}) {
      const attn_shape& s = c.s;
      SCOPED_TRACE("heads=" + std::to_string(s.n_heads) + "/" + std::to_string(s.n_kv) + " d=" +
                   std::to_string(s.head_dim) + " pos=" + std::to_string(c.pos) +
                   (pairing == fk::rope_pairing::neox ? " neox" : " normal"));
      const std::size_t nq = std::size_t{s.n_heads} * s.head_dim, nk = std::size_t{s.n_kv} * s.head_dim;
      const auto q = foundry_test::random_vector<float>(g, nq, -3, 3);
      const auto k = foundry_test::random_vector<float>(g, nk, -2, 2), v = foundry_test::random_vector<float>(g, nk, -2, 2);
      auto kc0 = causal_cache<float>(g, s, c.max_seq, c.pos), vc0 = causal_cache<float>(g, s, c.max_seq, c.pos);
      for (std::uint32_t h = 0; h < s.n_kv; ++h)
        for (std::uint32_t e = 0; e < s.head_dim; ++e)
          kc0[(std::size_t{h} * c.max_seq + c.pos) * s.head_dim + e] =
              vc0[(std::size_t{h} * c.max_seq + c.pos) * s.head_dim + e] = std::numeric_limits<float>::quiet_NaN();
      const std::size_t n_part = std::size_t{s.n_heads} * c.splits * (s.head_dim + 2);
      // The separate kernels.
      fd::buffer qa = ex.upload(q), ka = ex.upload(k), va = ex.upload(v), kca = ex.upload(kc0), vca = ex.upload(vc0);
      fd::buffer pa = ex.allocate<float>(n_part), ya = ex.allocate<float>(nq);
      auto rope = [&]<class K>(K*) {
        typename K::arguments r;
        r.template set<"q">(qa).template set<"k">(ka).template set<"v">(va).template set<"k_cache">(kca);
        r.template set<"v_cache">(vca).template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv);
        r.template set<"head_dim">(s.head_dim).template set<"max_seq">(c.max_seq).template set<"pos">(c.pos);
        r.template set<"freq_base">(10000.0f);
        ex.dispatch<K>(r);
      };
      if (pairing == fk::rope_pairing::neox)
        rope(static_cast<fk::rope_neox_kv_append_f32*>(nullptr));
      else
        rope(static_cast<fk::rope_norm_kv_append_f32*>(nullptr));
      fk::attention_flash_decode(ex, qa, kca, vca, pa, ya, s.n_heads, s.n_kv, s.head_dim, c.max_seq, c.pos, c.splits);
      // Folded.
      fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(v), kcb = ex.upload(kc0), vcb = ex.upload(vc0);
      fd::buffer pb = ex.allocate<float>(n_part), yb = ex.allocate<float>(nq);
      fd::buffer position = ex.upload(std::vector<std::uint32_t>{c.pos});
      pb.fill_bytes(0xFF);
      yb.fill_bytes(0xFF);
      fk::attention_flash_decode_rope(ex, qb, kb, vb, kcb, vcb, pb, yb, s.n_heads, s.n_kv, s.head_dim, c.max_seq,
                                      position, c.splits, 10000.0f, pairing);
      const auto ya_v = ya.read<float>();
      EXPECT_LT(rel_error(yb.read<float>(), std::vector<double>(ya_v.begin(), ya_v.end())), 1e-6);
      // Rows past pos stay NaN in both; row pos holds the appended token.
      const auto kca_v = kca.read<float>(), kcb_v = kcb.read<float>();
      for (std::size_t i = 0; i < kca_v.size(); ++i)
        ASSERT_TRUE(std::isnan(kca_v[i]) ? std::isnan(kcb_v[i]) : std::abs(kcb_v[i] - kca_v[i]) <= 1e-6f * (1 + std::abs(kca_v[i])))
            << "k_cache element " << i << ": " << kcb_v[i] << " vs " << kca_v[i];
      const auto vca_v = vca.read<float>(), vcb_v = vcb.read<float>();
      EXPECT_EQ(std::memcmp(vca_v.data(), vcb_v.data(), vca_v.size() * sizeof(float)), 0) << "v_cache";
      EXPECT_EQ(qb.read<float>(), q) << "q is left unrotated";
      EXPECT_EQ(kb.read<float>(), k) << "k is left unrotated";
    }
}

TEST(FlashDecode, SplitCounts) {
  EXPECT_EQ(fk::flash_decode_splits(1), 1u);
  EXPECT_EQ(fk::flash_decode_splits(32), 1u);
  EXPECT_EQ(fk::flash_decode_splits(33), 2u);
  EXPECT_EQ(fk::flash_decode_splits(100000), 64u);
  EXPECT_EQ(fk::flash_decode_splits(100, 10, 4), 4u);
  EXPECT_THROW(fk::flash_decode_splits(10, 0), fd::dispatch_error);
}

// The host entry point rejects what the kernels cannot do (more than 8
// query heads per KV head, head_dim above 128, n_heads not a multiple of
// n_kv, pos past the cache, no split) before dispatching; the kernels
// alone write nothing for such shapes.
TEST(FlashDecode, UnsupportedShapes) {
  auto& ex = exec();
  auto g = foundry_test::rng();
  fd::buffer big = ex.upload(foundry_test::random_vector<float>(g, 1 << 16, -1, 1));
  fd::buffer part = ex.allocate<float>(1 << 16), y = ex.allocate<float>(1 << 12);
  auto call = [&](std::uint32_t h, std::uint32_t kv, std::uint32_t d, std::uint32_t max_seq, std::uint32_t pos,
                  std::uint32_t splits) {
    fk::attention_flash_decode(ex, big, big, big, part, y, h, kv, d, max_seq, pos, splits);
  };
  EXPECT_THROW(call(9, 1, 64, 16, 3, 2), fd::dispatch_error);
  EXPECT_THROW(call(2, 1, 160, 16, 3, 2), fd::dispatch_error);
  EXPECT_THROW(call(9, 4, 64, 16, 3, 2), fd::dispatch_error);
  EXPECT_THROW(call(9, 3, 64, 16, 16, 2), fd::dispatch_error);
  EXPECT_THROW(call(9, 3, 64, 16, 3, 0), fd::dispatch_error);
  // A K cache bound 4 bytes into a buffer: its rows would not be 16-byte
  // aligned for the position lanes' K loads.
  EXPECT_THROW(fk::attention_flash_decode(ex, big, big.at(4), big, part, y, 9, 3, 64, 16, 3, 2),
               fd::dispatch_error);
  y.fill_bytes(0xFF);
  part.fill_bytes(0xFF);
  fk::attention_split_f32::arguments a;
  a.set<"q">(big).set<"k_cache">(big).set<"v_cache">(big).set<"partials">(part).set<"n_heads">(9u);
  a.set<"n_kv">(1u).set<"head_dim">(64u).set<"max_seq">(16u).set<"pos">(3u).set<"splits">(2u);
  ex.dispatch<fk::attention_split_f32>(a);
  fk::attention_combine_f32::arguments b;
  b.set<"partials">(part).set<"y">(y).set<"n_heads">(9u).set<"n_kv">(1u).set<"head_dim">(64u);
  b.set<"max_seq">(16u).set<"pos">(3u).set<"splits">(2u);
  ex.dispatch<fk::attention_combine_f32>(b);
  for (float v : y.read<float>()) ASSERT_TRUE(std::isnan(v));
  for (float v : part.read<float>()) ASSERT_TRUE(std::isnan(v));
}

// The `_position_buffer` kernels (position in device memory, for decode
// steps recorded once and replayed) against their scalar-`pos` twins: the
// same text but for where the position comes from, so the outputs must be
// bit-identical; `advance_position` adds one.
TEST(PositionBuffer, KernelsMatchScalarPosition) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const attn_shape s{9, 3, 64};
  const std::uint32_t max_seq = 40, pos = 23, d = s.head_dim;
  fd::buffer position = ex.upload(std::vector<std::uint32_t>{pos});
  const std::size_t nq = std::size_t{s.n_heads} * d, nk = std::size_t{s.n_kv} * d;
  const auto q = foundry_test::random_vector<float>(g, nq, -3, 3);
  const auto k = foundry_test::random_vector<float>(g, nk, -2, 2), v = foundry_test::random_vector<float>(g, nk, -2, 2);
  const auto c0 = foundry_test::random_vector<float>(g, nk * max_seq, -1, 1);
  // RoPE + KV append, then attention, through each family.
  auto run = [&]<class Rope, class Append, class Attention>() {
    constexpr bool buffer = Rope::name.view().ends_with("_position_buffer");
    fd::buffer qb = ex.upload(q), kb = ex.upload(k), vb = ex.upload(v), kc = ex.upload(c0), vc = ex.upload(c0);
    fd::buffer kc2 = ex.upload(c0), vc2 = ex.upload(c0), y = ex.allocate<float>(nq);
    y.fill_bytes(0xFF);
    typename Rope::arguments r;
    r.template set<"q">(qb).template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc);
    r.template set<"v_cache">(vc).template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv);
    r.template set<"head_dim">(d).template set<"max_seq">(max_seq).template set<"freq_base">(10000.0f);
    if constexpr (buffer) r.template set<"position">(position); else r.template set<"pos">(pos);
    ex.dispatch<Rope>(r);
    typename Append::arguments a;
    a.template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc2).template set<"v_cache">(vc2);
    a.template set<"n_kv">(s.n_kv).template set<"head_dim">(d).template set<"max_seq">(max_seq);
    if constexpr (buffer) a.template set<"position">(position); else a.template set<"pos">(pos);
    ex.dispatch<Append>(a);
    typename Attention::arguments t;
    t.template set<"q">(qb).template set<"k_cache">(kc).template set<"v_cache">(vc).template set<"y">(y);
    t.template set<"n_heads">(s.n_heads).template set<"n_kv">(s.n_kv).template set<"head_dim">(d);
    t.template set<"max_seq">(max_seq);
    if constexpr (buffer) t.template set<"position">(position); else t.template set<"pos">(pos);
    ex.dispatch<Attention>(t);
    return std::vector<std::vector<float>>{qb.read<float>(), kc.read<float>(), vc.read<float>(), kc2.read<float>(),
                                           y.read<float>()};
  };
  const auto want = run.template operator()<fk::rope_norm_kv_append_f32, fk::kv_append_f32, fk::attention_decode_f32>();
  const auto got = run.template operator()<fk::rope_norm_kv_append_f32_position_buffer, fk::kv_append_f32_position_buffer,
                                           fk::attention_decode_f32_position_buffer>();
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "output " << i;
  EXPECT_NE(want[1], c0) << "the cache row at pos was written";
  const auto neox = run.template operator()<fk::rope_neox_kv_append_f32, fk::kv_append_f32, fk::attention_decode_f32>();
  const auto neox_b = run.template operator()<fk::rope_neox_kv_append_f32_position_buffer,
                                              fk::kv_append_f32_position_buffer,
                                              fk::attention_decode_f32_position_buffer>();
  EXPECT_EQ(neox_b, neox);
  fk::advance_position::arguments adv;
  adv.set<"position">(position);
  ex.dispatch<fk::advance_position>(adv);
  ex.dispatch<fk::advance_position>(adv);
  EXPECT_EQ(position.read<std::uint32_t>()[0], pos + 2);
}

template <class K, class T>
void check_kv_append(double tol) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (const attn_shape& s : {attn_shape{9, 3, 64}, attn_shape{8, 8, 128}, attn_shape{1, 1, 3}})
    for (std::uint32_t pos : {0u, 1u, 17u, 200u, 256u}) {
      SCOPED_TRACE(std::string(K::name.view()) + " n_kv=" + std::to_string(s.n_kv) + " d=" +
                   std::to_string(s.head_dim) + " pos=" + std::to_string(pos));
      const std::uint32_t max_seq = 257, d = s.head_dim;
      const std::size_t nk = std::size_t{s.n_kv} * d;
      auto k = foundry_test::random_vector<float>(g, nk, -2, 2), v = foundry_test::random_vector<float>(g, nk, -2, 2);
      const auto c0 = foundry_test::random_vector<float>(g, nk * max_seq, -1, 1);
      const std::vector<T> cache0(c0.begin(), c0.end());
      fd::buffer kb = ex.upload(k), vb = ex.upload(v), kc = ex.upload(cache0), vc = ex.upload(cache0);
      typename K::arguments a;
      a.template set<"k">(kb).template set<"v">(vb).template set<"k_cache">(kc).template set<"v_cache">(vc);
      a.template set<"n_kv">(s.n_kv).template set<"head_dim">(d).template set<"max_seq">(max_seq).template set<"pos">(pos);
      ex.dispatch<K>(a);
      const auto ko = to_float(kc.template read<T>()), vo = to_float(vc.template read<T>());
      std::vector<float> krow, vrow;
      std::size_t changed = 0;
      for (std::uint32_t h = 0; h < s.n_kv; ++h)
        for (std::uint32_t p = 0; p < max_seq; ++p)
          for (std::uint32_t e = 0; e < d; ++e) {
            const std::size_t i = (std::size_t{h} * max_seq + p) * d + e;
            if (p == pos) {
              krow.push_back(ko[i]);
              vrow.push_back(vo[i]);
            } else {
              changed += ko[i] != float(cache0[i]) || vo[i] != float(cache0[i]);
            }
          }
      EXPECT_EQ(changed, 0u) << "rows other than pos were written";
      EXPECT_LE(rel_error(krow, std::vector<double>(k.begin(), k.end())), tol);
      EXPECT_LE(rel_error(vrow, std::vector<double>(v.begin(), v.end())), tol);
    }
}

// A float cache stores the values exactly; a half cache rounds each to
// nearest (relative error ≤ 2^-11 per element).
TEST(KvAppend, F32) { check_kv_append<fk::kv_append_f32, float>(0.0); }
TEST(KvAppend, F16) { check_kv_append<fk::kv_append_f16, fd::half>(std::ldexp(1.0, -11)); }

// Decode steps of one layer of SmolLM2's shape: append k, v at positions
// 0..P with kv_append_f32 into layer 1 of a two-layer cache (bound with a
// buffer offset), then attend at P; layer 0 must stay untouched.
TEST(Attention, AppendThenAttendWithLayerOffset) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const attn_shape s{9, 3, 64};
  const std::uint32_t max_seq = 256, layers = 2, layer = 1, steps = 18;
  const std::size_t layer_elems = std::size_t{s.n_kv} * max_seq * s.head_dim, nk = std::size_t{s.n_kv} * s.head_dim;
  const auto init = foundry_test::random_vector<float>(g, layers * layer_elems, -1, 1);
  fd::buffer kc = ex.upload(init), vc = ex.upload(init);
  const std::size_t offset = layer * layer_elems * sizeof(float);
  std::vector<float> kref(layer_elems), vref(layer_elems);
  fd::buffer y = ex.allocate<float>(std::size_t{s.n_heads} * s.head_dim);
  for (std::uint32_t pos = 0; pos < steps; ++pos) {
    auto k = foundry_test::random_vector<float>(g, nk, -2, 2), v = foundry_test::random_vector<float>(g, nk, -2, 2);
    for (std::uint32_t h = 0; h < s.n_kv; ++h)
      for (std::uint32_t e = 0; e < s.head_dim; ++e) {
        kref[(std::size_t{h} * max_seq + pos) * s.head_dim + e] = k[h * s.head_dim + e];
        vref[(std::size_t{h} * max_seq + pos) * s.head_dim + e] = v[h * s.head_dim + e];
      }
    fd::buffer kb = ex.upload(k), vb = ex.upload(v);
    fk::kv_append_f32::arguments ap;
    ap.set<"k">(kb).set<"v">(vb).set<"k_cache">(kc.at(offset)).set<"v_cache">(vc.at(offset));
    ap.set<"n_kv">(s.n_kv).set<"head_dim">(s.head_dim).set<"max_seq">(max_seq).set<"pos">(pos);
    ex.dispatch<fk::kv_append_f32>(ap);

    auto q = foundry_test::random_vector<float>(g, std::size_t{s.n_heads} * s.head_dim, -3, 3);
    fd::buffer qb = ex.upload(q);
    y.fill_bytes(0xFF);
    fk::attention_decode_f32::arguments at;
    at.set<"q">(qb).set<"k_cache">(kc.at(offset)).set<"v_cache">(vc.at(offset)).set<"y">(y);
    at.set<"n_heads">(s.n_heads).set<"n_kv">(s.n_kv).set<"head_dim">(s.head_dim).set<"max_seq">(max_seq);
    at.set<"pos">(pos);
    ex.dispatch<fk::attention_decode_f32>(at);
    EXPECT_LT(rel_error(y.read<float>(), attention_ref(s, max_seq, pos, q, kref, vref)), 1e-5) << "pos " << pos;
  }
  const auto k_all = kc.read<float>();
  EXPECT_TRUE(std::equal(init.begin(), init.begin() + std::ptrdiff_t(layer_elems), k_all.begin()))
      << "layer 0 was written";
}

}  // namespace
