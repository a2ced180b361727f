// A plain C++ reference forward pass of a Llama model, in double precision,
// one token at a time with a KV cache. No Foundry kernels: loops over the
// dequantized weights, written to be read and checked against the formulas,
// not to be fast. The generation example's `--reference` mode and the model
// tests (tests/model/reference_forward_test.cpp) run it.
//
// Storage: every weight is dequantized once, with the reference codecs of
// <foundry/quant/ggml_blocks.hpp> (quant::dequantize_row), into a float
// matrix kept for the model's lifetime. The codecs produce floats, so float
// storage holds the dequantized weights exactly; all arithmetic (dot products,
// norms, RoPE, softmax, residuals) is in double. For SmolLM2-135M that is
// 134.5 M floats, about 540 MB (doubles would take 1.1 GB for no gain).
//
// The computation (llama.cpp's `llm_build_llama`, Hugging Face's
// `LlamaForCausalLM`), for a token t at position p:
//
//   x = E[t]                                                   (n_embd)
//   per layer l:
//     h = rmsnorm(x) * attn_norm         rmsnorm(x) = x / sqrt(mean(x^2) + eps)
//     q = Wq h, k = Wk h, v = Wv h       (n_head, n_head_kv, n_head_kv heads of head_dim)
//       (+ bq, bk, bv: qwen2)
//     q_j = rmsnorm(q_j) * q_norm, k_j = rmsnorm(k_j) * k_norm   per head (qwen3)
//     q, k = rope(q, p), rope(k, p)      per head, adjacent pairs (x[2i], x[2i+1])
//                                        rotated by p * base^(-2i / head_dim)
//                                        (NeoX pairs (x[i], x[i + d/2]) for qwen2/qwen3;
//                                        no rotation in smollm3's NoPE layers)
//     K[l][p], V[l][p] = k, v            (the cache)
//     per query head j, with g = j / (n_head / n_head_kv) its KV head:
//       s_u = q_j . K[l][u]_g / sqrt(head_dim)    for u = 0..p (causal)
//       o_j = sum_u softmax(s)_u V[l][u]_g
//     x = x + Wo o
//     h = rmsnorm(x) * ffn_norm
//     x = x + Wdown (silu(Wgate h) * (Wup h))     silu(z) = z / (1 + e^-z)
//   logits = Wout (rmsnorm(x) * output_norm)      Wout = E when tied
//
// RoPE: llama.cpp runs the Llama architecture with LLAMA_ROPE_TYPE_NORM
// (`llama_model_rope_type`), ggml's "normal" rotation of adjacent pairs with
// theta_i = p * freq_base^(-2i / n_rot) (`ggml_compute_forward_rope`,
// theta_scale = powf(freq_base, -2.0f / n_dims)). Hugging Face's Llama
// rotates the halves (x[i], x[i + d/2]) instead; the GGUF converter
// (`convert_hf_to_gguf.py`, LlamaModel.permute) reorders the rows of Wq and
// Wk so that the adjacent-pair rotation of the GGUF weights computes the same
// thing. tests/model/reference_forward_test.cpp checks this against
// llama.cpp's logits (tests/fixtures/smollm2_reference.txt); the half
// rotation does not reproduce them. The other architectures follow
// examples/generate/model.hpp's table (llama.cpp's src/models/qwen2.cpp,
// qwen3.cpp, smollm3.cpp), checked against llama.cpp on random-weight files
// (tests/model/architectures_test.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <foundry/quant/ggml_blocks.hpp>

#include "examples/generate/decoder.hpp"
#include "examples/generate/model.hpp"

namespace foundry::test {

/// The float64 reference forward pass (see the file comment).
class reference_model {
 public:
  /// How the rotary embedding pairs up a head's values: adjacent (x[2i],
  /// x[2i+1]), as llama.cpp does for Llama GGUFs, or halves (x[i],
  /// x[i + d/2]), the NeoX / Hugging Face layout (for checking that the
  /// choice matters; wrong for Llama GGUF weights).
  enum class rope_pairs { adjacent, halves };

