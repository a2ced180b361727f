// Host side of the K-quant policies (kernels/policies/q4_k.hpp, q5_k.hpp,
// q6_k.hpp): GGUF super-blocks → sub-block planes (row-major and canonical)
// → dequantize, bit for bit equal to quant::dequantize_row (itself checked
// against the gguf package, tests/unit/k_quants_test.cpp); plane sizes;
// sub-block placement; errors; the GGUF-type → policy mapping.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <kernels/policies/policies.hpp>
#include <kernels/policies/repack.hpp>

namespace {

namespace fd = foundry;
namespace fp = foundry::policies;
namespace quant = foundry::quant;

template <fd::weight_policy P>
void check_round_trip(std::size_t rows, std::size_t k, unsigned seed) {
  SCOPED_TRACE(std::string(P::name.view()) + " rows=" + std::to_string(rows) + " k=" + std::to_string(k));
  std::mt19937 g(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(rows * k);
  for (std::size_t r = 0; r < rows; ++r) {
    const float scale = 0.01f * static_cast<float>(r + 1), shift = 0.003f * static_cast<float>(r % 3);
    for (std::size_t c = 0; c < k; ++c) x[r * k + c] = scale * dist(g) + shift;
  }
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, k));
  quant::quantize_row(fp::ggml_type_of<P>, x.data(), gguf.data(), rows * k);
  std::vector<float> ref(rows * k);
  quant::dequantize_row(fp::ggml_type_of<P>, gguf.data(), ref.data(), rows * k);

  const auto rm = fp::repack<P>(gguf.data(), rows, k, fp::layout::row_major);
  const auto can = fp::repack<P>(gguf.data(), rows, k, fp::layout::canonical);
  for (const auto* planes : {&rm, &can}) {
    EXPECT_EQ(planes->data.size(), fd::data_plane_bytes<P>(rows, k));
    EXPECT_EQ(planes->scales.size(), fd::scale_plane_bytes<P>(rows, k));
    const auto w = fp::dequantize(*planes);
    ASSERT_EQ(w.size(), ref.size());
    EXPECT_EQ(std::memcmp(w.data(), ref.data(), w.size() * sizeof(float)), 0)
        << (planes == &rm ? "row-major" : "canonical") << " planes do not dequantize to dequantize_row";
  }
}

template <fd::weight_policy P>
void check_shapes() {
  unsigned seed = 1;
  for (auto [rows, k] : {std::pair<std::size_t, std::size_t>{1, 256}, {7, 512}, {33, 768}, {3, 1536}})
    check_round_trip<P>(rows, k, seed++);
}

TEST(KQuantRepack, Q4_KRoundTrip) { check_shapes<fp::q4_k>(); }
TEST(KQuantRepack, Q5_KRoundTrip) { check_shapes<fp::q5_k>(); }
TEST(KQuantRepack, Q6_KRoundTrip) { check_shapes<fp::q6_k>(); }

TEST(KQuantRepack, PlaneSizes) {
  static_assert(fp::gguf_bytes<fp::q4_k>(10, 512) == 10 * 2 * 144);
  static_assert(fp::gguf_bytes<fp::q6_k>(3, 1536) == 3 * 6 * 210);
  static_assert(fd::data_plane_bytes<fp::q4_k>(10, 512) == 10 * 16 * 16);
  static_assert(fd::scale_plane_bytes<fp::q4_k>(10, 512) == 10 * 16 * 8);
  static_assert(fd::data_plane_bytes<fp::q5_k>(1, 256) == 256);
  static_assert(fd::scale_plane_bytes<fp::q6_k>(1, 256) == 16 * 4);
  static_assert(fp::sub_blocks_of<fp::q4_k> == 8 && fp::sub_blocks_of<fp::q6_k> == 16 &&
                fp::sub_blocks_of<fp::q4_1> == 1);
}

// Sub-block s of a Q6_K super-block holds weights 16s..16s+15 with scale
// d·scales[s]: a hand-made block with one non-zero scale per sub-block.
TEST(KQuantRepack, Q6_KSubBlockPlacement) {
  std::vector<float> x(256);
  for (std::size_t j = 0; j < 256; ++j) x[j] = static_cast<float>(j / 16 + 1) * (j % 2 ? 1.0f : -1.0f);
  quant::block_q6_k b = quant::q6_k::quantize_block(x.data());
  const auto planes = fp::repack<fp::q6_k>(&b, 1, 256, fp::layout::row_major);
  const auto w = fp::dequantize(planes);
  for (std::size_t j = 0; j < 256; ++j) EXPECT_NEAR(w[j], x[j], 0.02f * std::abs(x[j])) << j;
}

TEST(KQuantRepack, RowsOfPartialSuperBlocksAreRejected) {
  std::vector<std::uint8_t> bytes(4096);
  try {
    (void)fp::repack<fp::q4_k>(bytes.data(), 2, 288, fp::layout::row_major);
    FAIL() << "expected quant_error";
  } catch (const fd::quant_error& e) {
    EXPECT_NE(std::string(e.what()).find("q4_k: rows of 288 weights are not a whole number of 256-weight blocks"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(fp::repack<fp::q6_k>(bytes.data(), 1, 32, fp::layout::canonical), fd::quant_error);
}

TEST(KQuantRepack, GgufTypeToPolicy) {
  auto name_of = [](quant::ggml_type t) {
    return fp::visit_policy(t, [](auto p) { return std::string(decltype(p)::name.view()); });
  };
  EXPECT_EQ(name_of(quant::ggml_type::q4_k), "q4_k");
  EXPECT_EQ(name_of(quant::ggml_type::q5_k), "q5_k");
  EXPECT_EQ(name_of(quant::ggml_type::q6_k), "q6_k");
  EXPECT_TRUE(fp::has_policy(quant::ggml_type::q6_k));
  EXPECT_FALSE(fp::has_policy(quant::ggml_type::q2_k));
}

}  // namespace
