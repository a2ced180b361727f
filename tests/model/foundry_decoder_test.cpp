// The decode step on Foundry kernels (the CPU backend, or the one
// FOUNDRY_TEST_BACKEND names: tests/support/test_backend.hpp) against
//  - the float64 reference forward pass (tests/model/support/reference_model.hpp):
//    all logits of the first positions of a prompt;
//  - llama.cpp run on the same weights dequantized to F32
//    (tests/fixtures/smollm2_reference_f32.txt): free-running greedy tokens
//    (the decoder's own choices fed back) and top-5 logits per step.
//
// Tolerances. The kernels compute in float32 (weights dequantized exactly,
// float32 accumulation over 576–1536 terms per dot product, 30 layers), the
// reference in float64: the relative logit error ‖Δ‖/‖ref‖ measures 2e-7 to
// 2e-6 over the first positions, so 1e-4 leaves a wide margin while a wrong
// row, head or position breaks it by orders of magnitude. Against llama.cpp (float32, other summation order) the
// float64 reference itself differs by up to 0.0152 on the top-5 logits;
// 0.05 allows float32 on both sides. Greedy tokens must agree exactly for
// every step checked (≥ 16 generated tokens on the plain prompt).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>


#include "examples/generate/cuda_graph_step.hpp"
#include "examples/generate/foundry_decoder.hpp"
#include "examples/generate/model.hpp"
#include "support/model_files.hpp"
#include "support/reference_model.hpp"
#include "support/greedy_check.hpp"
#include "support/test_backend.hpp"

namespace {

namespace gen = foundry::generate;
namespace fk = foundry::kernels;

[[maybe_unused]] auto* const kRequireModel = ::testing::AddGlobalTestEnvironment(new foundry::test::require_model);

const gen::llama_model& model() {
  static const gen::llama_model m = gen::llama_model::load(foundry::test::model_path());
  return m;
}

// The prefill GEMMs on the default tile (float operands) on every backend
// unless `gpu_tiles`, the decode GEMVs with float activations unless `q8`:
// the tolerances below are those of float32 arithmetic.
std::unique_ptr<gen::decoder> foundry_decoder(std::uint32_t max_positions, std::uint32_t prefill_chunk = 512,
                                              bool gpu_tiles = false, bool q8 = false) {
  return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), max_positions, nullptr,
                                   {.prefill_chunk = prefill_chunk, .gpu_tiles = gpu_tiles, .q8_activations = q8});
}

const std::vector<foundry::test::greedy_case>& f32_fixture() {
  static const auto f = foundry::test::load_greedy_fixture(std::string(FOUNDRY_SOURCE_DIR) +
                                                           "/tests/fixtures/smollm2_reference_f32.txt");
  return f;
}

// The relative logit error of the first positions of the plain prompt
// against the float64 reference (printed), for the float or the 8-bit (`q8`)
// decode GEMVs; the largest.
double logit_error_vs_float64(bool q8) {
  const auto& c = f32_fixture().at(1);  // "The quick brown fox"
  auto dec = foundry_decoder(16, 512, false, q8);
  foundry::test::reference_model ref(model(), 16);
  double worst = 0;
  for (std::uint32_t pos = 0; pos < 3; ++pos) {
    const std::int32_t token = c.prompt_ids.at(pos);
    dec->step(token, pos);
    const auto mine = dec->logits();
    const auto theirs = ref.forward(token, pos);
    EXPECT_EQ(mine.size(), theirs.size());
    if (mine.size() != theirs.size()) return 1.0;
    const double rel = foundry::test::relative_error(mine, theirs);
    std::printf("  position %u%s: relative logit error vs float64 %.2e\n", pos, q8 ? " (8-bit activations)" : "",
                rel);
    worst = std::max(worst, rel);
  }
  return worst;
}

TEST(FoundryDecoder, LogitsMatchFloat64Reference) { EXPECT_LT(logit_error_vs_float64(false), 1e-4); }

