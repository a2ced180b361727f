#pragma once
/// @file quantize.hpp
/// The library behind `foundry-quantize`: choosing a ggml type per tensor of
/// a GGUF file (a K-quant mix such as Q4_K_M, one type for every matrix,
/// per-tensor overrides) and writing the re-quantized file.
///
/// Algorithm: every tensor is dequantized to float with the reference codecs
/// (foundry/quant/ggml_blocks.hpp, k_quants.hpp) and quantized to its new
/// type with the reference quantizers (ggml's round-to-nearest for
/// Q8_0/Q4_0/Q4_1, the least-squares scale/min search of k_quants.hpp for
/// the K-quants). Everything is deterministic: the same input and options
/// give the same bytes. Metadata is copied, `general.file_type` set to the
/// mix's llama.cpp file type (`enum llama_ftype`).
///
/// Mixes (after llama.cpp's `llama_tensor_get_type`, simplified):
///   - Only matrices are quantized: tensors with at least 2 dimensions
///     whose name ends in ".weight". Vectors (norms, biases) keep their type.
///   - Q4_K_M / Q5_K_M: Q4_K / Q5_K for every matrix, except Q6_K for the
///     output matrix (`output.weight`, or `token_embd.weight` when there is
///     no output.weight: tied embeddings) and for `attn_v` and `ffn_down` of
///     layer i of n where i < n/8, i ≥ 7n/8, or (i − n/8) % 3 == 2
///     (llama.cpp's `use_more_bits`).
///   - Q6_K, Q8_0, Q4_0, Q4_1, F16, F32, Q4_K, Q5_K: that type for every
///     matrix.
///   - A matrix whose rows are not a whole number of 256 weights cannot hold
///     a K-quant; the mix then uses a 32-weight fallback: Q4_1 for Q4_K,
///     Q8_0 for Q5_K and Q6_K (llama.cpp uses Q5_0/Q5_1/Q8_0, which Foundry
///     has no kernels for).
///   - Overrides (`PATTERN=TYPE`, PATTERN an ECMAScript regular expression
///     searched in the tensor name; the last matching override wins) replace
///     the mix's choice for any tensor, vectors included, with no fallback:
///     a shape the type cannot hold is an error.
///
/// Errors (`quantize_error`): an unknown type or mix name, a source tensor
/// type without a reference codec, a requested type without a quantizer, a
/// row length that is not a whole number of the type's blocks, a bad
/// override, an output path that is the input. GGUF errors of the input
/// surface as `gguf_error`.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <foundry/core/errors.hpp>
#include <foundry/io/gguf.hpp>
#include <foundry/io/gguf_writer.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace foundry::tools {

/// A quantization request that cannot be served (see the file comment).
class quantize_error : public error {
 public:
  using error::error;
};

/// A `--type` choice: a mix or a single type.
struct quant_mix {
  std::string name;                     ///< as given: "Q4_K_M", "Q8_0"
  quant::ggml_type base;                ///< the type of most matrices
  std::optional<quant::ggml_type> more_bits;  ///< output, attn_v, ffn_down of some layers (K mixes)
  std::uint32_t file_type;              ///< llama.cpp `enum llama_ftype`
};

/// The mix named `name` (case-sensitive, as llama.cpp spells it). Throws
/// quantize_error listing the known names.
inline quant_mix parse_mix(std::string_view name) {
  using t = quant::ggml_type;
  struct known {
    std::string_view name;
    t base;
    std::optional<t> more;
    std::uint32_t ftype;
  };
  static const known mixes[] = {
      {"Q4_K_M", t::q4_k, t::q6_k, 15}, {"Q5_K_M", t::q5_k, t::q6_k, 17}, {"Q4_K", t::q4_k, {}, 14},
      {"Q5_K", t::q5_k, {}, 16},        {"Q6_K", t::q6_k, {}, 18},        {"Q8_0", t::q8_0, {}, 7},
      {"Q4_0", t::q4_0, {}, 2},         {"Q4_1", t::q4_1, {}, 3},         {"F16", t::f16, {}, 1},
      {"F32", t::f32, {}, 0},
  };
  std::string names;
  for (const known& k : mixes) {
    if (k.name == name) return {std::string(name), k.base, k.more, k.ftype};
    names += (names.empty() ? "" : ", ") + std::string(k.name);
  }
  throw quantize_error("unknown type '" + std::string(name) + "'; supported: " + names);
}

/// The ggml type named `name` ("Q6_K") that foundry-quantize can write.
inline quant::ggml_type parse_type(std::string_view name) {
  for (const quant::ggml_type_traits& t : quant::ggml_types)
    if (t.name == name) {
      if (!quant::has_reference_codec(t.type) || t.type == quant::ggml_type::bf16)
        throw quantize_error("type " + std::string(name) +
                             " cannot be written (no quantizer); supported: F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, "
                             "Q6_K");
      return t.type;
    }
  throw quantize_error("unknown ggml type '" + std::string(name) + "'");
}

/// One `--tensor-type PATTERN=TYPE` override.
struct tensor_override {
  std::string pattern;
  std::regex re;
  quant::ggml_type type;
};

/// Parses `PATTERN=TYPE`. Throws quantize_error for a missing '=', a bad
/// regular expression or a bad type.
inline tensor_override parse_override(std::string_view spec) {
  const std::size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size())
    throw quantize_error("override '" + std::string(spec) + "' is not PATTERN=TYPE");
  tensor_override o;
  o.pattern = std::string(spec.substr(0, eq));
  try {
    o.re = std::regex(o.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw quantize_error("override '" + std::string(spec) + "': bad regular expression: " + e.what());
  }
  o.type = parse_type(spec.substr(eq + 1));
  return o;
}

