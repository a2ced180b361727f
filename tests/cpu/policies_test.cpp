// The Metal loaders of every weight policy, run on the CPU backend by a probe
// kernel that calls `load_weights<N>`, `dot<N>`, `load_scale` and
// `load_affine` on every N-run of one row, compared with the GGUF formulas
// (foundry/quant/ggml_blocks.hpp) of the blocks the planes were made from.
//
// Codes, scales and minimums are compared exactly (they are small integers
// and halves); d·q (+ m) rebuilt from them is compared bit for bit with
// quant::dequantize_row. `dot<N>` accumulates N ≤ 32 products in float:
// its error is below 32 ulp of Σ|q·x|, so the bound 1e-5·Σ|q·x| is loose by
// ~10x yet far below any wrong code (≥ |x_i| ≈ 0.1·Σ|q·x|/N).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/policies/policies.hpp>
#include <kernels/policies/repack.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fp = foundry::policies;
namespace quant = foundry::quant;

namespace {

/// Size source: the number of N-runs of a k-element row.
template <unsigned N>
struct runs_of_k {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return fd::argument<"k">(a).value / N;
  }
};

/// Probe stage: thread c handles the run [c·N, c·N + N) of one row-major row
/// (planes `data`, `scales`) and writes the loaders' results: `q[c·N + i]`
/// (load_weights), `dots[c]` (dot with x), `d[c]`, `m[c]` (load_scale,
/// load_affine of the run's block).
template <fd::weight_policy P, unsigned N>
struct policy_probe {
  static constexpr fd::fixed_string name = "policy_probe";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using policies = fd::type_list<P>;
  using arguments = fd::type_list<fd::arg<"data", fd::input<std::byte>>, fd::arg<"scales", fd::input<std::byte>>,
                                  fd::arg<"x", fd::input<float>>, fd::arg<"k", fd::scalar<std::uint32_t>>,
                                  fd::arg<"q", fd::output<float>>, fd::arg<"dots", fd::output<float>>,
                                  fd::arg<"d", fd::output<float>>, fd::arg<"m", fd::output<float>>>;
  static constexpr fd::ct_string emit() {
    const fd::ct_string p(P::metal_name), n = fd::to_text(N);
    return "const uint c = $thread_position_in_grid.x;\n"
           "if (c < $k / " + n + "u) {\n"
           "  const uint k0 = c * " + n + "u;\n"
           "  float qv[" + n + "];\n"
           "  " + p + "::load_weights<" + n + ">($data, k0, qv);\n"
           "  float xv[" + n + "];\n"
           "  for (int i = 0; i < " + n + "; ++i) { $q[k0 + i] = qv[i]; xv[i] = $x[k0 + i]; }\n"
           "  $dots[c] = " + p + "::dot<" + n + ">($data, k0, xv);\n"
           "  const uint b = k0 / " + fd::to_text(P::weights_per_block) + "u;\n"
           "  $d[c] = " + p + "::load_scale($scales, b);\n"
           "  $m[c] = " + p + "::load_affine($scales, b);\n"
           "}";
  }
};

