// Model metadata validation (examples/generate/model.hpp): a tiny Llama GGUF
// built in memory (tests/support/gguf_builder.hpp) loads, and each
// hyper-parameter mutated to a hostile value gives a model_error naming the
// key and the value, before anything is sized from it (a block_count of
// 0xffffffff once ended in std::bad_alloc; rope.freq_base = +inf was
// accepted).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include <foundry/io/gguf.hpp>

#include "examples/generate/model.hpp"
#include "support/gguf_builder.hpp"

namespace {

namespace gguf = foundry::gguf;
namespace gen = foundry::generate;
using foundry::test::gguf_builder;
using foundry::test::tiny_llama;
using ::testing::HasSubstr;

/// The message of the error loading `b` raises, prefixed by its kind, or
/// "loaded".
std::string load_error(const gguf_builder& b) {
  const std::vector<std::byte> bytes = b.bytes();
  try {
    (void)gen::llama_model::from_file(gguf::file::parse(bytes, "tiny.gguf"));
    return "loaded";
  } catch (const gen::model_error& e) {
    return e.what();
  } catch (const foundry::gguf_error& e) {
    return std::string("gguf_error: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other exception: ") + e.what();
  }
}

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr float nan = std::numeric_limits<float>::quiet_NaN();

TEST(ModelMetadata, TinyModelLoads) {
  const std::vector<std::byte> bytes = tiny_llama().bytes();
  const auto m = gen::llama_model::from_file(gguf::file::parse(bytes, "tiny.gguf"));
  const gen::llama_hparams& hp = m.hparams();
  EXPECT_EQ(hp.n_layer, 2u);
  EXPECT_EQ(hp.n_embd, 8u);
  EXPECT_EQ(hp.n_head, 2u);
  EXPECT_EQ(hp.n_head_kv, 1u);
  EXPECT_EQ(hp.head_dim, 4u);
  EXPECT_EQ(hp.n_ff, 16u);
  EXPECT_EQ(hp.n_vocab, 6u);
  EXPECT_EQ(hp.n_ctx_train, 64u);
  EXPECT_TRUE(hp.tied_embeddings);
  EXPECT_EQ(m.layers().size(), 2u);
}

TEST(ModelMetadata, HugeBlockCountIsAnErrorNotBadAlloc) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.block_count", 0xffffffffu)),
            "model: tiny.gguf: llama.block_count = 4294967295: out of the supported range 1 .. "
            "1024");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.block_count", 0)),
            "model: tiny.gguf: llama.block_count = 0: out of the supported range 1 .. 1024");
}

TEST(ModelMetadata, BlockCountMatchesTheTensors) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.block_count", 3)),
            "model: tiny.gguf: llama.block_count = 3: the file holds tensors for 2 blocks (blk.0 "
            ".. blk.1)");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.block_count", 1)),
            "model: tiny.gguf: llama.block_count = 1: the file holds tensors for 2 blocks (blk.0 "
            ".. blk.1)");
  // A missing tensor inside the range is still named.
  EXPECT_EQ(load_error(tiny_llama().erase_tensor("blk.1.ffn_up.weight")),
            "model: tiny.gguf: tensor 'blk.1.ffn_up.weight' is missing");
}

TEST(ModelMetadata, IntegerKeysOfOtherTypes) {
  EXPECT_EQ(load_error(tiny_llama().set("llama.block_count", gguf::value_type::int32,
                                        std::int32_t{-1})),
            "model: tiny.gguf: llama.block_count = -1: out of range (0 .. 4294967295)");
  EXPECT_EQ(load_error(tiny_llama().set("llama.context_length", gguf::value_type::uint64,
                                        std::uint64_t{1} << 40)),
            "model: tiny.gguf: llama.context_length = 1099511627776: out of range (0 .. "
            "4294967295)");
  EXPECT_EQ(load_error(tiny_llama().set_f32("llama.block_count", 2.0f)),
            "model: tiny.gguf: 'llama.block_count' is FLOAT32, expected an integer");
  // Integers of other widths that fit are accepted.
  EXPECT_EQ(load_error(tiny_llama().set("llama.block_count", gguf::value_type::uint64,
                                        std::uint64_t{2})),
            "loaded");
}

TEST(ModelMetadata, HeadCounts) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.head_count", 0)),
            "model: tiny.gguf: llama.attention.head_count = 0: out of the supported range 1 .. 8");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.head_count", 0xffffffffu)),
            "model: tiny.gguf: llama.attention.head_count = 4294967295: out of the supported "
            "range 1 .. 8");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.head_count", 3)),
            "model: tiny.gguf: llama.embedding_length = 8: not a multiple of "
            "llama.attention.head_count = 3");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.head_count_kv", 0)),
            "model: tiny.gguf: llama.attention.head_count_kv = 0: out of the supported range 1 .. "
            "2");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.head_count_kv", 3)),
            "model: tiny.gguf: llama.attention.head_count_kv = 3: out of the supported range 1 .. "
            "2");
  // 8 heads of 1: an odd head dimension (rope.dimension_count, which would
  // disagree first, removed).
  EXPECT_EQ(load_error(tiny_llama()
                           .set_u32("llama.attention.head_count", 8)
                           .erase("llama.rope.dimension_count")),
            "model: tiny.gguf: llama.embedding_length = 8: gives an odd head_dim 1 "
            "(embedding_length / head_count), RoPE needs pairs");
}

