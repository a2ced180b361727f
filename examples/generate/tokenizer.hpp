// Byte-level BPE tokenizer (GPT-2 style) for the generation example.
//
// The vocabulary comes in as plain vectors (as stored in a GGUF file under
// tokenizer.ggml.tokens / .merges / .token_type), so this header does not
// depend on any file reader. Header-only; needs PCRE2 (8-bit code units):
// link with `pkg-config --libs libpcre2-8`.
//
// Pipeline of encode():
//   1. Special tokens are cut out of the text first, matched literally
//      (leftmost, longest at a position, as `tokenizers` does; llama.cpp
//      tries longer tokens first over the whole text, which differs only when
//      one special token overlaps another, never in SmolLM2): CONTROL tokens
//      when parse_special is true, USER_DEFINED tokens always.
//   2. Every remaining segment is pre-tokenized into words by the regexes of
//      the model's pre-tokenizer (tokenizer.ggml.pre), see pre_tokenizer_kind.
//      Bytes of the input that are not well-formed UTF-8 are read as U+FFFD.
//   3. Each word is mapped byte by byte to the GPT-2 printable code points and
//      merged by BPE, lowest merge rank first (leftmost on ties). Bytes that
//      have no token in the vocabulary are dropped.
//
// The results match llama.cpp's tokenizer for the same GGUF (and the
// Hugging Face `tokenizers` library for valid UTF-8 without such bytes), so
// decode(encode(x)) == x for any UTF-8 text whose bytes all have tokens.
//
// Decoding maps the code points of each token back to bytes; CONTROL and
// USER_DEFINED tokens are rendered as their text. stream_decoder emits the
// same bytes piecewise and holds back an incomplete trailing UTF-8 sequence.
//
// A tokenizer is immutable after construction: encode and decode may run on
// several threads at once.
#pragma once

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace foundry::generate {

// Values of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class token_type : std::int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct special_token_ids {
  std::int32_t bos = -1;  // -1: none
  std::int32_t eos = -1;  // -1: none
  // Kept for callers; byte-level BPE never needs an unknown token (encode
  // drops bytes that have no token, as llama.cpp does).
  std::optional<std::int32_t> unk;
  std::optional<std::int32_t> pad;
};

struct chat_message {
  std::string role;
  std::string content;
};

// Pre-tokenizers, by the value of tokenizer.ggml.pre.
//
//   gpt2    ("gpt2", "mpt", "olmo", "jais"): the GPT-2 regex alone.
//   digits_then_gpt2 ("smollm", "starcoder", "refact", "command-r",
//           "codeshell", "exaone", "minerva"): every \p{N} code point is split
//           off on its own first, then the GPT-2 regex runs on each stretch
//           between them (the lookahead of `\s+(?!\S)` sees the end of the
//           stretch, not the digit after it).
//   llama3  ("llama3", "llama-v3", "llama-bpe", "falcon3", "lfm2"; Llama 3's
//           tokenizer, also SmolLM3's): contractions of either case, a letter
//           run with at most one non-letter, non-digit, non-newline character
//           before it, digit runs of 1 to 3, punctuation runs with their
//           newlines, newline runs, then the GPT-2 whitespace rules:
//           (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|
//           [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//           \s*[\r\n]+|\s+(?!\S)|\s+
//           and a word that is a token of the vocabulary is that token, without
//           BPE merges (llama.cpp's `ignore_merges`).
//   qwen2   ("qwen2", "deepseek-r1-qwen"; Qwen2, Qwen2.5, Qwen3): as llama3 with
//           single digits (\p{N}) and with the merges applied to every word.
//
// Sources: llama.cpp's `llama_vocab::impl::load` (the names, ignore_merges)
// and `llm_tokenizer_bpe` (the regexes, written there as in each model's
// tokenizer.json with (?i:...) spelled out), src/llama-vocab.cpp.
//
// Why: llama.cpp maps "smollm" (SmolLM/SmolLM2) to the regex list
// {"\p{N}", <GPT-2 regex>} applied in sequence (the same list as "starcoder"),
// and SmolLM2's Hugging Face tokenizer.json declares the same thing as
// Sequence[Digits(individual_digits = true), ByteLevel(add_prefix_space =
// false, use_regex = true)]. The GGUF file does not carry the regex itself.
//
// The GPT-2 regex is written as the `tokenizers` ByteLevel pre-tokenizer has
// it, `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
// with \s spelled out as the Unicode White_Space set [\t-\r\x{85}\p{Z}]
// (what Rust's and llama.cpp's \s mean; PCRE2's \s under UCP leaves out
// U+0085). Unknown names are rejected rather than tokenized approximately.
enum class pre_tokenizer_kind { gpt2, digits_then_gpt2, llama3, qwen2 };

