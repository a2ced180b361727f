// Decoder-only transformer model description for the generation example:
// the architecture, the hyper-parameters and the weight tensors of a GGUF
// file, checked and named.
//
// Header-only; depends on the GGUF reader only (no tokenizer, no kernels), so
// both the Foundry decode path and the float64 reference of the tests load
// the model through it.
//
// Architectures (`general.architecture`; one row of `architectures` each,
// the only place their differences are written down):
//
//   llama    Llama 2/3, SmolLM2: RoPE on adjacent pairs (LLAMA_ROPE_TYPE_NORM)
//   qwen2    Qwen2, Qwen2.5: RoPE on NeoX pairs, Q/K/V biases (attn_{q,k,v}.bias)
//   qwen3    Qwen3: RoPE on NeoX pairs, RMSNorm of every q and k head before
//            RoPE (attn_q_norm / attn_k_norm, [head_dim], "QK-norm")
//   smollm3  SmolLM3: as llama, but layers il with (il + 1) % 4 == 0 skip RoPE
//            ("NoPE"); llama.cpp fixes the step 4 in code
//            (`n_no_rope_layer_step`, src/models/smollm3.cpp), no GGUF key
//            carries it
//
// The rope types are llama.cpp's `llama_model_rope_type` (src/llama-model.cpp)
// for each architecture.
//
// What is read (llama.cpp's names, `llama-arch.cpp`; `<arch>` is
// general.architecture):
//
//   <arch>.block_count                      n_layer
//   <arch>.embedding_length                 n_embd
//   <arch>.attention.head_count             n_head
//   <arch>.attention.head_count_kv          n_head_kv     (default n_head)
//   <arch>.attention.key_length             head_dim      (default n_embd / n_head;
//   <arch>.attention.value_length           must equal key_length when present)
//   <arch>.feed_forward_length              n_ff
//   <arch>.context_length                   n_ctx_train
//   <arch>.rope.freq_base                   rope_freq_base (default 10000)
//   <arch>.rope.dimension_count             n_rot         (default head_dim)
//   <arch>.attention.layer_norm_rms_epsilon rms_eps
//   tokenizer.ggml.tokens (its length)      n_vocab (<arch>.vocab_size, when
//                                           present, must agree)
//
// Tensors (GGUF stores a weight of N rows by K columns as ne = [K, N]; every
// row is K contiguous values of its ggml type; q_dim = n_head * head_dim,
// kv_dim = n_head_kv * head_dim):
//
//   token_embd.weight          [n_embd, n_vocab]  embedding; also the LM head
//                                                 when output.weight is absent
//   output_norm.weight         [n_embd]
//   output.weight              [n_embd, n_vocab]  optional (tied otherwise)
//   blk.<i>.attn_norm.weight   [n_embd]
//   blk.<i>.attn_q.weight      [n_embd, q_dim]
//   blk.<i>.attn_k.weight      [n_embd, kv_dim]
//   blk.<i>.attn_v.weight      [n_embd, kv_dim]
//   blk.<i>.attn_q.bias        [q_dim]            qwen2 only (F32)
//   blk.<i>.attn_k.bias        [kv_dim]           qwen2 only (F32)
//   blk.<i>.attn_v.bias        [kv_dim]           qwen2 only (F32)
//   blk.<i>.attn_q_norm.weight [head_dim]         qwen3 only (F32)
//   blk.<i>.attn_k_norm.weight [head_dim]         qwen3 only (F32)
//   blk.<i>.attn_output.weight [q_dim, n_embd]
//   blk.<i>.ffn_norm.weight    [n_embd]
//   blk.<i>.ffn_gate.weight    [n_embd, n_ff]
//   blk.<i>.ffn_up.weight      [n_embd, n_ff]
//   blk.<i>.ffn_down.weight    [n_ff, n_embd]
//
// Validation happens before anything is sized from the metadata: every count
// and size is checked against the bounds below and against the tensors the
// file actually holds (block_count against the blk.<i> tensors present,
// embedding_length and the vocabulary against token_embd.weight,
// feed_forward_length against blk.0.ffn_gate.weight), and the floats must be
// finite and positive. Each failure is a model_error naming the key and its
// value, e.g. "model: m.gguf: llama.block_count = 4294967295: the file holds
// tensors for 30 blocks (blk.0 .. blk.29)", or the tensor, e.g. "model:
// m.gguf: tensor 'blk.0.attn_q.bias' is missing (architecture qwen2 has Q/K/V
// biases)".
//
// Unsupported variants are rejected with a model_error naming the file:
// another architecture, RoPE scaling other than "none", partial rotary
// dimensions (n_rot != head_dim), key_length != value_length, a missing
// tensor or a tensor of the wrong shape. Tensors an architecture does not
// use are not looked for.
//
// The weights are views into the memory-mapped file, which the model owns:
// they stay valid while the llama_model (or the one it was moved into) lives.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace foundry::generate {

