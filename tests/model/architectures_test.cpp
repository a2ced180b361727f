// The model families of examples/generate/model.hpp's table (Llama, Qwen2,
// Qwen3, SmolLM3) end to end, on small random-weight files written at test
// time by tools/foundry-make-model/random_model.hpp (seed 1, the SmolLM2
// tokenizer copied from the shipped model; shapes in `test_model_spec`):
//  - each file is the one the fixtures were made from (its XXH3-64);
//  - the Foundry decoder's logits (CPU backend, or FOUNDRY_TEST_BACKEND)
//    match the float64 reference forward pass of the same file
//    (tests/model/support/reference_model.hpp), token by token and after a
//    prompt prefilled in one batched pass: Q/K/V biases, QK-norm, NeoX RoPE,
//    the NoPE layer, heads wider than n_embd / n_head all exercised;
//  - greedy tokens equal llama.cpp's on the same weights
//    (tests/fixtures/random_<arch>_reference_f32.txt: llama.cpp on the file
//    dequantized to F32; command in tests/fixtures/README.md), and the first
//    step's top-5 logits are close to llama.cpp's on the Q8_0 file itself
//    (random_<arch>_reference.txt);
//  - files that claim an architecture but lack its tensors are rejected with
//    an error naming the tensor.
//
// Tolerances. Logits vs float64: 1e-4 relative, as the other model tests
// (float32 kernels on exactly dequantized weights; measured below 1e-5).
// Against llama.cpp's float32 run on the F32 copy: 0.02 absolute on the
// top-5 logits (logits spread with a standard deviation of ~6; float32
// summation order differs; measured at most 0.012); greedy tokens exactly,
// except at a near tie (llama.cpp's two best logits within 0.02, which
// either implementation may break either way): there Foundry's token must
// be one of the tied ones, and if it is not llama.cpp's the comparison ends
// (at least 8 steps must have been compared). Against llama.cpp on the
// Q8_0 file: 0.25 absolute (llama.cpp quantizes the activations to 8 bits
// before each Q8_0 product, a relative error of ~1% of the logits' scale);
// its greedy tokens drift from the F32 run's after a few steps for the same
// reason, so only its first token is compared.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include <foundry/io/gguf_writer.hpp>

#include "examples/generate/foundry_decoder.hpp"
#include "examples/generate/model.hpp"
#include "support/greedy_check.hpp"
#include "support/model_files.hpp"
#include "support/reference_model.hpp"
#include "support/test_backend.hpp"
#include "tools/foundry-make-model/random_model.hpp"