// The decode GEMVs with 8-bit CPU activations (the default of
// foundry-generate; `decode_gemvs`): x̂ rounded to 8 bits per block of 32
// before every projection of 30 layers, as llama.cpp's CPU backend does.
// Each dot product moves by ~1e-3 of Σ|w·x̂| (tests/cpu/gemv_test.cpp), a
// few 1e-3 of its value; 120 projections later the logits have moved by
// 1.0e-2 to 5.2e-2 relative (measured, CPU, positions 0-2), so the bound is
// 0.15: a wrong row, block or scale, or a stale quantized x, gives O(1). On
// GPU backends the kernels' text is the float one (the bound holds easily).
TEST(FoundryDecoder, Q8ActivationLogitsNearFloat64Reference) { EXPECT_LT(logit_error_vs_float64(true), 0.15); }

// Greedy decoding with 8-bit activations (the prompt prefilled by the float
// GEMMs, then 16 decode steps) picks llama.cpp's tokens on the plain prompt.
// Its top-5 logits are within 1.0 of llama.cpp's float run (measured 0.37;
// the logits spread with a standard deviation of ~6). Two tokens whose
// llama.cpp logits are less than 2 x 1.0 apart may therefore swap places:
// such a step passes if the token taken is one of them, and ends the
// comparison. Which way such a tie falls depends on the host CPU (the JIT
// builds for it: vector widths and FMA contraction change the float sums);
// the plain prompt's step 8 is one (504 on an AMD EPYC with AVX-512 VNNI,
// 788 on an Intel Xeon with AVX512-FP16). The 8 steps before it must match.
TEST(FoundryDecoder, Q8ActivationGreedyTokensMatchLlamaCppPlainPrompt) {
  const auto& c = f32_fixture().at(1);
  auto dec = foundry_decoder(static_cast<std::uint32_t>(c.prompt_ids.size() + 16), 512, false, true);
  const std::int32_t next = dec->prefill(c.prompt_ids, 0);
  const double logit_bound = 1.0;
  const std::size_t compared = foundry::test::expect_greedy_steps(
      *dec, c, 16, static_cast<std::uint32_t>(c.prompt_ids.size()), next, logit_bound, 2 * logit_bound);
  EXPECT_GE(compared, 9u);
}

// Decode attention by flash-decoding (`flash_decode`, flash_decode.hpp)
// against the one-threadgroup-per-head kernel, step by step over 48
// positions: with the default split rule (one split, then two from position
// 32) and with one split per 3 positions, at most 8 (`flash_split_rule`:
// splits of unequal length, then the cap from position 21). The same greedy
// tokens, and logits equal up to float rounding (each split's state is
// merged with one more rescale; 1e-4, the bound of the float64 comparison
// above).
TEST(FoundryDecoder, FlashDecodeMatchesAttentionDecode) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t n = 48;
  auto plain = foundry_decoder(n);
  auto make = [&](gen::flash_split_rule rule) {
    return gen::make_foundry_decoder(
        foundry_test::make_test_backend(), model(), n, nullptr,
        {.gpu_tiles = false, .q8_activations = false, .flash_decode = true, .flash_splits = rule});
  };
  auto flash = make({}), fine = make({3, 8});
  std::int32_t a = -1;
  double worst = 0;
  for (std::uint32_t pos = 0; pos < n; ++pos) {
    const std::int32_t token = pos < c.prompt_ids.size() ? c.prompt_ids[pos] : a;
    a = plain->step(token, pos);
    const std::vector<float> want(plain->logits().begin(), plain->logits().end());
    for (gen::decoder* d : {flash.get(), fine.get()}) {
      EXPECT_EQ(d->step(token, pos), a) << "position " << pos << (d == fine.get() ? ", 3 positions per split" : "");
      worst = std::max(worst, foundry::test::relative_error(d->logits(), want));
    }
  }
  std::printf("  flash-decoding vs attention_decode: largest relative logit difference %.2e\n", worst);
  EXPECT_LT(worst, 1e-4);
}