  /// Dequantizes every weight of `model` (the reference keeps its own
  /// copies; `model` need not outlive it) and allocates a KV cache of
  /// `max_positions` positions (at most the training context length).
  /// RoPE pairs as the architecture says (set_rope_pairs changes it).
  explicit reference_model(const generate::llama_model& model, std::uint32_t max_positions)
      : hp_(model.hparams()),
        max_positions_(std::min(max_positions, model.hparams().n_ctx_train)),
        pairs_(hp_.arch.rope == generate::rope_type::neox ? rope_pairs::halves : rope_pairs::adjacent) {
    if (max_positions_ == 0) throw std::invalid_argument("reference_model: no positions");
    token_embd_ = dequantize(model.token_embd());
    output_norm_ = dequantize(model.output_norm());
    if (!hp_.tied_embeddings) output_ = dequantize(model.output());
    layers_.reserve(hp_.n_layer);
    for (const generate::layer_weights& w : model.layers()) {
      layer l;
      l.attn_norm = dequantize(w.attn_norm);
      l.wq = dequantize(w.attn_q);
      l.wk = dequantize(w.attn_k);
      l.wv = dequantize(w.attn_v);
      if (w.attn_q_bias.present()) {
        l.bq = dequantize(w.attn_q_bias);
        l.bk = dequantize(w.attn_k_bias);
        l.bv = dequantize(w.attn_v_bias);
      }
      if (w.attn_q_norm.present()) {
        l.q_norm = dequantize(w.attn_q_norm);
        l.k_norm = dequantize(w.attn_k_norm);
      }
      l.wo = dequantize(w.attn_output);
      l.ffn_norm = dequantize(w.ffn_norm);
      l.w_gate = dequantize(w.ffn_gate);
      l.w_up = dequantize(w.ffn_up);
      l.w_down = dequantize(w.ffn_down);
      const std::size_t cache = std::size_t{max_positions_} * hp_.n_embd_kv();
      l.k_cache.assign(cache, 0.0);
      l.v_cache.assign(cache, 0.0);
      layers_.push_back(std::move(l));
    }
    // Inverse frequencies base^(-2i / n_rot), in double.
    inv_freq_.resize(hp_.n_rot / 2);
    for (std::size_t i = 0; i < inv_freq_.size(); ++i)
      inv_freq_[i] = std::pow(static_cast<double>(hp_.rope_freq_base),
                              -2.0 * static_cast<double>(i) / static_cast<double>(hp_.n_rot));
    logits_.assign(hp_.n_vocab, 0.0);
  }

  /// Changes the RoPE pairing and empties the KV cache.
  void set_rope_pairs(rope_pairs pairs) noexcept {
    pairs_ = pairs;
    cached_ = 0;
  }
  rope_pairs pairs() const noexcept { return pairs_; }

  const generate::llama_hparams& hparams() const noexcept { return hp_; }
  std::uint32_t max_positions() const noexcept { return max_positions_; }
  /// Positions held in the KV cache.
  std::uint32_t cached() const noexcept { return cached_; }

