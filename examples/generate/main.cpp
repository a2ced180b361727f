// foundry-generate: text generation with a Llama-architecture GGUF model
// (SmolLM2-135M-Instruct, Q4_1), one token at a time, streamed to stdout.
//
//   foundry-generate --prompt "The quick brown fox" --max-tokens 32 --reference
//   foundry-generate --chat --prompt "What is the capital of France?" --reference
//
// Generated text goes to stdout as it is produced; the model summary and the
// final statistics (prompt tokens, generated tokens, tokens/s, time spent
// compiling kernels) go to stderr. Decoding is greedy unless --temperature is
// above 0, which samples with llama.cpp's sampler chain (repetition penalty,
// top-k, top-p, min-p, temperature; sampling.hpp) from a generator seeded by
// --seed: the same seed gives the same tokens. On the Foundry kernels the
// chain runs where the logits are (device_sampler.hpp). Generation stops
// after --max-tokens tokens, at an end-of-generation token (<|im_end|>,
// <|endoftext|>; unless --ignore-eos), at a --stop string (not printed), or
// when the context is full.
//
// Decoders (examples/generate/decoder.hpp): --reference runs the float64
// reference forward pass of the tests (tests/model/support/reference_model.hpp)
// on the host; otherwise the library's kernels run on the chosen backend
// (--backend cpu|cuda|metal). On CUDA each decode step is one CUDA graph
// (cuda_graph_step.hpp) unless --no-cuda-graphs: the first step recorded
// once and replayed for every token (position and token id in device
// memory) where the model allows it, else recorded per step
// (--no-cuda-graph-replay forces that); the statistics then also give the
// host time per step (issuing the kernels, before the wait). Greedy decode
// without a repetition penalty runs one step ahead (decoder::launch_next):
// with the replayed graph, step t + 1 is launched before step t's token is
// read and printed, so the GPU does not wait for the host between steps
// (--no-run-ahead waits for each step before launching the next).
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <foundry/core/errors.hpp>
#include <foundry/io/gguf.hpp>

#include <foundry/backends/cpu/backend.hpp>
#include <foundry/backends/cuda/backend.hpp>
#include <foundry/backends/metal/metal.hpp>

#include "examples/generate/cuda_graph_step.hpp"
#include "examples/generate/decoder.hpp"
#include "examples/generate/foundry_decoder.hpp"
#include "examples/generate/gguf_tokenizer.hpp"
#include "examples/generate/model.hpp"
#include "examples/generate/sampling.hpp"
#include "examples/generate/stop_strings.hpp"
#include "examples/generate/tokenizer.hpp"
#include "tests/model/support/reference_model.hpp"

namespace gen = foundry::generate;

