// Host side of the weight policies (kernels/policies/repack.hpp): GGUF rows
// quantized with ggml's reference quantizers → planes (row-major and
// canonical) → dequantize, bit for bit equal to quant::dequantize_row; plane
// sizes and block placement; the nibble repacking on a hand-made block; the
// GGUF-type → policy mapping.
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

/// A fresh seed per run (FOUNDRY_TEST_SEED replays one), reported on failure.
std::uint64_t seed() {
  static const std::uint64_t s = [] {
    if (const char* e = std::getenv("FOUNDRY_TEST_SEED")) return std::uint64_t(std::strtoull(e, nullptr, 10));
    std::random_device rd;
    return (std::uint64_t(rd()) << 32) ^ rd();
  }();
  return s;
}

/// [rows, k] floats, each row on its own scale (as weight rows differ), as
/// GGUF blocks of P's type.
template <fd::weight_policy P>
std::vector<std::uint8_t> gguf_rows(std::mt19937_64& g, std::size_t rows, std::size_t k) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), scale(0.01f, 4.0f), shift(-0.5f, 0.5f);
  std::vector<std::uint8_t> out(fp::gguf_bytes<P>(rows, k));
  const std::size_t row_bytes = out.size() / rows;
  std::vector<float> row(k);
  for (std::size_t r = 0; r < rows; ++r) {
    const float s = scale(g), o = shift(g);
    for (auto& v : row) v = s * u(g) + o;
    quant::quantize_row(fp::ggml_type_of<P>, row.data(), out.data() + r * row_bytes, k);
  }
  return out;
}

template <fd::weight_policy P>
void check_round_trip(std::size_t rows, std::size_t k) {
  SCOPED_TRACE(std::string(P::name.view()) + " rows=" + std::to_string(rows) + " k=" + std::to_string(k) +
               " seed " + std::to_string(seed()) + " (FOUNDRY_TEST_SEED)");
  std::mt19937_64 g(seed() ^ (rows * 1315423911u + k));
  const auto gguf = gguf_rows<P>(g, rows, k);
  std::vector<float> ref(rows * k);
  quant::dequantize_row(fp::ggml_type_of<P>, gguf.data(), ref.data(), rows * k);

  const auto rm = fp::repack<P>(gguf.data(), rows, k, fp::layout::row_major);
  const auto can = fp::repack<P>(gguf.data(), rows, k, fp::layout::canonical);
  for (const auto* planes : {&rm, &can}) {
    EXPECT_EQ(planes->data.size(), fd::data_plane_bytes<P>(rows, k));
    EXPECT_EQ(planes->scales.size(), fd::scale_plane_bytes<P>(rows, k));
    EXPECT_EQ(planes->rows, rows);
    EXPECT_EQ(planes->k, k);
    const auto w = fp::dequantize(*planes);
    ASSERT_EQ(w.size(), ref.size());
    EXPECT_EQ(std::memcmp(w.data(), ref.data(), w.size() * sizeof(float)), 0)
        << (planes == &rm ? "row-major" : "canonical") << " planes do not dequantize to dequantize_row";
  }
  // Canonical block (n, kb) is row-major block (n, kb), moved to kb·N + n.
  const std::size_t nb = k / P::weights_per_block;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t kb = 0; kb < nb; ++kb) {
      const std::size_t i = r * nb + kb, j = kb * rows + r;
      ASSERT_EQ(rm.block_index(r, kb), i);
      ASSERT_EQ(can.block_index(r, kb), j);
      ASSERT_EQ(std::memcmp(rm.data.data() + i * P::block_bytes, can.data.data() + j * P::block_bytes,
                            P::block_bytes),
                0);
      if (P::scale_bytes) {
        ASSERT_EQ(std::memcmp(rm.scales.data() + i * P::scale_bytes, can.scales.data() + j * P::scale_bytes,
                              P::scale_bytes),
                  0);
      }
    }
}

template <fd::weight_policy P>
void check_shapes() {
  for (auto [rows, k] : {std::pair<std::size_t, std::size_t>{1, 32}, {7, 64}, {33, 96}, {5, 576}, {3, 1536}})
    check_round_trip<P>(rows, k);
}

TEST(Repack, Q8_0RoundTrip) { check_shapes<fp::q8_0>(); }
TEST(Repack, Q4_0RoundTrip) { check_shapes<fp::q4_0>(); }
TEST(Repack, Q4_1RoundTrip) { check_shapes<fp::q4_1>(); }
TEST(Repack, F16RoundTrip) {
  check_shapes<fp::f16>();
  check_round_trip<fp::f16>(3, 33);  // plain formats take any k
}
TEST(Repack, F32RoundTrip) {
  check_shapes<fp::f32>();
  check_round_trip<fp::f32>(4, 7);
}