// Decode steps with the position and the token id in device memory
// (`device_positions`: a step's dispatches never change, so a recorded step
// can be replayed) against the default path. The kernels are the same but
// for where the position and the token come from, so the tokens and the
// logits must be equal, bit for bit. Covered: the first step after a
// batched prefill (the host writes the position), a step fed a token other
// than the previous step's argmax (the host writes the token), and greedy
// steps fed the device's own token (no write). With `replay`, on the CUDA
// backend: the first step captured as a CUDA graph and replayed for every
// later one (cuda_graph_step), against direct launches. With `flash`, both
// decode attention by flash-decoding; it splits the context into the fixed
// `flash_decode_splits(n)` parts instead of `flash_decode_splits(pos + 1)`,
// so its logits may differ by float rounding (1e-4, as
// FlashDecodeMatchesAttentionDecode) while the tokens must not. `rope`:
// where the device-position decoder runs RoPE and the KV append (the
// scalar-position one always has the separate kernel); other than
// `separate_kernel`, its logits may differ by rounding as well (1e-4).
void check_device_positions(bool replay, bool flash = false,
                            gen::rope_placement rope = gen::rope_placement::separate_kernel) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  auto plain = flash ? gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr,
                                                 {.gpu_tiles = false, .q8_activations = false, .flash_decode = true})
                     : foundry_decoder(n);
  std::unique_ptr<gen::step_recorder> recorder;
  if (replay) recorder = std::make_unique<gen::cuda_graph_step>(true);
  auto dev = gen::make_foundry_decoder(
      foundry_test::make_test_backend(), model(), n, std::move(recorder),
      {.gpu_tiles = false, .q8_activations = false, .flash_decode = flash, .device_positions = true, .rope = rope});
  std::int32_t a = plain->prefill(c.prompt_ids, 0), b = dev->prefill(c.prompt_ids, 0);
  ASSERT_EQ(a, b);
  const std::int32_t n_vocab = static_cast<std::int32_t>(model().hparams().n_vocab);
  for (std::uint32_t i = 0, pos = static_cast<std::uint32_t>(c.prompt_ids.size()); i < steps; ++i, ++pos) {
    const std::int32_t token = i == 3 ? (a + 1) % n_vocab : a;  // step 3: not the argmax
    a = plain->step(token, pos);
    b = dev->step(token, pos);
    EXPECT_EQ(a, b) << "position " << pos;
    const auto want = plain->logits(), got = dev->logits();
    if (flash || rope != gen::rope_placement::separate_kernel)
      EXPECT_LT(foundry::test::relative_error(got, std::vector<float>(want.begin(), want.end())), 1e-4)
          << "logits at position " << pos;
    else
      EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin(), got.end())) << "logits at position " << pos;
  }
}

TEST(FoundryDecoder, DevicePositionsMatchScalarPositions) { check_device_positions(false); }
TEST(FoundryDecoder, FlashDecodeDevicePositionsMatchScalarPositions) {
  check_device_positions(false, true);
  check_device_positions(false, true, gen::rope_placement::flash_decode);
  check_device_positions(false, true, gen::rope_placement::qkv_epilogue);
}

TEST(FoundryDecoder, ReplayedGraphMatchesDirectLaunches) {
  if (foundry_test::test_backend_name() != "cuda") GTEST_SKIP() << "CUDA graphs: FOUNDRY_TEST_BACKEND=cuda only";
  check_device_positions(true);
  check_device_positions(true, true);
  check_device_positions(true, true, gen::rope_placement::flash_decode);
  check_device_positions(true, false, gen::rope_placement::qkv_epilogue);
  check_device_positions(true, true, gen::rope_placement::qkv_epilogue);  // foundry-generate's CUDA default
}