namespace {

constexpr std::string_view kModelFileName = "SmolLM2-135M-Instruct.Q4_1.gguf";

struct options {
  std::string prompt;
  bool chat = false;
  std::uint32_t max_tokens = 64;
  std::string backend = "cpu";
  bool backend_given = false;
  bool reference = false;
  std::string model;
  gen::sampling_params sampling;  // --temperature, --top-k, ..., --seed
  std::vector<std::string> stops;  // --stop
  bool ignore_eos = false;
  bool cuda_graphs = true;
  bool run_ahead = true;  // --no-run-ahead turns it off
  bool fold_argmax = false;  // --fold-argmax turns it on
  std::uint32_t prefill_chunk = 512;
  std::optional<bool> gpu_tiles;  // --prefill-tile; unset: GPU tiles on GPU backends
  bool q8_activations = true;     // --float-activations turns it off
  gen::rope_placement rope = gen::rope_placement::qkv_epilogue;  // --rope-in
  std::optional<bool> multi_row_gemvs;  // --decode-gemv; unset: multi-row on GPU backends
  gen::flash_merge_at flash_merge = gen::flash_merge_at::combine_kernel;  // --flash-merge
  gen::flash_split_rule flash_splits;  // --flash-split-positions, --flash-max-splits
  foundry::kernels::split_lanes flash_split_lanes = foundry::kernels::split_lanes::positions;  // --flash-split-lanes
  std::optional<bool> flash_decode;  // --[no-]flash-decode; unset: on GPU backends where the shapes allow
  std::optional<bool> graph_replay;  // --[no-]cuda-graph-replay; unset: on CUDA graphs where the model allows
};

void print_usage(std::FILE* out) {
  fmt::print(out,
             "usage: foundry-generate [options]\n"
             "\n"
             "  --prompt TEXT       text to continue (with --chat: the user's message); without it,\n"
             "                      a default chat question is answered\n"
             "  --chat              wrap the prompt in the model's ChatML chat template\n"
             "  --max-tokens N      most tokens to generate (default 64)\n"
             "  --backend NAME      where the Foundry kernels run: cpu (default), cuda, metal\n"
             "  --prefill-chunk N   prefill the prompt in chunks of N tokens through the GEMM\n"
             "                      kernels (default 512); 1 runs one decode step per token\n"
             "  --prefill-tile T    GEMM tile of the prefill: default (one SIMD-group, float\n"
             "                      operands) or gpu (2x2 SIMD-groups, half operands); the\n"
             "                      default is gpu on GPU backends, default on the CPU\n"
             "  --float-activations decode GEMVs with float inputs on the CPU (the default\n"
             "                      rounds them to 8-bit blocks for integer dot products,\n"
             "                      as llama.cpp's CPU backend does)\n"
             "  --flash-decode      decode attention by flash-decoding: the context split\n"
             "                      across SIMD-groups, partial softmax states merged in a\n"
             "                      second kernel (head_dim <= 128, <= 8 query heads per KV\n"
             "                      head); the default on GPU backends where the model fits\n"
             "  --no-flash-decode   decode attention with one threadgroup per head\n"
             "  --rope-in WHERE     where decode applies RoPE and appends to the KV cache:\n"
             "                      qkv (default: the QKV kernel's epilogue), separate (a\n"
             "                      kernel of its own), flash (flash-decoding's first kernel;\n"
             "                      with a replayed CUDA graph only, else as separate)\n"
             "  --decode-gemv FORM  decode's residual GEMVs and LM head: multi-row (16-byte\n"
             "                      weight loads, several rows per SIMD-group; the default\n"
             "                      on GPU backends) or row-major (one row per SIMD-group;\n"
             "                      the default on the CPU)\n"
             "  --flash-merge WHERE with flash-decoding, where the splits' states are merged:\n"
             "                      combine (a kernel of their own; the default), split\n"
             "                      (the split kernel's last threadgroup per KV head; with\n"
             "                      a replayed CUDA graph only, else as combine) or wo\n"
             "                      (the Wo GEMV reads them); split and wo dispatch one\n"
             "                      kernel fewer per layer, but were slower where measured\n"
             "  --flash-split-positions N  with flash-decoding, one split per N positions\n"
             "                      (default 32)\n"
             "  --flash-max-splits N  with flash-decoding, at most N splits (default 64)\n"
             "  --flash-split-lanes L  with flash-decoding on a GPU, the first kernel's\n"
             "                      layout: positions (a lane per position; the default)\n"
             "                      or elements (a lane per head element, the older one)\n"
             "  --cuda-graph-replay with --backend cuda: capture the first decode step as a\n"
             "                      CUDA graph and replay it for every later one (position\n"
             "                      and token id in device memory); the default with CUDA\n"
             "                      graphs unless the model uses QK-norm\n"
             "  --no-cuda-graph-replay  capture every decode step anew as a CUDA graph\n"
             "  --no-cuda-graphs    with --backend cuda: launch every kernel from the host\n"
             "                      instead of replaying each step as a CUDA graph\n"
             "  --no-run-ahead      greedy decode: wait for each step's token before launching\n"
             "                      the next step (by default, with a replayed CUDA graph, the\n"
             "                      next step is launched first)\n"
             "  --fold-argmax       with a replayed CUDA graph: the greedy arg-max's first\n"
             "                      pass in the LM head's epilogue and the position moved by\n"
             "                      its second pass (two kernels fewer per step) instead of\n"
             "                      two arg-max kernels and a position kernel\n"
             "  --reference         run the float64 reference forward pass on the host\n"
             "                      instead of Foundry kernels (slow; for checking)\n"
             "  --model PATH        GGUF model (default: $FOUNDRY_MODEL_PATH, else\n"
             "                      ${{FOUNDRY_CACHE_DIR:-${{XDG_CACHE_HOME:-~/.cache}}/foundry}}"
             "/models/{})\n"
             "  --temperature T     0 (default): greedy; above 0: sample from softmax(logits / T)\n"
             "                      after the penalty and the filters below\n"
             "  --top-k N           keep the N most likely tokens (default 0: off)\n"
             "  --top-p P           keep the most likely tokens up to probability mass P,\n"
             "                      0..1 (default 1: off)\n"
             "  --min-p P           keep tokens at least P times as likely as the most likely\n"
             "                      one, 0..1 (default 0: off)\n"
             "  --repeat-penalty F  divide positive (multiply negative) logits of recent tokens\n"
             "                      by F > 0 (default 1: off; also applies when greedy)\n"
             "  --repeat-last-n N   tokens the penalty looks back over, prompt included\n"
             "                      (default 64; 0: off)\n"
             "  --seed N            seed of the sampler (default 0; unused when greedy): the same\n"
             "                      seed gives the same tokens\n"
             "  --stop TEXT         stop when the output contains TEXT (not printed); repeatable\n"
             "  --ignore-eos        keep generating past end-of-generation tokens\n"
             "  --help              this text\n",
             kModelFileName);
}

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "foundry-generate: {}\n", message);
  print_usage(stderr);
  std::exit(2);
}

