// The real model file (SmolLM2-135M-Instruct, Q4_1 GGUF) through the GGUF
// reader and the reference dequantizers: Llama hyper-parameters, tokenizer
// arrays, the tensor inventory with its ggml types (printed), every tensor's
// data inside the file, and dequantized values that agree with the ggml
// project's own reader.
//
// Skips (exit 77) when the model is missing: FOUNDRY_MODEL_PATH, when set,
// names it; otherwise FOUNDRY_TEST_MODEL_PATH (where scripts/setup.sh puts it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

#ifndef FOUNDRY_TEST_MODEL_PATH
#define FOUNDRY_TEST_MODEL_PATH ""
#endif
#ifndef FOUNDRY_TEST_SKIP_RETURN_CODE
#define FOUNDRY_TEST_SKIP_RETURN_CODE 77
#endif

namespace {

namespace gguf = foundry::gguf;
namespace quant = foundry::quant;
using quant::ggml_type;

std::string model_path() {
  if (const char* env = std::getenv("FOUNDRY_MODEL_PATH"); env != nullptr && *env != '\0')
    return env;
  return FOUNDRY_TEST_MODEL_PATH;
}

struct RequireModel : ::testing::Environment {
  void SetUp() override {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(model_path(), ec)) {
      std::puts("skipped: model not found, run scripts/setup.sh");
      std::fflush(stdout);
      std::exit(FOUNDRY_TEST_SKIP_RETURN_CODE);
    }
  }
};
[[maybe_unused]] auto* const kRequireModel = ::testing::AddGlobalTestEnvironment(new RequireModel);

const gguf::file& model() {
  static const gguf::file f = gguf::file::open(model_path());
  return f;
}

TEST(GgufModel, Header) {
  const auto& f = model();
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.metadata().size(), 33u);
  EXPECT_EQ(f.tensors().size(), 272u);
}

