// foundry-quantize's library (tools/foundry-quantize/quantize.hpp): the
// per-tensor plan of the K mixes (more bits for the output, attn_v and
// ffn_down of some layers; fallbacks for rows that are not whole
// super-blocks), overrides, errors, and a whole file re-quantized and read
// back (deterministic, error bounded, input never overwritten).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <foundry/io/gguf.hpp>
#include <foundry/io/gguf_writer.hpp>
#include <tools/foundry-quantize/quantize.hpp>

namespace fs = std::filesystem;
namespace ft = foundry::tools;
namespace gguf = foundry::gguf;
namespace quant = foundry::quant;
using quant::ggml_type;
using ::testing::HasSubstr;

namespace {

/// A small Llama-like file: 8 layers, hidden `hidden`, ffn 512, F32 norms,
/// Q8_0 matrices, tied embeddings (no output.weight), from seeded floats.
std::vector<std::byte> small_model(std::uint64_t hidden, std::vector<float>* ffn_down0 = nullptr) {
  std::mt19937 g(5);
  std::normal_distribution<float> d(0.0f, 0.05f);
  gguf::writer w;
  w.add("general.architecture", std::string_view{"llama"});
  w.add<std::uint32_t>("general.file_type", 7);
  auto matrix = [&](const std::string& name, std::uint64_t cols, std::uint64_t rows, ggml_type t,
                    std::vector<float>* keep = nullptr) {
    std::vector<float> x(cols * rows);
    for (float& v : x) v = d(g);
    if (keep) *keep = x;
    std::vector<std::byte> q(*quant::row_bytes(t, x.size()));
    quant::quantize_row(t, x.data(), q.data(), x.size());
    w.add_tensor(name, t, {cols, rows}, std::move(q));
  };
  matrix("token_embd.weight", hidden, 100, ggml_type::q8_0);
  for (int i = 0; i < 8; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    std::vector<float> norm(hidden, 1.0f);
    std::vector<std::byte> nb(norm.size() * 4);
    std::memcpy(nb.data(), norm.data(), nb.size());
    w.add_tensor(b + "attn_norm.weight", ggml_type::f32, {hidden}, std::move(nb));
    matrix(b + "attn_q.weight", hidden, hidden, ggml_type::q8_0);
    matrix(b + "attn_v.weight", hidden, 64, ggml_type::q8_0);
    matrix(b + "ffn_down.weight", 512, hidden, ggml_type::q8_0, i == 0 ? ffn_down0 : nullptr);
  }
  return w.bytes();
}

std::string type_of(const std::vector<ft::tensor_plan>& p, std::string_view name) {
  for (const auto& t : p)
    if (t.name == name) return std::string(quant::to_string(t.to));
  return "missing";
}

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("foundry_quantize_test_" + std::to_string(::getpid()));
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() { fs::remove_all(path); }
};

}  // namespace

TEST(QuantizePlan, Q4_K_MMix) {
  const auto bytes = small_model(512);
  const auto f = gguf::file::parse(bytes);
  const auto p = ft::plan(f, ft::parse_mix("Q4_K_M"), {});
  EXPECT_EQ(type_of(p, "token_embd.weight"), "Q6_K") << "tied embeddings are the output matrix";
  EXPECT_EQ(type_of(p, "blk.0.attn_norm.weight"), "F32") << "vectors are kept";
  EXPECT_EQ(type_of(p, "blk.3.attn_q.weight"), "Q4_K");
  // use_more_bits for n = 8: layers 0 (i < 1), 7 (i >= 7) and 3, 6 ((i - 1) % 3 == 2).
  for (int i = 0; i < 8; ++i) {
    const bool more = i == 0 || i == 7 || i == 3 || i == 6;
    EXPECT_EQ(type_of(p, "blk." + std::to_string(i) + ".ffn_down.weight"), more ? "Q6_K" : "Q4_K") << i;
    EXPECT_EQ(type_of(p, "blk." + std::to_string(i) + ".attn_v.weight"), more ? "Q6_K" : "Q4_K") << i;
  }
}

TEST(QuantizePlan, FallbackForRowsOfPartialSuperBlocks) {
  const auto bytes = small_model(576);  // SmolLM2's hidden size: 576 = 2.25 · 256
  const auto f = gguf::file::parse(bytes);
  const auto p = ft::plan(f, ft::parse_mix("Q4_K_M"), {});
  EXPECT_EQ(type_of(p, "token_embd.weight"), "Q8_0");     // Q6_K → Q8_0
  EXPECT_EQ(type_of(p, "blk.1.attn_q.weight"), "Q4_1");   // Q4_K → Q4_1
  EXPECT_EQ(type_of(p, "blk.0.attn_v.weight"), "Q8_0");   // Q6_K → Q8_0
  EXPECT_EQ(type_of(p, "blk.1.ffn_down.weight"), "Q4_K"); // rows of 512: K-quant
  EXPECT_EQ(type_of(p, "blk.0.ffn_down.weight"), "Q6_K");
}