namespace {

namespace gen = foundry::generate;
namespace fs = std::filesystem;

[[maybe_unused]] auto* const kRequireModel = ::testing::AddGlobalTestEnvironment(new foundry::test::require_model);

const foundry::test::temporary_folder& folder() {
  static const foundry::test::temporary_folder dir(fs::temp_directory_path() /
                                                   ("foundry_architectures_" + std::to_string(::getpid())));
  return dir;
}

/// The random file of `arch` (seed 1), written once per process.
const fs::path& model_file(const std::string& arch) {
  static std::map<std::string, fs::path> files;
  auto it = files.find(arch);
  if (it == files.end()) {
    const fs::path out = folder().path / ("random_" + arch + ".gguf");
    const auto tokenizer = foundry::gguf::file::open(foundry::test::model_path());
    foundry::tools::write_random_model(foundry::tools::test_model_spec(arch), tokenizer, out);
    it = files.emplace(arch, out).first;
  }
  return it->second;
}

const gen::llama_model& model(const std::string& arch) {
  static std::map<std::string, gen::llama_model> models;
  auto it = models.find(arch);
  if (it == models.end()) it = models.emplace(arch, gen::llama_model::load(model_file(arch))).first;
  return it->second;
}

fs::path fixture(const std::string& arch, bool f32) {
  return fs::path(FOUNDRY_SOURCE_DIR) / "tests/fixtures" /
         ("random_" + arch + "_reference" + (f32 ? "_f32" : "") + ".txt");
}

class Architecture : public ::testing::TestWithParam<std::string> {};

TEST_P(Architecture, TraitsFromTheTable) {
  const gen::llama_hparams& hp = model(GetParam()).hparams();
  EXPECT_EQ(hp.arch.name, GetParam());
  std::printf("  %s\n", model(GetParam()).describe().c_str());
  const auto& l = model(GetParam()).layer(0);
  EXPECT_EQ(l.attn_q_bias.present(), GetParam() == "qwen2");
  EXPECT_EQ(l.attn_q_norm.present(), GetParam() == "qwen3");
  for (std::uint32_t il = 0; il < hp.n_layer; ++il)
    EXPECT_EQ(hp.uses_rope(il), GetParam() != "smollm3" || il != 3) << "layer " << il;
  if (GetParam() == "qwen3") {
    EXPECT_EQ(hp.n_embd_q(), 2 * hp.n_embd);  // heads wider than n_embd / n_head
  }
}

TEST_P(Architecture, FileIsTheFixturesFile) {
  for (const bool f32 : {false, true}) {
    const std::string want = foundry::test::fixture_model_digest(fixture(GetParam(), f32));
    ASSERT_FALSE(want.empty()) << fixture(GetParam(), f32) << " has no '# model xxh3_64' line";
    EXPECT_EQ(foundry::test::file_xxh3(model_file(GetParam())), want)
        << "random_model.hpp no longer writes the file the fixtures were made from; regenerate "
           "tests/fixtures/random_*_reference*.txt (tests/fixtures/README.md)";
  }
}

// Token by token, then the same tokens prefilled in one batched pass.
TEST_P(Architecture, LogitsMatchFloat64Reference) {
  const auto& m = model(GetParam());
  const auto cases = foundry::test::load_greedy_fixture(fixture(GetParam(), true));
  const std::vector<std::int32_t>& ids = cases.at(0).prompt_ids;  // the chat prompt
  ASSERT_GE(ids.size(), 8u);
  const auto n = static_cast<std::uint32_t>(ids.size());
  foundry::test::reference_model ref(m, n);
  // Float activations: the 1e-4 bounds are those of float32 arithmetic.
  auto dec = gen::make_foundry_decoder(foundry_test::make_test_backend(), m, n, nullptr,
                                       {.prefill_chunk = 1, .q8_activations = false});
  double worst = 0;
  for (std::uint32_t pos = 0; pos < n; ++pos) {
    dec->step(ids[pos], pos);
    const double rel = foundry::test::relative_error(dec->logits(), ref.forward(ids[pos], pos));
    worst = std::max(worst, rel);
    EXPECT_LT(rel, 1e-4) << "position " << pos;
  }
  auto batched = gen::make_foundry_decoder(foundry_test::make_test_backend(), m, n, nullptr,
                                           {.prefill_chunk = 512, .q8_activations = false});
  batched->prefill(ids, 0);
  const double rel = foundry::test::relative_error(batched->logits(), ref.logits());
  EXPECT_LT(rel, 1e-4) << "batched prefill of " << n << " tokens";
  std::printf("  %s: relative logit error vs float64: token by token %.2e (worst of %u), prefilled %.2e\n",
              GetParam().c_str(), worst, n, rel);
}

TEST_P(Architecture, GreedyTokensMatchLlamaCpp) {
  const auto& m = model(GetParam());
  const auto exact = foundry::test::load_greedy_fixture(fixture(GetParam(), true));
  const auto stored = foundry::test::load_greedy_fixture(fixture(GetParam(), false));
  ASSERT_EQ(exact.size(), stored.size());
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const auto& c = exact[i];
    SCOPED_TRACE(c.name);
    const std::size_t steps = c.generated.size();
    auto dec = gen::make_foundry_decoder(foundry_test::make_test_backend(), m,
                                         static_cast<std::uint32_t>(c.prompt_ids.size() + steps), nullptr,
                                         {.prefill_chunk = 512, .q8_activations = false});
    const std::int32_t next = dec->prefill(c.prompt_ids, 0);
    // llama.cpp on the Q8_0 file: its first step only (see the file comment).
    for (const auto& [id, value] : stored[i].top[0])
      EXPECT_NEAR(dec->logits()[static_cast<std::size_t>(id)], value, 0.25) << "Q8_0 file, token " << id;
    EXPECT_EQ(next, stored[i].generated[0]) << "first token differs from llama.cpp's on the Q8_0 file";
    const std::size_t compared = foundry::test::expect_greedy_steps(
        *dec, c, steps, static_cast<std::uint32_t>(c.prompt_ids.size()), next, 0.02, 0.02);
    EXPECT_GE(compared, 8u) << "too few steps before a near tie to be a test; pick another prompt or seed";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Architecture, ::testing::Values("llama", "qwen2", "qwen3", "smollm3"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// A copy of `src` that claims architecture `arch` (its `<old>.*` keys
// renamed to `<arch>.*`), without the tensors named in `drop`.
fs::path relabelled(const fs::path& src, const std::string& arch, const std::vector<std::string>& drop,
                    const std::string& name) {
  const auto f = foundry::gguf::file::open(src);
  const std::string old = std::string(f.find_value("general.architecture")->get_string()) + ".";
  foundry::gguf::writer w;
  w.add("general.architecture", std::string_view(arch));
  for (const auto& v : f.metadata()) {
    if (v.key() == "general.architecture") continue;
    if (v.key().starts_with(old))
      w.add_copy(v, arch + "." + std::string(v.key().substr(old.size())));
    else
      w.add_copy(v);
  }
  for (const auto& t : f.tensors())
    if (std::find(drop.begin(), drop.end(), std::string(t.name)) == drop.end())
      w.add_tensor_view(t.name, t.type, t.dims(), t.bytes());
  const fs::path out = folder().path / name;
  w.write(out);
  return out;
}

void expect_model_error(const fs::path& file, const std::string& needle) {
  try {
    gen::llama_model::load(file);
    ADD_FAILURE() << file << " loaded; expected an error naming " << needle;
  } catch (const gen::model_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    std::printf("  %s\n", e.what());
  }
}

TEST(ArchitectureErrors, Qwen2WithoutBiases) {
  expect_model_error(relabelled(model_file("llama"), "qwen2", {}, "qwen2_no_bias.gguf"),
                     "tensor 'blk.0.attn_q.bias' is missing (architecture qwen2 has Q/K/V biases)");
  // One bias missing in a later layer.
  expect_model_error(relabelled(model_file("qwen2"), "qwen2", {"blk.2.attn_v.bias"}, "qwen2_no_v_bias.gguf"),
                     "tensor 'blk.2.attn_v.bias' is missing");
}

TEST(ArchitectureErrors, Qwen3WithoutQkNorm) {
  expect_model_error(relabelled(model_file("qwen3"), "qwen3", {"blk.1.attn_k_norm.weight"}, "qwen3_no_norm.gguf"),
                     "tensor 'blk.1.attn_k_norm.weight' is missing (architecture qwen3 has QK-norm)");
}

TEST(ArchitectureErrors, UnknownArchitectureNamesTheSupportedOnes) {
  expect_model_error(relabelled(model_file("llama"), "gemma3", {}, "gemma3.gguf"),
                     "general.architecture = 'gemma3' is not supported (supported: llama, qwen2, qwen3, smollm3)");
}

TEST(ArchitectureErrors, MissingKeyIsNamed) {
  // The Qwen3 file without its RMSNorm epsilon.
  const auto f = foundry::gguf::file::open(model_file("qwen3"));
  foundry::gguf::writer w;
  for (const auto& v : f.metadata())
    if (v.key() != "qwen3.attention.layer_norm_rms_epsilon") w.add_copy(v);
  for (const auto& t : f.tensors()) w.add_tensor_view(t.name, t.type, t.dims(), t.bytes());
  const fs::path out = folder().path / "qwen3_no_eps.gguf";
  w.write(out);
  expect_model_error(out, "metadata key 'qwen3.attention.layer_norm_rms_epsilon' is missing");
}

}  // namespace
