// ggml block formats (foundry/quant/ggml_blocks.hpp): type table, block
// layouts, hand-computed blocks, bytes identical to ggml's reference
// quantizers, exact round trips of representable values, and per-element
// error bounds that follow from each format on pseudo-random data.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <foundry/quant/ggml_blocks.hpp>

namespace {

namespace quant = foundry::quant;
using foundry::bfloat;
using foundry::half;
using quant::ggml_type;

// ------------------------------------------------------------ helpers --

/// Deterministic uniform floats in [lo, hi) from mt19937 (whose output is
/// fixed by the standard, unlike the distributions).
class rng {
 public:
  explicit rng(std::uint32_t seed) : gen_(seed) {}
  float uniform(float lo, float hi) {
    const float u = static_cast<float>(gen_() >> 8) * 0x1p-24f;
    return lo + (hi - lo) * u;
  }
  /// Roughly normal (sum of four uniforms), mean 0, deviation `sigma`.
  float normal(float sigma) {
    float s = 0;
    for (int i = 0; i < 4; ++i) s += uniform(-1.0f, 1.0f);
    return s * sigma * 0.866f;
  }
  std::uint32_t below(std::uint32_t n) { return gen_() % n; }

 private:
  std::mt19937 gen_;
};

/// Test data sets: each a multiple of 32 weights.
std::vector<std::vector<float>> sample_rows() {
  std::vector<std::vector<float>> rows;
  rng r(1234);
  auto make = [&](auto f) {
    std::vector<float> v(32 * 64);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = f(i);
    rows.push_back(std::move(v));
  };
  make([&](std::size_t) { return r.normal(1.0f); });
  make([&](std::size_t) { return r.uniform(-3.0f, 5.0f); });
  make([&](std::size_t) { return r.uniform(0.25f, 0.75f); });  // all positive, narrow
  make([&](std::size_t) { return r.uniform(-9.0f, -2.0f); });  // all negative
  make([&](std::size_t i) { return r.normal(0.02f) * (i % 29 == 0 ? 40.0f : 1.0f); });  // outliers
  make([&](std::size_t) { return r.normal(3e-6f); });  // scales in half's subnormal range
  make([&](std::size_t) { return r.normal(2000.0f); });
  make([&](std::size_t i) { return (i / 32) % 3 == 0 ? 0.0f : r.normal(1.0f); });  // zero blocks
  return rows;
}

constexpr float eps = std::numeric_limits<float>::epsilon();

float amax_of(const float* x, std::size_t n) {
  float a = 0;
  for (std::size_t j = 0; j < n; ++j) a = std::max(a, std::fabs(x[j]));
  return a;
}

template <class Format>
std::vector<typename Format::block> quantize(const std::vector<float>& x) {
  std::vector<typename Format::block> blocks(x.size() / Format::block_size);
  Format::quantize_row(x.data(), blocks.data(), x.size());
  return blocks;
}

template <class Format>
std::vector<float> dequantize(const std::vector<typename Format::block>& blocks) {
  std::vector<float> y(blocks.size() * Format::block_size);
  Format::dequantize_row(blocks.data(), y.data(), y.size());
  return y;
}

template <std::size_t N>
std::vector<std::byte> to_bytes(const std::array<unsigned, N>& v) {
  std::vector<std::byte> out;
  for (unsigned b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

// --------------------------------------------------------- type table --

TEST(GgmlTypes, IdsAndBlockGeometryMatchGgml) {
  struct expected {
    std::uint32_t id;
    const char* name;
    std::uint32_t block, bytes;
  };
  const expected table[] = {
      {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
      {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},
      {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},    {10, "Q2_K", 256, 84},
      {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {20, "IQ4_NL", 32, 18},
      {24, "I8", 1, 1},       {28, "F64", 1, 8},      {30, "BF16", 1, 2},
      {39, "MXFP4", 32, 17},
  };
  for (const auto& e : table) {
    const auto* t = quant::find_ggml_type(e.id);
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_EQ(t->name, e.name);
    EXPECT_EQ(t->block_size, e.block) << e.name;
    EXPECT_EQ(t->type_size, e.bytes) << e.name;
    EXPECT_EQ(static_cast<std::uint32_t>(t->type), e.id);
  }
  // Removed or never assigned ids.
  for (std::uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 42u, 200u, 0xffffffffu})
    EXPECT_EQ(quant::find_ggml_type(id), nullptr) << id;
  EXPECT_EQ(quant::to_string(ggml_type::q4_1), "Q4_1");
  EXPECT_EQ(quant::to_string(static_cast<ggml_type>(200)), "unknown");
  EXPECT_EQ(quant::block_size(ggml_type::q6_k), 256u);
  EXPECT_EQ(quant::type_size(static_cast<ggml_type>(4)), 0u);
}

TEST(GgmlTypes, RowBytes) {
  EXPECT_EQ(quant::row_bytes(ggml_type::q4_1, 64), 40u);
  EXPECT_EQ(quant::row_bytes(ggml_type::q8_0, 576), 18u * 34u);
  EXPECT_EQ(quant::row_bytes(ggml_type::f32, 3), 12u);
  EXPECT_EQ(quant::row_bytes(ggml_type::q4_1, 0), 0u);
  EXPECT_FALSE(quant::row_bytes(ggml_type::q4_1, 33));
  EXPECT_FALSE(quant::row_bytes(static_cast<ggml_type>(200), 32));
  EXPECT_FALSE(quant::row_bytes(ggml_type::f32, std::uint64_t{1} << 62));  // 2^64 bytes
  static_assert(quant::row_bytes(ggml_type::q4_0, 256) == 8 * 18);
}

// ------------------------------------------------------------ layouts --

static_assert(sizeof(quant::block_q8_0) == 34);
static_assert(sizeof(quant::block_q4_0) == 18);
static_assert(sizeof(quant::block_q4_1) == 20);
static_assert(offsetof(quant::block_q8_0, qs) == 2);
static_assert(offsetof(quant::block_q4_0, qs) == 2);
static_assert(offsetof(quant::block_q4_1, m) == 2);
static_assert(offsetof(quant::block_q4_1, qs) == 4);

// Hand-computed blocks, evaluated at compile time.
constexpr quant::block_q4_0 q4_0_example{half::from_bits(0x3800),  // d = 0.5
                                         {0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80}};
static_assert(quant::q4_0::dequantize(q4_0_example, 0) == 3.5f);    // (15 - 8) * 0.5
static_assert(quant::q4_0::dequantize(q4_0_example, 16) == -3.5f);  // (1 - 8) * 0.5
static_assert(quant::q4_0::dequantize(q4_0_example, 15) == -4.0f);  // (0 - 8) * 0.5
static_assert(quant::q4_0::dequantize(q4_0_example, 31) == 0.0f);   // (8 - 8) * 0.5
static_assert(quant::q4_0::dequantize(q4_0_example, 1) == -4.0f);   // code 0

constexpr quant::block_q4_1 q4_1_example{half::from_bits(0x3400),  // d = 0.25
                                         half::from_bits(0xbc00),  // m = -1
                                         {0x2f, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
static_assert(quant::q4_1::dequantize(q4_1_example, 0) == 2.75f);   // 15 * 0.25 - 1
static_assert(quant::q4_1::dequantize(q4_1_example, 16) == -0.5f);  // 2 * 0.25 - 1
static_assert(quant::q4_1::dequantize(q4_1_example, 1) == -1.0f);   // 0 * 0.25 - 1
static_assert(quant::q4_1::dequantize(q4_1_example, 17) == 1.25f);  // 9 * 0.25 - 1

constexpr quant::block_q8_0 q8_0_example{half::from_bits(0x3800),  // d = 0.5
                                         {1, -3, -128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0,  0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127}};
static_assert(quant::q8_0::dequantize(q8_0_example, 0) == 0.5f);
static_assert(quant::q8_0::dequantize(q8_0_example, 1) == -1.5f);
static_assert(quant::q8_0::dequantize(q8_0_example, 2) == -64.0f);
static_assert(quant::q8_0::dequantize(q8_0_example, 31) == 63.5f);

TEST(QuantBlocks, DequantizeFromRawBytes) {
  // Q4_1: d = 0.25 (0x3400), m = -1 (0xbc00), then 16 nibble bytes.
  const auto q41 = to_bytes(std::array<unsigned, 20>{
      0x00, 0x34, 0x00, 0xbc, 0x2f, 0x90, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0});
  std::vector<float> y(32);
  quant::q4_1::dequantize_row(q41.data(), y.data(), 32);
  EXPECT_EQ(y[0], 2.75f);
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[2], -0.75f);  // code 1
  EXPECT_EQ(y[15], -1.0f);
  EXPECT_EQ(y[16], -0.5f);
  EXPECT_EQ(y[17], 1.25f);
  EXPECT_EQ(y[31], 2.75f);  // high nibble of qs[15]

  // Q8_0: d = -2 (0xc000), codes 0..31 minus 16.
  std::vector<std::byte> q80{std::byte{0x00}, std::byte{0xc0}};
  for (int j = 0; j < 32; ++j)
    q80.push_back(static_cast<std::byte>(static_cast<std::int8_t>(j - 16)));
  quant::q8_0::dequantize_row(q80.data(), y.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], -2.0f * static_cast<float>(j - 16)) << j;

  // F16 / BF16 / F32 from raw little-endian bytes.
  const auto h = to_bytes(std::array<unsigned, 6>{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b});
  quant::f16::dequantize_row(h.data(), y.data(), 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 65504.0f);
  const auto b = to_bytes(std::array<unsigned, 4>{0x49, 0x40, 0x80, 0xbf});
  quant::bf16::dequantize_row(b.data(), y.data(), 2);
  EXPECT_EQ(y[0], 3.140625f);
  EXPECT_EQ(y[1], -1.0f);
  const auto f = to_bytes(std::array<unsigned, 4>{0x00, 0x00, 0xc0, 0x3f});
  quant::f32::dequantize_row(f.data(), y.data(), 1);
  EXPECT_EQ(y[0], 1.5f);
}

TEST(QuantBlocks, UnalignedStorage) {
  std::vector<float> x(96);
  rng r(7);
  for (float& v : x) v = r.normal(1.0f);
  std::vector<std::byte> aligned(*quant::row_bytes(ggml_type::q4_1, 96));
  std::vector<std::byte> shifted(aligned.size() + 1);
  quant::q4_1::quantize_row(x.data(), aligned.data(), 96);
  quant::q4_1::quantize_row(x.data(), shifted.data() + 1, 96);
  EXPECT_EQ(0, std::memcmp(aligned.data(), shifted.data() + 1, aligned.size()));
  std::vector<float> y0(96), y1(96);
  quant::q4_1::dequantize_row(aligned.data(), y0.data(), 96);
  quant::q4_1::dequantize_row(shifted.data() + 1, y1.data(), 96);
  EXPECT_EQ(y0, y1);
}

// ------------------------------------------------ hand-computed quantizing --

TEST(QuantBlocks, Q4_1HandComputed) {
  // min 0, max 15: d = 1, m = 0, codes equal the values.
  std::array<float, 32> x{};
  for (int j = 0; j < 16; ++j) {
    x[j] = static_cast<float>(j);
    x[j + 16] = static_cast<float>(15 - j);
  }
  const auto b = quant::q4_1::quantize_block(x.data());
  EXPECT_EQ(b.d.bits(), 0x3c00);
  EXPECT_EQ(b.m.bits(), 0x0000);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | ((15 - j) << 4)) << j;
}

TEST(QuantBlocks, Q4_0HandComputed) {
  // Largest magnitude -4 (first), so d = -4 / -8 = 0.5 and code = 2x + 8.
  std::array<float, 32> x{};
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 8) * 0.5f;
  auto b = quant::q4_0::quantize_block(x.data());
  EXPECT_EQ(b.d.bits(), 0x3800);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | (j << 4)) << j;

  // Largest magnitude +4: d = -0.5; -4 would need code 16 and is clamped to
  // 15, i.e. -3.5: an error of |d|, as in ggml.
  x.fill(0.0f);
  x[0] = 4.0f;
  x[1] = -4.0f;
  x[2] = 1.0f;
  b = quant::q4_0::quantize_block(x.data());
  EXPECT_EQ(b.d.bits(), 0xb800);
  EXPECT_EQ(quant::q4_0::code(b, 0), 0);
  EXPECT_EQ(quant::q4_0::code(b, 1), 15);
  EXPECT_EQ(quant::q4_0::code(b, 2), 6);  // 1 * -2 + 8.5 -> 6
  EXPECT_EQ(quant::q4_0::dequantize(b, 0), 4.0f);
  EXPECT_EQ(quant::q4_0::dequantize(b, 1), -3.5f);
  EXPECT_EQ(quant::q4_0::dequantize(b, 2), 1.0f);
  EXPECT_EQ(quant::q4_0::code(b, 3), 8);
}

TEST(QuantBlocks, Q8_0HandComputed) {
  // amax 16: d = 16/127 = 0.12598..., half 0x3008 = 0.1259765625; codes
  // round(x * 127 / 16).
  std::array<float, 32> x{};
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  const auto b = quant::q8_0::quantize_block(x.data());
  EXPECT_EQ(b.d.bits(), 0x3008);
  EXPECT_EQ(b.qs[0], -127);  // -16 * 7.9375
  EXPECT_EQ(b.qs[1], -119);  // -15 * 7.9375 = -119.06
  EXPECT_EQ(b.qs[15], -8);   // -1 * 7.9375
  EXPECT_EQ(b.qs[16], 0);
  EXPECT_EQ(b.qs[18], 16);   // 2 * 7.9375 = 15.875
  EXPECT_EQ(b.qs[31], 119);  // 15 * 7.9375 = 119.06
}

TEST(QuantBlocks, ZeroBlocks) {
  const std::array<float, 32> zeros{};
  const auto b8 = quant::q8_0::quantize_block(zeros.data());
  EXPECT_EQ(b8.d.bits(), 0);
  for (auto q : b8.qs) EXPECT_EQ(q, 0);
  const auto b40 = quant::q4_0::quantize_block(zeros.data());
  EXPECT_EQ(b40.d.bits(), 0x8000);  // 0 / -8 = -0, as in ggml
  for (auto q : b40.qs) EXPECT_EQ(q, 0x88);  // code 8 = zero
  const auto b41 = quant::q4_1::quantize_block(zeros.data());
  EXPECT_EQ(b41.d.bits(), 0);
  EXPECT_EQ(b41.m.bits(), 0);
  for (auto q : b41.qs) EXPECT_EQ(q, 0);
  std::array<float, 32> y{};
  quant::q4_0::dequantize_block(b40, y.data());
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

// Bytes produced by the ggml project's reference quantizers (quantize_row_*_ref,
// as mirrored by its `gguf` Python package) for two blocks:
//   x[j]      = ((37 j) mod 101 - 50) / 13      (mixed signs)
//   x[32 + j] = 0.3 + ((11 j) mod 32) / 29      (all positive)
std::vector<float> golden_input() {
  std::vector<float> x(64);
  for (int j = 0; j < 32; ++j) {
    x[j] = static_cast<float>((j * 37) % 101 - 50) / 13.0f;
    x[32 + j] = 0.3f + static_cast<float>((j * 11) % 32) / 29.0f;
  }
  return x;
}

template <class Format, std::size_t N>
void expect_golden(const std::array<unsigned, N>& expected) {
  const auto x = golden_input();
  std::vector<std::byte> got(N);
  ASSERT_EQ(*quant::row_bytes(Format::type, 64), N);
  Format::quantize_row(x.data(), got.data(), 64);
  EXPECT_EQ(got, to_bytes(expected)) << Format::name;
}

TEST(QuantBlocks, BytesMatchGgmlReferenceQuantizers) {
  expect_golden<quant::q8_0>(std::array<unsigned, 68>{
      0xc1, 0x27, 0x81, 0xdf, 0x3d, 0x9a, 0xf8, 0x56, 0xb4, 0x12, 0x70, 0xcd, 0x2b, 0x89,
      0xe7, 0x45, 0xa2, 0x00, 0x5e, 0xbb, 0x19, 0x77, 0xd5, 0x33, 0x90, 0xee, 0x4c, 0xaa,
      0x08, 0x66, 0xc3, 0x21, 0x7f, 0xdc, 0x85, 0x21, 0x1c, 0x3f, 0x62, 0x1f, 0x42, 0x65,
      0x22, 0x45, 0x69, 0x25, 0x49, 0x6c, 0x29, 0x4c, 0x6f, 0x2c, 0x4f, 0x72, 0x2f, 0x52,
      0x75, 0x32, 0x55, 0x79, 0x35, 0x59, 0x7c, 0x39, 0x5c, 0x7f, 0x3c, 0x5f});
  expect_golden<quant::q4_0>(std::array<unsigned, 36>{
      0xb1, 0x37, 0xe0, 0x46, 0xac, 0xf2, 0x58, 0xbd, 0x13, 0x79, 0xdf, 0x35,
      0x8b, 0xe0, 0x46, 0xac, 0xf2, 0x68, 0x7a, 0xb1, 0x36, 0x14, 0x52, 0x36,
      0x14, 0x52, 0x36, 0x04, 0x51, 0x26, 0x03, 0x41, 0x25, 0x03, 0x41, 0x25});
  expect_golden<quant::q4_1>(std::array<unsigned, 40>{
      0x1a, 0x38, 0xb1, 0xc3, 0xd0, 0x36, 0x9b, 0xf1, 0x57, 0xbd, 0x13, 0x69, 0xce, 0x25,
      0x8a, 0xe0, 0x46, 0x9c, 0xf2, 0x58, 0x90, 0x2c, 0xcd, 0x34, 0x80, 0xd5, 0x3b, 0x80,
      0xe6, 0x3b, 0x91, 0xe6, 0x4c, 0x91, 0xf7, 0x4c, 0xa2, 0xf7, 0x5d, 0xa2});
}

// ----------------------------------------------------- exact round trips --

TEST(QuantBlocks, ExactRoundTripF32F16Bf16) {
  std::vector<float> x;
  for (int k = -2048; k <= 2048; ++k) x.push_back(static_cast<float>(k) / 64.0f);  // exact halves
  x.push_back(65504.0f);
  x.push_back(-0x1p-24f);  // smallest half subnormal
  x.push_back(0x1p-14f);
  std::vector<float> y(x.size());

  std::vector<half> h(x.size());
  quant::f16::quantize_row(x.data(), h.data(), x.size());
  quant::f16::dequantize_row(h.data(), y.data(), x.size());
  EXPECT_EQ(x, y);

  std::vector<float> xb;  // exact bfloat16 values: 8 significant bits
  for (int k = -255; k <= 255; ++k) xb.push_back(static_cast<float>(k) * 0x1p-20f);
  xb.push_back(3.0e38f);  // rounds: not exact
  xb.back() = float(bfloat(3.0e38f));
  xb.push_back(0x1p-133f);  // bfloat subnormal, kept
  std::vector<bfloat> b(xb.size());
  std::vector<float> yb(xb.size());
  quant::bf16::quantize_row(xb.data(), b.data(), xb.size());
  quant::bf16::dequantize_row(b.data(), yb.data(), xb.size());
  EXPECT_EQ(xb, yb);

  std::vector<float> z(x.size());
  std::vector<float> yz(x.size());
  quant::f32::quantize_row(x.data(), z.data(), x.size());
  quant::f32::dequantize_row(z.data(), yz.data(), x.size());
  EXPECT_EQ(0, std::memcmp(x.data(), yz.data(), x.size() * sizeof(float)));
}

TEST(QuantBlocks, ExactRoundTripQ8_0) {
  // d a power of two, codes in [-127, 127] with |127| present: exact.
  rng r(11);
  std::vector<float> x(32 * 40);
  for (std::size_t i = 0; i < x.size(); i += 32) {
    const float d = std::ldexp(1.0f, static_cast<int>(r.below(12)) - 8);
    for (std::size_t j = 0; j < 32; ++j)
      x[i + j] = d * static_cast<float>(static_cast<int>(r.below(255)) - 127);
    x[i + r.below(32)] = (r.below(2) != 0 ? 127.0f : -127.0f) * d;
  }
  EXPECT_EQ(dequantize<quant::q8_0>(quantize<quant::q8_0>(x)), x);
}

TEST(QuantBlocks, ExactRoundTripQ4_0) {
  // The first value of largest magnitude is -8 d (code 0), the rest k d with
  // k in [-7, 7]: exact. Also the mirror image, +8 d with d < 0.
  rng r(12);
  std::vector<float> x(32 * 40);
  for (std::size_t i = 0; i < x.size(); i += 32) {
    const float d = std::ldexp(1.0f, static_cast<int>(r.below(10)) - 6);
    const float sign = (i / 32) % 2 == 0 ? 1.0f : -1.0f;
    for (std::size_t j = 0; j < 32; ++j)
      x[i + j] = sign * d * static_cast<float>(static_cast<int>(r.below(15)) - 7);
    x[i + r.below(32)] = sign * -8.0f * d;
  }
  EXPECT_EQ(dequantize<quant::q4_0>(quantize<quant::q4_0>(x)), x);
}

TEST(QuantBlocks, ExactRoundTripQ4_1) {
  // min and d exact in half, d a power of two, codes 0 and 15 present: exact.
  rng r(13);
  std::vector<float> x(32 * 40);
  for (std::size_t i = 0; i < x.size(); i += 32) {
    const float d = std::ldexp(1.0f, static_cast<int>(r.below(8)) - 6);
    const float m = static_cast<float>(static_cast<int>(r.below(64)) - 32) * 0.125f;
    for (std::size_t j = 0; j < 32; ++j) x[i + j] = m + d * static_cast<float>(r.below(16));
    x[i + 3] = m;
    x[i + 20] = m + 15.0f * d;
  }
  const auto blocks = quantize<quant::q4_1>(x);
  EXPECT_EQ(dequantize<quant::q4_1>(blocks), x);
}

// ------------------------------------------------------- error bounds --

TEST(QuantBlocks, Q8_0ErrorBound) {
  for (const auto& x : sample_rows()) {
    const auto blocks = quantize<quant::q8_0>(x);
    const auto y = dequantize<quant::q8_0>(blocks);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const float* xb = x.data() + i * 32;
      const float amax = amax_of(xb, 32);
      const float d = amax / 127.0f;  // the scale the codes were made with
      const float dh = blocks[i].d;   // the stored scale
      const float bound = d / 2 + 127.0f * std::fabs(d - dh) + 4 * eps * amax;
      for (std::size_t j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(xb[j] - y[i * 32 + j]), bound) << "block " << i << " element " << j;
      if (dh >= 0x1p-14f) {  // normal half: relative rounding <= 2^-11
        EXPECT_LE(std::fabs(d - dh), 0x1p-11f * d);
      }
    }
  }
}

TEST(QuantBlocks, Q4_0ErrorBound) {
  for (const auto& x : sample_rows()) {
    const auto blocks = quantize<quant::q4_0>(x);
    const auto y = dequantize<quant::q4_0>(blocks);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const float* xb = x.data() + i * 32;
      float amax = 0, max = 0;
      for (std::size_t j = 0; j < 32; ++j)
        if (amax < std::fabs(xb[j])) amax = std::fabs(xb[j]), max = xb[j];
      const float d = max / -8.0f;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      const float dh = blocks[i].d;
      for (std::size_t j = 0; j < 32; ++j) {
        // Values beyond code 15 (x / d > 7.5) are clamped: error up to |d|.
        const float step = xb[j] * id > 7.5f ? std::fabs(d) : std::fabs(d) / 2;
        const float bound = step + 8.0f * std::fabs(d - dh) + 4 * eps * amax;
        ASSERT_LE(std::fabs(xb[j] - y[i * 32 + j]), bound) << "block " << i << " element " << j;
      }
    }
  }
}