/// A model file this example cannot run: wrong architecture, missing or
/// misshapen tensor, unsupported hyper-parameter. `what()` starts with
/// "model: <path>: ". (Malformed GGUF files raise foundry::gguf_error.)
class model_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Upper bounds on hyper-parameters read from a model file. They are far
/// above any published Llama-architecture model (Llama-3.1-405B: 126 layers,
/// n_embd 16384, 128 heads, FFN 53248, context 131072, vocab 128256) and low
/// enough that sizes derived from them (n_embd * n_ff, KV cache rows) stay
/// far from overflowing 64 bits.
struct llama_limits {
  static constexpr std::uint32_t max_layers = 1024;
  static constexpr std::uint32_t max_embd = 1u << 18;     ///< 262144
  static constexpr std::uint32_t max_heads = 1u << 12;    ///< 4096
  static constexpr std::uint32_t max_ff = 1u << 20;       ///< 1048576
  static constexpr std::uint32_t max_context = 1u << 24;  ///< 16 M positions
  static constexpr std::uint32_t max_vocab = 1u << 24;    ///< 16 M tokens
};

/// How RoPE pairs up the values of a head (llama.cpp's rope types, Su et
/// al. 2021): `norm` rotates adjacent pairs (x[2i], x[2i+1])
/// (LLAMA_ROPE_TYPE_NORM), `neox` the halves (x[i], x[i + d/2])
/// (LLAMA_ROPE_TYPE_NEOX, GPT-NeoX's rotate_half).
enum class rope_type { norm, neox };

/// What distinguishes one supported architecture from the others (the
/// table `architectures`; see the file comment).
struct architecture {
  std::string_view name;  ///< general.architecture
  rope_type rope = rope_type::norm;
  bool qkv_bias = false;  ///< blk.<i>.attn_{q,k,v}.bias, added after the projections
  bool qk_norm = false;   ///< blk.<i>.attn_{q,k}_norm.weight: RMSNorm of each q/k head before RoPE
  /// 0: RoPE in every layer; n: layer il skips RoPE when (il + 1) % n == 0.
  std::uint32_t no_rope_layer_step = 0;
};

/// The supported architectures, one row each (see the file comment for the
/// sources of each value).
inline constexpr architecture architectures[] = {
    {"llama", rope_type::norm, false, false, 0},
    {"qwen2", rope_type::neox, true, false, 0},
    {"qwen3", rope_type::neox, false, true, 0},
    {"smollm3", rope_type::norm, false, false, 4},
};