TEST(QuantizePlan, OverridesAndErrors) {
  const auto bytes = small_model(576);
  const auto f = gguf::file::parse(bytes);
  const auto p = ft::plan(f, ft::parse_mix("Q8_0"), {ft::parse_override("ffn_down=Q5_K"), ft::parse_override("blk\\.7\\.ffn_down=Q6_K")});
  EXPECT_EQ(type_of(p, "blk.2.ffn_down.weight"), "Q5_K");
  EXPECT_EQ(type_of(p, "blk.7.ffn_down.weight"), "Q6_K") << "the last matching override wins";
  EXPECT_EQ(type_of(p, "blk.2.attn_q.weight"), "Q8_0");

  auto error_of = [&](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const ft::quantize_error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_THAT(error_of([&] { ft::plan(f, ft::parse_mix("Q8_0"), {ft::parse_override("attn_q=Q4_K")}); }),
              HasSubstr("tensor 'blk.0.attn_q.weight': rows of 576 weights are not a whole number of 256-weight Q4_K blocks"));
  EXPECT_THAT(error_of([] { ft::parse_mix("Q3_K_M"); }), HasSubstr("unknown type 'Q3_K_M'; supported: Q4_K_M"));
  EXPECT_THAT(error_of([] { ft::parse_override("attn_v"); }), HasSubstr("is not PATTERN=TYPE"));
  EXPECT_THAT(error_of([] { ft::parse_override("attn_v=Q2_K"); }), HasSubstr("Q2_K cannot be written"));
  EXPECT_THAT(error_of([] { ft::parse_override("attn_v=Q9"); }), HasSubstr("unknown ggml type 'Q9'"));
  EXPECT_THAT(error_of([] { ft::parse_override("(=Q8_0"); }), HasSubstr("bad regular expression"));
}

TEST(QuantizeFile, RequantizesDeterministicallyAndReadsBack) {
  temp_dir dir;
  std::vector<float> down0;
  const auto bytes = small_model(512, &down0);
  const fs::path in = dir.path / "in.gguf", out1 = dir.path / "out1.gguf", out2 = dir.path / "out2.gguf";
  {
    std::ofstream o(in, std::ios::binary);
    o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::size_t calls = 0;
  ft::quantize_file(in, out1, ft::parse_mix("Q4_K_M"), {}, [&](std::size_t done, std::size_t total, std::uint64_t,
                                                                std::uint64_t, std::string_view) {
    ++calls;
    EXPECT_LE(done, total);
  });
  EXPECT_EQ(calls, gguf::file::open(in).tensors().size());
  ft::quantize_file(in, out2, ft::parse_mix("Q4_K_M"), {});
  std::ifstream a(out1, std::ios::binary), b(out2, std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb) << "not deterministic";

  const auto f = gguf::file::open(out1);
  EXPECT_EQ(f.get<std::uint32_t>("general.file_type"), 15u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  const auto& t = f.tensor("blk.0.ffn_down.weight");
  ASSERT_EQ(t.type, ggml_type::q6_k);
  std::vector<float> y(t.n_elements);
  quant::dequantize_row(t.type, t.data, y.data(), y.size());
  double e = 0, n = 0;
  for (std::size_t i = 0; i < y.size(); ++i) e += (y[i] - down0[i]) * (y[i] - down0[i]), n += down0[i] * down0[i];
  // Q8_0 then Q6_K of Gaussian weights: ~1.5% relative error; 4% bound.
  EXPECT_LT(std::sqrt(e / n), 0.04);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, ggml_type::f32);

  // The input is never overwritten.
  try {
    ft::quantize_file(in, in, ft::parse_mix("Q8_0"), {});
    FAIL() << "expected quantize_error";
  } catch (const ft::quantize_error& err) {
    EXPECT_THAT(std::string(err.what()), HasSubstr("is the input file"));
  }
  EXPECT_EQ(fs::file_size(in), bytes.size());
  // A bad input file is a gguf_error naming it.
  EXPECT_THROW(ft::quantize_file(dir.path / "missing.gguf", out1, ft::parse_mix("Q8_0"), {}), foundry::gguf_error);
}
