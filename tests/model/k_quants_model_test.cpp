// End to end with K-quants: foundry-quantize's library
// (tools/foundry-quantize/quantize.hpp) turns the shipped SmolLM2 Q4_1 file
// into a Q4_K_M-style file at test time (deterministic, seconds), and the
// Foundry decoder (CPU backend, or FOUNDRY_TEST_BACKEND) runs it:
//  - the mix: SmolLM2's hidden size 576 is not a multiple of 256, so only
//    ffn_down (rows of 1536) can hold K-quants: Q6_K in the layers
//    llama.cpp's use_more_bits picks, Q4_K elsewhere; the 576-wide matrices
//    fall back to Q4_1, or to Q8_0 where the mix gives more bits (attn_v of
//    those layers, and the tied embeddings, which are the output matrix);
//  - its logits match the float64 reference forward pass of the same file
//    (tests/model/support/reference_model.hpp, which dequantizes the
//    K-quant tensors with quant::dequantize_row);
//  - the chat prompt of foundry-generate's default job still answers "Paris";
//  - its greedy tokens equal llama.cpp's on the same file
//    (tests/fixtures/smollm2_q4_k_m_reference_f32.txt: llama.cpp on that
//    file's weights dequantized to F32 by gguf-py; the fixture records the
//    file's XXH3-64, which the test checks first, so a change to the
//    quantizer's output is reported as such, not as a decoding difference).
//
// Tolerance of the logits: as tests/model/foundry_decoder_test.cpp (float32
// kernels on exactly dequantized weights vs float64: measured 2e-7 to 2e-6;
// bound 1e-4).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <unistd.h>

#include <fstream>

#include "examples/generate/foundry_decoder.hpp"
#include "examples/generate/gguf_tokenizer.hpp"
#include "examples/generate/model.hpp"
#include "support/model_files.hpp"
#include "support/reference_model.hpp"
#include "support/greedy_check.hpp"
#include "support/test_backend.hpp"
#include "tools/foundry-quantize/quantize.hpp"

