// Small random-weight GGUF models of every supported architecture
// (examples/generate/model.hpp's table): test files that need no download
// beyond the tokenizer, written with the GGUF writer (foundry/io/gguf_writer.hpp).
//
// A file holds the architecture's metadata and tensors in llama.cpp's names
// and shapes (so llama.cpp and Foundry both load it), the tokenizer
// metadata (`tokenizer.*` keys, chat template included) copied from another
// GGUF file (the SmolLM2 file of scripts/setup.sh), and weights drawn from a
// counter-based generator seeded by `seed`:
//
//   value j of tensor t = (int(u_j >> 40) − 2^23) · (a · 2^-23),
//   u_j = splitmix64(splitmix64(seed · 2^32 xor t) + j)
//
// i.e. uniform on [−a, a) on a grid of 2^24 steps (ranges not centred on 0
// are shifted by a whole number of steps). Every value is one
// integer-to-float conversion and one multiplication, so the file is the same
// byte for byte on every compiler and machine (no contraction into fused
// multiply-adds is possible, no library distribution is involved), and a test
// can pin a reference (tests/fixtures) to the file's XXH3-64.
//
// Magnitudes: matrices a = sqrt(3 / fan_in) (standard deviation 1/sqrt(fan_in),
// activations keep their scale through the layers); the token embedding and
// the output head a = 1, so the logits (rows of 128 values against an
// RMS-normalised vector) spread with a standard deviation of ~6 and greedy
// choices are rarely close calls; norm weights in [0.8, 1.2); Q/K/V biases in
// [−0.5, 0.5). Matrices are stored in `matrix_type` (Q8_0 by default, through
// the reference quantizer of foundry/quant/ggml_blocks.hpp); norms and
// biases in F32.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/io/gguf_writer.hpp>
#include <foundry/quant/ggml_blocks.hpp>

#include "examples/generate/model.hpp"