/// Whether layer `i` of `n` gets more bits in a K mix (llama.cpp
/// `use_more_bits`).
constexpr bool use_more_bits(std::uint32_t i, std::uint32_t n) noexcept {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/// The K-quant fallback of `t` for rows that are not whole super-blocks.
constexpr quant::ggml_type k_fallback(quant::ggml_type t) noexcept {
  return t == quant::ggml_type::q4_k ? quant::ggml_type::q4_1 : quant::ggml_type::q8_0;
}

/// The type chosen for one tensor, and why.
struct tensor_plan {
  std::string name;
  quant::ggml_type from, to;
  std::string reason;  ///< "mix", "more bits", "fallback (rows of 576)", "override 'attn_v'", "kept (vector)"
};

/// Block layer index of "blk.N.…", or nullopt.
inline std::optional<std::uint32_t> layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return std::nullopt;
  std::uint32_t v = 0;
  std::size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return std::nullopt;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) v = v * 10 + std::uint32_t(name[i] - '0');
  return v;
}

/// Chooses the type of every tensor of `f` (see the file comment). Throws
/// quantize_error for a tensor that cannot be converted.
inline std::vector<tensor_plan> plan(const gguf::file& f, const quant_mix& mix,
                                     const std::vector<tensor_override>& overrides) {
  std::uint32_t n_layers = 0;
  for (const gguf::tensor_info& t : f.tensors())
    if (auto l = layer_of(t.name)) n_layers = std::max(n_layers, *l + 1);
  const bool tied = f.find_tensor("output.weight") == nullptr;
  std::vector<tensor_plan> out;
  for (const gguf::tensor_info& t : f.tensors()) {
    const std::string name(t.name);
    tensor_plan p{name, t.type, t.type, "kept (vector)"};
    const bool matrix = t.n_dims >= 2 && name.ends_with(".weight");
    if (matrix) {
      p.to = mix.base;
      p.reason = "mix";
      if (mix.more_bits) {
        const bool is_output = name == "output.weight" || (tied && name == "token_embd.weight");
        const auto layer = layer_of(name);
        const bool layer_more = layer && (name.ends_with(".attn_v.weight") || name.ends_with(".ffn_down.weight")) &&
                                use_more_bits(*layer, n_layers);
        if (is_output || layer_more) {
          p.to = *mix.more_bits;
          p.reason = "more bits";
        }
      }
      if (t.ne[0] % quant::block_size(p.to) != 0) {
        p.to = k_fallback(p.to);
        p.reason = "fallback (rows of " + std::to_string(t.ne[0]) + " are not whole 256-weight super-blocks)";
      }
    }
    for (const tensor_override& o : overrides)
      if (std::regex_search(name, o.re)) {
        p.to = o.type;
        p.reason = "override '" + o.pattern + "'";
      }
    if (p.to != p.from) {
      if (!quant::has_reference_codec(p.from))
        throw quantize_error("tensor '" + name + "' is " + std::string(quant::to_string(p.from)) +
                             ", which foundry-quantize cannot read (no dequantizer)");
      if (t.ne[0] % quant::block_size(p.to) != 0)
        throw quantize_error("tensor '" + name + "': rows of " + std::to_string(t.ne[0]) +
                             " weights are not a whole number of " + std::to_string(quant::block_size(p.to)) +
                             "-weight " + std::string(quant::to_string(p.to)) + " blocks (" + p.reason + ")");
    }
    out.push_back(std::move(p));
  }
  return out;
}

/// Progress callback: (tensors done, tensors in all, weights done, weights
/// in all, name of the tensor just finished).
using progress_fn = std::function<void(std::size_t, std::size_t, std::uint64_t, std::uint64_t, std::string_view)>;

/// Re-quantizes `in` into `out` with `mix` and `overrides`. Refuses to write
/// the input file (same path or same file through a link). The output is
/// written to `out` + ".tmp" and renamed when complete. Returns the plan.
inline std::vector<tensor_plan> quantize_file(const std::filesystem::path& in, const std::filesystem::path& out,
                                              const quant_mix& mix, const std::vector<tensor_override>& overrides,
                                              const progress_fn& progress = {}) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec))
    throw quantize_error("output " + out.string() + " is the input file; refusing to overwrite it");
  const gguf::file f = gguf::file::open(in);
  const std::vector<tensor_plan> p = plan(f, mix, overrides);

  gguf::writer w;
  for (const gguf::value& v : f.metadata()) {
    if (v.key() == "general.file_type") continue;
    w.add_copy(v);
  }
  w.add<std::uint32_t>("general.file_type", mix.file_type);

  std::uint64_t total = 0, done = 0;
  for (const gguf::tensor_info& t : f.tensors()) total += t.n_elements;
  std::vector<float> rows;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const gguf::tensor_info& t = f.tensors()[i];
    if (p[i].to == p[i].from) {
      w.add_tensor_view(t.name, t.type, t.dims(), t.bytes());
    } else {
      rows.resize(static_cast<std::size_t>(t.n_elements));
      quant::dequantize_row(t.type, t.data, rows.data(), rows.size());
      std::vector<std::byte> q(static_cast<std::size_t>(*quant::row_bytes(p[i].to, t.n_elements)));
      quant::quantize_row(p[i].to, rows.data(), q.data(), rows.size());
      w.add_tensor(t.name, p[i].to, t.dims(), std::move(q));
    }
    done += t.n_elements;
    if (progress) progress(i + 1, p.size(), done, total, t.name);
  }
  std::filesystem::path tmp = out;
  tmp += ".tmp";
  w.write(tmp);
  std::filesystem::rename(tmp, out);
  return p;
}

}  // namespace foundry::tools