// Greedy decode one step ahead (launch, launch_next, collect; decoder.hpp)
// against step by step: the same tokens, and afterwards the same logits and
// a step that continues from them. On CUDA the decoder runs the replayed
// graph with flash-decoding and RoPE in the QKV epilogue (foundry-generate's
// CUDA default), two steps in flight: its logits may differ from the
// scalar-position decoder's by float rounding (1e-4, as
// check_device_positions). Elsewhere the decoder's defaults run each step at
// launch (RoPE in the QKV epilogue: logits within 1e-4 as well). Misuse throws: collect or launch_next with
// nothing launched, launch_next at another position, a step while steps are
// in flight.
TEST(FoundryDecoder, RunAheadMatchesStepByStep) {
  const bool cuda = foundry_test::test_backend_name() == "cuda";
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps + 1;
  const gen::decoder_options plain_options{.gpu_tiles = false, .q8_activations = false, .flash_decode = cuda};
  auto plain = gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr, plain_options);
  std::unique_ptr<gen::step_recorder> recorder;
  if (cuda) recorder = std::make_unique<gen::cuda_graph_step>(true);
  auto ahead = gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, std::move(recorder),
                                         {.gpu_tiles = false,
                                          .q8_activations = false,
                                          .flash_decode = cuda,
                                          .device_positions = true,
                                          .rope = gen::rope_placement::qkv_epilogue});
  EXPECT_EQ(ahead->runs_ahead(), cuda);
  std::int32_t a = plain->prefill(c.prompt_ids, 0), b = ahead->prefill(c.prompt_ids, 0);
  ASSERT_EQ(a, b);
  std::uint32_t pos = static_cast<std::uint32_t>(c.prompt_ids.size());
  EXPECT_THROW(ahead->collect(), std::logic_error);
  EXPECT_THROW(ahead->launch_next(pos), std::logic_error);
  ahead->launch(b, pos);
  EXPECT_THROW(ahead->launch_next(pos + 2), std::invalid_argument);
  for (std::uint32_t i = 0; i < steps; ++i, ++pos) {
    a = plain->step(a, pos);
    if (i + 1 < steps) ahead->launch_next(pos + 1);  // on the argmax not yet collected
    if (cuda) {
      EXPECT_THROW(ahead->step(a, pos + 1), std::logic_error) << "a step while steps are in flight";
    }
    b = ahead->collect();
    ASSERT_EQ(a, b) << "position " << pos;
  }
  EXPECT_THROW(ahead->collect(), std::logic_error);
  const auto want = plain->logits(), got = ahead->logits();
  EXPECT_LT(foundry::test::relative_error(got, std::vector<float>(want.begin(), want.end())), 1e-4)
      << "logits of the last launched step";
  EXPECT_EQ(ahead->step(b, pos), plain->step(a, pos)) << "a step after the launched ones";
}

// Prefills `prompt` into both decoders, then feeds each its own greedy
// token for `steps` steps: the tokens must be equal and the logits of `got`
// within `tolerance` (relative) of those of `want` at every step.
void expect_same_greedy_steps(gen::decoder& got, gen::decoder& want, std::span<const std::int32_t> prompt,
                              std::uint32_t steps, double tolerance) {
  std::int32_t a = got.prefill(prompt, 0), b = want.prefill(prompt, 0);
  ASSERT_EQ(a, b);
  for (std::uint32_t i = 0, pos = static_cast<std::uint32_t>(prompt.size()); i < steps; ++i, ++pos) {
    a = got.step(a, pos);
    b = want.step(b, pos);
    ASSERT_EQ(a, b) << "position " << pos;
    const auto w = want.logits(), g = got.logits();
    EXPECT_LT(foundry::test::relative_error(g, std::vector<float>(w.begin(), w.end())), tolerance)
        << "logits at position " << pos;
  }
}

// RoPE and the KV append in the QKV kernel's epilogue (the default) against
// the separate RoPE kernel after the QKV one: the same float operations on
// the same values in another order of kernels, so the greedy tokens must be
// equal and the logits within float rounding (1e-5; observed ~1e-7 or 0).
// The fused kernel reads the position from the device (`device_positions`);
// the prompt is fed token by token, so every position goes through it.
TEST(FoundryDecoder, RopeInQkvEpilogueMatchesSeparateKernel) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  for (const bool flash : {false, true}) {
    SCOPED_TRACE(flash ? "flash-decoding" : "attention_decode");
    auto make = [&](gen::rope_placement rope) {
      return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr,
                                       {.prefill_chunk = 1,
                                        .gpu_tiles = false,
                                        .q8_activations = false,
                                        .flash_decode = flash,
                                        .device_positions = true,
                                        .rope = rope});
    };
    auto fused = make(gen::rope_placement::qkv_epilogue), separate = make(gen::rope_placement::separate_kernel);
    expect_same_greedy_steps(*fused, *separate, c.prompt_ids, steps, 1e-5);
  }
}