inline pre_tokenizer_kind pre_tokenizer_from_name(std::string_view name) {
  for (std::string_view n : {"gpt2", "mpt", "olmo", "jais"})
    if (name == n) return pre_tokenizer_kind::gpt2;
  for (std::string_view n :
       {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"})
    if (name == n) return pre_tokenizer_kind::digits_then_gpt2;
  for (std::string_view n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "lfm2"})
    if (name == n) return pre_tokenizer_kind::llama3;
  for (std::string_view n : {"qwen2", "deepseek-r1-qwen"})
    if (name == n) return pre_tokenizer_kind::qwen2;
  throw std::invalid_argument("tokenizer: unsupported pre-tokenizer '" + std::string(name) +
                              "' (supported: gpt2, mpt, olmo, jais, smollm, starcoder, refact, "
                              "command-r, codeshell, exaone, minerva, llama3, llama-v3, llama-bpe, "
                              "falcon3, lfm2, qwen2, deepseek-r1-qwen)");
}

namespace detail {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to
// U+0100 and up, in byte order.
struct byte_unicode_table {
  std::array<char32_t, 256> byte_to_cp{};
  std::array<std::int16_t, 324> cp_to_byte{};  // code points < 324; -1 when unmapped

  byte_unicode_table() {
    cp_to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const char32_t cp =
          printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      byte_to_cp[static_cast<std::size_t>(b)] = cp;
      cp_to_byte[cp] = static_cast<std::int16_t>(b);
    }
  }
};

inline const byte_unicode_table& byte_unicode() {
  static const byte_unicode_table table;
  return table;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the well-formed UTF-8 sequence at s[0..n), or 0 when there is
// none (bad lead byte, bad or missing continuation, overlong form, surrogate,
// or a code point above U+10FFFF). Writes the code point to *cp.
inline std::size_t utf8_sequence(const unsigned char* s, std::size_t n, char32_t* cp) {
  if (n == 0) return 0;
  const unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  char32_t v = c & (0x7F >> len);
  for (std::size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return len;
}

// Number of bytes at the end of s that start a UTF-8 sequence still missing
// continuation bytes (0 when s ends on a sequence boundary or in bytes that
// no continuation could make valid).
inline std::size_t incomplete_utf8_tail(std::string_view s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    std::size_t need = 0;
    if (c >= 0xC2 && c <= 0xDF)
      need = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      need = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

struct pcre2_code_deleter {
  void operator()(pcre2_code* code) const noexcept { pcre2_code_free(code); }
};
struct pcre2_match_data_deleter {
  void operator()(pcre2_match_data* data) const noexcept { pcre2_match_data_free(data); }
};
using pcre2_code_ptr = std::unique_ptr<pcre2_code, pcre2_code_deleter>;
using pcre2_match_data_ptr = std::unique_ptr<pcre2_match_data, pcre2_match_data_deleter>;

inline std::string pcre2_message(int code) {
  std::array<PCRE2_UCHAR, 256> buffer{};
  const int n = pcre2_get_error_message(code, buffer.data(), buffer.size());
  return n < 0 ? "PCRE2 error " + std::to_string(code)
               : std::string(reinterpret_cast<const char*>(buffer.data()),
                             static_cast<std::size_t>(n));
}

// Compiles with UTF and UCP; JIT-compiles when PCRE2 has a JIT for this
// machine (the interpreter is used otherwise).
inline pcre2_code_ptr compile_regex(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr)
    throw std::logic_error("tokenizer: regex does not compile at offset " + std::to_string(offset) +
                           ": " + pcre2_message(error));
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return pcre2_code_ptr(code);
}

// Calls fn(begin, end, matched) for the pieces of s[0..n) that `code` cuts
// it into: each match (matched = true) and each stretch between matches
// (matched = false). `s` must be valid UTF-8. fn may run other matches with
// the same match data.
template <typename Fn>
void regex_split(const pcre2_code* code, pcre2_match_data* md, const char* s, std::size_t n,
                 Fn&& fn) {
  std::size_t pos = 0;
  while (pos < n) {
    const int rc =
        pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s), n, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw std::runtime_error("tokenizer: regex match failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const std::size_t begin = ov[0];
    std::size_t end = ov[1];
    if (end == begin) {  // empty match (the patterns here have none): take one code point
      char32_t cp = 0;
      end = begin + std::max<std::size_t>(
                        1, utf8_sequence(reinterpret_cast<const unsigned char*>(s) + begin,
                                         n - begin, &cp));
    }
    if (begin > pos) fn(pos, begin, false);
    fn(begin, end, true);
    pos = end;
  }
  if (pos < n) fn(pos, n, false);
}

struct transparent_string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace detail

class tokenizer {
 public:
  // tokens[i] is the text of token i in the GPT-2 byte-to-unicode alphabet;
  // merges[r] is "left right" with rank r (lower merges first); token_types
  // has one entry per token (or is empty: all normal). Throws
  // std::invalid_argument on a malformed or unknown merge (naming its line),
  // on a size mismatch or an unknown pre-tokenizer name, and
  // std::out_of_range on a special id outside the vocabulary.
  tokenizer(std::vector<std::string> tokens, std::vector<std::string> merges,
            std::vector<std::int32_t> token_types, special_token_ids special,
            std::string pre_tokenizer_name)
      : tokens_(std::move(tokens)),
        types_(std::move(token_types)),
        special_(special),
        pre_name_(std::move(pre_tokenizer_name)),
        pre_kind_(pre_tokenizer_from_name(pre_name_)) {
    if (tokens_.empty()) throw std::invalid_argument("tokenizer: empty vocabulary");
    if (tokens_.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      throw std::invalid_argument("tokenizer: vocabulary too large");
    if (types_.empty())
      types_.assign(tokens_.size(), static_cast<std::int32_t>(token_type::normal));
    if (types_.size() != tokens_.size())
      throw std::invalid_argument("tokenizer: " + std::to_string(types_.size()) +
                                  " token types for " + std::to_string(tokens_.size()) + " tokens");
    auto check_special = [&](std::int32_t id, const char* what, bool allow_none) {
      if (allow_none && id == -1) return;
      if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
        throw std::out_of_range(std::string("tokenizer: ") + what + " token id " +
                                std::to_string(id) + " out of range [0, " +
                                std::to_string(tokens_.size()) + ")");
    };
    check_special(special_.bos, "bos", true);
    check_special(special_.eos, "eos", true);
    if (special_.unk) check_special(*special_.unk, "unk", false);
    if (special_.pad) check_special(*special_.pad, "pad", false);

    token_to_id_.reserve(tokens_.size());
    for (std::size_t i = 0; i < tokens_.size(); ++i)
      token_to_id_.try_emplace(tokens_[i], static_cast<std::int32_t>(i));  // first id wins

    build_byte_tokens();
    build_merges(merges);
    build_decoded();
    build_special_matcher();
    compile_pre_tokenizer();
  }

  tokenizer(tokenizer&&) = default;
  tokenizer& operator=(tokenizer&&) = default;
  tokenizer(const tokenizer&) = delete;
  tokenizer& operator=(const tokenizer&) = delete;
  ~tokenizer() = default;

  // ---------------------------------------------------------------- queries
  std::size_t vocab_size() const noexcept { return tokens_.size(); }
  std::size_t merge_count() const noexcept { return merges_.size(); }
  std::int32_t bos_id() const noexcept { return special_.bos; }
  std::int32_t eos_id() const noexcept { return special_.eos; }
  std::optional<std::int32_t> unk_id() const noexcept { return special_.unk; }
  std::optional<std::int32_t> pad_id() const noexcept { return special_.pad; }
  const std::string& pre_tokenizer_name() const noexcept { return pre_name_; }

  // The vocabulary entry (byte-to-unicode alphabet, as in the model file).
  const std::string& raw_token(std::int32_t id) const { return tokens_[check_id(id)]; }
  token_type type_of(std::int32_t id) const {
    return static_cast<token_type>(types_[check_id(id)]);
  }
  std::optional<std::int32_t> find_token(std::string_view raw) const {
    const auto it = token_to_id_.find(raw);
    if (it == token_to_id_.end()) return std::nullopt;
    return it->second;
  }
  // End of a turn or of the text: eos, or a CONTROL token spelled like the
  // usual end markers (<|im_end|>, <|endoftext|>, <|eot_id|>, <|end|>, <end_of_turn>).
  bool is_end_of_generation(std::int32_t id) const {
    const std::size_t i = check_id(id);
    if (id == special_.eos) return true;
    if (static_cast<token_type>(types_[i]) != token_type::control) return false;
    for (std::string_view t :
         {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"})
      if (tokens_[i] == t) return true;
    return false;
  }

  // ---------------------------------------------------------------- encode
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const {
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && special_.bos >= 0) out.push_back(special_.bos);
    scratch s(*this);
    std::size_t segment = 0, pos = 0;
    while (pos < text.size()) {
      const std::int32_t id = match_special(text, pos, parse_special);
      if (id < 0) {
        ++pos;
        continue;
      }
      encode_segment(text.substr(segment, pos - segment), s, out);
      out.push_back(id);
      pos += tokens_[static_cast<std::size_t>(id)].size();
      segment = pos;
    }
    encode_segment(text.substr(segment), s, out);
    return out;
  }

  // The words the pre-tokenizer cuts `text` into (no special-token handling).
  std::vector<std::string> pre_tokenize(std::string_view text) const {
    std::vector<std::string> words;
    scratch s(*this);
    for_each_word(text, s, [&](std::string_view w) { words.emplace_back(w); });
    return words;
  }

  // ---------------------------------------------------------------- decode
  // The bytes of one token (a piece of UTF-8, possibly an incomplete one).
  // Throws std::out_of_range for an id outside the vocabulary.
  std::string token_text(std::int32_t id) const { return decoded_[check_id(id)]; }
  std::string_view token_bytes(std::int32_t id) const { return decoded_[check_id(id)]; }

  // render_special = false leaves CONTROL tokens (bos, eos, <|im_start|>, ...) out.
  std::string decode(std::span<const std::int32_t> ids, bool render_special = true) const {
    std::string out;
    for (const std::int32_t id : ids) {
      const std::size_t i = check_id(id);
      if (!render_special && static_cast<token_type>(types_[i]) == token_type::control) continue;
      out += decoded_[i];
    }
    return out;
  }

  // ---------------------------------------------------------------- chat
  // ChatML: "<|im_start|>{role}\n{content}<|im_end|>\n" per message, then
  // "<|im_start|>assistant\n" when add_generation_prompt. A non-empty
  // default_system_prompt is put first as a system message when the first
  // message is not one (SmolLM2's template does so; see
  // chatml_default_system_prompt to take it from tokenizer.chat_template).
  static std::string apply_chat_template(std::span<const chat_message> messages,
                                         bool add_generation_prompt,
                                         std::string_view default_system_prompt = {}) {
    std::string out;
    auto turn = [&out](std::string_view role, std::string_view content) {
      out += "<|im_start|>";
      out += role;
      out += '\n';
      out += content;
      out += "<|im_end|>\n";
    };
    if (!default_system_prompt.empty() && (messages.empty() || messages.front().role != "system"))
      turn("system", default_system_prompt);
    for (const chat_message& m : messages) turn(m.role, m.content);
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }

 private:
  struct merge_entry {
    std::int32_t rank;
    std::int32_t merged;
  };

  // Per-call working memory (encode is const and may run on several threads).
  struct scratch {
    explicit scratch(const tokenizer& t)
        : match(pcre2_match_data_create_from_pattern(t.word_regex_.get(), nullptr)) {
      if (!match) throw std::bad_alloc();
    }
    detail::pcre2_match_data_ptr match;
    std::string word_text;  // a word in the byte-to-unicode alphabet (ignore_merges)
    struct symbol {
      std::int32_t id;
      std::int32_t prev;
      std::int32_t next;
    };
    struct candidate {
      std::int32_t rank;
      std::int32_t pos;
      std::int32_t left;
      std::int32_t right;
      std::int32_t merged;
      bool operator>(const candidate& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::vector<symbol> symbols;
    std::vector<candidate> heap;
  };

  std::size_t check_id(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
      throw std::out_of_range("tokenizer: token id " + std::to_string(id) + " out of range [0, " +
                              std::to_string(tokens_.size()) + ")");
    return static_cast<std::size_t>(id);
  }

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }

  void build_byte_tokens() {
    const auto& table = detail::byte_unicode();
    for (std::size_t b = 0; b < 256; ++b) {
      std::string s;
      detail::append_utf8(s, table.byte_to_cp[b]);
      const auto it = token_to_id_.find(s);
      byte_token_[b] = it == token_to_id_.end() ? -1 : it->second;
    }
  }

  void build_merges(const std::vector<std::string>& merges) {
    merges_.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& line = merges[rank];
      auto fail = [&](const std::string& why) {
        throw std::invalid_argument("tokenizer: merge line " + std::to_string(rank + 1) + " '" +
                                    line + "': " + why);
      };
      // Split at the first space after the first character (as llama.cpp
      // does), so a left part that is itself a space stays possible.
      const std::size_t sp = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos || sp + 1 >= line.size())
        fail("expected two tokens separated by one space");
      const std::string_view left(line.data(), sp);
      const std::string_view right(line.data() + sp + 1, line.size() - sp - 1);
      if (right.find(' ') != std::string_view::npos) fail("more than two parts");
      const auto l = token_to_id_.find(left);
      const auto r = token_to_id_.find(right);
      if (l == token_to_id_.end()) fail("'" + std::string(left) + "' is not in the vocabulary");
      if (r == token_to_id_.end()) fail("'" + std::string(right) + "' is not in the vocabulary");
      std::string joined;
      joined.reserve(left.size() + right.size());
      joined.append(left).append(right);
      const auto m = token_to_id_.find(joined);
      if (m == token_to_id_.end()) fail("merged token '" + joined + "' is not in the vocabulary");
      // A repeated pair keeps its first (lowest) rank.
      merges_.try_emplace(pair_key(l->second, r->second),
                          merge_entry{static_cast<std::int32_t>(rank), m->second});
    }
  }

  void build_decoded() {
    const auto& table = detail::byte_unicode();
    decoded_.resize(tokens_.size());
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      const std::string& raw = tokens_[i];
      const auto type = static_cast<token_type>(types_[i]);
      if (type == token_type::control || type == token_type::user_defined) {
        decoded_[i] = raw;
        continue;
      }
      std::string bytes;
      bytes.reserve(raw.size());
      bool mapped = true;
      const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
      std::size_t k = 0;
      while (k < raw.size()) {
        char32_t cp = 0;
        const std::size_t len = detail::utf8_sequence(p + k, raw.size() - k, &cp);
        if (len == 0 || cp >= table.cp_to_byte.size() || table.cp_to_byte[cp] < 0) {
          mapped = false;
          break;
        }
        bytes += static_cast<char>(static_cast<unsigned char>(table.cp_to_byte[cp]));
        k += len;
      }
      // A token outside the byte alphabet is its own text (as the Hugging
      // Face ByteLevel decoder does).
      decoded_[i] = mapped ? std::move(bytes) : raw;
    }
  }

  void build_special_matcher() {
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      const auto type = static_cast<token_type>(types_[i]);
      if ((type != token_type::control && type != token_type::user_defined) || tokens_[i].empty())
        continue;
      special_by_first_byte_[static_cast<unsigned char>(tokens_[i][0])].push_back(
          static_cast<std::int32_t>(i));
    }
    for (auto& list : special_by_first_byte_)
      std::stable_sort(list.begin(), list.end(), [&](std::int32_t a, std::int32_t b) {
        return tokens_[static_cast<std::size_t>(a)].size() >
               tokens_[static_cast<std::size_t>(b)].size();
      });
  }

  void compile_pre_tokenizer() {
    // Unicode White_Space, as a class body: \t \n \v \f \r, U+0085, Zs, Zl, Zp.
#define FOUNDRY_TOKENIZER_WS "\\t-\\r\\x{85}\\p{Z}"
    static constexpr std::string_view gpt2 =
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" FOUNDRY_TOKENIZER_WS
        "\\p{L}\\p{N}]+|[" FOUNDRY_TOKENIZER_WS "]+(?![^" FOUNDRY_TOKENIZER_WS
        "])|[" FOUNDRY_TOKENIZER_WS "]+";
    // Llama 3 and Qwen2 (see pre_tokenizer_kind): they differ in the digit rule only.
    static constexpr std::string_view llama3 =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" FOUNDRY_TOKENIZER_WS
        "\\p{L}\\p{N}]+[\\r\\n]*|[" FOUNDRY_TOKENIZER_WS "]*[\\r\\n]+|[" FOUNDRY_TOKENIZER_WS "]+(?![^" FOUNDRY_TOKENIZER_WS
        "])|[" FOUNDRY_TOKENIZER_WS "]+";
    static constexpr std::string_view qwen2 =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" FOUNDRY_TOKENIZER_WS
        "\\p{L}\\p{N}]+[\\r\\n]*|[" FOUNDRY_TOKENIZER_WS "]*[\\r\\n]+|[" FOUNDRY_TOKENIZER_WS "]+(?![^" FOUNDRY_TOKENIZER_WS
        "])|[" FOUNDRY_TOKENIZER_WS "]+";
#undef FOUNDRY_TOKENIZER_WS
    word_regex_ = detail::compile_regex(pre_kind_ == pre_tokenizer_kind::llama3  ? llama3
                                        : pre_kind_ == pre_tokenizer_kind::qwen2 ? qwen2
                                                                                 : gpt2);
    if (pre_kind_ == pre_tokenizer_kind::digits_then_gpt2)
      digit_regex_ = detail::compile_regex("\\p{N}");
  }

  // Id of the special token that starts at text[pos] (longest first), or -1.
  std::int32_t match_special(std::string_view text, std::size_t pos, bool parse_special) const {
    const auto& list = special_by_first_byte_[static_cast<unsigned char>(text[pos])];
    for (const std::int32_t id : list) {
      const std::string& t = tokens_[static_cast<std::size_t>(id)];
      if (!parse_special &&
          static_cast<token_type>(types_[static_cast<std::size_t>(id)]) == token_type::control)
        continue;
      if (text.size() - pos >= t.size() && std::memcmp(text.data() + pos, t.data(), t.size()) == 0)
        return id;
    }
    return -1;
  }

  // Calls fn(word) for each pre-token word of `text`.
  template <typename Fn>
  void for_each_word(std::string_view text, scratch& s, Fn&& fn) const {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t pos = 0;
    char32_t cp = 0;
    while (pos < text.size()) {
      const std::size_t len = detail::utf8_sequence(p + pos, text.size() - pos, &cp);
      if (len == 0) break;
      pos += len;
    }
    if (pos == text.size()) {
      split_valid(text, s, fn);
      return;
    }
    // Not UTF-8: every byte that does not belong to a well-formed sequence
    // becomes U+FFFD, as llama.cpp does (it decodes overlong forms and
    // surrogates leniently instead; here they are replaced as well).
    std::string clean(text.substr(0, pos));
    while (pos < text.size()) {
      const std::size_t len = detail::utf8_sequence(p + pos, text.size() - pos, &cp);
      if (len == 0) {
        clean += "\xEF\xBF\xBD";
        ++pos;
      } else {
        clean.append(text.substr(pos, len));
        pos += len;
      }
    }
    split_valid(clean, s, fn);
  }

  template <typename Fn>
  void split_valid(std::string_view text, scratch& s, Fn&& fn) const {
    if (text.empty()) return;
    auto words = [&](std::string_view stretch) {
      detail::regex_split(
          word_regex_.get(), s.match.get(), stretch.data(), stretch.size(),
          [&](std::size_t b, std::size_t e, bool) { fn(stretch.substr(b, e - b)); });
    };
    if (pre_kind_ != pre_tokenizer_kind::digits_then_gpt2) {
      words(text);
      return;
    }
    // digits_then_gpt2: each \p{N} code point alone; the GPT-2 regex runs on
    // each stretch in between, as a text of its own.
    detail::regex_split(digit_regex_.get(), s.match.get(), text.data(), text.size(),
                        [&](std::size_t b, std::size_t e, bool digit) {
                          if (digit)
                            fn(text.substr(b, e - b));
                          else
                            words(text.substr(b, e - b));
                        });
  }

  void encode_segment(std::string_view text, scratch& s, std::vector<std::int32_t>& out) const {
    if (text.empty()) return;
    for_each_word(text, s, [&](std::string_view w) { encode_word(w, s, out); });
  }

  // A byte without a token in the vocabulary (SmolLM2 has none for 0x04,
  // 0x06, 0x13, ...) is dropped, as llama.cpp and tokenizers do; it takes no
  // part in merges (as in llama.cpp; tokenizers lets its neighbours merge).
  static void push_symbol(std::int32_t id, std::vector<std::int32_t>& out) {
    if (id >= 0) out.push_back(id);
  }

  // BPE over one word: start from one symbol per byte, merge the adjacent
  // pair of lowest rank (leftmost among equals) until no pair has a merge.
  void encode_word(std::string_view word, scratch& s, std::vector<std::int32_t>& out) const {
    const std::size_t n = word.size();
    if (pre_kind_ == pre_tokenizer_kind::llama3 && n > 1) {  // ignore_merges: a whole-word token wins
      std::string& key = s.word_text;
      key.clear();
      for (const char c : word) detail::append_utf8(key, detail::byte_unicode().byte_to_cp[static_cast<unsigned char>(c)]);
      if (const auto it = token_to_id_.find(key); it != token_to_id_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    if (n == 1) {
      push_symbol(byte_token_[static_cast<unsigned char>(word[0])], out);
      return;
    }
    auto& sym = s.symbols;
    auto& heap = s.heap;
    sym.clear();
    heap.clear();
    for (std::size_t i = 0; i < n; ++i)
      sym.push_back({byte_token_[static_cast<unsigned char>(word[i])],
                     static_cast<std::int32_t>(i) - 1,
                     i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1});
    const std::greater<typename scratch::candidate> cmp;
    auto consider = [&](std::int32_t pos) {
      if (pos < 0) return;
      const auto& a = sym[static_cast<std::size_t>(pos)];
      if (a.next < 0 || a.id < 0) return;
      const std::int32_t right = sym[static_cast<std::size_t>(a.next)].id;
      if (right < 0) return;
      const auto it = merges_.find(pair_key(a.id, right));
      if (it == merges_.end()) return;
      heap.push_back({it->second.rank, pos, a.id, right, it->second.merged});
      std::push_heap(heap.begin(), heap.end(), cmp);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<std::int32_t>(i));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      const auto c = heap.back();
      heap.pop_back();
      auto& a = sym[static_cast<std::size_t>(c.pos)];
      // Stale entries: the left symbol was merged away or changed, or its
      // right neighbour is no longer the pair's right token.
      if (a.id != c.left || a.next < 0) continue;
      auto& b = sym[static_cast<std::size_t>(a.next)];
      if (b.id != c.right) continue;
      a.id = c.merged;
      b.id = -2;  // removed
      a.next = b.next;
      if (b.next >= 0) sym[static_cast<std::size_t>(b.next)].prev = c.pos;
      consider(a.prev);
      consider(c.pos);
    }
    for (std::int32_t i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next)
      push_symbol(sym[static_cast<std::size_t>(i)].id, out);
  }

  std::vector<std::string> tokens_;
  std::vector<std::int32_t> types_;
  special_token_ids special_;
  std::string pre_name_;
  pre_tokenizer_kind pre_kind_;
  std::unordered_map<std::string, std::int32_t, detail::transparent_string_hash, std::equal_to<>>
      token_to_id_;
  std::unordered_map<std::uint64_t, merge_entry> merges_;
  std::array<std::int32_t, 256> byte_token_{};
  std::vector<std::string> decoded_;
  std::array<std::vector<std::int32_t>, 256> special_by_first_byte_{};
  detail::pcre2_code_ptr word_regex_;
  detail::pcre2_code_ptr digit_regex_;
};

// Incremental decoding for streamed output: push() returns the bytes that
// are ready, holding back a trailing UTF-8 sequence that is not complete yet;
// flush() returns what is held. The concatenation of all push() results and
// flush() equals tokenizer::decode of the same ids.
class stream_decoder {
 public:
  explicit stream_decoder(const tokenizer& tok, bool render_special = true)
      : tok_(&tok), render_special_(render_special) {}

  std::string push(std::int32_t id) {
    const std::string_view bytes = tok_->token_bytes(id);  // throws std::out_of_range
    if (!render_special_ && tok_->type_of(id) == token_type::control) return {};
    pending_.append(bytes);
    const std::size_t hold = detail::incomplete_utf8_tail(pending_);
    std::string ready = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return ready;
  }

  std::string flush() { return std::exchange(pending_, std::string()); }

  // Bytes held back, waiting for the rest of a UTF-8 sequence.
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  const tokenizer* tok_;
  bool render_special_;
  std::string pending_;
};

// The default system prompt of a ChatML chat template in Jinja form, as in
// SmolLM2's tokenizer.chat_template:
//   {% if loop.first and messages[0]['role'] != 'system' %}
//   {{ '<|im_start|>system\n<PROMPT><|im_end|>\n' }}{% endif %}
// Returns an empty string when the template has no such default.
inline std::string chatml_default_system_prompt(std::string_view jinja) {
  std::size_t at = std::string_view::npos;
  for (std::string_view cond :
       {"messages[0]['role'] != 'system'", "messages[0][\"role\"] != \"system\"",
        "messages[0].role != 'system'"}) {
    at = jinja.find(cond);
    if (at != std::string_view::npos) break;
  }
  if (at == std::string_view::npos) return {};
  constexpr std::string_view open = "<|im_start|>system";
  const std::size_t start = jinja.find(open, at);
  if (start == std::string_view::npos) return {};
  const std::size_t end = jinja.find("<|im_end|>", start);
  if (end == std::string_view::npos) return {};
  std::string_view body = jinja.substr(start + open.size(), end - start - open.size());
  // The newline after the role is either a real one or a Jinja string escape.
  if (body.starts_with("\\n"))
    body.remove_prefix(2);
  else if (body.starts_with('\n'))
    body.remove_prefix(1);
  else
    return {};
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      const char c = body[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += body[i];
    }
  }
  return out;
}

// Whether a chat template speaks ChatML (<|im_start|> / <|im_end|> turns).
inline bool is_chatml_template(std::string_view jinja) {
  return jinja.find("<|im_start|>") != std::string_view::npos &&
         jinja.find("<|im_end|>") != std::string_view::npos;
}

}  // namespace foundry::generate