namespace foundry::tools {

/// The shape of a random model. head_dim 0 means n_embd / n_head (no
/// `attention.key_length` key is written); another value is written as
/// key_length and value_length (Qwen3-style heads wider than n_embd / n_head).
struct random_model_spec {
  std::string architecture = "llama";  ///< a name of generate::architectures
  std::uint32_t n_layer = 4;
  std::uint32_t n_embd = 128;
  std::uint32_t n_head = 4;
  std::uint32_t n_head_kv = 2;
  std::uint32_t head_dim = 0;
  std::uint32_t n_ff = 384;
  std::uint32_t n_ctx = 4096;             ///< context_length
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-6f;
  bool tied_embeddings = true;           ///< no output.weight
  quant::ggml_type matrix_type = quant::ggml_type::q8_0;
  std::uint64_t seed = 1;
};

/// The spec this project's tests use for `architecture` (llama, qwen2,
/// qwen3, smollm3): hidden size 128, 4 layers (SmolLM3's layer 3 has no
/// RoPE), grouped-query attention, Qwen3 with 64-wide heads (q is 256 wide,
/// twice n_embd), Qwen2 and SmolLM3 with the embeddings tied, Qwen3 and
/// Llama with an output head. Throws std::invalid_argument for another name.
inline random_model_spec test_model_spec(std::string_view architecture, std::uint64_t seed = 1) {
  random_model_spec s;
  s.architecture = std::string(architecture);
  s.seed = seed;
  if (architecture == "llama") {
    s.n_head = 2, s.n_head_kv = 1, s.tied_embeddings = false;
  } else if (architecture == "qwen2") {
    s.n_head = 2, s.n_head_kv = 1, s.rope_freq_base = 1000000.0f;
  } else if (architecture == "qwen3") {
    s.n_head = 4, s.n_head_kv = 2, s.head_dim = 64, s.rope_freq_base = 1000000.0f, s.tied_embeddings = false;
  } else if (architecture == "smollm3") {
    s.n_head = 2, s.n_head_kv = 1, s.rope_freq_base = 2000000.0f;
  } else {
    throw std::invalid_argument("no test model for architecture '" + std::string(architecture) + "'");
  }
  return s;
}

namespace detail {

/// splitmix64 (Steele, Lea, Flood 2014): one 64-bit output per counter.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// `n` values uniform on [lo, hi) for stream `stream` of `seed` (see the
/// file comment): value j = float(i_j + offset) · step with i_j uniform on
/// [−2^23, 2^23), step = (hi − lo) · 2^-24 and offset the integer nearest
/// (hi + lo) / (2 · step); one conversion and one multiplication each.
inline std::vector<float> uniform(std::uint64_t seed, std::uint64_t stream, std::size_t n, float lo, float hi) {
  const float step = (hi - lo) * 0x1.0p-24f;
  const auto offset = static_cast<std::int64_t>(std::llround((double(hi) + double(lo)) / (2.0 * double(step))));
  const std::uint64_t base = splitmix64((seed << 32) ^ stream);
  std::vector<float> v(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::int64_t i = static_cast<std::int64_t>(splitmix64(base + j) >> 40) - (std::int64_t{1} << 23);
    v[j] = static_cast<float>(i + offset) * step;
  }
  return v;
}

/// `rows` rows of `cols` floats stored as `type` (the reference quantizer).
inline std::vector<std::byte> encode(quant::ggml_type type, const std::vector<float>& values, std::uint64_t rows,
                                     std::uint64_t cols) {
  const auto row_bytes = quant::row_bytes(type, cols);
  if (!row_bytes) throw std::invalid_argument("random model: unsupported matrix type");
  std::vector<std::byte> out(static_cast<std::size_t>(*row_bytes * rows));
  for (std::uint64_t r = 0; r < rows; ++r)
    quant::quantize_row(type, values.data() + r * cols, out.data() + r * *row_bytes, static_cast<std::size_t>(cols));
  return out;
}

inline std::vector<std::byte> f32_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace detail

namespace detail {
/// Adds the metadata and tensors of `spec` to `w` (see make_random_model).
inline void add_random_model(gguf::writer& w, const random_model_spec& spec, const gguf::file& tokenizer_source) {
  const generate::architecture* arch = generate::find_architecture(spec.architecture);
  if (arch == nullptr)
    throw std::invalid_argument("random model: architecture '" + spec.architecture + "' is not one of " +
                                generate::architecture_names());
  const gguf::value* tokens = tokenizer_source.find_value("tokenizer.ggml.tokens");
  if (tokens == nullptr) throw std::invalid_argument("random model: the tokenizer source has no tokenizer.ggml.tokens");
  const std::uint64_t n_vocab = tokens->size(), e = spec.n_embd, ff = spec.n_ff;
  const std::uint32_t hd = spec.head_dim != 0 ? spec.head_dim : spec.n_embd / spec.n_head;
  const std::uint64_t q = std::uint64_t{spec.n_head} * hd, kv = std::uint64_t{spec.n_head_kv} * hd;

  const std::string p = spec.architecture + ".";
  w.add("general.architecture", std::string_view(spec.architecture));
  w.add("general.name", std::string_view("Foundry random " + spec.architecture));
  w.add<std::uint32_t>(p + "block_count", spec.n_layer);
  w.add<std::uint32_t>(p + "context_length", spec.n_ctx);
  w.add<std::uint32_t>(p + "embedding_length", spec.n_embd);
  w.add<std::uint32_t>(p + "feed_forward_length", spec.n_ff);
  w.add<std::uint32_t>(p + "attention.head_count", spec.n_head);
  w.add<std::uint32_t>(p + "attention.head_count_kv", spec.n_head_kv);
  if (spec.head_dim != 0) {
    w.add<std::uint32_t>(p + "attention.key_length", spec.head_dim);
    w.add<std::uint32_t>(p + "attention.value_length", spec.head_dim);
  }
  w.add<float>(p + "rope.freq_base", spec.rope_freq_base);
  w.add<float>(p + "attention.layer_norm_rms_epsilon", spec.rms_eps);
  for (const gguf::value& v : tokenizer_source.metadata())
    if (v.key().starts_with("tokenizer.")) w.add_copy(v);

  // Tensors in llama.cpp's order; stream t counts them.
  std::uint64_t stream = 0;
  auto matrix = [&](const std::string& name, std::uint64_t rows, std::uint64_t cols, float a) {
    const auto v = detail::uniform(spec.seed, stream++, static_cast<std::size_t>(rows * cols), -a, a);
    w.add_tensor(name, spec.matrix_type, {cols, rows}, detail::encode(spec.matrix_type, v, rows, cols));
  };
  auto vector = [&](const std::string& name, std::uint64_t n, float lo, float hi) {
    w.add_tensor(name, quant::ggml_type::f32, {n}, detail::f32_bytes(detail::uniform(spec.seed, stream++, n, lo, hi)));
  };
  auto fan_in = [](std::uint64_t n) { return std::sqrt(3.0f / static_cast<float>(n)); };
  matrix("token_embd.weight", n_vocab, e, 1.0f);
  vector("output_norm.weight", e, 0.8f, 1.2f);
  if (!spec.tied_embeddings) matrix("output.weight", n_vocab, e, 1.0f);
  for (std::uint32_t i = 0; i < spec.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    vector(b + "attn_norm.weight", e, 0.8f, 1.2f);
    matrix(b + "attn_q.weight", q, e, fan_in(e));
    matrix(b + "attn_k.weight", kv, e, fan_in(e));
    matrix(b + "attn_v.weight", kv, e, fan_in(e));
    if (arch->qkv_bias) {
      vector(b + "attn_q.bias", q, -0.5f, 0.5f);
      vector(b + "attn_k.bias", kv, -0.5f, 0.5f);
      vector(b + "attn_v.bias", kv, -0.5f, 0.5f);
    }
    if (arch->qk_norm) {
      vector(b + "attn_q_norm.weight", hd, 0.8f, 1.2f);
      vector(b + "attn_k_norm.weight", hd, 0.8f, 1.2f);
    }
    matrix(b + "attn_output.weight", e, q, fan_in(q));
    vector(b + "ffn_norm.weight", e, 0.8f, 1.2f);
    matrix(b + "ffn_gate.weight", ff, e, fan_in(e));
    matrix(b + "ffn_up.weight", ff, e, fan_in(e));
    matrix(b + "ffn_down.weight", e, ff, fan_in(ff));
  }
}
}  // namespace detail

/// Builds the random model `spec` with the tokenizer metadata (every
/// `tokenizer.*` key) of `tokenizer_source` and returns the GGUF file's bytes
/// (see the file comment). Throws std::invalid_argument for an unknown
/// architecture or a tokenizer source without tokens, gguf_error from the
/// writer (e.g. rows that are not a whole number of `matrix_type` blocks).
inline std::vector<std::byte> make_random_model(const random_model_spec& spec, const gguf::file& tokenizer_source) {
  gguf::writer w;
  detail::add_random_model(w, spec, tokenizer_source);
  return w.bytes();
}

/// Writes make_random_model(spec, tokenizer_source) to `path` (gguf_error
/// when the file cannot be written).
inline void write_random_model(const random_model_spec& spec, const gguf::file& tokenizer_source,
                               const std::filesystem::path& path) {
  gguf::writer w;
  detail::add_random_model(w, spec, tokenizer_source);
  w.write(path);
}

}  // namespace foundry::tools
