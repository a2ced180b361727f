// The tokenizer of a GGUF model file (tokenizer.ggml.* metadata) and its
// ChatML prompt, for the generation example. Needs PCRE2 (see tokenizer.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <foundry/io/gguf.hpp>

#include "examples/generate/tokenizer.hpp"

namespace foundry::generate {

/// The byte-level BPE tokenizer described by `f`: tokenizer.ggml.tokens,
/// .merges, .token_type, .bos_token_id / .eos_token_id / .unknown_token_id /
/// .padding_token_id (optional) and .pre. Only tokenizer.ggml.model = "gpt2"
/// (byte-level BPE) is supported; anything else throws std::invalid_argument.
inline tokenizer tokenizer_from_gguf(const gguf::file& f) {
  const std::string_view model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    throw std::invalid_argument("tokenizer: tokenizer.ggml.model '" + std::string(model) +
                                "' is not supported (byte-level BPE, 'gpt2', only)");
  auto strings = [&](std::string_view key) {
    const auto views = f.get_string_array(key);
    return std::vector<std::string>(views.begin(), views.end());
  };
  auto optional_id = [&](std::string_view key) -> std::optional<std::int32_t> {
    if (!f.contains(key)) return std::nullopt;
    return f.get_integer<std::int32_t>(key);
  };
  special_token_ids special;
  special.bos = optional_id("tokenizer.ggml.bos_token_id").value_or(-1);
  special.eos = optional_id("tokenizer.ggml.eos_token_id").value_or(-1);
  special.unk = optional_id("tokenizer.ggml.unknown_token_id");
  special.pad = optional_id("tokenizer.ggml.padding_token_id");
  std::vector<std::int32_t> types;
  if (f.contains("tokenizer.ggml.token_type"))
    types = f.get_array<std::int32_t>("tokenizer.ggml.token_type").to_vector();
  return tokenizer(strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges"),
                   std::move(types), special,
                   std::string(f.find<std::string_view>("tokenizer.ggml.pre").value_or("gpt2")));
}

/// Whether prompts start with BOS (tokenizer.ggml.add_bos_token; false when
/// absent, as llama.cpp assumes for byte-level BPE vocabularies).
inline bool adds_bos(const gguf::file& f) {
  return f.find<bool>("tokenizer.ggml.add_bos_token").value_or(false);
}

/// A one-turn ChatML conversation for `user_text`, ending with the assistant
/// generation prompt, with the default system prompt of the file's
/// tokenizer.chat_template (SmolLM2: "You are a helpful AI assistant named
/// SmolLM, trained by Hugging Face"). Throws std::invalid_argument when the
/// file has no ChatML template.
inline std::string chatml_prompt(const gguf::file& f, std::string_view user_text) {
  const std::string_view jinja =
      f.find<std::string_view>("tokenizer.chat_template").value_or(std::string_view{});
  if (!is_chatml_template(jinja))
    throw std::invalid_argument(
        "--chat: the model's tokenizer.chat_template is not a ChatML template");
  const chat_message turn{"user", std::string(user_text)};
  return tokenizer::apply_chat_template(std::span<const chat_message>(&turn, 1), true,
                                        chatml_default_system_prompt(jinja));
}

}  // namespace foundry::generate