namespace {

namespace gen = foundry::generate;
namespace fs = std::filesystem;
namespace quant = foundry::quant;

[[maybe_unused]] auto* const kRequireModel = ::testing::AddGlobalTestEnvironment(new foundry::test::require_model);

/// The Q4_K_M-style file, written once per process into a temporary folder.
/// (The folder is a static of its own, destroyed after the path: an atexit
/// handler registered while the path was being built would run after the
/// path's destructor and read a destroyed object.)
const fs::path& quantized_path() {
  static const foundry::test::temporary_folder dir(fs::temp_directory_path() /
                                    ("foundry_k_quants_model_" + std::to_string(::getpid())));
  static const fs::path p = [] {
    const fs::path out = dir.path / "SmolLM2-135M-Instruct.Q4_K_M.gguf";
    const auto t0 = std::chrono::steady_clock::now();
    foundry::tools::quantize_file(foundry::test::model_path(), out, foundry::tools::parse_mix("Q4_K_M"), {});
    std::printf("  foundry-quantize Q4_K_M: %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return out;
  }();
  return p;
}

const gen::llama_model& model() {
  static const gen::llama_model m = gen::llama_model::load(quantized_path());
  return m;
}

TEST(KQuantsModel, TheMix) {
  const auto& f = model().file();
  EXPECT_EQ(f.get<std::uint32_t>("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  const std::uint32_t n = model().hparams().n_layer;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto& l = model().layer(i);
    EXPECT_EQ(l.ffn_down.type, foundry::tools::use_more_bits(i, n) ? quant::ggml_type::q6_k : quant::ggml_type::q4_k)
        << i;
    EXPECT_EQ(l.attn_q.type, quant::ggml_type::q4_1) << i;
    EXPECT_EQ(l.attn_v.type, foundry::tools::use_more_bits(i, n) ? quant::ggml_type::q8_0 : quant::ggml_type::q4_1)
        << i;
  }
  EXPECT_EQ(model().token_embd().type, quant::ggml_type::q8_0);
  std::printf("  tensors: %s\n", model().type_summary().c_str());
}

TEST(KQuantsModel, LogitsMatchFloat64Reference) {
  const gen::tokenizer tok = gen::tokenizer_from_gguf(model().file());
  const auto ids = tok.encode("The quick brown fox", gen::adds_bos(model().file()), true);
  ASSERT_GE(ids.size(), 3u);
  auto dec = gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), 16, nullptr,
                                       {.prefill_chunk = 512, .q8_activations = false});
  foundry::test::reference_model ref(model(), 16);
  for (std::uint32_t pos = 0; pos < 3; ++pos) {
    dec->step(ids[pos], pos);
    const auto mine = dec->logits();
    const auto theirs = ref.forward(ids[pos], pos);
    ASSERT_EQ(mine.size(), theirs.size());
    const double rel = foundry::test::relative_error(mine, theirs);
    std::printf("  position %u: relative logit error vs float64 %.2e\n", pos, rel);
    EXPECT_LT(rel, 1e-4) << "position " << pos;
  }
}

const fs::path kFixture = fs::path(FOUNDRY_SOURCE_DIR) / "tests/fixtures/smollm2_q4_k_m_reference_f32.txt";

// Free-running greedy decoding from the prompt (token by token: the file
// mixes policies) against llama.cpp's tokens and top-5 logits. Bound on the
// logits as in tests/model/foundry_decoder_test.cpp (float32 on exactly
// dequantized weights vs llama.cpp's float32 on the F32 copy: 0.05).
void check_greedy(const foundry::test::greedy_case& c, std::size_t steps) {
  SCOPED_TRACE(c.name);
  ASSERT_LE(steps, c.generated.size());
  auto dec = gen::make_foundry_decoder(foundry_test::make_test_backend(), model(),
                                       static_cast<std::uint32_t>(c.prompt_ids.size() + steps), nullptr,
                                       {.prefill_chunk = 512, .q8_activations = false});
  std::uint32_t pos = 0;
  std::int32_t next = -1;
  for (const std::int32_t id : c.prompt_ids) next = dec->step(id, pos++);
  foundry::test::expect_greedy_steps(*dec, c, steps, pos, next, 0.05);
}

TEST(KQuantsModel, GreedyTokensMatchLlamaCpp) {
  const std::string want = foundry::test::fixture_model_digest(kFixture);
  ASSERT_FALSE(want.empty()) << kFixture << " has no '# model xxh3_64' line";
  ASSERT_EQ(foundry::test::file_xxh3(quantized_path()), want)
      << "foundry-quantize no longer writes the file the fixture was made from; regenerate "
         "tests/fixtures/smollm2_q4_k_m_reference*.txt (tests/fixtures/README.md)";
  const auto cases = foundry::test::load_greedy_fixture(kFixture);
  ASSERT_EQ(cases.size(), 2u);
  check_greedy(cases.at(1), 16);  // "The quick brown fox"
  check_greedy(cases.at(0), 8);   // the chat prompt
}

TEST(KQuantsModel, ChatPromptAnswersParis) {
  const gen::tokenizer tok = gen::tokenizer_from_gguf(model().file());
  const std::string text =
      gen::chatml_prompt(model().file(), "What is the capital of France? Answer in one sentence.");
  const auto prompt = tok.encode(text, gen::adds_bos(model().file()), true);
  const std::uint32_t max_new = 24;
  auto dec = gen::make_foundry_decoder(foundry_test::make_test_backend(), model(),
                                       static_cast<std::uint32_t>(prompt.size()) + max_new, nullptr,
                                       {.prefill_chunk = 512, .q8_activations = false});
  std::uint32_t pos = 0;
  std::int32_t next = -1;
  for (const std::int32_t id : prompt) next = dec->step(id, pos++);
  std::vector<std::int32_t> out;
  for (std::uint32_t i = 0; i < max_new && !tok.is_end_of_generation(next); ++i) {
    out.push_back(next);
    if (i + 1 < max_new) next = dec->step(next, pos++);
  }
  const std::string answer = tok.decode(out, false);
  std::printf("  answer: %s\n", answer.c_str());
  EXPECT_NE(answer.find("Paris"), std::string::npos) << answer;
}

}  // namespace
