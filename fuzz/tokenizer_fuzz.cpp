// libFuzzer target: the byte-level BPE tokenizer (examples/generate/
// tokenizer.hpp). For any bytes, encode then decode must give the text back
// (byte-level BPE is lossless, with or without special-token parsing) with
// each byte outside a well-formed UTF-8 sequence replaced by U+FFFD (the
// tokenizer's documented rule, as llama.cpp), every id must be inside the
// vocabulary, and nothing may throw.
//
// Input: byte 0 picks the options (bit 0: parse special tokens; bit 1: the
// "smollm" pre-tokenizer, which splits digits first, instead of "gpt2"); the
// rest is the text. The vocabulary is built here: the 256 byte tokens, a few
// merges (so that merging runs) and two CONTROL tokens (<|im_start|>,
// <|im_end|>). With FOUNDRY_FUZZ_MODEL set to a GGUF file, that file's
// tokenizer (tokenizer.ggml.*) is used instead.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <foundry/io/gguf.hpp>

#include "examples/generate/gguf_tokenizer.hpp"
#include "examples/generate/tokenizer.hpp"

namespace gen = foundry::generate;

namespace {

gen::tokenizer builtin_tokenizer(const std::string& pre) {
  std::vector<std::string> tokens;
  const auto& table = gen::detail::byte_unicode();
  for (std::size_t b = 0; b < 256; ++b) {
    std::string s;
    gen::detail::append_utf8(s, table.byte_to_cp[b]);
    tokens.push_back(s);
  }
  for (const char* t : {"th", "he", "the", "in", "ing", "\xc4\xa0t", "\xc4\xa0the", "er", "an",
                        "\xc4\xa0" "a", "\xc4\xa0\xc4\xa0", "12", "<|im_start|>", "<|im_end|>"})
    tokens.emplace_back(t);
  std::vector<std::string> merges{"t h",         "h e",         "th e",          "i n",
                                  "in g",        "\xc4\xa0 t",  "\xc4\xa0t he",  "e r",
                                  "a n",         "\xc4\xa0 a",  "\xc4\xa0 \xc4\xa0", "1 2"};
  std::vector<std::int32_t> types(tokens.size(), static_cast<std::int32_t>(gen::token_type::normal));
  types[types.size() - 2] = types[types.size() - 1] =
      static_cast<std::int32_t>(gen::token_type::control);
  gen::special_token_ids special;
  special.eos = static_cast<std::int32_t>(tokens.size() - 1);
  return gen::tokenizer(std::move(tokens), std::move(merges), std::move(types), special, pre);
}

struct tokenizers {
  std::unique_ptr<gen::tokenizer> gpt2, smollm;
  tokenizers() {
    if (const char* model = std::getenv("FOUNDRY_FUZZ_MODEL"); model != nullptr && *model) {
      const auto f = foundry::gguf::file::open(model);
      gpt2 = std::make_unique<gen::tokenizer>(gen::tokenizer_from_gguf(f));
      smollm = std::make_unique<gen::tokenizer>(gen::tokenizer_from_gguf(f));
      return;
    }
    gpt2 = std::make_unique<gen::tokenizer>(builtin_tokenizer("gpt2"));
    smollm = std::make_unique<gen::tokenizer>(builtin_tokenizer("smollm"));
  }
};

/// `text` with every byte that does not start a well-formed UTF-8 sequence
/// replaced by U+FFFD (EF BF BD), one replacement per byte.
std::string utf8_cleaned(std::string_view text) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    const std::size_t len = gen::detail::utf8_sequence(p + pos, text.size() - pos, &cp);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++pos;
    } else {
      out.append(text.substr(pos, len));
      pos += len;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const tokenizers t;
  if (size == 0) return 0;
  const bool parse_special = (data[0] & 1) != 0;
  const gen::tokenizer& tok = (data[0] & 2) != 0 ? *t.smollm : *t.gpt2;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<std::int32_t> ids = tok.encode(text, false, parse_special);
  for (const std::int32_t id : ids)
    if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size()) __builtin_trap();
  // Special tokens are matched on the raw text, so the replacement applies
  // to the stretches between them; no special token contains an invalid
  // byte, so cleaning the whole text is the same.
  const std::string expected = utf8_cleaned(text);
  if (tok.decode(ids) != expected) __builtin_trap();
  // Every token stands for at least one byte.
  if (ids.size() > expected.size()) __builtin_trap();
  return 0;
}