constexpr std::size_t digits(unsigned n) { return n < 10 ? 1 : 1 + digits(n / 10); }
/// `N` in decimal, as a fixed_string (for kernel names).
template <unsigned N>
constexpr fd::fixed_string<digits(N)> decimal() {
  char buf[digits(N)] = {};
  unsigned v = N;
  for (std::size_t i = digits(N); i-- > 0; v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  return fd::fixed_string<digits(N)>(std::string_view(buf, digits(N)));
}

template <fd::weight_policy P, unsigned N>
using probe_kernel = fd::fused_kernel<fd::fixed_string("probe_") + P::name + fd::fixed_string("_") +
                                          decimal<N>(),
                                      fd::per_element<runs_of_k<N>, 64>, policy_probe<P, N>>;

using foundry_test::exec;
/// The GGUF code (as the loader should return it) and formula of weight j
/// of block `blk` of a GGUF row.
struct gguf_weight {
  float q, d, m, w;
};
template <fd::weight_policy P>
gguf_weight gguf_formula(const std::vector<std::uint8_t>& row, std::size_t i) {
  const std::size_t blk = i / P::weights_per_block, j = i % P::weights_per_block;
  if constexpr (P::weights_per_block == 1) {
    float v[1];
    quant::dequantize_row(fp::ggml_type_of<P>, row.data() + i * P::block_bytes, v, 1);
    return {v[0], 1.0f, 0.0f, v[0]};
  } else {
    using F = typename P::gguf_format;
    typename F::block b;
    std::memcpy(&b, row.data() + blk * F::type_size, sizeof b);
    if constexpr (std::is_same_v<P, fp::q8_0>) {
      return {float(b.qs[j]), float(b.d), 0.0f, float(b.qs[j]) * float(b.d)};
    } else if constexpr (std::is_same_v<P, fp::q4_0>) {  // w = d·(q − 8): the loader returns q − 8
      const float q = float(F::code(b, j) - 8);
      return {q, float(b.d), 0.0f, q * float(b.d)};
    } else {  // Q4_1: w = d·q + m
      const float q = float(F::code(b, j));
      return {q, float(b.d), float(b.m), q * float(b.d) + float(b.m)};
    }
  }
}

template <fd::weight_policy P, unsigned N>
void check_probe(std::mt19937_64& g) {
  using K = probe_kernel<P, N>;
  SCOPED_TRACE(std::string(K::name.view()));
  const std::uint32_t k = 256;  // 8 blocks of 32: runs in every block and at every offset
  auto wf = foundry_test::random_vector<float>(g, k, -2, 2);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(1, k));
  quant::quantize_row(fp::ggml_type_of<P>, wf.data(), gguf.data(), k);
  std::vector<float> ref(k);
  quant::dequantize_row(fp::ggml_type_of<P>, gguf.data(), ref.data(), k);
  const auto planes = fp::repack<P>(gguf.data(), 1, k, fp::layout::row_major);
  auto x = foundry_test::random_vector<float>(g, k, -1, 1);

  auto& ex = exec();
  const std::vector<std::uint8_t> scales = planes.scales.empty() ? std::vector<std::uint8_t>(4) : planes.scales;
  fd::buffer db = ex.upload(planes.data), sb = ex.upload(scales), xb = ex.upload(x);
  fd::buffer qb = ex.allocate<float>(k), dotb = ex.allocate<float>(k / N), dsb = ex.allocate<float>(k / N),
             msb = ex.allocate<float>(k / N);
  for (fd::buffer* b : {&qb, &dotb, &dsb, &msb}) b->fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"data">(db).template set<"scales">(sb).template set<"x">(xb).template set<"k">(k);
  a.template set<"q">(qb).template set<"dots">(dotb).template set<"d">(dsb).template set<"m">(msb);
  ex.dispatch<K>(a);
  ex.synchronize();
  const auto q = qb.read<float>(), dots = dotb.read<float>(), d = dsb.read<float>(), m = msb.read<float>();

  int bad = 0;
  for (std::uint32_t i = 0; i < k && bad < 5; ++i) {
    const gguf_weight e = gguf_formula<P>(gguf, i);
    const std::uint32_t c = i / N;
    const float w = P::has_affine ? q[i] * d[c] + m[c] : (P::has_scale ? q[i] * d[c] : q[i]);
    if (q[i] != e.q || d[c] != e.d || m[c] != e.m || std::memcmp(&w, &ref[i], sizeof w) != 0 || w != e.w) {
      ADD_FAILURE() << "weight " << i << ": loader q=" << q[i] << " d=" << d[c] << " m=" << m[c] << " w=" << w
                    << "; GGUF q=" << e.q << " d=" << e.d << " m=" << e.m << " w=" << e.w
                    << " dequantize_row=" << ref[i];
      ++bad;
    }
  }
  for (std::uint32_t c = 0; c < k / N; ++c) {
    double s = 0, mag = 0;
    for (std::uint32_t i = c * N; i < c * N + N; ++i) {
      s += double(gguf_formula<P>(gguf, i).q) * x[i];
      mag += std::fabs(double(gguf_formula<P>(gguf, i).q) * x[i]);
    }
    EXPECT_LE(std::fabs(dots[c] - s), 1e-5 * mag + 1e-30) << "run " << c << " dot " << dots[c] << " vs " << s;
  }
}