TEST(GgufModel, LlamaHyperParameters) {
  const auto& f = model();
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get<std::uint32_t>("llama.block_count"), 30u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.context_length"), 8192u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.embedding_length"), 576u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.feed_forward_length"), 1536u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.attention.head_count"), 9u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(f.get<std::uint32_t>("llama.rope.dimension_count"), 64u);  // 576 / 9
  EXPECT_EQ(f.get<std::uint32_t>("llama.vocab_size"), 49152u);
  EXPECT_EQ(f.get<float>("llama.rope.freq_base"), 100000.0f);
  EXPECT_EQ(f.get<float>("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(f.get<std::uint32_t>("general.file_type"), 3u);  // LLAMA_FTYPE_MOSTLY_Q4_1
  EXPECT_EQ(f.get<std::uint32_t>("general.quantization_version"), 2u);
  EXPECT_EQ(f.find<std::uint32_t>("general.alignment"), std::nullopt);
}

TEST(GgufModel, Tokenizer) {
  const auto& f = model();
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "smollm");
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 49152u);
  EXPECT_EQ(tokens[0], "<|endoftext|>");
  EXPECT_EQ(tokens[1], "<|im_start|>");
  EXPECT_EQ(tokens[2], "<|im_end|>");
  EXPECT_EQ(f.get_array<std::int32_t>("tokenizer.ggml.token_type").size(), 49152u);
  const auto merges = f.get_string_array("tokenizer.ggml.merges");
  ASSERT_EQ(merges.size(), 48900u);
  EXPECT_EQ(merges[0], "\xc4\xa0 t");  // "Ġ t"
  EXPECT_EQ(f.get<std::uint32_t>("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get<std::uint32_t>("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_FALSE(f.get<bool>("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f.get<bool>("tokenizer.ggml.add_space_prefix"));
  EXPECT_FALSE(f.get_string("tokenizer.chat_template").empty());
}

TEST(GgufModel, TensorTypesAndShapes) {
  const auto& f = model();
  // The inventory, printed: which ggml types the file really holds.
  std::map<std::string_view, std::vector<std::string_view>> by_type;
  for (const auto& t : f.tensors()) by_type[t.type_name()].push_back(t.name);
  for (const auto& [type, names] : by_type) {
    std::set<std::string> roles;  // "blk.N.attn_q.weight" -> "attn_q.weight"
    for (std::string_view n : names) {
      if (n.starts_with("blk.")) n = n.substr(n.find('.', 4) + 1);
      roles.emplace(n);
    }
    std::string list;
    for (const auto& r : roles) list += (list.empty() ? "" : ", ") + r;
    std::printf("  %-5.*s %3zu tensors: %s\n", static_cast<int>(type.size()), type.data(),
                names.size(), list.c_str());
  }
  std::fflush(stdout);
  ASSERT_EQ(by_type.size(), 3u);
  EXPECT_EQ(by_type["F32"].size(), 61u);    // 30 x (attn_norm, ffn_norm) + output_norm
  EXPECT_EQ(by_type["Q4_1"].size(), 210u);  // 30 x 7 projections
  EXPECT_EQ(by_type["Q8_0"].size(), 1u);    // token_embd

  // Tied embeddings: no output.weight, token_embd doubles as the LM head.
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  const auto& embd = f.tensor("token_embd.weight");
  EXPECT_EQ(embd.type, ggml_type::q8_0);
  EXPECT_EQ(std::vector<std::uint64_t>(embd.dims().begin(), embd.dims().end()),
            (std::vector<std::uint64_t>{576, 49152}));
  const auto& norm = f.tensor("output_norm.weight");
  EXPECT_EQ(norm.type, ggml_type::f32);
  EXPECT_EQ(norm.n_elements, 576u);

  struct role {
    const char* name;
    ggml_type type;
    std::vector<std::uint64_t> dims;
  };
  const role roles[] = {
      {"attn_norm.weight", ggml_type::f32, {576}},
      {"ffn_norm.weight", ggml_type::f32, {576}},
      {"attn_q.weight", ggml_type::q4_1, {576, 576}},
      {"attn_k.weight", ggml_type::q4_1, {576, 192}},  // 3 KV heads x 64
      {"attn_v.weight", ggml_type::q4_1, {576, 192}},
      {"attn_output.weight", ggml_type::q4_1, {576, 576}},
      {"ffn_gate.weight", ggml_type::q4_1, {576, 1536}},
      {"ffn_up.weight", ggml_type::q4_1, {576, 1536}},
      {"ffn_down.weight", ggml_type::q4_1, {1536, 576}},
  };
  for (int layer = 0; layer < 30; ++layer) {
    for (const auto& r : roles) {
      const std::string name = "blk." + std::to_string(layer) + "." + r.name;
      const auto* t = f.find_tensor(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(t->type, r.type) << name;
      EXPECT_EQ(std::vector<std::uint64_t>(t->dims().begin(), t->dims().end()), r.dims) << name;
    }
  }
}

TEST(GgufModel, EveryTensorLiesInsideTheFile) {
  const auto& f = model();
  const std::byte* begin = f.bytes().data();
  const std::byte* data = begin + f.data_offset();
  const std::byte* end = begin + f.size();
  std::uint64_t total = 0;
  for (const auto& t : f.tensors()) {
    SCOPED_TRACE(std::string(t.name));
    ASSERT_NE(t.data, nullptr);
    EXPECT_GE(t.data, data);
    EXPECT_LE(t.n_bytes, static_cast<std::uint64_t>(end - t.data));
    EXPECT_EQ(t.data, data + t.offset);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_EQ(quant::row_bytes(t.type, t.n_elements), t.n_bytes);
    total += t.n_bytes;
  }
  EXPECT_LE(total, f.data_section().size());
  EXPECT_EQ(f.tensor("token_embd.weight").n_bytes, 49152u * 18u * 34u);
}

TEST(GgufModel, DequantizesToTheGgmlReferenceValues) {
  const auto& f = model();
  // Every tensor dequantizes to finite values.
  std::vector<float> buf;
  for (const auto& t : f.tensors()) {
    buf.resize(t.n_elements);
    quant::dequantize_row(t.type, t.data, buf.data(), buf.size());
    for (float v : buf) ASSERT_TRUE(std::isfinite(v)) << t.name;
  }

  // Values and sums from the ggml project's `gguf` Python package
  // (gguf.quants.dequantize) on the same file.
  struct reference {
    const char* name;
    std::vector<float> first;
    double sum;
  };
  const reference refs[] = {
      {"token_embd.weight",
       {-0.10654449462890625f, 0.032978057861328125f, 0.048198699951171875f,
        -0.022830963134765625f},
       -15353.04449415207},
      {"blk.0.attn_q.weight",
       {-0.0963134765625f, 0.1573486328125f, -0.0963134765625f, -0.73046875f},
       59.22322082519531},
      {"blk.29.ffn_down.weight",
       {-0.2733154296875f, 0.186279296875f, 0.186279296875f, 0.04840087890625f},
       49.83570861816406},
      {"output_norm.weight", {1.7578125f, 1.8203125f, 1.78125f, 1.6015625f}, 1038.33203125},
  };
  for (const auto& r : refs) {
    const auto& t = f.tensor(r.name);
    buf.resize(t.n_elements);
    quant::dequantize_row(t.type, t.data, buf.data(), buf.size());
    for (std::size_t i = 0; i < r.first.size(); ++i) EXPECT_EQ(buf[i], r.first[i]) << r.name;
    double sum = 0;
    for (float v : buf) sum += v;
    EXPECT_NEAR(sum, r.sum, 1e-6 * std::fabs(r.sum)) << r.name;
  }

  // Row 1 of the embedding (token "<|im_start|>").
  const auto& embd = f.tensor("token_embd.weight");
  std::vector<float> row(576);
  const auto row_bytes = *quant::row_bytes(embd.type, 576);
  quant::dequantize_row(embd.type, embd.data + row_bytes, row.data(), row.size());
  EXPECT_EQ(row[0], -0.0238037109375f);
  EXPECT_EQ(row[1], -0.015869140625f);
  EXPECT_EQ(row[2], -0.0396728515625f);
  EXPECT_EQ(row[3], 0.015869140625f);
}

}  // namespace
