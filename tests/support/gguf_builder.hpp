// A small GGUF writer for tests and fuzz seeds: metadata pairs of any value
// type, replaceable and removable by key, and tensors whose data is filled
// with a deterministic pattern, laid out as GGUF v3 (format in
// include/foundry/io/gguf.hpp).
//
// Why not the reader's own test writer (tests/unit/gguf_reader_test.cpp):
// that one records byte positions to corrupt the layout; this one builds
// valid files whose *values* tests change (a model's hyper-parameters), so it
// keeps pairs by key and rewrites the whole file on each bytes() call.
//
// tiny_llama() is a complete Llama-architecture model (2 blocks, n_embd 8,
// 2 query heads and 1 KV head of 4, FFN 16, vocabulary of 6, F32 weights)
// that examples/generate/model.hpp loads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace foundry::test {

class gguf_builder {
 public:
  /// Sets `key` to a scalar of GGUF type `type` (replacing any earlier value
  /// in place, so the key order stays).
  template <class T>
  gguf_builder& set(const std::string& key, gguf::value_type type, T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<std::byte> b;
    append(b, v);
    return put(key, type, std::move(b));
  }
  gguf_builder& set_u32(const std::string& key, std::uint32_t v) {
    return set(key, gguf::value_type::uint32, v);
  }
  gguf_builder& set_f32(const std::string& key, float v) {
    return set(key, gguf::value_type::float32, v);
  }
  gguf_builder& set_string(const std::string& key, std::string_view s) {
    std::vector<std::byte> b;
    append_string(b, s);
    return put(key, gguf::value_type::string, std::move(b));
  }
  gguf_builder& set_strings(const std::string& key, const std::vector<std::string>& v) {
    std::vector<std::byte> b;
    append(b, static_cast<std::uint32_t>(gguf::value_type::string));
    append(b, static_cast<std::uint64_t>(v.size()));
    for (const std::string& s : v) append_string(b, s);
    return put(key, gguf::value_type::array, std::move(b));
  }
  gguf_builder& set_i32s(const std::string& key, const std::vector<std::int32_t>& v) {
    std::vector<std::byte> b;
    append(b, static_cast<std::uint32_t>(gguf::value_type::int32));
    append(b, static_cast<std::uint64_t>(v.size()));
    for (const std::int32_t x : v) append(b, x);
    return put(key, gguf::value_type::array, std::move(b));
  }
  /// Removes `key` (no-op when absent).
  gguf_builder& erase(const std::string& key) {
    std::erase_if(pairs_, [&](const pair& p) { return p.key == key; });
    return *this;
  }

  /// Adds an F32 tensor with dimensions `ne` (fastest-varying first) whose
  /// values are a deterministic function of the name and position.
  gguf_builder& tensor(const std::string& name, std::vector<std::uint64_t> ne) {
    std::uint64_t n = 1;
    for (const std::uint64_t d : ne) n *= d;
    std::vector<std::byte> data(static_cast<std::size_t>(n) * sizeof(float));
    std::uint32_t h = 2166136261u;
    for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    for (std::uint64_t i = 0; i < n; ++i) {
      h = h * 1664525u + 1013904223u;
      const float v = static_cast<float>(h >> 8) / 16777216.0f * 0.2f - 0.1f;  // in [-0.1, 0.1)
      std::memcpy(data.data() + i * sizeof(float), &v, sizeof v);
    }
    tensors_.push_back({name, std::move(ne), std::move(data)});
    return *this;
  }
  gguf_builder& erase_tensor(const std::string& name) {
    std::erase_if(tensors_, [&](const tensor_data& t) { return t.name == name; });
    return *this;
  }