template <fd::weight_policy P, unsigned... Ns>
void check_all(std::mt19937_64& g) {
  exec().prepare<probe_kernel<P, Ns>...>();
  (check_probe<P, Ns>(g), ...);
}

TEST(Policies, Q8_0LoadersMatchGguf) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_all<fp::q8_0, 1, 2, 4, 8, 16, 32>(g);
}
TEST(Policies, Q4_0LoadersMatchGguf) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_all<fp::q4_0, 1, 2, 4, 8, 16, 32>(g);
}
TEST(Policies, Q4_1LoadersMatchGguf) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_all<fp::q4_1, 1, 2, 4, 8, 16, 32>(g);
}
TEST(Policies, F16AndF32LoadersMatchGguf) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_all<fp::f16, 1, 4, 8>(g);
  check_all<fp::f32, 1, 4, 8>(g);
}

// Every code value reaches the loaders: a block whose codes run through
// 0..15 (Q4) or -128..127 (Q8_0), built by hand rather than quantized.
TEST(Policies, EveryCodeValue) {
  auto& ex = exec();
  {
    quant::block_q4_1 b{};
    b.d = fd::half(0.5f);
    b.m = fd::half(-1.0f);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
    const auto planes = fp::repack<fp::q4_1>(&b, 1, 32, fp::layout::row_major);
    using K = probe_kernel<fp::q4_1, 32>;
    fd::buffer db = ex.upload(planes.data), sb = ex.upload(planes.scales),
               xb = ex.upload(std::vector<float>(32, 1.0f));
    fd::buffer qb = ex.allocate<float>(32), o1 = ex.allocate<float>(1), o2 = ex.allocate<float>(1),
               o3 = ex.allocate<float>(1);
    K::arguments a;
    a.set<"data">(db).set<"scales">(sb).set<"x">(xb).set<"k">(32u).set<"q">(qb).set<"dots">(o1).set<"d">(o2).set<"m">(o3);
    ex.dispatch<K>(a);
    const auto q = qb.read<float>();
    for (int j = 0; j < 32; ++j) EXPECT_EQ(q[j], float(j < 16 ? j : 15 - (j - 16))) << j;
    EXPECT_EQ(o1.read<float>()[0], 2.0f * (15 * 16 / 2));
    EXPECT_EQ(o2.read<float>()[0], 0.5f);
    EXPECT_EQ(o3.read<float>()[0], -1.0f);
  }
  {
    std::vector<quant::block_q8_0> blocks(8);
    for (int i = 0; i < 256; ++i) blocks[i / 32].qs[i % 32] = static_cast<std::int8_t>(i - 128);
    for (auto& b : blocks) b.d = fd::half(1.0f);
    const auto planes = fp::repack<fp::q8_0>(blocks.data(), 1, 256, fp::layout::row_major);
    using K = probe_kernel<fp::q8_0, 32>;
    fd::buffer db = ex.upload(planes.data), sb = ex.upload(planes.scales),
               xb = ex.upload(std::vector<float>(256, 1.0f));
    fd::buffer qb = ex.allocate<float>(256), o1 = ex.allocate<float>(8), o2 = ex.allocate<float>(8),
               o3 = ex.allocate<float>(8);
    K::arguments a;
    a.set<"data">(db).set<"scales">(sb).set<"x">(xb).set<"k">(256u).set<"q">(qb).set<"dots">(o1).set<"d">(o2).set<"m">(o3);
    ex.dispatch<K>(a);
    const auto q = qb.read<float>();
    for (int i = 0; i < 256; ++i) EXPECT_EQ(q[i], float(i - 128)) << i;
  }
}

}  // namespace