// The multi-row residual GEMVs and LM head (`use_multi_row_gemvs`: 16-byte
// weight loads, the LM head's RMSNorm summed by each SIMD-group; the
// default on GPU backends) against the row-major ones (the CPU's default),
// both on this backend, with float and with 8-bit CPU activations: the same
// products summed in another order, so the greedy tokens must be equal and
// the logits within float rounding (1e-4, the bound against float64; with
// 8-bit CPU activations x̂ is quantized after the RMSNorm instead of before
// its scalar factor, which moves a code only at a rounding tie). The prompt
// goes token by token, so every position runs the decode step; the float
// form's first logits are also checked against the float64 reference.
TEST(FoundryDecoder, MultiRowGemvsMatchRowMajor) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  for (const bool q8 : {false, true}) {
    SCOPED_TRACE(q8 ? "8-bit CPU activations" : "float activations");
    auto make = [&](bool multi_row) {
      return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr,
                                       {.prefill_chunk = 1,
                                        .gpu_tiles = false,
                                        .q8_activations = q8,
                                        .rope = gen::rope_placement::separate_kernel,
                                        .multi_row_gemvs = multi_row});
    };
    auto multi = make(true), row = make(false);
    if (!q8) {
      foundry::test::reference_model ref(model(), n);
      const std::int32_t token = c.prompt_ids.at(0);
      multi->step(token, 0);
      const auto theirs = ref.forward(token, 0);
      EXPECT_LT(foundry::test::relative_error(multi->logits(), theirs), 1e-4) << "against float64";
    }  // the prefill below rewrites position 0 before reading it
    std::int32_t a = multi->prefill(c.prompt_ids, 0), b = row->prefill(c.prompt_ids, 0);
    ASSERT_EQ(a, b);
    double worst = 0;
    for (std::uint32_t i = 0, pos = static_cast<std::uint32_t>(c.prompt_ids.size()); i < steps; ++i, ++pos) {
      a = multi->step(a, pos);
      b = row->step(b, pos);
      ASSERT_EQ(a, b) << "position " << pos;
      const auto want = row->logits(), got = multi->logits();
      const double rel = foundry::test::relative_error(got, std::vector<float>(want.begin(), want.end()));
      EXPECT_LT(rel, 1e-4) << "logits at position " << pos;
      EXPECT_GT(rel, 0.0) << "the two forms should round differently somewhere: is the multi-row form in use?";
      worst = std::max(worst, rel);
    }
    std::printf("  %s: largest relative logit difference multi-row vs row-major %.2e\n",
                q8 ? "8-bit CPU activations" : "float activations", worst);
  }
}

// The greedy arg-max's first pass in the multi-row LM head's epilogue and
// its second pass moving the position on (`decoder_options::fold_argmax`,
// with device positions) against the two argmax_f32 passes and
// advance_position: the logits come from the same main stage and store, so
// they are equal bit for bit, and the tokens must be equal. The prompt goes
// token by token (every position runs the decode step); step 3 is fed a
// token other than the argmax (the host writes it). The folded step
// dispatches two kernels fewer. On CUDA the folded decoder replays its
// first step's graph (cuda_graph_step), as foundry-generate does.
TEST(FoundryDecoder, FoldedArgmaxMatchesSeparateKernels) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  auto make = [&](bool fold) {
    std::unique_ptr<gen::step_recorder> recorder;
    if (fold && foundry_test::test_backend_name() == "cuda") recorder = std::make_unique<gen::cuda_graph_step>(true);
    return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, std::move(recorder),
                                     {.prefill_chunk = 1,
                                      .gpu_tiles = false,
                                      .q8_activations = false,
                                      .device_positions = true,
                                      .multi_row_gemvs = true,
                                      .fold_argmax = fold});
  };
  auto folded = make(true), separate = make(false);
  std::int32_t a = folded->prefill(c.prompt_ids, 0), b = separate->prefill(c.prompt_ids, 0);
  ASSERT_EQ(a, b);
  const std::int32_t n_vocab = static_cast<std::int32_t>(model().hparams().n_vocab);
  for (std::uint32_t i = 0, pos = static_cast<std::uint32_t>(c.prompt_ids.size()); i < steps; ++i, ++pos) {
    const std::int32_t token = i == 3 ? (a + 1) % n_vocab : a;
    a = folded->step(token, pos);
    b = separate->step(token, pos);
    ASSERT_EQ(a, b) << "position " << pos;
    const auto want = separate->logits(), got = folded->logits();
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin(), got.end())) << "logits at position " << pos;
  }
  EXPECT_GT(separate->dispatches_per_step(), 2u);
  EXPECT_EQ(folded->dispatches_per_step() + 2, separate->dispatches_per_step());
}