// Data plane byte i of a Q4 block: element 2i (low nibble), 2i+1 (high).
TEST(Repack, NibblesOfAHandMadeQ4_1Block) {
  quant::block_q4_1 b{};
  b.d = fd::half(2.0f);
  b.m = fd::half(-3.0f);
  int code[32];
  for (int j = 0; j < 32; ++j) code[j] = (j * 7 + 3) % 16;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(code[j] | (code[j + 16] << 4));
  const auto planes = fp::repack<fp::q4_1>(&b, 1, 32, fp::layout::row_major);
  ASSERT_EQ(planes.data.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(planes.data[i] & 0x0f, code[2 * i]) << i;
    EXPECT_EQ(planes.data[i] >> 4, code[2 * i + 1]) << i;
  }
  ASSERT_EQ(planes.scales.size(), 4u);
  fd::half d, m;
  std::memcpy(&d, planes.scales.data(), 2);
  std::memcpy(&m, planes.scales.data() + 2, 2);
  EXPECT_EQ(float(d), 2.0f);
  EXPECT_EQ(float(m), -3.0f);
  const auto w = fp::dequantize(planes);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w[j], 2.0f * code[j] - 3.0f) << j;
}

TEST(Repack, Q4_0OffsetAndQ8_0Sign) {
  quant::block_q4_0 b4{};
  b4.d = fd::half(0.25f);
  for (int j = 0; j < 16; ++j) b4.qs[j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
  const auto w4 = fp::dequantize(fp::repack<fp::q4_0>(&b4, 1, 32, fp::layout::canonical));
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w4[j], 0.25f * ((j < 16 ? j : 31 - j) - 8)) << j;

  quant::block_q8_0 b8{};
  b8.d = fd::half(0.5f);
  for (int j = 0; j < 32; ++j) b8.qs[j] = static_cast<std::int8_t>(j % 2 ? -128 + j : 127 - j);
  const auto p8 = fp::repack<fp::q8_0>(&b8, 1, 32, fp::layout::row_major);
  const auto w8 = fp::dequantize(p8);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w8[j], 0.5f * b8.qs[j]) << j;
}

TEST(Repack, PartialBlocksAreRejected) {
  std::vector<std::uint8_t> bytes(1024);
  EXPECT_THROW(fp::repack<fp::q4_1>(bytes.data(), 2, 48, fp::layout::row_major), fd::quant_error);
  EXPECT_THROW(fp::repack<fp::q8_0>(bytes.data(), 1, 31, fp::layout::canonical), fd::quant_error);
}

TEST(Repack, GgufTypeToPolicy) {
  static_assert(fp::ggml_type_of<fp::q8_0> == quant::ggml_type::q8_0);
  static_assert(fp::ggml_type_of<fp::q4_0> == quant::ggml_type::q4_0);
  static_assert(fp::ggml_type_of<fp::q4_1> == quant::ggml_type::q4_1);
  static_assert(fp::ggml_type_of<fp::f16> == quant::ggml_type::f16);
  static_assert(fp::ggml_type_of<fp::f32> == quant::ggml_type::f32);
  static_assert(fp::gguf_bytes<fp::q4_1>(576, 1536) == 576 * 48 * 20);
  static_assert(fp::gguf_bytes<fp::q8_0>(49152, 576) == 49152ull * 18 * 34);
  auto name_of = [](quant::ggml_type t) {
    return fp::visit_policy(t, [](auto p) { return std::string(decltype(p)::name.view()); });
  };
  EXPECT_EQ(name_of(quant::ggml_type::q4_1), "q4_1");
  EXPECT_EQ(name_of(quant::ggml_type::q4_0), "q4_0");
  EXPECT_EQ(name_of(quant::ggml_type::q8_0), "q8_0");
  EXPECT_EQ(name_of(quant::ggml_type::f16), "f16");
  EXPECT_EQ(name_of(quant::ggml_type::f32), "f32");
  EXPECT_TRUE(fp::has_policy(quant::ggml_type::q4_1));
  EXPECT_FALSE(fp::has_policy(quant::ggml_type::q3_k));
  EXPECT_THROW(name_of(quant::ggml_type::q5_0), fd::quant_error);
}

}  // namespace