/// "llama, qwen2, qwen3, smollm3": the names of `architectures`.
inline std::string architecture_names() {
  std::string s;
  for (const architecture& a : architectures) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

/// The row of `architectures` named `name`, or null.
inline const architecture* find_architecture(std::string_view name) noexcept {
  for (const architecture& a : architectures)
    if (a.name == name) return &a;
  return nullptr;
}

/// Hyper-parameters of a model (see the file comment for their keys).
struct llama_hparams {
  architecture arch = architectures[0];  ///< general.architecture's traits
  std::uint32_t n_layer = 0;        ///< transformer blocks
  std::uint32_t n_embd = 0;         ///< hidden size
  std::uint32_t n_head = 0;         ///< query heads
  std::uint32_t n_head_kv = 0;      ///< key/value heads (grouped-query attention)
  std::uint32_t head_dim = 0;       ///< key_length, else n_embd / n_head
  std::uint32_t n_ff = 0;           ///< FFN inner size
  std::uint32_t n_ctx_train = 0;    ///< context length the model was trained for
  std::uint32_t n_vocab = 0;        ///< vocabulary size (rows of the embedding)
  std::uint32_t n_rot = 0;          ///< rotary dimensions per head (= head_dim here)
  float rope_freq_base = 10000.0f;  ///< RoPE base: theta_i = base^(-2i / n_rot)
  float rms_eps = 1e-5f;            ///< RMSNorm epsilon
  bool tied_embeddings = false;     ///< no output.weight: token_embd is the LM head

  /// Width of the K and V projections: n_head_kv * head_dim.
  std::uint32_t n_embd_kv() const noexcept { return n_head_kv * head_dim; }
  /// Width of the Q projection: n_head * head_dim.
  std::uint32_t n_embd_q() const noexcept { return n_head * head_dim; }
  /// Query heads per key/value head.
  std::uint32_t n_gqa() const noexcept { return n_head / n_head_kv; }
  /// Whether layer `il` (0-based) applies RoPE to q and k (see
  /// architecture::no_rope_layer_step).
  bool uses_rope(std::uint32_t il) const noexcept {
    return arch.no_rope_layer_step == 0 || (il + 1) % arch.no_rope_layer_step != 0;
  }
};

/// One weight tensor, in place in the mapped file. A matrix is `rows` rows of
/// `cols` values (ggml's ne[1] and ne[0]); a vector has rows == 1.
struct weight {
  std::string_view name;  ///< GGUF tensor name
  quant::ggml_type type = quant::ggml_type::f32;
  std::uint64_t cols = 0;                   ///< values per row (ne[0]): the input size
  std::uint64_t rows = 0;                   ///< rows (ne[1]): the output size
  std::uint64_t row_bytes = 0;              ///< bytes per row in the file
  std::span<const std::byte> bytes;         ///< all rows, row-major
  const gguf::tensor_info* info = nullptr;  ///< the GGUF tensor description

  /// Whether the tensor exists (optional tensors an architecture lacks are
  /// default-constructed: no info, no bytes).
  bool present() const noexcept { return info != nullptr; }

  /// ggml's name of the type ("Q4_1").
  std::string_view type_name() const noexcept { return quant::to_string(type); }
  /// The stored bytes of row `r` (r < rows).
  const std::byte* row(std::uint64_t r) const noexcept { return bytes.data() + r * row_bytes; }
  /// Number of values.
  std::uint64_t size() const noexcept { return rows * cols; }
};

/// The weights of one transformer block.
struct layer_weights {
  weight attn_norm;    ///< [n_embd]
  weight attn_q;       ///< n_head * head_dim rows of n_embd
  weight attn_k;       ///< n_head_kv * head_dim rows of n_embd
  weight attn_v;       ///< n_head_kv * head_dim rows of n_embd
  weight attn_q_bias;  ///< [n_head * head_dim], architectures with qkv_bias (else absent)
  weight attn_k_bias;  ///< [n_head_kv * head_dim], architectures with qkv_bias
  weight attn_v_bias;  ///< [n_head_kv * head_dim], architectures with qkv_bias
  weight attn_q_norm;  ///< [head_dim], architectures with qk_norm (else absent)
  weight attn_k_norm;  ///< [head_dim], architectures with qk_norm
  weight attn_output;  ///< n_embd rows of n_head * head_dim
  weight ffn_norm;     ///< [n_embd]
  weight ffn_gate;     ///< n_ff rows of n_embd
  weight ffn_up;       ///< n_ff rows of n_embd
  weight ffn_down;     ///< n_embd rows of n_ff
};

/// How many tensors of one ggml type the file holds.
struct type_count {
  quant::ggml_type type;
  std::size_t count;
};

/// A loaded model of one of the `architectures` (the Llama family and its
/// relatives): hyper-parameters, weights, and the GGUF file they point into.
/// Move-only.
class llama_model {
 public:
  /// Maps and checks the GGUF file at `path`. Throws gguf_error for a
  /// malformed file, model_error for a model this example cannot run.
  static llama_model load(const std::filesystem::path& path) {
    return llama_model(std::make_unique<gguf::file>(gguf::file::open(path)));
  }

  /// Checks an already parsed file (which the model takes over).
  static llama_model from_file(gguf::file f) {
    return llama_model(std::make_unique<gguf::file>(std::move(f)));
  }

  llama_model(llama_model&&) noexcept = default;
  llama_model& operator=(llama_model&&) noexcept = default;
  llama_model(const llama_model&) = delete;
  llama_model& operator=(const llama_model&) = delete;
  ~llama_model() = default;

  /// The GGUF file (metadata, tokenizer arrays, every tensor).
  const gguf::file& file() const noexcept { return *file_; }
  const llama_hparams& hparams() const noexcept { return hp_; }
  /// token_embd.weight: n_vocab rows of n_embd.
  const weight& token_embd() const noexcept { return token_embd_; }
  /// output_norm.weight: [n_embd].
  const weight& output_norm() const noexcept { return output_norm_; }
  /// The LM head: output.weight, or token_embd.weight when the embeddings are tied.
  const weight& output() const noexcept { return hp_.tied_embeddings ? token_embd_ : output_; }
  std::span<const layer_weights> layers() const noexcept { return layers_; }
  const layer_weights& layer(std::size_t i) const { return layers_.at(i); }

  /// Tensors per ggml type over the whole file, most frequent first (ties in
  /// ggml type id order).
  std::vector<type_count> type_counts() const {
    std::vector<type_count> counts;
    for (const auto& t : file_->tensors()) {
      auto it = std::find_if(counts.begin(), counts.end(),
                             [&](const type_count& c) { return c.type == t.type; });
      if (it == counts.end())
        counts.push_back({t.type, 1});
      else
        ++it->count;
    }
    std::stable_sort(counts.begin(), counts.end(), [](const type_count& a, const type_count& b) {
      if (a.count != b.count) return a.count > b.count;
      return static_cast<std::uint32_t>(a.type) < static_cast<std::uint32_t>(b.type);
    });
    return counts;
  }

  /// "Q4_1 ×210, F32 ×61, Q8_0 ×1".
  std::string type_summary() const {
    std::string s;
    for (const type_count& c : type_counts()) {
      if (!s.empty()) s += ", ";
      s += quant::to_string(c.type);
      s += " \u00d7";
      s += std::to_string(c.count);
    }
    return s;
  }

  /// One line: "llama, 30 layers, n_embd 576, 9 heads (3 KV) x 64, FFN 1536,
  /// vocab 49152, context 8192, rope base 100000, rms eps 1e-05, tied
  /// embeddings".
  std::string describe() const {
    std::string s = std::string(hp_.arch.name) + ", " + std::to_string(hp_.n_layer) + " layers, n_embd " +
                    std::to_string(hp_.n_embd) + ", " + std::to_string(hp_.n_head) + " heads (" +
                    std::to_string(hp_.n_head_kv) + " KV) x " + std::to_string(hp_.head_dim) +
                    ", FFN " + std::to_string(hp_.n_ff) + ", vocab " + std::to_string(hp_.n_vocab) +
                    ", context " + std::to_string(hp_.n_ctx_train) + ", rope base " +
                    format_float(hp_.rope_freq_base) + ", rms eps " + format_float(hp_.rms_eps);
    s += hp_.tied_embeddings ? ", tied embeddings" : ", separate output head";
    s += hp_.arch.rope == rope_type::neox ? ", NeoX RoPE" : "";
    if (hp_.arch.qkv_bias) s += ", QKV bias";
    if (hp_.arch.qk_norm) s += ", QK-norm";
    if (hp_.arch.no_rope_layer_step != 0)
      s += ", no RoPE in every " + std::to_string(hp_.arch.no_rope_layer_step) + "th layer";
    return s;
  }

 private:
  explicit llama_model(std::unique_ptr<gguf::file> f) : file_(std::move(f)) {
    read_hparams();
    read_weights();
  }

  static std::string format_float(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw model_error("model: " + file_->source() + ": " + what);
  }

  /// "<key> = <value>: <why>", the form of every metadata value error.
  [[noreturn]] void bad_value(const std::string& key, const std::string& value,
                              const std::string& why) const {
    fail(key + " = " + value + ": " + why);
  }

  static bool is_signed_integer(gguf::value_type t) noexcept {
    return t == gguf::value_type::int8 || t == gguf::value_type::int16 ||
           t == gguf::value_type::int32 || t == gguf::value_type::int64;
  }

  /// The value of an integer key as text, whatever its type and sign.
  static std::string integer_text(const gguf::value& v) {
    if (is_signed_integer(v.type())) return std::to_string(v.get_integer<std::int64_t>());
    return std::to_string(v.get_integer<std::uint64_t>());
  }

  std::optional<std::uint32_t> find_u32(const std::string& key) const {
    const gguf::value* v = file_->find_value(key);
    if (v == nullptr) return std::nullopt;
    if (!gguf::is_integer(v->type()))
      fail("'" + key + "' is " + v->type_name() + ", expected an integer");
    const bool negative = is_signed_integer(v->type()) && v->get_integer<std::int64_t>() < 0;
    if (negative || (v->type() == gguf::value_type::uint64 &&
                     v->get_integer<std::uint64_t>() > 0xffffffffu))
      bad_value(key, integer_text(*v), "out of range (0 .. 4294967295)");
    return v->get_integer<std::uint32_t>();
  }

  /// A count in [lo, hi], or an error naming the key, the value and the range.
  std::uint32_t get_count(const std::string& key, std::uint32_t lo, std::uint32_t hi) const {
    const std::uint32_t v = get_u32(key);
    check_range(key, v, lo, hi);
    return v;
  }

  void check_range(const std::string& key, std::uint64_t v, std::uint64_t lo,
                   std::uint64_t hi) const {
    if (v < lo || v > hi)
      bad_value(key, std::to_string(v),
                "out of the supported range " + std::to_string(lo) + " .. " + std::to_string(hi));
  }

  /// A float that must be finite and in (0, hi].
  float checked_positive(const std::string& key, float v, float hi) const {
    if (!std::isfinite(v)) bad_value(key, format_float(v), "not a finite number");
    if (!(v > 0.0f)) bad_value(key, format_float(v), "must be positive");
    if (v > hi) bad_value(key, format_float(v), "above the supported maximum " + format_float(hi));
    return v;
  }

  std::uint32_t get_u32(const std::string& key) const {
    const auto v = find_u32(key);
    if (!v) fail("metadata key '" + key + "' is missing");
    return *v;
  }

  std::optional<float> find_float(const std::string& key) const {
    const gguf::value* v = file_->find_value(key);
    if (v == nullptr) return std::nullopt;
    if (v->type() == gguf::value_type::float32) return v->get<float>();
    if (v->type() == gguf::value_type::float64) {
      const double d = v->get<double>();
      // A FLOAT64 beyond float's range would become inf: report the value.
      if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
        bad_value(key, format_double(d), "beyond the range of a 32-bit float");
      return static_cast<float>(d);
    }
    fail("'" + key + "' is " + v->type_name() + ", expected FLOAT32");
  }

  static std::string format_double(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  /// Number of transformer blocks the tensors describe: 1 + the largest <i>
  /// of the tensors named blk.<i>.* (0 when there are none).
  std::uint64_t blocks_present() const {
    std::uint64_t n = 0;
    for (const gguf::tensor_info& t : file_->tensors()) {
      const std::string_view name = t.name;
      if (!name.starts_with("blk.")) continue;
      std::uint64_t i = 0;
      const char* first = name.data() + 4;
      const char* last = name.data() + name.size();
      const auto [end, ec] = std::from_chars(first, last, i);
      if (ec != std::errc{} || end == first || end == last || *end != '.' ||
          i == std::numeric_limits<std::uint64_t>::max())
        continue;
      n = std::max(n, i + 1);
    }
    return n;
  }

  /// Checks the hyper-parameters against the tensors the file holds, before
  /// anything is sized from them.
  void check_against_tensors(const std::string& p) const {
    const std::uint64_t blocks = blocks_present();
    if (hp_.n_layer != blocks)
      bad_value(p + "block_count", std::to_string(hp_.n_layer),
                blocks == 0 ? std::string("the file holds no blk.<i> tensors")
                            : "the file holds tensors for " + std::to_string(blocks) +
                                  " blocks (blk.0 .. blk." + std::to_string(blocks - 1) + ")");
    if (const gguf::tensor_info* t = file_->find_tensor("token_embd.weight")) {
      if (t->ne[0] != hp_.n_embd)
        bad_value(p + "embedding_length", std::to_string(hp_.n_embd),
                  "token_embd.weight has rows of " + std::to_string(t->ne[0]) + " values");
      if (t->n_dims == 2 && t->ne[1] != hp_.n_vocab)
        bad_value("tokenizer.ggml.tokens", "(" + std::to_string(hp_.n_vocab) + " entries)",
                  "token_embd.weight has " + std::to_string(t->ne[1]) + " rows");
    }
    if (const gguf::tensor_info* t = file_->find_tensor("blk.0.ffn_gate.weight");
        t != nullptr && t->n_dims == 2 && t->ne[1] != hp_.n_ff)
      bad_value(p + "feed_forward_length", std::to_string(hp_.n_ff),
                "blk.0.ffn_gate.weight has " + std::to_string(t->ne[1]) + " rows");
  }

  void read_hparams() {
    const gguf::file& f = *file_;
    const gguf::value* arch_value = f.find_value("general.architecture");
    if (arch_value == nullptr) fail("metadata key 'general.architecture' is missing");
    if (arch_value->type() != gguf::value_type::string)
      fail("'general.architecture' is " + arch_value->type_name() + ", expected STRING");
    const std::string arch(arch_value->get_string());
    const architecture* traits = find_architecture(arch);
    if (traits == nullptr)
      fail("general.architecture = '" + arch + "' is not supported (supported: " + architecture_names() + ")");
    hp_.arch = *traits;
    const std::string p = arch + ".";

    using lim = llama_limits;
    hp_.n_layer = get_count(p + "block_count", 1, lim::max_layers);
    hp_.n_embd = get_count(p + "embedding_length", 1, lim::max_embd);
    hp_.n_head = get_count(p + "attention.head_count", 1, std::min(lim::max_heads, hp_.n_embd));
    hp_.n_head_kv = find_u32(p + "attention.head_count_kv").value_or(hp_.n_head);
    check_range(p + "attention.head_count_kv", hp_.n_head_kv, 1, hp_.n_head);
    hp_.n_ff = get_count(p + "feed_forward_length", 1, lim::max_ff);
    hp_.n_ctx_train = get_count(p + "context_length", 1, lim::max_context);
    // Bounds: ggml models use bases from 10^4 to a few 10^7; epsilon is a
    // small positive number (1e-5, 1e-6) and never near 1.
    hp_.rope_freq_base = checked_positive(
        p + "rope.freq_base", find_float(p + "rope.freq_base").value_or(10000.0f), 1e12f);
    const auto eps = find_float(p + "attention.layer_norm_rms_epsilon");
    if (!eps) fail("metadata key '" + p + "attention.layer_norm_rms_epsilon' is missing");
    hp_.rms_eps = checked_positive(p + "attention.layer_norm_rms_epsilon", *eps, 1.0f);

    const auto key_length = find_u32(p + "attention.key_length");
    if (!key_length && hp_.n_embd % hp_.n_head != 0)
      bad_value(p + "embedding_length", std::to_string(hp_.n_embd),
                "not a multiple of " + p + "attention.head_count = " + std::to_string(hp_.n_head));
    if (hp_.n_head % hp_.n_head_kv != 0)
      bad_value(p + "attention.head_count", std::to_string(hp_.n_head),
                "not a multiple of " + p + "attention.head_count_kv = " +
                    std::to_string(hp_.n_head_kv));
    // llama.cpp's n_embd_head_k: key_length when present (Qwen3 has heads
    // wider than n_embd / n_head), else n_embd / n_head.
    hp_.head_dim = hp_.n_embd / hp_.n_head;
    if (key_length) {
      check_range(p + "attention.key_length", *key_length, 2, lim::max_embd);
      hp_.head_dim = *key_length;
    }
    if (const auto v = find_u32(p + "attention.value_length"); v && *v != hp_.head_dim)
      fail(p + "attention.value_length = " + std::to_string(*v) + " differs from the key head size " +
           std::to_string(hp_.head_dim) + " (not supported)");
    hp_.n_rot = find_u32(p + "rope.dimension_count").value_or(hp_.head_dim);
    if (hp_.n_rot != hp_.head_dim)
      bad_value(p + "rope.dimension_count", std::to_string(hp_.n_rot),
                "differs from head_dim " + std::to_string(hp_.head_dim) +
                    " (partial rotary embeddings are not supported)");
    if (hp_.head_dim % 2 != 0)
      bad_value(p + "embedding_length", std::to_string(hp_.n_embd),
                "gives an odd head_dim " + std::to_string(hp_.head_dim) + " (embedding_length / " +
                    "head_count), RoPE needs pairs");
    if (const gguf::value* v = f.find_value(p + "rope.scaling.type")) {
      if (v->type() != gguf::value_type::string || v->get_string() != "none")
        fail("RoPE scaling ('" + p + "rope.scaling.type') is not supported");
    }

    const gguf::value* tokens = f.find_value("tokenizer.ggml.tokens");
    if (tokens == nullptr) fail("metadata key 'tokenizer.ggml.tokens' is missing");
    if (tokens->size() == 0 || tokens->size() > lim::max_vocab)
      bad_value("tokenizer.ggml.tokens", "(" + std::to_string(tokens->size()) + " entries)",
                "the vocabulary must have 1 .. " + std::to_string(lim::max_vocab) + " entries");
    hp_.n_vocab = static_cast<std::uint32_t>(tokens->size());
    if (const auto v = find_u32(p + "vocab_size"); v && *v != hp_.n_vocab)
      bad_value(p + "vocab_size", std::to_string(*v),
                "but tokenizer.ggml.tokens has " + std::to_string(hp_.n_vocab) + " entries");
    check_against_tensors(p);
  }

  // The tensor `name`, checked to be `rows` rows of `cols` (rows == 0: a vector).
  weight get_weight(const std::string& name, std::uint64_t cols, std::uint64_t rows) const {
    const gguf::tensor_info* t = file_->find_tensor(name);
    if (t == nullptr) fail("tensor '" + name + "' is missing");
    return make_weight(*t, cols, rows);
  }

  // A vector the architecture requires (`what` names the feature in the
  // error), F32 as every converter writes norms and biases.
  weight get_arch_weight(const std::string& name, std::uint64_t size, const char* what) const {
    const gguf::tensor_info* t = file_->find_tensor(name);
    if (t == nullptr)
      fail("tensor '" + name + "' is missing (architecture " + std::string(hp_.arch.name) + " has " + what + ")");
    weight w = make_weight(*t, size, 0);
    if (w.type != quant::ggml_type::f32)
      fail("tensor '" + name + "' is " + std::string(w.type_name()) + ", expected F32");
    return w;
  }

  weight make_weight(const gguf::tensor_info& t, std::uint64_t cols, std::uint64_t rows) const {
    const bool vector = rows == 0;
    const bool ok = vector ? (t.n_dims == 1 && t.ne[0] == cols)
                           : (t.n_dims == 2 && t.ne[0] == cols && t.ne[1] == rows);
    if (!ok) {
      std::string got;
      for (const std::uint64_t d : t.dims()) got += (got.empty() ? "" : ", ") + std::to_string(d);
      const std::string want =
          vector ? std::to_string(cols) : std::to_string(cols) + ", " + std::to_string(rows);
      fail("tensor '" + std::string(t.name) + "' has ne = [" + got + "], expected [" + want + "]");
    }
    weight w;
    w.name = t.name;
    w.type = t.type;
    w.cols = t.ne[0];
    w.rows = vector ? 1 : t.ne[1];
    w.row_bytes = t.n_bytes / w.rows;
    w.bytes = t.bytes();
    w.info = &t;
    return w;
  }

  void read_weights() {
    const std::uint64_t e = hp_.n_embd, q = hp_.n_embd_q(), kv = hp_.n_embd_kv(), ff = hp_.n_ff,
                        v = hp_.n_vocab;
    token_embd_ = get_weight("token_embd.weight", e, v);
    output_norm_ = get_weight("output_norm.weight", e, 0);
    if (const gguf::tensor_info* out = file_->find_tensor("output.weight")) {
      output_ = make_weight(*out, e, v);
      hp_.tied_embeddings = false;
    } else {
      hp_.tied_embeddings = true;
    }
    layers_.reserve(hp_.n_layer);
    for (std::uint32_t i = 0; i < hp_.n_layer; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".";
      layer_weights l;
      l.attn_norm = get_weight(b + "attn_norm.weight", e, 0);
      l.attn_q = get_weight(b + "attn_q.weight", e, q);
      l.attn_k = get_weight(b + "attn_k.weight", e, kv);
      l.attn_v = get_weight(b + "attn_v.weight", e, kv);
      if (hp_.arch.qkv_bias) {
        l.attn_q_bias = get_arch_weight(b + "attn_q.bias", q, "Q/K/V biases");
        l.attn_k_bias = get_arch_weight(b + "attn_k.bias", kv, "Q/K/V biases");
        l.attn_v_bias = get_arch_weight(b + "attn_v.bias", kv, "Q/K/V biases");
      }
      if (hp_.arch.qk_norm) {
        l.attn_q_norm = get_arch_weight(b + "attn_q_norm.weight", hp_.head_dim, "QK-norm");
        l.attn_k_norm = get_arch_weight(b + "attn_k_norm.weight", hp_.head_dim, "QK-norm");
      }
      l.attn_output = get_weight(b + "attn_output.weight", q, e);
      l.ffn_norm = get_weight(b + "ffn_norm.weight", e, 0);
      l.ffn_gate = get_weight(b + "ffn_gate.weight", e, ff);
      l.ffn_up = get_weight(b + "ffn_up.weight", e, ff);
      l.ffn_down = get_weight(b + "ffn_down.weight", ff, e);
      layers_.push_back(l);
    }
  }

  std::unique_ptr<gguf::file> file_;  // stable address: weights point into it
  llama_hparams hp_;
  weight token_embd_;
  weight output_norm_;
  weight output_;  // unset when tied
  std::vector<layer_weights> layers_;
};

}  // namespace foundry::generate