// Flash-decoding's merge elsewhere than in the combine kernel
// (`use_flash_merge`): in the Wo GEMV (gemv_residual_flash_merged reads
// `partials`), with scalar and with device positions, and in the split
// kernel's last threadgroup per KV head (attention_split_merge_f32*, device
// positions only), against the combine kernel, the multi-row GEMVs in all:
// the merge is the same arithmetic (flash_merge.metal), so the greedy tokens
// must be equal and the logits within float rounding (1e-5). Fed token by
// token, the split kernel's counters go through every layer of every step.
TEST(FoundryDecoder, FlashMergePlacesMatchCombineKernel) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 6, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  struct place {
    gen::flash_merge_at at;
    bool device_positions;
    const char* what;
  };
  for (const place p : {place{gen::flash_merge_at::wo_gemv, false, "Wo GEMV, scalar positions"},
                        place{gen::flash_merge_at::wo_gemv, true, "Wo GEMV, device positions"},
                        place{gen::flash_merge_at::split_kernel, true, "split kernel, device positions"}}) {
    SCOPED_TRACE(p.what);
    auto make = [&](gen::flash_merge_at at) {
      return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr,
                                       {.prefill_chunk = 1,
                                        .gpu_tiles = false,
                                        .q8_activations = false,
                                        .flash_decode = true,
                                        .device_positions = p.device_positions,
                                        .rope = gen::rope_placement::separate_kernel,
                                        .multi_row_gemvs = true,
                                        .flash_merge = at});
    };
    auto merged = make(p.at), combined = make(gen::flash_merge_at::combine_kernel);
    expect_same_greedy_steps(*merged, *combined, c.prompt_ids, steps, 1e-5);
  }
}

// Flash-decoding's first pass with position lanes (the default) against
// element lanes (`set_flash_split_lanes`), device positions, the prompt fed
// token by token and a split rule of 3 positions per split (several splits
// of unequal length, one of them partly empty in a step of 32 positions):
// on GPUs the two layouts sum the scores and weights in another order, so
// the greedy tokens must be equal and the logits within float rounding
// (1e-5). The CPU form is the same for both layouts, so there this checks
// only that both kernel sets compose and run.
TEST(FoundryDecoder, FlashSplitPositionLanesMatchElementLanes) {
  const auto& c = f32_fixture().at(1);
  const std::uint32_t steps = 8, n = static_cast<std::uint32_t>(c.prompt_ids.size()) + steps;
  auto make = [&](fk::split_lanes lanes) {
    return gen::make_foundry_decoder(foundry_test::make_test_backend(), model(), n, nullptr,
                                     {.prefill_chunk = 1,
                                      .gpu_tiles = false,
                                      .q8_activations = false,
                                      .flash_decode = true,
                                      .device_positions = true,
                                      .flash_splits = {3, 64},
                                      .flash_split_lanes = lanes});
  };
  auto positions = make(fk::split_lanes::positions), elements = make(fk::split_lanes::elements);
  expect_same_greedy_steps(*positions, *elements, c.prompt_ids, steps, 1e-5);
}

