// K-quant codecs (foundry/quant/k_quants.hpp): dequantization bit for bit
// against the `gguf` Python package's numpy dequantizers (fixture
// tests/fixtures/k_quants_blocks.txt, see tests/fixtures/README.md),
// quantize → dequantize error bounds, and round trips.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <foundry/quant/ggml_blocks.hpp>

namespace quant = foundry::quant;
using quant::ggml_type;

namespace {

struct fixture_block {
  std::string type;
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint32_t> expected;  // float32 bit patterns
};

std::vector<fixture_block> load_fixture() {
  std::ifstream in(FOUNDRY_SOURCE_DIR "/tests/fixtures/k_quants_blocks.txt");
  std::vector<fixture_block> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    fixture_block b;
    std::string hex;
    ls >> b.type >> hex;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      b.bytes.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    std::string word;
    while (ls >> word) b.expected.push_back(static_cast<std::uint32_t>(std::stoul(word, nullptr, 16)));
    out.push_back(std::move(b));
  }
  return out;
}

ggml_type type_named(const std::string& name) {
  if (name == "Q4_K") return ggml_type::q4_k;
  if (name == "Q5_K") return ggml_type::q5_k;
  if (name == "Q6_K") return ggml_type::q6_k;
  throw std::runtime_error("fixture: unknown type " + name);
}

/// ||y − x|| / ||x|| in float64.
double rel_error(const std::vector<float>& x, const std::vector<float>& y) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    num += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    den += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(num / den);
}

std::vector<float> random_weights(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  // A few outliers per row, as real weight matrices have.
  for (std::size_t i = 0; i < n; i += 97) x[i] *= 6.0f;
  return x;
}

}  // namespace

TEST(KQuants, DequantizeMatchesGgufPackageBitForBit) {
  const auto blocks = load_fixture();
  ASSERT_EQ(blocks.size(), 12u) << "fixture missing or truncated";
  for (const auto& b : blocks) {
    const ggml_type t = type_named(b.type);
    ASSERT_EQ(b.bytes.size(), quant::type_size(t)) << b.type;
    ASSERT_EQ(b.expected.size(), 256u) << b.type;
    std::vector<float> y(256, std::nanf(""));
    quant::dequantize_row(t, b.bytes.data(), y.data(), 256);
    for (std::size_t j = 0; j < 256; ++j)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(y[j]), b.expected[j]) << b.type << " weight " << j;
  }
}

TEST(KQuants, PerWeightDequantizeAgreesWithBlockDequantize) {
  for (const auto& b : load_fixture()) {
    if (b.type != "Q4_K") continue;
    quant::block_q4_k blk;
    std::memcpy(&blk, b.bytes.data(), sizeof blk);
    for (std::size_t j = 0; j < 256; ++j)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(quant::q4_k::dequantize(blk, j)), b.expected[j]) << j;
  }
}

// Relative error bounds of quantize → dequantize on Gaussian weights with
// outliers (8 super-blocks). A b-bit uniform quantizer with per-sub-block
// scales has a relative RMS error of roughly 2^-b·√(1/3)·range/σ; the bounds
// are about 1.5× what the quantizer reaches, so a broken scale packing,
// code order or rounding (errors of order 1) fails.
TEST(KQuants, QuantizeDequantizeErrorBounds) {
  const std::vector<float> x = random_weights(8 * 256, 7);
  const struct {
    ggml_type t;
    double bound;
  } cases[] = {{ggml_type::q4_k, 0.12}, {ggml_type::q5_k, 0.06}, {ggml_type::q6_k, 0.03}};
  for (const auto& c : cases) {
    std::vector<std::byte> q(*quant::row_bytes(c.t, x.size()));
    quant::quantize_row(c.t, x.data(), q.data(), x.size());
    std::vector<float> y(x.size(), std::nanf(""));
    quant::dequantize_row(c.t, q.data(), y.data(), x.size());
    const double e = rel_error(x, y);
    EXPECT_LT(e, c.bound) << quant::to_string(c.t);
    RecordProperty(std::string(quant::to_string(c.t)) + "_rel_error", std::to_string(e));
    std::printf("%s relative error %.5f (bound %.2f)\n", std::string(quant::to_string(c.t)).c_str(), e, c.bound);
  }
}

// More bits, less error: the three formats are ordered on the same weights.
TEST(KQuants, MoreBitsLessError) {
  const std::vector<float> x = random_weights(4 * 256, 11);
  auto err = [&](ggml_type t) {
    std::vector<std::byte> q(*quant::row_bytes(t, x.size()));
    quant::quantize_row(t, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    quant::dequantize_row(t, q.data(), y.data(), x.size());
    return rel_error(x, y);
  };
  EXPECT_LT(err(ggml_type::q5_k), err(ggml_type::q4_k));
  EXPECT_LT(err(ggml_type::q6_k), err(ggml_type::q5_k));
}

// Weights already on a format's grid survive quantize → dequantize → quantize
// unchanged: the second quantization reproduces the first one's bytes'
// dequantized values (the quantizer is deterministic and idempotent on its
// own output up to the scale search).
TEST(KQuants, RoundTripIsStable) {
  const std::vector<float> x = random_weights(2 * 256, 3);
  for (ggml_type t : {ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k}) {
    std::vector<std::byte> q1(*quant::row_bytes(t, x.size())), q2(q1.size()), q3(q1.size());
    quant::quantize_row(t, x.data(), q1.data(), x.size());
    quant::quantize_row(t, x.data(), q3.data(), x.size());
    EXPECT_EQ(0, std::memcmp(q1.data(), q3.data(), q1.size())) << "not deterministic: " << quant::to_string(t);
    std::vector<float> y1(x.size()), y2(x.size());
    quant::dequantize_row(t, q1.data(), y1.data(), x.size());
    quant::quantize_row(t, y1.data(), q2.data(), x.size());
    quant::dequantize_row(t, q2.data(), y2.data(), x.size());
    // Re-quantizing dequantized weights loses (almost) nothing more.
    EXPECT_LT(rel_error(y1, y2), 0.02) << quant::to_string(t);
  }
}

TEST(KQuants, ConstantAndZeroSuperBlocks) {
  std::vector<float> x(256, 0.0f);
  for (ggml_type t : {ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k}) {
    std::vector<std::byte> q(quant::type_size(t));
    std::vector<float> y(256, 1.0f);
    quant::quantize_row(t, x.data(), q.data(), 256);
    quant::dequantize_row(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << quant::to_string(t);
  }
  std::vector<float> c(256, -0.25f);
  for (ggml_type t : {ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k}) {
    std::vector<std::byte> q(quant::type_size(t));
    std::vector<float> y(256);
    quant::quantize_row(t, c.data(), q.data(), 256);
    quant::dequantize_row(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_NEAR(v, -0.25f, 0.01f) << quant::to_string(t);
  }
}

TEST(KQuants, RejectsPartialSuperBlocks) {
  std::vector<float> x(512);
  std::vector<std::byte> q(2 * 210);
  try {
    quant::dequantize_row(ggml_type::q6_k, q.data(), x.data(), 288);
    FAIL() << "expected quant_error";
  } catch (const foundry::quant_error& e) {
    EXPECT_NE(std::string(e.what()).find("Q6_K: a row of 288 weights is not a whole number of 256-weight blocks"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(quant::quantize_row(ggml_type::q4_k, x.data(), q.data(), 32), foundry::quant_error);
  EXPECT_FALSE(quant::row_bytes(ggml_type::q5_k, 300).has_value());
  EXPECT_EQ(*quant::row_bytes(ggml_type::q5_k, 512), 352u);
}