template <class T>
T parse_number(std::string_view option, std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty())
    usage_error(fmt::format("{}: '{}' is not a valid number", option, text));
  return value;
}

double parse_double(std::string_view option, std::string_view text) {
  // std::from_chars for double is not in every standard library this builds with.
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    usage_error(fmt::format("{}: '{}' is not a valid number", option, text));
  return v;
}

// Used when no --prompt is given (with --chat).
constexpr const char* kDefaultPrompt = "What is the capital of France? Answer in one sentence.";

options parse_options(int argc, char** argv) {
  options o;
  bool have_prompt = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::optional<std::string_view> inline_value;
    if (arg.starts_with("--")) {
      if (const auto eq = arg.find('='); eq != std::string_view::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&]() -> std::string_view {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    auto flag = [&] {
      if (inline_value) usage_error(fmt::format("{} takes no value", arg));
    };
    if (arg == "--prompt") {
      o.prompt = value();
      have_prompt = true;
    } else if (arg == "--max-tokens") {
      o.max_tokens = parse_number<std::uint32_t>(arg, value());
    } else if (arg == "--backend") {
      o.backend = value();
      o.backend_given = true;
      if (o.backend != "cpu" && o.backend != "cuda" && o.backend != "metal")
        usage_error(fmt::format("--backend: unknown backend '{}' (cpu, cuda or metal)", o.backend));
    } else if (arg == "--model") {
      o.model = value();
    } else if (arg == "--seed") {
      o.sampling.seed = parse_number<std::uint64_t>(arg, value());
    } else if (arg == "--temperature") {
      o.sampling.temperature = parse_double(arg, value());
    } else if (arg == "--top-k") {
      o.sampling.top_k = parse_number<std::uint32_t>(arg, value());
    } else if (arg == "--top-p") {
      o.sampling.top_p = parse_double(arg, value());
    } else if (arg == "--min-p") {
      o.sampling.min_p = parse_double(arg, value());
    } else if (arg == "--repeat-penalty") {
      o.sampling.repeat_penalty = parse_double(arg, value());
    } else if (arg == "--repeat-last-n") {
      o.sampling.repeat_last_n = parse_number<std::uint32_t>(arg, value());
    } else if (arg == "--stop") {
      o.stops.emplace_back(value());
      if (o.stops.back().empty()) usage_error("--stop must not be empty");
    } else if (arg == "--chat") {
      flag();
      o.chat = true;
    } else if (arg == "--reference") {
      flag();
      o.reference = true;
    } else if (arg == "--ignore-eos") {
      flag();
      o.ignore_eos = true;
    } else if (arg == "--prefill-chunk") {
      o.prefill_chunk = parse_number<std::uint32_t>(arg, value());
      if (o.prefill_chunk == 0) usage_error("--prefill-chunk must be at least 1");
    } else if (arg == "--prefill-tile") {
      const std::string t(value());
      if (t != "default" && t != "gpu") usage_error("--prefill-tile must be default or gpu");
      o.gpu_tiles = t == "gpu";
    } else if (arg == "--float-activations") {
      flag();
      o.q8_activations = false;
    } else if (arg == "--flash-decode") {
      flag();
      o.flash_decode = true;
    } else if (arg == "--no-flash-decode") {
      flag();
      o.flash_decode = false;
    } else if (arg == "--rope-in") {
      const std::string w(value());
      if (w == "qkv")
        o.rope = gen::rope_placement::qkv_epilogue;
      else if (w == "separate")
        o.rope = gen::rope_placement::separate_kernel;
      else if (w == "flash")
        o.rope = gen::rope_placement::flash_decode;
      else
        usage_error("--rope-in must be qkv, separate or flash");
    } else if (arg == "--decode-gemv") {
      const std::string w(value());
      if (w != "multi-row" && w != "row-major") usage_error("--decode-gemv must be multi-row or row-major");
      o.multi_row_gemvs = w == "multi-row";
    } else if (arg == "--flash-merge") {
      const std::string w(value());
      if (w == "combine")
        o.flash_merge = gen::flash_merge_at::combine_kernel;
      else if (w == "split")
        o.flash_merge = gen::flash_merge_at::split_kernel;
      else if (w == "wo")
        o.flash_merge = gen::flash_merge_at::wo_gemv;
      else
        usage_error("--flash-merge must be combine, split or wo");
    } else if (arg == "--flash-split-lanes") {
      const std::string l(value());
      if (l != "positions" && l != "elements") usage_error("--flash-split-lanes must be positions or elements");
      o.flash_split_lanes =
          l == "elements" ? foundry::kernels::split_lanes::elements : foundry::kernels::split_lanes::positions;
    } else if (arg == "--flash-split-positions") {
      o.flash_splits.positions_per_split = parse_number<std::uint32_t>(arg, value());
      if (o.flash_splits.positions_per_split == 0) usage_error("--flash-split-positions must be at least 1");
    } else if (arg == "--flash-max-splits") {
      o.flash_splits.max_splits = parse_number<std::uint32_t>(arg, value());
      if (o.flash_splits.max_splits == 0) usage_error("--flash-max-splits must be at least 1");
    } else if (arg == "--cuda-graph-replay") {
      flag();
      o.graph_replay = true;
    } else if (arg == "--no-cuda-graph-replay") {
      flag();
      o.graph_replay = false;
    } else if (arg == "--no-cuda-graphs") {
      flag();
      o.cuda_graphs = false;
    } else if (arg == "--no-run-ahead") {
      flag();
      o.run_ahead = false;
    } else if (arg == "--fold-argmax") {
      flag();
      o.fold_argmax = true;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(stdout);
      std::exit(0);
    } else {
      usage_error(fmt::format("unknown option '{}'", argv[i]));
    }
  }
  if (!have_prompt) {  // the default main job: a short chat
    o.prompt = kDefaultPrompt;
    o.chat = true;
  }
  if (o.reference && o.backend_given && o.backend != "cpu")
    usage_error("--reference runs on the host; it cannot be combined with --backend " + o.backend);
  try {
    o.sampling.validate();
  } catch (const gen::sampling_error& e) {
    usage_error(e.what());
  }
  return o;
}

// ${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/foundry}/models/<file>, as
// scripts/setup.sh and tests/CMakeLists.txt have it.
std::filesystem::path default_model_path() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
  };
  if (const std::string p = env("FOUNDRY_MODEL_PATH"); !p.empty()) return p;
  std::filesystem::path cache;
  if (const std::string c = env("FOUNDRY_CACHE_DIR"); !c.empty())
    cache = c;
  else if (const std::string x = env("XDG_CACHE_HOME"); !x.empty())
    cache = std::filesystem::path(x) / "foundry";
  else
    cache = std::filesystem::path(env("HOME")) / ".cache" / "foundry";
  return cache / "models" / kModelFileName;
}