TEST(QuantBlocks, Q4_1ErrorBound) {
  for (const auto& x : sample_rows()) {
    const auto blocks = quantize<quant::q4_1>(x);
    const auto y = dequantize<quant::q4_1>(blocks);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const float* xb = x.data() + i * 32;
      float min = xb[0], max = xb[0];
      for (std::size_t j = 0; j < 32; ++j) min = std::min(min, xb[j]), max = std::max(max, xb[j]);
      const float d = (max - min) / 15.0f;
      const float dh = blocks[i].d;
      const float mh = blocks[i].m;
      const float bound = d / 2 + 15.0f * std::fabs(d - dh) + std::fabs(min - mh) +
                          4 * eps * (std::fabs(min) + std::fabs(max));
      for (std::size_t j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(xb[j] - y[i * 32 + j]), bound) << "block " << i << " element " << j;
    }
  }
}

TEST(QuantBlocks, F16AndBf16ErrorBound) {
  for (const auto& x : sample_rows()) {
    std::vector<half> h(x.size());
    std::vector<bfloat> b(x.size());
    std::vector<float> yh(x.size()), yb(x.size());
    quant::f16::quantize_row(x.data(), h.data(), x.size());
    quant::f16::dequantize_row(h.data(), yh.data(), x.size());
    quant::bf16::quantize_row(x.data(), b.data(), x.size());
    quant::bf16::dequantize_row(b.data(), yb.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      // Half an ulp: 2^-11 relative, 2^-25 absolute below the normal range.
      ASSERT_LE(std::fabs(x[i] - yh[i]), 0x1p-11f * std::fabs(x[i]) + 0x1p-25f) << i;
      ASSERT_LE(std::fabs(x[i] - yb[i]), 0x1p-8f * std::fabs(x[i])) << i;
    }
  }
}