// attention.key_length sets the head size (Qwen3's heads are wider than
// n_embd / n_head); value_length must agree with it.
TEST(ModelMetadata, KeyAndValueLength) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.value_length", 6)),
            "model: tiny.gguf: llama.attention.value_length = 6 differs from the key head size 4 (not supported)");
  // Heads of 6: Wq must then have 2 · 6 rows (rope.dimension_count removed,
  // it would disagree first).
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.key_length", 6).erase("llama.rope.dimension_count")),
            "model: tiny.gguf: tensor 'blk.0.attn_q.weight' has ne = [8, 8], expected [8, 12]");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.attention.key_length", 4)), "loaded");
}

TEST(ModelMetadata, SizesMatchTheTensors) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.embedding_length", 0)),
            "model: tiny.gguf: llama.embedding_length = 0: out of the supported range 1 .. "
            "262144");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.embedding_length", 0x80000000u)),
            "model: tiny.gguf: llama.embedding_length = 2147483648: out of the supported range 1 "
            ".. 262144");
  EXPECT_EQ(load_error(tiny_llama()
                           .set_u32("llama.embedding_length", 16)
                           .set_u32("llama.rope.dimension_count", 8)),
            "model: tiny.gguf: llama.embedding_length = 16: token_embd.weight has rows of 8 "
            "values");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.feed_forward_length", 0xffffffffu)),
            "model: tiny.gguf: llama.feed_forward_length = 4294967295: out of the supported range "
            "1 .. 1048576");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.feed_forward_length", 32)),
            "model: tiny.gguf: llama.feed_forward_length = 32: blk.0.ffn_gate.weight has 16 rows");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.context_length", 0)),
            "model: tiny.gguf: llama.context_length = 0: out of the supported range 1 .. "
            "16777216");
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.context_length", 0xffffffffu)),
            "model: tiny.gguf: llama.context_length = 4294967295: out of the supported range 1 .. "
            "16777216");
}

TEST(ModelMetadata, VocabularyMatchesTheEmbedding) {
  EXPECT_EQ(load_error(tiny_llama().set_u32("llama.vocab_size", 7)),
            "model: tiny.gguf: llama.vocab_size = 7: but tokenizer.ggml.tokens has 6 entries");
  EXPECT_EQ(load_error(tiny_llama()
                           .set_strings("tokenizer.ggml.tokens", {"a", "b", "c"})
                           .erase("llama.vocab_size")),
            "model: tiny.gguf: tokenizer.ggml.tokens = (3 entries): token_embd.weight has 6 rows");
  EXPECT_EQ(load_error(tiny_llama()
                           .set_strings("tokenizer.ggml.tokens", {})
                           .erase("llama.vocab_size")),
            "model: tiny.gguf: tokenizer.ggml.tokens = (0 entries): the vocabulary must have 1 .. "
            "16777216 entries");
}

TEST(ModelMetadata, RopeFreqBaseFiniteAndPositive) {
  const std::string key = "llama.rope.freq_base";
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, inf)),
            "model: tiny.gguf: llama.rope.freq_base = inf: not a finite number");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, -inf)),
            "model: tiny.gguf: llama.rope.freq_base = -inf: not a finite number");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, nan)),
            "model: tiny.gguf: llama.rope.freq_base = nan: not a finite number");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, 0.0f)),
            "model: tiny.gguf: llama.rope.freq_base = 0: must be positive");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, -10000.0f)),
            "model: tiny.gguf: llama.rope.freq_base = -10000: must be positive");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, 1e30f)),
            "model: tiny.gguf: llama.rope.freq_base = 1e+30: above the supported maximum 1e+12");
  EXPECT_EQ(load_error(tiny_llama().set(key, gguf::value_type::float64, 1e300)),
            "model: tiny.gguf: llama.rope.freq_base = 1e+300: beyond the range of a 32-bit float");
  EXPECT_EQ(load_error(tiny_llama().set(key, gguf::value_type::float64, 500000.0)), "loaded");
  EXPECT_EQ(load_error(tiny_llama().erase(key)), "loaded");  // default 10000
}

TEST(ModelMetadata, RmsEpsilonFiniteAndPositive) {
  const std::string key = "llama.attention.layer_norm_rms_epsilon";
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, nan)),
            "model: tiny.gguf: llama.attention.layer_norm_rms_epsilon = nan: not a finite number");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, inf)),
            "model: tiny.gguf: llama.attention.layer_norm_rms_epsilon = inf: not a finite number");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, 0.0f)),
            "model: tiny.gguf: llama.attention.layer_norm_rms_epsilon = 0: must be positive");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, -1e-5f)),
            "model: tiny.gguf: llama.attention.layer_norm_rms_epsilon = -1e-05: must be positive");
  EXPECT_EQ(load_error(tiny_llama().set_f32(key, 2.0f)),
            "model: tiny.gguf: llama.attention.layer_norm_rms_epsilon = 2: above the supported "
            "maximum 1");
  EXPECT_EQ(load_error(tiny_llama().erase(key)),
            "model: tiny.gguf: metadata key 'llama.attention.layer_norm_rms_epsilon' is missing");
}

}  // namespace