// The decode path the options ask for: the float64 reference, or the
// library's kernels on the chosen backend.
std::unique_ptr<gen::decoder> make_decoder(const options& o, const gen::llama_model& model,
                                           std::uint32_t max_positions) {
  if (o.reference) return std::make_unique<foundry::test::reference_decoder>(model, max_positions);
  if (o.graph_replay.value_or(false) && (o.backend != "cuda" || !o.cuda_graphs))
    usage_error("--cuda-graph-replay needs --backend cuda with CUDA graphs");
  if (o.graph_replay.value_or(false) && model.hparams().arch.qk_norm)
    usage_error("--cuda-graph-replay: this model uses QK-norm, which has no position-buffer kernels");
  // Replayed graphs by default where the model allows them (QK-norm has no
  // position-buffer kernels yet).
  const bool replay = o.graph_replay.value_or(o.backend == "cuda" && o.cuda_graphs && !model.hparams().arch.qk_norm);
  // Flash-decoding by default on GPU backends (one threadgroup per head
  // leaves most of a GPU idle; bench/results/2026-12-06-h100-decode-pdl.md),
  // where the model's heads fit its kernels.
  const auto& hp = model.hparams();
  const bool flash_fits = foundry::kernels::flash_decode_supports(hp.n_head, hp.n_head_kv, hp.head_dim);
  const bool flash = o.flash_decode.value_or(o.backend != "cpu" && flash_fits);
  std::unique_ptr<foundry::backend> be;
  std::unique_ptr<gen::step_recorder> recorder;
  if (o.backend == "cpu") {
    be = foundry::cpu::make_backend();
  } else if (o.backend == "cuda") {
    be = foundry::cuda::make_backend();
    if (o.cuda_graphs) recorder = std::make_unique<gen::cuda_graph_step>(replay);
  } else if (o.backend == "metal") {
    be = foundry::metal_backend::make_backend();
  } else {
    throw foundry::backend_unavailable("backend " + o.backend + " is not available in this build");
  }
  fmt::print(stderr, "compiling kernels for the {} backend (cached after the first run)...\n", be->name());
  return gen::make_foundry_decoder(std::move(be), model, max_positions, std::move(recorder),
                                   {.prefill_chunk = o.prefill_chunk,
                                    .gpu_tiles = o.gpu_tiles,
                                    .q8_activations = o.q8_activations,
                                    .flash_decode = flash,
                                    .device_positions = replay,
                                    .rope = o.rope,
                                    .multi_row_gemvs = o.multi_row_gemvs,
                                    .flash_merge = o.flash_merge,
                                    .flash_splits = o.flash_splits,
                                    .flash_split_lanes = o.flash_split_lanes,
                                    .fold_argmax = o.fold_argmax});
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(const options& o) {
  const std::filesystem::path path =
      o.model.empty() ? default_model_path() : std::filesystem::path(o.model);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw std::runtime_error("model not found at " + path.string() +
                             " (run scripts/setup.sh, or pass --model PATH)");

  const auto t_load = std::chrono::steady_clock::now();
  const gen::llama_model model = gen::llama_model::load(path);
  const gen::tokenizer tok = gen::tokenizer_from_gguf(model.file());
  fmt::print(stderr, "model: {}\n  {}\n  tensors: {}\n", path.string(), model.describe(),
             model.type_summary());

  const std::string text = o.chat ? gen::chatml_prompt(model.file(), o.prompt) : o.prompt;
  const std::vector<std::int32_t> prompt =
      tok.encode(text, gen::adds_bos(model.file()), /*parse_special=*/true);
  if (prompt.empty()) throw std::runtime_error("the prompt encodes to no tokens");
  const std::uint32_t n_ctx = model.hparams().n_ctx_train;
  if (prompt.size() >= n_ctx)
    throw std::runtime_error(
        fmt::format("the prompt has {} tokens; the context holds {}", prompt.size(), n_ctx));
  const auto max_positions = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(n_ctx, prompt.size() + std::uint64_t{o.max_tokens}));

  const std::unique_ptr<gen::decoder> dec = make_decoder(o, model, max_positions);
  fmt::print(stderr, "decoder: {} (loaded in {:.2f} s), prompt: {} tokens\n", dec->name(),
             seconds_since(t_load), prompt.size());

  // Prompt: prefilled in chunks (--prefill-chunk; 1: one step per token);
  // the prediction after its last token is the first generated token, so
  // the prompt's time is the time to first token.
  const auto t_prompt = std::chrono::steady_clock::now();
  std::int32_t next = dec->prefill(prompt, 0);
  std::uint32_t pos = static_cast<std::uint32_t>(prompt.size());
  const double prompt_seconds = seconds_since(t_prompt);

  // Generation, streamed. `history` (prompt and generated tokens) feeds the
  // repetition penalty's window.
  gen::sampling_state sampler(o.sampling.seed);
  std::vector<std::int32_t> history(prompt.begin(), prompt.end());
  gen::stream_decoder stream(tok, /*render_special=*/o.ignore_eos);
  gen::stop_matcher stops(o.stops);
  const auto t_gen = std::chrono::steady_clock::now();
  std::uint32_t generated = 0, decode_steps = 0;
  // Host time of the decode steps issued after the first one (which may
  // record a CUDA graph, a one-time cost), for the per-step figure.
  std::uint32_t issued = 0, issued_after_first = 0;
  double host_at_first = 0.0;
  auto count_issued = [&] {
    if (++issued == 1)
      host_at_first = dec->host_seconds();
    else
      ++issued_after_first;
  };
  std::string stop = o.max_tokens == 0 ? "--max-tokens 0" : "";
  // Takes `token` as generated: prints it, or sets `stop` and returns false
  // where generation ends (end of generation, a stop string, --max-tokens,
  // a full context).
  auto accept = [&](std::int32_t token) {
    if (token < 0) throw std::runtime_error("the decoder produced no valid logits");
    if (!o.ignore_eos && tok.is_end_of_generation(token)) {
      stop = "end of generation (" + tok.token_text(token) + ")";
      return false;
    }
    history.push_back(token);
    const std::string piece = stops.push(stream.push(token));
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    ++generated;
    if (stops.stopped()) {
      stop = "stop string \"" + stops.matched() + "\"";
      return false;
    }
    if (generated == o.max_tokens) {
      stop = "--max-tokens";
      return false;
    }
    if (pos >= max_positions) {
      stop = "context full";
      return false;
    }
    return true;
  };
  if (!(o.run_ahead && o.sampling.greedy() && !o.sampling.penalizes())) {
    while (generated < o.max_tokens) {
      const std::int32_t token = dec->choose_next(next, o.sampling, sampler, history);
      if (!accept(token)) break;
      next = dec->step(token, pos++);
      count_issued();
      ++decode_steps;
    }
  } else if (o.max_tokens > 0) {
    // Greedy, one step ahead: the step at pos + 1 is launched on the argmax
    // of the step at pos (still on the device) before that argmax is
    // collected and printed. `running`: the step on `token` was launched.
    std::int32_t token = next;
    bool running = false;
    while (accept(token)) {
      if (!running) {
        dec->launch(token, pos);
        count_issued();
      }
      ++pos;
      ++decode_steps;
      // The next step only where its token can be used (known here: the
      // token limit and the context; an end of generation or a stop string
      // is seen one step late, and that step's token is dropped below).
      running = generated + 1 < o.max_tokens && pos < max_positions;
      if (running) {
        dec->launch_next(pos);
        count_issued();
      }
      token = dec->collect();
    }
    if (running) (void)dec->collect();
  }
  std::string rest;
  if (!stops.stopped()) rest = stops.push(stream.flush());
  if (!stops.stopped()) rest += stops.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const double gen_seconds = seconds_since(t_gen);

  // Rates are decoder steps per second (the first generated token comes from
  // the prompt's last step).
  auto rate = [](double n, double s) { return s > 0 ? n / s : 0.0; };
  fmt::print(stderr,
             "stopped: {}\nprompt tokens: {} ({:.1f} prompt tokens/s, prefill chunk {}), time to first token: "
             "{:.2f} s, generated tokens: {} ({:.2f} decode tokens/s), compiling kernels: {:.2f} s\n",
             stop, prompt.size(), rate(static_cast<double>(prompt.size()), prompt_seconds),
             o.reference ? 1u : o.prefill_chunk, prompt_seconds, generated,
             rate(static_cast<double>(decode_steps), gen_seconds), dec->compile_seconds());
  if (!o.sampling.greedy() && o.reference)
    fmt::print(stderr, "sampling: seed {}, {} tokens drawn on the host\n", o.sampling.seed, sampler.steps());
  else if (!o.sampling.greedy())
    fmt::print(stderr,
               "sampling: seed {}, {} tokens drawn ({} decided on the device, {} of them in a second round; "
               "{} read the full logits)\n",
               o.sampling.seed, sampler.steps(), sampler.device_decided, sampler.second_round, sampler.fallbacks);
  // The CPU backend runs each kernel as it is dispatched, so its "host time"
  // would be the whole step; the figure means something on GPU backends.
  // Two figures: over every step (the prompt's chunks and the first decode
  // step, which records the CUDA graph, included), and per decode step
  // after the first (the steady state of generation).
  if (const double host = dec->host_seconds(); host > 0 && o.backend != "cpu") {
    fmt::print(stderr, "host time per step: {:.1f} us (issuing kernels, before the wait for the result)",
               1e6 * host / static_cast<double>(prompt.size() + decode_steps));
    if (issued_after_first > 0)
      fmt::print(stderr, "; {:.1f} us per decode step after the first ({} steps)",
                 1e6 * (host - host_at_first) / static_cast<double>(issued_after_first), issued_after_first);
    fmt::print(stderr, "\n");
  }
  if (const std::uint64_t k = dec->dispatches_per_step(); k > 0)
    fmt::print(stderr, "kernels per decode step: {}\n", k);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_options(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "foundry-generate: {}\n", e.what());
    return 1;
  }
}