  /// The file: GGUF v3, alignment 32.
  std::vector<std::byte> bytes() const {
    constexpr std::uint64_t alignment = gguf::default_alignment;
    std::vector<std::byte> out;
    append(out, gguf::magic);
    append(out, std::uint32_t{3});
    append(out, static_cast<std::uint64_t>(tensors_.size()));
    append(out, static_cast<std::uint64_t>(pairs_.size()));
    for (const pair& p : pairs_) {
      append_string(out, p.key);
      append(out, static_cast<std::uint32_t>(p.type));
      out.insert(out.end(), p.value.begin(), p.value.end());
    }
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const tensor_data& t : tensors_) {
      append_string(out, t.name);
      append(out, static_cast<std::uint32_t>(t.ne.size()));
      for (const std::uint64_t d : t.ne) append(out, d);
      append(out, static_cast<std::uint32_t>(quant::ggml_type::f32));
      append(out, offset);
      offsets.push_back(offset);
      offset = (offset + t.data.size() + alignment - 1) / alignment * alignment;
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment);
    const std::size_t data_start = out.size();
    out.resize(data_start + static_cast<std::size_t>(offset));
    for (std::size_t i = 0; i < tensors_.size(); ++i)
      std::copy(tensors_[i].data.begin(), tensors_[i].data.end(),
                out.begin() + static_cast<std::ptrdiff_t>(data_start + offsets[i]));
    return out;
  }

 private:
  struct pair {
    std::string key;
    gguf::value_type type;
    std::vector<std::byte> value;
  };
  struct tensor_data {
    std::string name;
    std::vector<std::uint64_t> ne;
    std::vector<std::byte> data;
  };

  template <class T>
  static void append(std::vector<std::byte>& b, T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  static void append_string(std::vector<std::byte>& b, std::string_view s) {
    append(b, static_cast<std::uint64_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    b.insert(b.end(), p, p + s.size());
  }
  gguf_builder& put(const std::string& key, gguf::value_type type, std::vector<std::byte> value) {
    for (pair& p : pairs_)
      if (p.key == key) {
        p.type = type;
        p.value = std::move(value);
        return *this;
      }
    pairs_.push_back({key, type, std::move(value)});
    return *this;
  }

  std::vector<pair> pairs_;
  std::vector<tensor_data> tensors_;
};

/// A complete, loadable Llama model: 2 blocks, n_embd 8, 2 heads and 1 KV
/// head of 4, FFN 16, context 64, 6 tokens ("a" .. "f"), F32 weights, tied
/// embeddings (no output.weight).
inline gguf_builder tiny_llama() {
  constexpr std::uint32_t n_layer = 2, n_embd = 8, n_head = 2, n_head_kv = 1, n_ff = 16,
                          n_vocab = 6, head_dim = n_embd / n_head;
  gguf_builder b;
  b.set_string("general.architecture", "llama");
  b.set_u32("llama.block_count", n_layer);
  b.set_u32("llama.embedding_length", n_embd);
  b.set_u32("llama.attention.head_count", n_head);
  b.set_u32("llama.attention.head_count_kv", n_head_kv);
  b.set_u32("llama.feed_forward_length", n_ff);
  b.set_u32("llama.context_length", 64);
  b.set_u32("llama.rope.dimension_count", head_dim);
  b.set_f32("llama.rope.freq_base", 10000.0f);
  b.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  b.set_u32("llama.vocab_size", n_vocab);
  b.set_string("tokenizer.ggml.model", "gpt2");
  b.set_strings("tokenizer.ggml.tokens", {"a", "b", "c", "d", "e", "f"});
  b.set_strings("tokenizer.ggml.merges", {});
  b.tensor("token_embd.weight", {n_embd, n_vocab});
  b.tensor("output_norm.weight", {n_embd});
  for (std::uint32_t i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    b.tensor(p + "attn_norm.weight", {n_embd});
    b.tensor(p + "attn_q.weight", {n_embd, n_head * head_dim});
    b.tensor(p + "attn_k.weight", {n_embd, n_head_kv * head_dim});
    b.tensor(p + "attn_v.weight", {n_embd, n_head_kv * head_dim});
    b.tensor(p + "attn_output.weight", {n_head * head_dim, n_embd});
    b.tensor(p + "ffn_norm.weight", {n_embd});
    b.tensor(p + "ffn_gate.weight", {n_embd, n_ff});
    b.tensor(p + "ffn_up.weight", {n_embd, n_ff});
    b.tensor(p + "ffn_down.weight", {n_ff, n_embd});
  }
  return b;
}

}  // namespace foundry::test