  /// Runs `token` at position `pos` (pos <= cached(); a smaller pos rewinds
  /// the cache to [0, pos)) and returns the logits, valid until the next call.
  std::span<const double> forward(std::int32_t token, std::uint32_t pos) {
    if (token < 0 || static_cast<std::uint32_t>(token) >= hp_.n_vocab)
      throw std::out_of_range("reference_model: token " + std::to_string(token) +
                              " outside the vocabulary of " + std::to_string(hp_.n_vocab));
    if (pos >= max_positions_)
      throw std::out_of_range("reference_model: position " + std::to_string(pos) +
                              " beyond the KV cache of " + std::to_string(max_positions_));
    if (pos > cached_)
      throw std::out_of_range("reference_model: position " + std::to_string(pos) +
                              " skips ahead of the " + std::to_string(cached_) + " cached ones");

    const std::size_t e = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv(), hd = hp_.head_dim,
                      ff = hp_.n_ff;
    std::vector<double> x(e), h(e), q(dq), k(dkv), v(dkv), o(dq), g(ff), u(ff), tmp(e);
    std::vector<double> scores(pos + 1);

    const float* row = token_embd_.data() + static_cast<std::size_t>(token) * e;
    for (std::size_t i = 0; i < e; ++i) x[i] = row[i];

    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    const std::uint32_t group = hp_.n_gqa();
    for (std::uint32_t il = 0; il < hp_.n_layer; ++il) {
      layer& l = layers_[il];
      rmsnorm(x, l.attn_norm, h);
      matvec(l.wq, h, q);
      matvec(l.wk, h, k);
      matvec(l.wv, h, v);
      add(q, l.bq);
      add(k, l.bk);
      add(v, l.bv);
      if (!l.q_norm.empty()) {
        for (std::size_t j = 0; j < hp_.n_head; ++j) head_rmsnorm(&q[j * hd], l.q_norm);
        for (std::size_t j = 0; j < hp_.n_head_kv; ++j) head_rmsnorm(&k[j * hd], l.k_norm);
      }
      if (hp_.uses_rope(il)) {
        for (std::size_t j = 0; j < hp_.n_head; ++j) rope(&q[j * hd], pos);
        for (std::size_t j = 0; j < hp_.n_head_kv; ++j) rope(&k[j * hd], pos);
      }
      std::copy(k.begin(), k.end(), l.k_cache.begin() + static_cast<std::ptrdiff_t>(pos * dkv));
      std::copy(v.begin(), v.end(), l.v_cache.begin() + static_cast<std::ptrdiff_t>(pos * dkv));

      for (std::size_t j = 0; j < hp_.n_head; ++j) {
        const std::size_t kvh = j / group;
        const double* qj = &q[j * hd];
        double max_score = -INFINITY;
        for (std::size_t t = 0; t <= pos; ++t) {
          const double* kt = &l.k_cache[t * dkv + kvh * hd];
          double s = 0.0;
          for (std::size_t i = 0; i < hd; ++i) s += qj[i] * kt[i];
          scores[t] = s * scale;
          max_score = std::max(max_score, scores[t]);
        }
        double sum = 0.0;
        for (std::size_t t = 0; t <= pos; ++t) {
          scores[t] = std::exp(scores[t] - max_score);
          sum += scores[t];
        }
        double* oj = &o[j * hd];
        std::fill(oj, oj + hd, 0.0);
        for (std::size_t t = 0; t <= pos; ++t) {
          const double p = scores[t] / sum;
          const double* vt = &l.v_cache[t * dkv + kvh * hd];
          for (std::size_t i = 0; i < hd; ++i) oj[i] += p * vt[i];
        }
      }
      matvec(l.wo, o, tmp);
      for (std::size_t i = 0; i < e; ++i) x[i] += tmp[i];

      rmsnorm(x, l.ffn_norm, h);
      matvec(l.w_gate, h, g);
      matvec(l.w_up, h, u);
      for (std::size_t i = 0; i < ff; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      matvec(l.w_down, g, tmp);
      for (std::size_t i = 0; i < e; ++i) x[i] += tmp[i];
    }
    rmsnorm(x, output_norm_, h);
    matvec(hp_.tied_embeddings ? token_embd_ : output_, h, logits_);
    cached_ = pos + 1;
    return logits_;
  }

  /// The logits of the last forward() call.
  std::span<const double> logits() const noexcept { return logits_; }

 private:
  struct layer {
    std::vector<float> attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
    std::vector<float> bq, bk, bv, q_norm, k_norm;  // empty when the architecture has none
    std::vector<double> k_cache, v_cache;  // [max_positions][n_head_kv * head_dim]
  };

  static std::vector<float> dequantize(const generate::weight& w) {
    std::vector<float> out(static_cast<std::size_t>(w.size()));
    for (std::uint64_t r = 0; r < w.rows; ++r)
      quant::dequantize_row(w.type, w.row(r), out.data() + r * w.cols,
                            static_cast<std::size_t>(w.cols));
    return out;
  }

  // out = w * rmsnorm(x), rmsnorm(x) = x / sqrt(mean(x^2) + eps).
  void rmsnorm(const std::vector<double>& x, const std::vector<float>& w,
               std::vector<double>& out) const {
    double ss = 0.0;
    for (const double xi : x) ss += xi * xi;
    const double r =
        1.0 / std::sqrt(ss / static_cast<double>(x.size()) + static_cast<double>(hp_.rms_eps));
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] * r * static_cast<double>(w[i]);
  }