// ---------------------------------------------- dispatch and odd inputs --

TEST(QuantBlocks, RunTimeDispatchMatchesFormats) {
  const auto x = golden_input();
  for (ggml_type t : {ggml_type::f32, ggml_type::f16, ggml_type::bf16, ggml_type::q8_0,
                      ggml_type::q4_0, ggml_type::q4_1}) {
    ASSERT_TRUE(quant::has_reference_codec(t));
    std::vector<std::byte> q(*quant::row_bytes(t, x.size()));
    quant::quantize_row(t, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    quant::dequantize_row(t, q.data(), y.data(), x.size());
    // |x| <= 50/13: Q4_0's clamped extreme is off by up to |d| = 3.85/8.
    for (std::size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(x[i], y[i], 0.5f) << quant::to_string(t) << " " << i;
  }
  std::vector<std::byte> q(40);
  std::vector<float> y(64);
  quant::quantize_row(ggml_type::q4_1, x.data(), q.data(), 64);
  quant::dequantize_row(ggml_type::q4_1, q.data(), y.data(), 64);
  std::vector<quant::block_q4_1> blocks(2);
  std::memcpy(blocks.data(), q.data(), 40);
  EXPECT_EQ(y, dequantize<quant::q4_1>(blocks));
}

TEST(QuantBlocks, RejectsPartialBlocksAndTypesWithoutCodec) {
  std::vector<float> x(64, 1.0f);
  std::vector<std::byte> q(256);
  try {
    quant::q4_1::quantize_row(x.data(), q.data(), 33);
    FAIL() << "expected quant_error";
  } catch (const foundry::quant_error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_1: a row of 33 weights"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(quant::q8_0::dequantize_row(q.data(), x.data(), 31), foundry::quant_error);
  EXPECT_THROW(quant::dequantize_row(ggml_type::q4_0, q.data(), x.data(), 48),
               foundry::quant_error);
  EXPECT_FALSE(quant::has_reference_codec(ggml_type::q3_k));
  try {
    quant::dequantize_row(ggml_type::q3_k, q.data(), x.data(), 256);
    FAIL() << "expected quant_error";
  } catch (const foundry::error& e) {  // quant_error is a foundry::error
    EXPECT_NE(std::string(e.what()).find("Q3_K (id 11) has no reference"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(quant::quantize_row(static_cast<ggml_type>(200), x.data(), q.data(), 32),
               foundry::quant_error);
  // Zero-length rows are fine.
  quant::q4_0::quantize_row(x.data(), q.data(), 0);
  quant::f32::dequantize_row(q.data(), x.data(), 0);
}

TEST(QuantBlocks, NonFiniteInputIsDefined) {
  // ggml's own code has undefined behaviour here (NaN and out-of-range
  // float-to-int conversions); ours clamps, so it only has to stay defined
  // and leave the other blocks alone.
  std::vector<float> x(32 * 5, 0.5f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[32 + 5] = std::numeric_limits<float>::infinity();
  x[64 + 7] = -std::numeric_limits<float>::infinity();
  x[96 + 1] = 1e30f;  // the scale overflows half
  for (ggml_type t :
       {ggml_type::q8_0, ggml_type::q4_0, ggml_type::q4_1, ggml_type::f16, ggml_type::bf16}) {
    std::vector<std::byte> q(*quant::row_bytes(t, x.size()));
    quant::quantize_row(t, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    quant::dequantize_row(t, q.data(), y.data(), x.size());
    for (std::size_t j = 128; j < 160; ++j) EXPECT_NEAR(y[j], 0.5f, 1e-3f) << quant::to_string(t);
  }
}

}  // namespace