// Feeds the prompt (token by token, or prefilled in one pass with
// `prefill`), then the decoder's own greedy tokens, for `steps` steps.
void check_greedy(const foundry::test::greedy_case& c, std::size_t steps, bool prefill = false,
                  bool gpu_tiles = false) {
  SCOPED_TRACE(c.name + (prefill ? " (prefilled)" : "") + (gpu_tiles ? " (GPU tiles)" : ""));
  ASSERT_LE(steps, c.generated.size());
  auto dec = foundry_decoder(static_cast<std::uint32_t>(c.prompt_ids.size() + steps), 512, gpu_tiles);
  std::uint32_t pos = 0;
  std::int32_t next = -1;
  if (prefill) {
    next = dec->prefill(c.prompt_ids, 0);
    pos = static_cast<std::uint32_t>(c.prompt_ids.size());
  } else {
    for (std::int32_t id : c.prompt_ids) next = dec->step(id, pos++);
  }
  foundry::test::expect_greedy_steps(*dec, c, steps, pos, next, 0.05);
}

TEST(FoundryDecoder, GreedyTokensMatchLlamaCppPlainPrompt) { check_greedy(f32_fixture().at(1), 16); }

// The chat prompt's first step is a near-tie (margin ~0.085): a sensitive check.
TEST(FoundryDecoder, GreedyTokensMatchLlamaCppChatPrompt) { check_greedy(f32_fixture().at(0), 4); }

// Relative error of the logits after the chat prompt prefilled in chunks of
// `chunk` (on the GPU tiles with `gpu_tiles`) against the token-by-token path.
double prefill_error(std::uint32_t chunk, bool gpu_tiles) {
  const auto& c = f32_fixture().at(0);  // the chat prompt
  const auto n = static_cast<std::uint32_t>(c.prompt_ids.size());
  auto one = foundry_decoder(n, 1);
  one->prefill(c.prompt_ids, 0);
  const std::vector<float> want(one->logits().begin(), one->logits().end());
  auto dec = foundry_decoder(n, chunk, gpu_tiles);
  dec->prefill(c.prompt_ids, 0);
  const auto got = dec->logits();
  EXPECT_EQ(got.size(), want.size());
  const double rel = foundry::test::relative_error(got, want);
  std::printf("  chunk %u%s: relative logit error vs token by token %.2e\n", chunk, gpu_tiles ? " (GPU tiles)" : "",
              rel);
  return rel;
}

// The prompt prefilled through the GEMM kernels (kernels/gemm), in one
// chunk and in chunks of 5 (later chunks start at a non-zero position),
// against the token-by-token path: the logits after the last prompt token.
// Both compute in float32 with different summation orders (8x8 tiles vs
// SIMD-group reductions), so they differ by float32 rounding over 30 layers:
// the same 1e-4 bound as against float64.
TEST(FoundryDecoder, PrefilledLogitsMatchTokenByToken) {
  for (std::uint32_t chunk : {512u, 5u}) EXPECT_LT(prefill_error(chunk, false), 1e-4) << "chunk " << chunk;
}

TEST(FoundryDecoder, GreedyTokensMatchLlamaCppPrefilledPlainPrompt) { check_greedy(f32_fixture().at(1), 16, true); }

// The prefill on the GPU tiles (gemm_tile_gpu: 2x2 SIMD-groups, activations
// and dequantized weights rounded to half before each product, float
// accumulation), the default on GPU backends, against the token-by-token
// path. Rounding both operands to binary16 (11 significant bits) moves each
// product by up to 2^-10 of its magnitude; through 30 layers of 4 GEMMs the
// last token's logits move by ~1e-3 relative (measured 1.05e-3 on the CPU
// backend), so the bound is 1e-2: an indexing or tile-border mistake gives
// O(1). The greedy tokens of the plain prompt, prefilled on the GPU tiles,
// must still be llama.cpp's (the check of the float prefill).
TEST(FoundryDecoder, GpuTilePrefillMatchesTokenByToken) {
  const double rel = prefill_error(512, true);
  EXPECT_LT(rel, 1e-2);
  EXPECT_GT(rel, 0.0) << "half operands should round somewhere: is the GPU tile in use?";
}
TEST(FoundryDecoder, GreedyTokensMatchLlamaCppGpuTilePrefill) { check_greedy(f32_fixture().at(1), 16, true, true); }
TEST(FoundryDecoder, GreedyTokensMatchLlamaCppPrefilledChatPrompt) { check_greedy(f32_fixture().at(0), 4, true); }

}  // namespace
