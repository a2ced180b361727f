// Embedding lookup through weight policies (kernels/embedding/embedding.hpp)
// on the CPU backend.
//
// Reference: the table row in float64. For F32/F16 it is the stored value;
// for the block formats it is ggml's reference dequantization
// (quant::dequantize_row) of the GGUF blocks the planes were repacked from,
// so the check covers repack, the policy's Metal loader and the kernel's
// block addressing. Each output is one product d·q (plus m for Q4_1) in
// float, exactly what ggml computes, up to an FMA contraction: relative
// error ‖out − ref‖/‖ref‖ below 1e-6 (a wrong row, block or nibble gives
// O(1)).
#include <gtest/gtest.h>

#include <cmath>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/embedding/embedding.hpp>
#include <kernels/policies/repack.hpp>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

namespace {

using foundry_test::exec;
using foundry_test::rel_error;
/// A table [rows, hidden] on the device in policy P (planes in `lay`), and
/// its float reference.
template <class P>
struct table {
  fd::buffer data, scales;
  std::vector<float> ref;  // row-major [rows, hidden]
};

template <class P>
table<P> make_table(std::mt19937_64& g, std::uint32_t rows, std::uint32_t hidden, fp::layout lay) {
  auto& ex = exec();
  auto w = foundry_test::random_vector<float>(g, std::size_t{rows} * hidden, -1, 1);
  table<P> t;
  if constexpr (std::is_same_v<P, fp::f32> || std::is_same_v<P, fp::f16>) {
    std::vector<typename P::element_type> stored(w.begin(), w.end());
    t.ref.assign(stored.begin(), stored.end());
    t.data = ex.upload(stored);
  } else {
    const auto type = fp::ggml_type_of<P>;
    std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, hidden));
    const std::size_t row_bytes = gguf.size() / rows;
    t.ref.resize(w.size());
    for (std::uint32_t r = 0; r < rows; ++r) {
      fd::quant::quantize_row(type, w.data() + std::size_t{r} * hidden, gguf.data() + r * row_bytes, hidden);
      fd::quant::dequantize_row(type, gguf.data() + r * row_bytes, t.ref.data() + std::size_t{r} * hidden, hidden);
    }
    const auto planes = fp::repack<P>(gguf.data(), rows, hidden, lay);
    t.data = ex.upload(planes.data);
    t.scales = ex.upload(planes.scales);
  }
  return t;
}

template <class K, class P, class Args>
void bind_table(Args& a, const table<P>& t) {
  a.template set<"table">(t.data);
  if constexpr (P::has_scale) a.template set<"table_scales">(t.scales);
}

/// Looks up `tokens` (plus one out-of-range id, which must write nothing).
template <class K, class P>
void check_lookup(std::uint32_t rows, std::uint32_t hidden, fp::layout lay, std::vector<std::uint32_t> tokens) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const table<P> t = make_table<P>(g, rows, hidden, lay);
  fd::buffer y = ex.allocate<float>(hidden + 3);  // 3 guard elements
  for (std::uint32_t tok : tokens) {
    SCOPED_TRACE(std::string(K::name.view()) + " rows=" + std::to_string(rows) + " hidden=" + std::to_string(hidden) +
                 " token=" + std::to_string(tok));
    y.fill_bytes(0xFF);
    typename K::arguments a;
    bind_table<K>(a, t);
    a.template set<"token">(tok).template set<"n_vocab">(rows).template set<"hidden">(hidden).template set<"y">(y);
    ex.dispatch<K>(a);
    const auto out = y.read<float>();
    std::vector<double> ref(t.ref.begin() + std::ptrdiff_t(tok) * hidden, t.ref.begin() + std::ptrdiff_t(tok + 1) * hidden);
    EXPECT_LT(rel_error(out, ref), 1e-6);
    for (std::uint32_t i = hidden; i < hidden + 3; ++i) EXPECT_TRUE(std::isnan(out[i])) << "guard element " << i;
  }
  // An id past the table reads and writes nothing.
  y.fill_bytes(0xFF);
  typename K::arguments a;
  bind_table<K>(a, t);
  a.template set<"token">(rows).template set<"n_vocab">(rows).template set<"hidden">(hidden).template set<"y">(y);
  ex.dispatch<K>(a);
  for (float v : y.read<float>()) ASSERT_TRUE(std::isnan(v)) << "an out-of-range token wrote the output";
}

// Odd sizes (hidden not a multiple of 32 or of the 64 threads per
// threadgroup) for the plain formats; first, last and middle rows.
TEST(Embedding, F32) {
  check_lookup<fk::embedding_f32, fp::f32>(7, 33, fp::layout::row_major, {0, 3, 6});
  check_lookup<fk::embedding_f32, fp::f32>(300, 576, fp::layout::row_major, {0, 1, 17, 299});
}
TEST(Embedding, F16) {
  check_lookup<fk::embedding_f16, fp::f16>(5, 100, fp::layout::row_major, {0, 4, 2});
  check_lookup<fk::embedding_f16, fp::f16>(1000, 577, fp::layout::row_major, {0, 999, 500});
}
TEST(Embedding, Q4_0) { check_lookup<fk::embedding_q4_0, fp::q4_0>(37, 96, fp::layout::row_major, {0, 36, 5}); }
TEST(Embedding, Q4_1) { check_lookup<fk::embedding_q4_1, fp::q4_1>(37, 96, fp::layout::row_major, {0, 36, 5}); }
TEST(Embedding, Q8_0OddShapes) {
  check_lookup<fk::embedding_q8_0, fp::q8_0>(3, 32, fp::layout::row_major, {0, 1, 2});
  check_lookup<fk::embedding_q8_0, fp::q8_0>(101, 160, fp::layout::row_major, {100, 0, 57});
}
TEST(Embedding, Q8_0CanonicalLayout) {
  check_lookup<fk::embedding_q8_0_canonical, fp::q8_0>(101, 160, fp::layout::canonical, {100, 0, 57});
}

// SmolLM2's token_embd: Q8_0, 49152 rows of 576.
TEST(Embedding, Q8_0SmolLM2Table) {
  check_lookup<fk::embedding_q8_0, fp::q8_0>(49152, 576, fp::layout::row_major, {0, 1, 2, 12345, 49151});
}

// The token id read from a device buffer (argmax's output in a decode loop).
TEST(Embedding, Q8_0TokenFromBuffer) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::uint32_t rows = 1000, hidden = 576;
  const table<fp::q8_0> t = make_table<fp::q8_0>(g, rows, hidden, fp::layout::row_major);
  fd::buffer y = ex.allocate<float>(hidden);
  for (std::uint32_t tok : {0u, 999u, 421u, rows}) {
    SCOPED_TRACE("token=" + std::to_string(tok));
    fd::buffer id = ex.upload(std::vector<std::uint32_t>{tok});
    y.fill_bytes(0xFF);
    fk::embedding_q8_0_token_buffer::arguments a;
    a.set<"table">(t.data).set<"table_scales">(t.scales).set<"token_id">(id).set<"n_vocab">(rows);
    a.set<"hidden">(hidden).set<"y">(y);
    ex.dispatch<fk::embedding_q8_0_token_buffer>(a);
    const auto out = y.read<float>();
    if (tok < rows) {
      std::vector<double> ref(t.ref.begin() + std::ptrdiff_t(tok) * hidden,
                              t.ref.begin() + std::ptrdiff_t(tok + 1) * hidden);
      EXPECT_LT(rel_error(out, ref), 1e-6);
    } else {
      for (float v : out) ASSERT_TRUE(std::isnan(v));
    }
  }
}

}  // namespace