  // x += b (nothing when b is empty).
  static void add(std::vector<double>& x, const std::vector<float>& b) {
    for (std::size_t i = 0; i < b.size(); ++i) x[i] += static_cast<double>(b[i]);
  }

  // One head of head_dim values: head = rmsnorm(head) * w (QK-norm).
  void head_rmsnorm(double* head, const std::vector<float>& w) const {
    double ss = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) ss += head[i] * head[i];
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(w.size()) + static_cast<double>(hp_.rms_eps));
    for (std::size_t i = 0; i < w.size(); ++i) head[i] *= r * static_cast<double>(w[i]);
  }

  // out[r] = sum_c W[r][c] x[c], W row-major with x.size() columns.
  static void matvec(const std::vector<float>& w, const std::vector<double>& x,
                     std::vector<double>& out) {
    const std::size_t cols = x.size();
    for (std::size_t r = 0; r < out.size(); ++r) {
      const float* wr = w.data() + r * cols;
      // Four partial sums (all in double) keep the loop from waiting on one
      // dependency chain; the order does not matter at this precision.
      double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
      std::size_t c = 0;
      for (; c + 4 <= cols; c += 4) {
        s0 += static_cast<double>(wr[c]) * x[c];
        s1 += static_cast<double>(wr[c + 1]) * x[c + 1];
        s2 += static_cast<double>(wr[c + 2]) * x[c + 2];
        s3 += static_cast<double>(wr[c + 3]) * x[c + 3];
      }
      for (; c < cols; ++c) s0 += static_cast<double>(wr[c]) * x[c];
      out[r] = (s0 + s1) + (s2 + s3);
    }
  }

  // Rotates one head (head_dim values) in place for position `pos`.
  void rope(double* head, std::uint32_t pos) const {
    const std::size_t half = inv_freq_.size();
    for (std::size_t i = 0; i < half; ++i) {
      const double theta = static_cast<double>(pos) * inv_freq_[i];
      const double c = std::cos(theta), s = std::sin(theta);
      double& a = pairs_ == rope_pairs::adjacent ? head[2 * i] : head[i];
      double& b = pairs_ == rope_pairs::adjacent ? head[2 * i + 1] : head[i + half];
      const double a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
  }

  generate::llama_hparams hp_;
  std::uint32_t max_positions_;
  rope_pairs pairs_;
  std::uint32_t cached_ = 0;
  std::vector<float> token_embd_, output_norm_, output_;
  std::vector<layer> layers_;
  std::vector<double> inv_freq_;
  std::vector<double> logits_;
};

/// The reference as a generate::decoder: greedy next token from the float64
/// logits (argmax in double; logits() hands out a float copy).
class reference_decoder final : public generate::decoder {
 public:
  reference_decoder(const generate::llama_model& model, std::uint32_t max_positions)
      : ref_(model, max_positions) {}

  std::int32_t step(std::int32_t token, std::uint32_t pos) override {
    const std::span<const double> l = ref_.forward(token, pos);
    logits_.assign(l.begin(), l.end());
    return generate::argmax(l);
  }
  std::span<const float> logits() override { return logits_; }
  std::uint32_t max_positions() const override { return ref_.max_positions(); }
  std::string name() const override { return "float64 reference"; }

  /// The float64 model itself (its double logits).
  reference_model& model() noexcept { return ref_; }
  const reference_model& model() const noexcept { return ref_; }

 private:
  reference_model ref_;
  std::vector<float> logits_;
};

}  // namespace foundry::test
