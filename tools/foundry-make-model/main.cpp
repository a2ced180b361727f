// foundry-make-model: writes a small random-weight GGUF model of a supported
// architecture (random_model.hpp), with the tokenizer of another GGUF file.
//
//   foundry-make-model --arch NAME --tokenizer FILE.gguf [--seed N] OUTPUT.gguf
//     --arch NAME        llama, qwen2, qwen3 or smollm3 (the shapes of
//                        test_model_spec: hidden size 128, 4 layers)
//     --tokenizer FILE   GGUF file whose tokenizer.* metadata is copied
//     --seed N           seed of the weights (default 1)
//
// The same arguments give the same file, byte for byte. Exit codes: 0 done,
// 1 error (message on stderr), 2 usage.
#include <fmt/core.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "random_model.hpp"

namespace {

int usage(std::string_view why) {
  if (!why.empty()) fmt::print(stderr, "foundry-make-model: {}\n", why);
  std::fputs(
      "usage: foundry-make-model --arch NAME --tokenizer FILE.gguf [--seed N] OUTPUT.gguf\n"
      "  --arch NAME        llama, qwen2, qwen3 or smollm3\n"
      "  --tokenizer FILE   GGUF file whose tokenizer.* metadata is copied\n"
      "  --seed N           seed of the weights (default 1)\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string arch, tokenizer, output;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--arch" && has_value) {
      arch = argv[++i];
    } else if (a == "--tokenizer" && has_value) {
      tokenizer = argv[++i];
    } else if (a == "--seed" && has_value) {
      const std::string_view v = argv[++i];
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seed);
      if (ec != std::errc{} || end != v.data() + v.size()) return usage(fmt::format("--seed: '{}' is not a number", v));
    } else if (a == "--help" || a == "-h") {
      return usage("");
    } else if (!a.starts_with("-") && output.empty()) {
      output = a;
    } else {
      return usage(fmt::format("unexpected argument '{}'", a));
    }
  }
  if (arch.empty() || tokenizer.empty() || output.empty()) return usage("--arch, --tokenizer and OUTPUT are required");
  try {
    const foundry::gguf::file src = foundry::gguf::file::open(tokenizer);
    foundry::tools::write_random_model(foundry::tools::test_model_spec(arch, seed), src, output);
    fmt::print(stderr, "wrote {} ({} model, seed {})\n", output, arch, seed);
  } catch (const std::exception& e) {
    fmt::print(stderr, "foundry-make-model: {}\n", e.what());
    return 1;
  }
  return 0;
}
