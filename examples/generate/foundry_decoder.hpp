// The decode step on Foundry kernels: every operation of a Llama block is a
// kernel alias of the library, dispatched through `foundry::executor` on
// any backend.
//
// One step (one token at position pos):
//   x = embedding(token)                                    embedding_<PE>
//   per layer:
//     q, k, v = RMSNorm(x; attn_norm) · Wq, Wk, Wv (+ b)    rmsnorm_qkv<PW>
//     q, k_cache[pos], v_cache[pos] = RoPE(q, k, pos), v     rope_norm_kv_append_f32
//       (the architecture's variant: rope_neox_kv_append_f32 for NeoX RoPE,
//       qk_norm_rope_neox_kv_append_f32 with QK-norm, kv_append_f32 in
//       layers without RoPE; see rope_append). By default (`rope_placement::
//       qkv_epilogue`), with `device_positions`, both lines are one kernel
//       in layers with RoPE, without QK-norm and with Wv in PW:
//       rmsnorm_qkv_rope_kv_append, RoPE and the append in the QKV kernel's
//       epilogue.
//     a = attention(q, caches[0..pos])                      attention_decode_f32
//       (with `flash_decode`: attention_split_f32 + attention_combine_f32,
//       the KV length split across SIMD-groups; flash_decode.hpp; with
//       `device_positions` as well and `rope_placement::flash_decode`, RoPE
//       and the KV append are folded into the split pass instead,
//       attention_split_rope_*_position_buffer)
//     x = Wo · a + x                                        gemv_residual_<PO>
//     h = SiLU(RMSNorm(x; ffn_norm) · Wgate) · (… · Wup)    rmsnorm_gate_up_swiglu<PW>
//     x = Wdown · h + x                                     gemv_residual_<PD>
//   logits = RMSNorm(x; output_norm) · Wout                 rmsnorm_lm_head<PE>
//   next = argmax(logits)                                   argmax_f32 (two passes)
// On GPU backends (`use_multi_row_gemvs`) the residual GEMVs and the LM head
// read their weights in 16-byte loads, several rows per SIMD-group where the
// policy has vector loads: gemv_residual_multi_row_<P> (one row per
// SIMD-group) and rmsnorm_lm_head_multi_row<PE> (four rows per SIMD-group,
// the RMSNorm summed by each SIMD-group). With flash-decoding,
// `use_flash_merge` says where the splits' states are merged: in
// attention_combine_f32 (the default), in the split kernel's last
// threadgroup per KV head (attention_split_merge_f32*, device positions
// only), or in the Wo GEMV as it reads its input,
// gemv_residual_flash_merged_<PO> (kernels/attention/flash_merged_input.hpp);
// both slower than the combine kernel where measured.
// Prefill (a chunk of M prompt tokens at positions p0..p0+M-1) runs the
// projections as GEMMs over the chunk (kernels/gemm):
//   X[m] = embedding(token m)                               embedding_<PE>, per token
//   per layer:
//     Q, K, V = RMSNorm(X) · Wq, Wk, Wv                      rmsnorm_qkv_gemm<PW>
//     RoPE + KV append at p0..p0+M-1                       rope_norm_kv_append_batched_f32
//       (or the architecture's variant, as in decode)
//     A = causal attention of the chunk over the cache      attention_prefill_f32_d64/_d128
//       (FlashAttention; other head sizes: per token        (attention_decode_f32)
//     X = A · Woᵀ + X                                       gemm_residual<PW>
//     H = SiLU(RMSNorm(X) · Wgateᵀ) ⊙ (… · Wupᵀ)            rmsnorm_gate_up_swiglu_gemm<PW>
//     X = H · Wdownᵀ + X                                    gemm_residual<PW>
//   logits of the last token only                           rmsnorm_lm_head<PE>
// The GEMMs use gemm_tile_default on the CPU backend and the GPU tiles
// (gemm_tile_gpu, gemm_tile_gpu_pair for gate/up: four SIMD-groups, half
// operands on tensor cores) on GPU backends; `use_gpu_tiles` overrides.
// PW is the policy of the layers' matrices, PE the one of the output matrix
// (token_embd when the embeddings are tied). K-quant mixes (Q4_K_M, ...)
// give some matrices more bits: Wv may be Q6_K or Q8_0 where the others are
// PW (rmsnorm_qkv<PW, PW, PV>), and Wo and Wdown (PO, PD) may each have any
// type of `residual_policies`, chosen per tensor at load time. Weights are repacked once into
// the policies' data/scale planes (kernels/policies/repack.hpp) and uploaded.
// The decode GEMVs (QKV, gate/up, the residual GEMVs, the LM head) come in
// two families (`decode_gemvs`): by default their CPU forms read x̂ in 8-bit
// blocks with integer dot products for Q8_0/Q4_0/Q4_1 matrices (the `_cpu_q8`
// kernels, llama.cpp's CPU rule); `q8_activations = false` keeps float x̂.
// With `device_positions` the step's position and token id live in device
// buffers (the `_position_buffer` kernels, the embedding's `token_id`, the
// argmax writing the next token there, `advance_position` last), so every
// step issues the same dispatches with the same arguments and a recorder
// that `replays` (cuda_graph_step) runs one recorded step again per token.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <foundry/foundry.hpp>
#include <kernels/library.hpp>
#include <kernels/policies/repack.hpp>

#include "decoder.hpp"
#include "device_sampler.hpp"
#include "model.hpp"

namespace foundry::generate {

namespace fk = foundry::kernels;

/// Wraps the dispatches of one decode step. The CUDA backend's recorder
/// (cuda_graph_step.hpp) captures them into a CUDA graph and replays it, so
/// the device runs a step's kernels (184 for SmolLM2) back to back without one launch
/// each from the host.
class step_recorder {
 public:
  virtual ~step_recorder() = default;
  /// Called before the step's first dispatch.
  virtual void begin(executor& ex) = 0;
  /// Called after the step's last dispatch and before the wait for its
  /// result; the step's work must be submitted when it returns.
  virtual void end(executor& ex) = 0;
  /// How the steps run, for messages ("CUDA graph", ...).
  virtual std::string name() const = 0;
  /// Whether the recorder runs the step recorded by the last begin/end again
  /// (`replay`) in place of the dispatches: only for a decoder whose step
  /// arguments never change (`device_positions`).
  virtual bool replays() const { return false; }
  /// Runs the recorded step again; submitted when it returns.
  virtual void replay(executor&) { throw std::logic_error(name() + ": this recorder does not replay steps"); }

  /// Whether the recorder reads results back asynchronously (`read_back`,
  /// `collect`), so a decoder can submit the next step before it reads this
  /// one's token (decoder::launch_next).
  virtual bool reads_back() const { return false; }
  /// After a step's work is submitted (end or replay): enqueues a copy of
  /// `result` (one uint, the step's token id) into host memory behind it
  /// and returns at once. At most `read_back_depth()` read-backs may be in
  /// flight; `collect` returns them in the order they were enqueued.
  virtual void read_back(executor&, const buffer&) {
    throw std::logic_error(name() + ": this recorder does not read results back");
  }
  /// Waits for the oldest read-back in flight and returns its value.
  virtual std::uint32_t collect(executor&) {
    throw std::logic_error(name() + ": this recorder does not read results back");
  }
  /// Read-backs that may be in flight at once.
  virtual std::size_t read_back_depth() const { return 0; }
};

/// Whether the decode GEMVs of policy `P` differ with 8-bit CPU activations
/// (`Q8` asked for and `P` has them: Q8_0, Q4_0, Q4_1).
template <weight_policy P, bool Q8>
inline constexpr bool q8_rows = Q8 && fk::host_q8_policy<P>;
/// `_cpu_q8` where the kernel uses 8-bit CPU activations, else nothing.
template <weight_policy P, bool Q8>
constexpr auto q8_suffix() {
  if constexpr (q8_rows<P, Q8>)
    return fixed_string("_cpu_q8");
  else
    return fixed_string("");
}

/// The LM head's input hook: RMSNorm folded into the rows, with 8-bit CPU
/// activations where `Q8` asks for them and `P` has them.
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head_input =
    std::conditional_t<q8_rows<P, Q8>, fk::cpu_q8_activations<fk::rmsnorm_folded_input<P>>,
                       fk::rmsnorm_folded_input<P>>;

/// Fused final RMSNorm + LM head: logits = W · RMSNorm(x; gamma), W in `P`.
/// The RMSNorm is folded into each row's reduction (no barrier: the CPU
/// runs it as lane loops). `Q8`: on the CPU, x̂ in 8-bit blocks with integer
/// dot products for Q8_0/Q4_0/Q4_1 (`cpu_q8_activations`).
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head = fused_kernel<fixed_string("rmsnorm_lm_head_") + P::name + q8_suffix<P, Q8>(), fk::gemv_dispatch,
                                     fk::gemv_row_major<rmsnorm_lm_head_input<P, Q8>>,
                                     epi::store<"y", "value", size_arg<"n">>>;

/// The multi-row LM head's input hook: x RMS-normalised by each SIMD-group
/// (`rmsnorm_simdgroup_input`: every SIMD-group sums x² over k, then reads
/// x and gamma in 16-byte loads), with 8-bit CPU activations where `Q8` asks
/// for them and `P` has them.
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head_multi_row_input =
    std::conditional_t<q8_rows<P, Q8>, fk::cpu_q8_activations<fk::rmsnorm_simdgroup_input<P>>,
                       fk::rmsnorm_simdgroup_input<P>>;
/// Rows per SIMD-group of the multi-row LM head (one arg-max pair each
/// where the arg-max's first pass is folded in).
inline constexpr unsigned lm_head_rows_per_simdgroup = 4;
/// The multi-row LM head's main stage: 4 rows per SIMD-group, 2 SIMD-groups
/// per threadgroup, the fastest of the rows × SIMD-groups sweep on the
/// 49152 × 576 Q8_0 and Q4_1 LM heads of SmolLM2 (H100,
/// bench/results/2026-12-06-h100-cuda.md).
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head_multi_row_main =
    fk::gemv_multi_row<rmsnorm_lm_head_multi_row_input<P, Q8>, lm_head_rows_per_simdgroup, 2>;
/// Fused final RMSNorm + LM head for GPUs: logits = W · RMSNorm(x; gamma),
/// W [n_vocab, k] row-major in `P` (a policy with vector loads: F16, F32,
/// Q8_0, Q4_0, Q4_1), x and gamma float[k] at 16-byte aligned addresses,
/// logits float[n_vocab]. The weights are read in 16-byte loads, several
/// rows per SIMD-group (kernels/gemv/gemv_multi_row.hpp); the RMSNorm costs
/// each SIMD-group one more pass over x (k floats, against 4 rows of
/// weights). Same arguments as `rmsnorm_lm_head`.
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head_multi_row =
    fused_kernel<fixed_string("rmsnorm_lm_head_multi_row_") + P::name + q8_suffix<P, Q8>(),
                 typename rmsnorm_lm_head_multi_row_main<P, Q8>::template dispatch_for<>,
                 rmsnorm_lm_head_multi_row_main<P, Q8>, epi::store<"y", "value", size_arg<"n">>>;

/// The multi-row LM head with the greedy arg-max's first pass in its
/// epilogue (`fk::argmax_partial`): besides the logits, each SIMD-group of
/// 4 rows writes its best (logit, token id) pair to `part_value`,
/// `part_index` (float, uint [ceil(n_vocab / 4)]), which
/// `fk::argmax_f32_advance_position` then reduces (`decoder_options::fold_argmax`).
/// Same arguments as `rmsnorm_lm_head_multi_row`, then `part_value`, `part_index`.
template <weight_policy P, bool Q8 = false>
using rmsnorm_lm_head_multi_row_argmax =
    fused_kernel<fixed_string("rmsnorm_lm_head_multi_row_argmax_") + P::name + q8_suffix<P, Q8>(),
                 typename rmsnorm_lm_head_multi_row_main<P, Q8>::template dispatch_for<>,
                 rmsnorm_lm_head_multi_row_main<P, Q8>, epi::store<"y", "value", size_arg<"n">>,
                 fk::argmax_partial<lm_head_rows_per_simdgroup>>;

/// A weight matrix on the device: its planes in policy `P`.
template <weight_policy P>
struct device_matrix {
  buffer data, scales;
  std::uint32_t rows = 0, cols = 0;

  device_matrix(executor& ex, const weight& w) : rows(std::uint32_t(w.rows)), cols(std::uint32_t(w.cols)) {
    if (w.type != policies::ggml_type_of<P>)
      throw std::runtime_error("tensor " + std::string(w.name) + " is " + std::string(w.type_name()) +
                               ", expected " + std::string(quant::to_string(policies::ggml_type_of<P>)));
    const auto planes = policies::repack<P>(w.bytes.data(), w.rows, w.cols, policies::layout::row_major);
    data = ex.upload(planes.data);
    if constexpr (P::has_scale) scales = ex.upload(planes.scales);
  }
  /// Sets `<W>` and, for policies with a scale, `<W>_scales` in `args`.
  template <fixed_string W, class Args>
  void bind(Args& args) const {
    args.template set<W>(data);
    if constexpr (P::has_scale) args.template set<W + fixed_string("_scales")>(scales);
  }
};

/// A vector of floats on the device (norm weights): F32 tensors only.
inline buffer upload_vector(executor& ex, const weight& w) {
  if (w.type != quant::ggml_type::f32)
    throw std::runtime_error("tensor " + std::string(w.name) + " is " + std::string(w.type_name()) + ", expected F32");
  std::vector<float> v(w.size());
  std::memcpy(v.data(), w.bytes.data(), v.size() * sizeof(float));
  return ex.upload(v);
}

/// Policies a layer's Wo and Wdown may have, each matrix its own (K-quant
/// mixes give ffn_down more bits in some layers).
using residual_policies =
    type_list<policies::q4_1, policies::q4_0, policies::q8_0, policies::f16, policies::q4_k, policies::q5_k,
              policies::q6_k>;

namespace detail {
template <class L>
struct matrix_variant;
template <class... Ps>
struct matrix_variant<type_list<Ps...>> {
  using type = std::variant<device_matrix<Ps>...>;
  /// The planes of `w` in the policy of its type; throws for other types.
  static type make(executor& ex, const weight& w) {
    std::optional<type> out;
    ([&] {
      if (!out && w.type == policies::ggml_type_of<Ps>) out.emplace(std::in_place_type<device_matrix<Ps>>, ex, w);
    }(), ...);
    if (!out)
      throw std::runtime_error("tensor " + std::string(w.name) + " is " + std::string(w.type_name()) +
                               ", which has no GEMV kernel in this build");
    return std::move(*out);
  }
};
}  // namespace detail

/// A layer matrix of any residual policy.
using residual_matrix = detail::matrix_variant<residual_policies>::type;

/// The library residual GEMV of policy `P` (x = W·in + x); `Q8`: on the CPU
/// with 8-bit activations where `P` has them (`cpu_q8_activations`).
template <weight_policy P, bool Q8 = false>
using gemv_residual_for = fk::gemv_kernel<fixed_string("gemv_residual_") + P::name + q8_suffix<P, Q8>(), P,
                                          policies::layout::row_major, false, true, q8_rows<P, Q8>>;

/// The residual GEMV of policy `P` for GPUs (x = W·in + x): one row per
/// SIMD-group read in 16-byte loads (`gemv_multi_row` with R = 1, four
/// SIMD-groups per threadgroup: on matrices of a few hundred KB, such as a
/// decode layer's Wo and Wdown, one row per SIMD-group keeps the most
/// SIMD-groups in flight; bench/results/2026-12-06-h100-cuda.md). `P` a
/// policy with vector loads (F16, F32, Q8_0, Q4_0, Q4_1); `Q8` as for
/// `gemv_residual_for`.
template <weight_policy P, bool Q8 = false>
using gemv_residual_multi_row_for =
    fk::gemv_multi_row_kernel<fixed_string("gemv_residual_multi_row_") + P::name + q8_suffix<P, Q8>(), P, true,
                              q8_rows<P, Q8>, 1, 4>;

/// Flash-decoding's split count for a context of n positions
/// (`fk::flash_decode_splits`): one split per `positions_per_split`
/// positions, at most `max_splits`.
struct flash_split_rule {
  std::uint32_t positions_per_split = 32;
  std::uint32_t max_splits = 64;
};

/// The output projection after flash-decoding with the merge of the splits'
/// states folded into its input (x = Wo · merge(partials) + x): the residual
/// GEMV's tiling (one row per SIMD-group, four SIMD-groups per threadgroup)
/// with `flash_merged_input`. `P` a policy with vector loads.
template <weight_policy P>
using gemv_residual_flash_merged_for =
    fk::gemv_residual_flash_merged<fixed_string("gemv_residual_flash_merged_") + P::name, P>;

namespace detail {
/// The GPU forms of the residual GEMV and the LM head in policy `P`: the
/// multi-row kernels where `P` has vector loads, else the row-major ones
/// (K-quants).
template <weight_policy P, bool Q8, bool Vector = has_vector_loads<P>>
struct multi_row_gemvs {
  using residual = gemv_residual_for<P, Q8>;
  using lm_head = rmsnorm_lm_head<P, Q8>;
  using lm_head_argmax = void;  // no multi-row LM head: the arg-max stays in its own kernels
};
template <weight_policy P, bool Q8>
struct multi_row_gemvs<P, Q8, true> {
  using residual = gemv_residual_multi_row_for<P, Q8>;
  using lm_head = rmsnorm_lm_head_multi_row<P, Q8>;
  using lm_head_argmax = rmsnorm_lm_head_multi_row_argmax<P, Q8>;
};
}  // namespace detail

/// Where a decode step applies RoPE and appends k, v to the KV cache, in
/// layers with RoPE and without QK-norm (other layers always use the
/// separate kernel).
enum class rope_placement {
  separate_kernel,  ///< its own kernel after the QKV one (rope_*_kv_append_f32)
  qkv_epilogue,     ///< the QKV kernel's epilogue (rmsnorm_qkv_rope_kv_append): one dispatch fewer per layer
  flash_decode,     ///< flash-decoding's first pass (attention_flash_decode_rope); with flash-decoding and
                    ///< device positions only, else as `separate_kernel`
};

/// Where a decode step with flash-decoding merges the splits' partial
/// states (`foundry_decoder::use_flash_merge`).
enum class flash_merge_at {
  combine_kernel,  ///< attention_combine_f32*, a kernel of its own
  split_kernel,    ///< the split kernel's last threadgroup per KV head (attention_split_merge_f32*): one dispatch
                   ///< fewer per layer, but slower where measured; with device positions and position lanes
                   ///< (else the combine kernel)
  wo_gemv,         ///< the Wo GEMV as it reads its input (gemv_residual_flash_merged): one dispatch fewer, but
                   ///< every threadgroup merges every head
};

/// How a `foundry_decoder` runs (the constructor and `make_foundry_decoder`
/// take one; the defaults suit the CPU). Set fields by name:
/// `{.flash_decode = true, .device_positions = true}`.
struct decoder_options {
  /// Prompts are prefilled in chunks of at most this many tokens (1: one
  /// decode step per token; `set_prefill_chunk`).
  std::uint32_t prefill_chunk = 512;
  /// The prefill GEMMs on the GPU tiles (true) or the CPU tile (false);
  /// unset: the GPU tiles on every backend but the CPU (`use_gpu_tiles`).
  std::optional<bool> gpu_tiles = std::nullopt;
  /// The decode GEMVs' CPU forms read x̂ in 8-bit blocks with integer dot
  /// products (`decode_gemvs`); only the chosen family is compiled.
  bool q8_activations = true;
  /// Decode attention by flash-decoding (head_dim ≤ 128 and at most 8 query
  /// heads per KV head, else the constructor throws).
  bool flash_decode = false;
  /// The decode step's kernels read the position and the token id from
  /// device buffers, so a recorder that replays runs the step recorded once
  /// (see the constructor). Not with QK-norm architectures (throws).
  bool device_positions = false;
  /// Where RoPE and the KV append run.
  rope_placement rope = rope_placement::qkv_epilogue;
  /// The decode step's residual GEMVs and LM head as the multi-row kernels;
  /// unset: on every backend but the CPU (`use_multi_row_gemvs`).
  std::optional<bool> multi_row_gemvs = std::nullopt;
  /// With `flash_decode`, where the splits' states are merged
  /// (`use_flash_merge`).
  flash_merge_at flash_merge = flash_merge_at::combine_kernel;
  /// Flash-decoding's split count (`set_flash_decode_splits`).
  flash_split_rule flash_splits = {};
  /// Flash-decoding's first pass with device positions: its layout on GPUs
  /// (`fk::split_lanes`; `set_flash_split_lanes`).
  fk::split_lanes flash_split_lanes = fk::split_lanes::positions;
  /// With device positions and the multi-row LM head (an output head with
  /// vector loads), the greedy arg-max's first pass runs in the LM head's
  /// epilogue and its second pass also moves the position on
  /// (`rmsnorm_lm_head_multi_row_argmax`, `fk::argmax_f32_advance_position`):
  /// two dispatches per step instead of four. False (the default until its
  /// speed is measured on a GPU against the separate kernels) keeps the LM
  /// head, the two `argmax_f32` passes and `advance_position` apart.
  bool fold_argmax = false;
};

/// The decode GEMV kernels of a decoder with layer weights in `PW` and the
/// output head in `PE`; `Q8`: their CPU forms read x̂ in 8-bit blocks with
/// integer dot products (`cpu_q8_activations`: llama.cpp's CPU rule, an error
/// of ~1e-3 of Σ|w·x̂| per dot product), where the policy has them. Metal
/// and CUDA text is the same either way.
template <weight_policy PW, weight_policy PE, bool Q8>
struct decode_gemvs {
  static constexpr bool layer_q8 = q8_rows<PW, Q8>;
  template <weight_policy PV>
  using qkv = std::conditional_t<layer_q8, fk::rmsnorm_qkv_cpu_q8<PW, PW, PV>, fk::rmsnorm_qkv<PW, PW, PV>>;
  /// The QKV kernel with RoPE (`R`) and the KV append in its epilogue, the
  /// position from the device buffer, all three matrices in PW.
  template <fk::rope_pairing R>
  using qkv_rope = fk::rmsnorm_qkv_rope_kv_append<R, fk::position_source::buffer, PW, PW, PW, layer_q8>;
  using gate_up = std::conditional_t<layer_q8, fk::rmsnorm_gate_up_swiglu_cpu_q8<PW>, fk::rmsnorm_gate_up_swiglu<PW>>;
  template <weight_policy P>
  using residual = gemv_residual_for<P, Q8>;
  using lm_head = rmsnorm_lm_head<PE, Q8>;
  /// The GPU backends' forms of the residual GEMVs and the LM head
  /// (`detail::multi_row_gemvs`: 16-byte loads where the policy has them).
  template <weight_policy P>
  using residual_multi_row = typename detail::multi_row_gemvs<P, Q8>::residual;
  using lm_head_multi_row = typename detail::multi_row_gemvs<PE, Q8>::lm_head;
  /// The multi-row LM head with the arg-max's first pass in its epilogue
  /// (`rmsnorm_lm_head_multi_row_argmax`); void where PE has no vector loads.
  using lm_head_multi_row_argmax = typename detail::multi_row_gemvs<PE, Q8>::lm_head_argmax;
};

/// See the file comment.
template <weight_policy PW, weight_policy PE>
class foundry_decoder final : public decoder {
 public:
  /// The decode GEMVs with float activations and with 8-bit CPU ones.
  using float_gemvs = decode_gemvs<PW, PE, false>;
  using q8_gemvs = decode_gemvs<PW, PE, true>;
  /// Policies Wv may have: PW, or more bits (K-quant mixes give attn_v
  /// Q6_K, or Q8_0 where rows are not whole 256-weight super-blocks).
  using value_policies = unique_t<type_list<PW, policies::q6_k, policies::q8_0>>;
  using value_matrix = typename detail::matrix_variant<value_policies>::type;
  using embedding = fk::embedding_kernel<fixed_string("embedding_") + PE::name, PE>;
  /// The embedding reading the token id from a buffer (`device_positions`).
  using embedding_token_buffer = fk::embedding_kernel<fixed_string("embedding_") + PE::name + fixed_string("_token_buffer"),
                                                      PE, fk::token_source::buffer>;
  /// The prefill GEMMs on tile `Tile` (`PairTile` for gate/up).
  template <class Tile, class PairTile>
  struct prefill_gemms {
    using qkv = fk::rmsnorm_qkv_gemm<PW, PW, PW, Tile>;
    using gate_up = fk::rmsnorm_gate_up_swiglu_gemm<PW, PairTile>;
    using residual = fk::gemm_residual<PW, Tile>;
  };
  using cpu_gemms = prefill_gemms<fk::gemm_tile_default, fk::gemm_tile_default>;
  using gpu_gemms = prefill_gemms<fk::gemm_tile_gpu, fk::gemm_tile_gpu_pair>;

  /// A decoder of `m` (which must outlive it) for contexts of up to
  /// `max_positions` positions on backend `be`, `recorder` (optional)
  /// wrapping each decode step's dispatches, set up by `o`
  /// (`decoder_options`). Only the kernel families `o` picks are compiled
  /// (`use_gpu_tiles` and the others switch later). With
  /// `o.device_positions` the decode step's kernels read the position and
  /// the token id from device buffers (the `_position_buffer` kernels, the
  /// embedding's `token_id`); the step's argmax writes the next token id
  /// there and `advance_position` moves the position on, so a step's
  /// dispatches never change and a recorder that `replays` runs the step
  /// recorded once. The host writes the position or the token only when
  /// the caller's differ from those on the device (after a prefill, or a
  /// sampled token); with `o.flash_decode` the split count is then fixed
  /// for the context (`flash_decode_splits(max_positions)` by
  /// `o.flash_splits`). `o.rope` defaults to the QKV kernel's epilogue
  /// where `rope_in_qkv` allows it (with device positions). Throws
  /// `std::runtime_error` for flash-decoding of heads its kernels do not
  /// take; `std::invalid_argument` for device positions with QK-norm, a
  /// replaying recorder without device positions, a split rule with a 0,
  /// a prefill chunk of 0.
  foundry_decoder(std::unique_ptr<backend> be, const llama_model& m, std::uint32_t max_positions,
                  std::unique_ptr<step_recorder> recorder = nullptr, const decoder_options& o = {})
      : ex_(std::move(be)),
        q8_(o.q8_activations),
        flash_(o.flash_decode),
        splits_(o.flash_splits),
        lanes_(o.flash_split_lanes),
        device_pos_(o.device_positions),
        fold_argmax_(o.fold_argmax),
        rope_(o.rope),
        hp_(m.hparams()),
        max_pos_(max_positions),
        head_(ex_, m.output()),
        recorder_(std::move(recorder)) {
    for (const layer_weights& l : m.layers()) layers_.push_back(layer(ex_, l));
    output_norm_ = upload_vector(ex_, m.output_norm());
    if (&m.output() == &m.token_embd() || m.output().name == m.token_embd().name)
      tied_ = true;
    else
      embd_ = std::make_unique<device_matrix<PE>>(ex_, m.token_embd());
    const std::size_t kv = std::size_t{hp_.n_layer} * hp_.n_head_kv * max_pos_ * hp_.head_dim;
    k_cache_ = ex_.allocate<float>(kv);
    v_cache_ = ex_.allocate<float>(kv);
    x_ = ex_.allocate<float>(hp_.n_embd);
    q_ = ex_.allocate<float>(hp_.n_embd_q());
    k_ = ex_.allocate<float>(hp_.n_embd_kv());
    v_ = ex_.allocate<float>(hp_.n_embd_kv());
    attn_ = ex_.allocate<float>(hp_.n_embd_q());
    h_ = ex_.allocate<float>(hp_.n_ff);
    logits_ = ex_.allocate<float>(hp_.n_vocab);
    // The pairs of the first arg-max pass: one per chunk, or one per
    // SIMD-group of the LM head where the pass is in its epilogue.
    const std::uint32_t groups = std::max((hp_.n_vocab + argmax_chunk - 1) / argmax_chunk, lm_head_pairs());
    part_value_ = ex_.allocate<float>(groups);
    part_index_ = ex_.allocate<std::uint32_t>(groups);
    best_value_ = ex_.allocate<float>(1);
    best_index_ = ex_.allocate<std::uint32_t>(1);
    check_split_rule(splits_);
    if (flash_) {
      if (!fk::flash_decode_supports(hp_.n_head, hp_.n_head_kv, hp_.head_dim))
        throw std::runtime_error("flash-decoding needs head_dim <= " + std::to_string(fk::flash_decode_max_head_dim) +
                                 " and at most " + std::to_string(fk::flash_decode_max_group) +
                                 " query heads per KV head (" + std::to_string(hp_.head_dim) + ", " +
                                 std::to_string(hp_.n_head / hp_.n_head_kv) + ")");
      if (device_pos_)
        ex_.prepare<fk::attention_split_f32_position_buffer, fk::attention_split_f32_g4_position_buffer,
                    fk::attention_combine_f32_position_buffer>();
      else
        ex_.prepare<fk::attention_split_f32, fk::attention_split_f32_g4, fk::attention_combine_f32>();
      if (device_pos_ && rope_ == rope_placement::flash_decode &&
          hp_.arch.rope == rope_type::neox)  // only the kernels folds_rope takes
        ex_.prepare<fk::attention_split_rope_neox_f32_position_buffer,
                    fk::attention_split_rope_neox_f32_g4_position_buffer>();
      else if (device_pos_ && rope_ == rope_placement::flash_decode)
        ex_.prepare<fk::attention_split_rope_norm_f32_position_buffer,
                    fk::attention_split_rope_norm_f32_g4_position_buffer>();
      set_flash_split_lanes(lanes_);
      allocate_partials();
    }
    if (recorder_ && recorder_->replays() && !device_pos_)
      throw std::invalid_argument(recorder_->name() + " replays a recorded step: the decoder needs device_positions");
    if (device_pos_) {
      if (hp_.arch.qk_norm)
        throw std::invalid_argument("device_positions: no position-buffer kernels for QK-norm");
      ex_.prepare<embedding_token_buffer, fk::advance_position>();
      if (!flash_) ex_.prepare<fk::attention_decode_f32_position_buffer>();
      if (hp_.arch.rope == rope_type::neox)
        ex_.prepare<fk::rope_neox_kv_append_f32_position_buffer>();
      else
        ex_.prepare<fk::rope_norm_kv_append_f32_position_buffer>();
      if (hp_.arch.no_rope_layer_step != 0) ex_.prepare<fk::kv_append_f32_position_buffer>();
      position_ = ex_.allocate<std::uint32_t>(1);
      token_ = ex_.allocate<std::uint32_t>(1);
      merge_counters_ = ex_.upload(std::vector<std::uint32_t>(hp_.n_head_kv, 0));
    }
    // Compile the whole kernel set in one go.
    with_gemvs([&]<class G>(G) {
      ex_.prepare<embedding, typename G::template qkv<PW>, fk::attention_decode_f32, typename G::gate_up,
                  fk::argmax_f32, fk::repetition_penalty_f32, fk::top_k_candidates_f32, fk::gumbel_argmax_f32,
                  fk::logits_at_least_f32>();
    });
    use_gpu_tiles(o.gpu_tiles.value_or(ex_.get_backend().name() != "cpu"));
    use_multi_row_gemvs(o.multi_row_gemvs.value_or(ex_.get_backend().name() != "cpu"));
    use_flash_merge(o.flash_merge);
    set_prefill_chunk(o.prefill_chunk);
    // The architecture's RoPE + KV append kernels (see rope_append).
    const architecture& arch = hp_.arch;
    if (arch.qk_norm && arch.no_rope_layer_step != 0)
      throw std::runtime_error("architecture " + std::string(arch.name) +
                               ": QK-norm in layers without RoPE has no kernel");
    if (arch.qk_norm) {
      ex_.prepare<fk::qk_norm_rope_neox_kv_append_f32>();
    } else if (arch.rope == rope_type::neox) {
      ex_.prepare<fk::rope_neox_kv_append_f32, fk::rope_neox_kv_append_batched_f32>();
    } else {
      ex_.prepare<fk::rope_norm_kv_append_f32, fk::rope_norm_kv_append_batched_f32>();
    }
    if (arch.no_rope_layer_step != 0) ex_.prepare<fk::kv_append_f32, fk::kv_append_batched_f32>();
    if (hp_.head_dim == 64) ex_.prepare<fk::attention_prefill_f32_d64>();
    if (hp_.head_dim == 128) ex_.prepare<fk::attention_prefill_f32_d128>();
    // Kernels of matrices in another policy than PW (K-quant mixes), each
    // once (the residual GEMVs' in use_multi_row_gemvs).
    with_gemvs([&]<class G>(G) {
      for (const layer& l : layers_)
        std::visit([&]<class PV>(const device_matrix<PV>&) { ex_.prepare<typename G::template qkv<PV>>(); }, l.wv);
      for (std::uint32_t l = 0; l < hp_.n_layer; ++l)  // the QKV + RoPE kernel, where a layer takes it
        if (rope_in_qkv(l)) {
          with_qkv_rope<G>([&]<class K>(K*) { ex_.prepare<K>(); });
          break;
        }
    });
    // The batched prefill GEMMs are composed for PW: a K-quant mix (some
    // matrix in another policy) prefills token by token.
    for (const layer& l : layers_)
      uniform_ = uniform_ && std::holds_alternative<device_matrix<PW>>(l.wv) &&
                 std::holds_alternative<device_matrix<PW>>(l.wo) && std::holds_alternative<device_matrix<PW>>(l.down);
  }

  /// Prefill GEMMs on the GPU tiles (true) or the default tile (false), and
  /// compiles them (the executor compiles a kernel once).
  void use_gpu_tiles(bool gpu) {
    gpu_tiles_ = gpu;
    if (gpu)
      ex_.prepare<typename gpu_gemms::qkv, typename gpu_gemms::gate_up, typename gpu_gemms::residual>();
    else
      ex_.prepare<typename cpu_gemms::qkv, typename cpu_gemms::gate_up, typename cpu_gemms::residual>();
  }

  /// The decode step's residual GEMVs and LM head as the multi-row kernels
  /// (true: `residual_multi_row`, `lm_head_multi_row` of `decode_gemvs`,
  /// 16-byte weight loads where the policy has them) or the row-major ones
  /// (false: `residual`, `lm_head`), and compiles them. The constructor
  /// picks the multi-row ones on every backend but the CPU, where the
  /// row-major stages run a row on lane 0 alone (`cpu_lane0`) and the
  /// folded RMSNorm reads x once (SmolLM2 on the 2-core development host,
  /// 64 tokens: 94–102 decode tokens/s row-major against 52–57 multi-row).
  /// Takes effect at the next decode step; a replaying recorder records the
  /// step again.
  void use_multi_row_gemvs(bool multi_row) {
    if (multi_row != multi_row_) recorded_ = false;
    multi_row_ = multi_row;
    with_gemvs([&]<class G>(G) {
      with_residual<G, PW>([&]<class R>(R*) {
        with_lm_head<G>([&]<class L>(L*) { ex_.prepare<R, L>(); });
      });
      // The folded arg-max's kernels, where the step takes them: compiled
      // here, not inside the first step's recording.
      if constexpr (!std::is_void_v<typename G::lm_head_multi_row_argmax>)
        if (folds_argmax()) ex_.prepare<typename G::lm_head_multi_row_argmax, fk::argmax_f32_advance_position>();
      for (const layer& l : layers_)
        for (const residual_matrix* m : {&l.wo, &l.down})
          std::visit(
              [&]<class P>(const device_matrix<P>&) {
                with_residual<G, P>([&]<class K>(K*) { ex_.prepare<K>(); });
              },
              *m);
    });
  }

  /// With flash-decoding, where the decode step merges the splits' states
  /// (`flash_merge_at`); compiles the kernels that takes.
  /// - `combine_kernel` (the default): `attention_combine_f32*`.
  /// - `split_kernel`: the last threadgroup of the split kernel per KV head
  ///   (`fk::attention_flash_decode_merged`, position lanes), with device
  ///   positions; with scalar positions, element lanes
  ///   (`set_flash_split_lanes`) or RoPE folded into the split kernel, the
  ///   combine kernel. Slower where measured: on an H100 SmolLM2 decodes
  ///   at 0.961× the combine kernel's speed at 256 tokens, 0.953× at 1024
  ///   (bench/results/2026-12-07-h100-merge-one-pass.md; the last
  ///   threadgroup merges alone after the others). On the CPU the merging kernel runs
  ///   one fiber per thread (its barriers rule out lane loops).
  /// - `wo_gemv`: `gemv_residual_flash_merged_for<PO>` reads `partials`.
  ///   Layers whose Wo policy has no vector loads (K-quants), and models
  ///   with more than `fk::flash_merged_input<PO>::max_k` attention outputs,
  ///   keep the combine kernel. Every threadgroup of the merged GEMV reads
  ///   all of `partials` (n_heads·splits·(head_dim + 2) floats) where the
  ///   combine kernel reads it once, which costs more than the dispatch it
  ///   saves. Measured on an H100
  ///   (bench/results/2026-12-07-h100-merge-one-pass.md): SmolLM2 decodes
  ///   at 1245 tokens/s merged against 1340 with the combine kernel at 256
  ///   tokens (9 splits), 1049 against 1247 at 1024 tokens (33 splits); on
  ///   the CPU 16.3 against 56.3 tokens/s (fibers, an older form of the
  ///   merge: bench/results/2026-12-07-h100-flash-merge.md).
  /// Without flash-decoding it does nothing. Takes effect at the next
  /// decode step; a replaying recorder records the step again.
  void use_flash_merge(flash_merge_at at) {
    if (!flash_) at = flash_merge_at::combine_kernel;
    if (at != merge_at_) recorded_ = false;
    merge_at_ = at;
    if (at == flash_merge_at::split_kernel && device_pos_)
      ex_.prepare<fk::attention_split_merge_f32_position_buffer, fk::attention_split_merge_f32_g4_position_buffer>();
    if (at != flash_merge_at::wo_gemv) return;
    for (const layer& l : layers_)
      std::visit(
          [&]<class P>(const device_matrix<P>&) {
            if constexpr (has_vector_loads<P>) ex_.prepare<gemv_residual_flash_merged_for<P>>();
          },
          l.wo);
  }

  /// Flash-decoding's split count for `n_pos` positions:
  /// `fk::flash_decode_splits(n_pos, rule.positions_per_split,
  /// rule.max_splits)` (by default 32 and 64). A split is one SIMD-group
  /// walking its positions one after another, so fewer positions per split
  /// shorten the critical path at the price of more partial states to
  /// merge. Throws `std::invalid_argument` for 0. Takes effect at the next
  /// decode step; a replaying recorder records the step again.
  void set_flash_decode_splits(flash_split_rule rule) {
    check_split_rule(rule);
    if (rule.positions_per_split == splits_.positions_per_split && rule.max_splits == splits_.max_splits) return;
    splits_ = rule;
    recorded_ = false;
    if (flash_) allocate_partials();
  }

  /// The GPU layout of flash-decoding's first pass with device positions,
  /// where RoPE is not folded into it (`rope_placement::flash_decode` has
  /// position lanes only): `fk::split_lanes::positions` (the default) or
  /// `elements`, the layout before it, kept to compare both in one run. The
  /// CPU form is the same for both. Takes effect at the next decode step; a
  /// replaying recorder records the step again.
  void set_flash_split_lanes(fk::split_lanes lanes) {
    if (lanes != lanes_) recorded_ = false;
    lanes_ = lanes;
    if (flash_ && device_pos_ && lanes == fk::split_lanes::elements)
      ex_.prepare<fk::attention_split_f32_position_buffer_element_lanes,
                  fk::attention_split_f32_g4_position_buffer_element_lanes>();
  }

  /// Prefill chunks of at most `tokens` tokens (1: the token-by-token path).
  void set_prefill_chunk(std::uint32_t tokens) {
    if (tokens == 0) throw std::invalid_argument("prefill chunk must be at least 1 token");
    chunk_ = tokens;
  }

  std::int32_t prefill(std::span<const std::int32_t> tokens, std::uint32_t pos) override {
    if (tokens.empty()) throw std::invalid_argument("prefill: no tokens");
    check_none_in_flight("prefill");
    launched_next_.reset();
    if (chunk_ <= 1 || !uniform_) return decoder::prefill(tokens, pos);
    if (pos > filled_ || std::uint64_t{pos} + tokens.size() > max_pos_)
      throw std::out_of_range("prefill of " + std::to_string(tokens.size()) + " tokens at position " +
                              std::to_string(pos) + " (cache holds " + std::to_string(filled_) + " of " +
                              std::to_string(max_pos_) + ")");
    for (const std::int32_t t : tokens)
      if (t < 0 || std::uint32_t(t) >= hp_.n_vocab)
        throw std::out_of_range("token " + std::to_string(t) + " is outside the vocabulary");
    std::int32_t next = -1;
    for (std::size_t at = 0; at < tokens.size(); at += chunk_) {
      const auto part = tokens.subspan(at, std::min<std::size_t>(chunk_, tokens.size() - at));
      // A single token is a decode step (GEMV kernels).
      next = part.size() == 1 ? step(part[0], pos) : prefill_chunk(part, pos);
      pos += std::uint32_t(part.size());
    }
    return next;
  }

  std::int32_t step(std::int32_t token, std::uint32_t pos) override {
    check_none_in_flight("step");
    check_step(token, pos);
    const auto t0 = std::chrono::steady_clock::now();
    submit_step(token, pos);
    host_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ex_.synchronize();
    if (!device_pos_) return std::int32_t(best_index_.read<std::uint32_t>()[0]);
    const std::uint32_t next = token_.read<std::uint32_t>()[0];
    device_token_ = next;
    return std::int32_t(next);
  }

  /// Whether launch and launch_next run ahead: with device positions and a
  /// recorder that replays the step and reads its token back asynchronously
  /// (cuda_graph_step with `replay_recorded`). Otherwise they are the
  /// decoder's defaults (each step runs when launched).
  bool runs_ahead() const override { return device_pos_ && recorder_ && recorder_->reads_back(); }
  /// Submits the step and enqueues the read-back of its token (the argmax in
  /// token_); returns without waiting. Throws what `step` throws, and
  /// std::logic_error while launched steps are not collected.
  void launch(std::int32_t token, std::uint32_t pos) override {
    if (!runs_ahead()) return decoder::launch(token, pos);
    check_none_in_flight("launch");
    check_step(token, pos);
    const auto t0 = std::chrono::steady_clock::now();
    submit_step(token, pos);
    read_back_token(pos, t0);
  }
  /// Submits the step at `pos` on the token the step launched last left in
  /// token_ (its argmax: the graph reads it from the device, so the host
  /// need not have it yet). Throws what decoder::launch_next throws,
  /// std::out_of_range at the end of the cache, and std::logic_error when the
  /// recorder's read-backs in flight are at their limit (collect first).
  void launch_next(std::uint32_t pos) override {
    if (!runs_ahead()) return decoder::launch_next(pos);
    check_launch_next(launched_next_, pos);
    if (pos >= max_pos_)
      throw std::out_of_range("launch_next: position " + std::to_string(pos) + " is past the cache (" +
                              std::to_string(max_pos_) + " positions)");
    if (in_flight_ >= recorder_->read_back_depth())
      throw std::logic_error("launch_next: " + std::to_string(in_flight_) +
                             " launched steps are not collected (collect one first)");
    const auto t0 = std::chrono::steady_clock::now();
    run_step(0, pos);  // position_ and token_ already hold this step's (the token is not read)
    read_back_token(pos, t0);
  }
  /// Waits for the oldest launched step not collected; returns its argmax.
  /// Throws std::logic_error when none is in flight, and what the backend
  /// throws for a kernel that faulted.
  std::int32_t collect() override {
    if (!runs_ahead()) return decoder::collect();
    if (in_flight_ == 0) throw std::logic_error("collect: no launched step to collect");
    --in_flight_;
    const std::uint32_t next = recorder_->collect(ex_);
    if (in_flight_ == 0) device_token_ = next;  // token_ holds the last launched step's argmax
    return std::int32_t(next);
  }

  /// The logits of the last step; with launched steps, of the last one
  /// launched once all are collected (std::logic_error before).
  std::span<const float> logits() override {
    check_none_in_flight("logits");
    if (!logits_valid_ && filled_ > 0) {
      host_logits_ = logits_.read<float>();
      logits_valid_ = true;
    }
    return host_logits_;
  }
  /// The sampler chain on the device, on `logits_` (device_sampler.hpp):
  /// only candidates or one index come back, the full logits only when the
  /// candidates cannot decide (counted in `state.fallbacks`).
  std::int32_t choose_next(std::int32_t greedy, const sampling_params& params, sampling_state& state,
                           std::span<const std::int32_t> recent) override {
    if (params.greedy() && !params.penalizes()) return greedy;
    if (filled_ == 0) throw std::logic_error("choose_next before the first step");
    check_none_in_flight("choose_next");
    logits_valid_ = false;  // the penalty rewrites logits_ in place
    return sampler_.choose(ex_, logits_, hp_.n_vocab, greedy, params, state, recent);
  }
  std::uint32_t max_positions() const override { return max_pos_; }
  std::string name() const override {
    return std::string(ex_backend_name()) + " (Foundry kernels" + (recorder_ ? ", " + recorder_->name() : "") + ")";
  }
  double compile_seconds() const override { return ex_.compile_seconds(); }
  double host_seconds() const override { return host_seconds_; }
  std::uint64_t dispatches_per_step() const override { return step_dispatches_; }

 private:
  static constexpr std::uint32_t argmax_chunk = 4096;

  // step's checks of its arguments.
  void check_step(std::int32_t token, std::uint32_t pos) const {
    if (token < 0 || std::uint32_t(token) >= hp_.n_vocab)
      throw std::out_of_range("token " + std::to_string(token) + " is outside the vocabulary");
    if (pos >= max_pos_ || pos > filled_)
      throw std::out_of_range("position " + std::to_string(pos) + " (cache holds " + std::to_string(filled_) +
                              " of " + std::to_string(max_pos_) + ")");
  }
  // Launched steps must be collected before anything else runs or reads
  // the decoder's buffers: they may still be writing them.
  void check_none_in_flight(const char* what) const {
    if (in_flight_ != 0)
      throw std::logic_error(std::string(what) + " while " + std::to_string(in_flight_) +
                             " launched steps are not collected");
  }
  // Submits the step of `token` at `pos`: the device's position and token
  // where they differ, then run_step; returns without waiting for it.
  void submit_step(std::int32_t token, std::uint32_t pos) {
    if (device_pos_) {  // the device's position and token, written only when they differ
      const std::uint32_t p = pos, t = std::uint32_t(token);
      if (device_at_ != p) position_.write(std::span<const std::uint32_t>(&p, 1));
      if (device_token_ != t) token_.write(std::span<const std::uint32_t>(&t, 1));
    }
    run_step(std::uint32_t(token), pos);
  }
  // The step's work at `pos` (the recorded step replayed, or its dispatches,
  // recorded when there is a recorder) and what it changes: the cache holds
  // pos + 1 positions, the host's logits are stale, the device's position
  // has moved on.
  void run_step(std::uint32_t token, std::uint32_t pos) {
    launched_next_.reset();
    if (recorder_ && recorder_->replays() && recorded_) {
      recorder_->replay(ex_);
    } else {
      if (recorder_) recorder_->begin(ex_);
      const std::uint64_t before = ex_.dispatches();
      dispatch_step(token, pos);
      step_dispatches_ = ex_.dispatches() - before;
      if (recorder_) recorder_->end(ex_);
      recorded_ = true;
    }
    filled_ = pos + 1;
    logits_valid_ = false;
    if (device_pos_) device_at_ = pos + 1;
  }
  // After a launched step at `pos` was submitted: enqueues its token's
  // read-back; the step's argmax is in token_ only on the device until then.
  void read_back_token(std::uint32_t pos, std::chrono::steady_clock::time_point t0) {
    device_token_.reset();
    recorder_->read_back(ex_, token_);
    ++in_flight_;
    launched_next_ = pos + 1;
    host_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  struct layer {
    buffer attn_norm, ffn_norm;
    buffer bq, bk, bv;       // Q/K/V biases (qwen2; has_bias), else empty
    bool has_bias = false;
    buffer q_norm, k_norm;   // QK-norm weights [head_dim] (qwen3), else empty
    device_matrix<PW> wq, wk, gate, up;
    value_matrix wv;  // PW, or more bits in K-quant mixes
    residual_matrix wo, down;
    layer(executor& ex, const layer_weights& l)
        : attn_norm(upload_vector(ex, l.attn_norm)),
          ffn_norm(upload_vector(ex, l.ffn_norm)),
          wq(ex, l.attn_q),
          wk(ex, l.attn_k),
          gate(ex, l.ffn_gate),
          up(ex, l.ffn_up),
          wv(detail::matrix_variant<value_policies>::make(ex, l.attn_v)),
          wo(detail::matrix_variant<residual_policies>::make(ex, l.attn_output)),
          down(detail::matrix_variant<residual_policies>::make(ex, l.ffn_down)) {
      if (l.attn_q_bias.present()) {
        bq = upload_vector(ex, l.attn_q_bias);
        bk = upload_vector(ex, l.attn_k_bias);
        bv = upload_vector(ex, l.attn_v_bias);
        has_bias = true;
      }
      if (l.attn_q_norm.present()) {
        q_norm = upload_vector(ex, l.attn_q_norm);
        k_norm = upload_vector(ex, l.attn_k_norm);
      }
    }
    /// Sets the optional bias arguments `bq`, `bk`, `bv` of a QKV kernel.
    template <class Args>
    void bind_biases(Args& a) const {
      if (has_bias) a.template set<"bq">(bq).template set<"bk">(bk).template set<"bv">(bv);
    }
  };

  std::string_view ex_backend_name() const { return ex_.get_backend().name(); }

  // The dispatches of one decode step (with `device_positions`, `token` and
  // `pos` are those already in token_ and position_, and the step ends by
  // advancing position_).
  void dispatch_step(std::uint32_t token, std::uint32_t pos) {
    if (device_pos_)
      embed<embedding_token_buffer>(token, x_);
    else
      embed<embedding>(token, x_);
    const bool folded = folds_argmax();
    with_gemvs([&]<class G>(G) {
      for (std::uint32_t l = 0; l < hp_.n_layer; ++l) run_layer<G>(l, pos);
      if constexpr (!std::is_void_v<typename G::lm_head_multi_row_argmax>) {
        if (folded) return dispatch_lm_head<typename G::lm_head_multi_row_argmax>(x_);
      }
      lm_head<G>(x_);
    });
    if (folded) {  // the pairs the LM head wrote → token_, and position_ moved on
      const std::uint32_t pairs = lm_head_pairs();
      fk::argmax_f32_advance_position::arguments a;
      a.set<"x">(part_value_).set<"x_index">(part_index_).set<"n">(pairs).set<"chunk">(pairs);
      a.set<"out_value">(best_value_).set<"out_index">(token_).set<"position">(position_);
      ex_.dispatch<fk::argmax_f32_advance_position>(a);
      return;
    }
    fk::argmax_two_pass(ex_, logits_, hp_.n_vocab, part_value_, part_index_, best_value_,
                        device_pos_ ? token_ : best_index_, argmax_chunk);
    if (device_pos_) {
      fk::advance_position::arguments a;
      a.set<"position">(position_);
      ex_.dispatch<fk::advance_position>(a);
    }
  }

  /// Whether kernel `K` has an argument named `Name`.
  template <class K, fixed_string Name>
  static constexpr bool has_argument = K::arguments::table::position(Name.view()) >= 0;

  /// Sets the position of a decode kernel: `position` (the device buffer)
  /// for the `_position_buffer` kernels, else the scalar `pos`.
  template <class K>
  void set_position(typename K::arguments& a, std::uint32_t pos) const {
    if constexpr (has_argument<K, "position">)
      a.template set<"position">(position_);
    else
      a.template set<"pos">(pos);
  }

  /// y = the embedding of `token` (`embedding`), or of the token id in
  /// token_ (`embedding_token_buffer`).
  template <class K>
  void embed(std::uint32_t token, buffer_ref y) {
    typename K::arguments a;
    (tied_ ? head_ : *embd_).template bind<"table">(a);
    if constexpr (has_argument<K, "token_id">)
      a.template set<"token_id">(token_);
    else
      a.template set<"token">(token);
    a.template set<"n_vocab">(hp_.n_vocab).template set<"hidden">(hp_.n_embd).template set<"y">(y);
    ex_.dispatch<K>(a);
  }

  /// Calls `f(G{})` with the decode GEMV family in use (`q8_gemvs` or
  /// `float_gemvs`).
  template <class F>
  void with_gemvs(F&& f) {
    if (q8_)
      f(q8_gemvs{});
    else
      f(float_gemvs{});
  }

  /// logits = W · RMSNorm(x; output_norm) for the hidden state at `x`.
  // The multi-row kernel reads x in 16-byte loads where k is a multiple of
  // the policy's 16-byte run (8 F16, 32 for the block formats); x is then at
  // a multiple of 32 bytes into its buffer (the hidden state of token m at
  // m·k floats), so the loads are aligned.
  template <class G>
  void lm_head(buffer_ref x) {
    with_lm_head<G>([&]<class K>(K*) { dispatch_lm_head<K>(x); });
  }

  // Dispatches LM-head kernel K on the hidden state at `x`: logits_, and
  // for a kernel with the arg-max's first pass in its epilogue
  // (`rmsnorm_lm_head_multi_row_argmax`) its pairs in part_value_,
  // part_index_.
  template <class K>
  void dispatch_lm_head(buffer_ref x) {
    typename K::arguments a;
    head_.template bind<"w">(a);
    a.template set<"x">(x).template set<"gamma">(output_norm_).template set<"eps">(hp_.rms_eps);
    a.template set<"y">(logits_).template set<"n">(hp_.n_vocab).template set<"k">(hp_.n_embd);
    if constexpr (has_argument<K, "part_value">)
      a.template set<"part_value">(part_value_).template set<"part_index">(part_index_);
    ex_.dispatch<K>(a);
  }

  // Whether the decode step folds the arg-max's first pass into the LM head
  // and its second pass into the position advance (decoder_options::fold_argmax).
  bool folds_argmax() const { return fold_argmax_ && device_pos_ && multi_row_ && has_vector_loads<PE>; }

  // The (value, token id) pairs the folded arg-max's first pass writes: one
  // per SIMD-group of the multi-row LM head.
  std::uint32_t lm_head_pairs() const {
    return (hp_.n_vocab + lm_head_rows_per_simdgroup - 1) / lm_head_rows_per_simdgroup;
  }

  // Calls f(static_cast<K*>(nullptr)) with the LM-head kernel of the GEMV
  // family G in use (multi_row_: `lm_head_multi_row`, else `lm_head`).
  template <class G, class F>
  void with_lm_head(F&& f) const {
    if (multi_row_)
      f(static_cast<typename G::lm_head_multi_row*>(nullptr));
    else
      f(static_cast<typename G::lm_head*>(nullptr));
  }

  // ... and with the residual GEMV of policy P (`residual_multi_row<P>`,
  // else `residual<P>`).
  template <class G, weight_policy P, class F>
  void with_residual(F&& f) const {
    if (multi_row_)
      f(static_cast<typename G::template residual_multi_row<P>*>(nullptr));
    else
      f(static_cast<typename G::template residual<P>*>(nullptr));
  }

  template <class G>
  void run_layer(std::uint32_t l, std::uint32_t pos) {
    const layer& w = layers_[l];
    const std::size_t cache_offset = std::size_t{l} * hp_.n_head_kv * max_pos_ * hp_.head_dim * sizeof(float);
    if (rope_in_qkv(l))  // RoPE and the KV append in the QKV kernel's epilogue
      with_qkv_rope<G>([&]<class K>(K*) { run_qkv_rope<K>(w, pos, cache_offset); });
    else
      std::visit([&]<class PV>(const device_matrix<PV>& wv) { run_qkv<typename G::template qkv<PV>>(w, wv); }, w.wv);
    // Flash-decoding's split count: fixed for the context with device
    // positions (the step never changes), else for this position.
    const std::uint32_t splits = flash_splits(device_pos_ ? max_pos_ : pos + 1);
    const bool merged = merges_in_wo(w);
    const fk::flash_merge merge = merged ? fk::flash_merge::consumer : fk::flash_merge::combine_kernel;
    if (folds_rope(l)) {  // RoPE and the KV append inside flash-decoding's first pass
      fk::attention_flash_decode_rope(ex_, q_, k_, v_, k_cache_.at(cache_offset), v_cache_.at(cache_offset), partials_,
                                      attn_, hp_.n_head, hp_.n_head_kv, hp_.head_dim, max_pos_, buffer_ref(position_),
                                      splits, hp_.rope_freq_base,
                                      hp_.arch.rope == rope_type::neox ? fk::rope_pairing::neox
                                                                       : fk::rope_pairing::normal,
                                      merge);
    } else {
      if (!rope_in_qkv(l)) rope_append(l, pos, 1, q_, k_, v_);
      if (flash_ && device_pos_ && merge_at_ == flash_merge_at::split_kernel && lanes_ == fk::split_lanes::positions) {
        fk::attention_flash_decode_merged(ex_, q_, k_cache_.at(cache_offset), v_cache_.at(cache_offset), partials_,
                                          merge_counters_, attn_, hp_.n_head, hp_.n_head_kv, hp_.head_dim, max_pos_,
                                          buffer_ref(position_), splits);
      } else if (flash_ && device_pos_) {
        fk::attention_flash_decode(ex_, q_, k_cache_.at(cache_offset), v_cache_.at(cache_offset), partials_, attn_,
                                   hp_.n_head, hp_.n_head_kv, hp_.head_dim, max_pos_, buffer_ref(position_), splits,
                                   merge, lanes_);
      } else if (flash_) {
        fk::attention_flash_decode(ex_, q_, k_cache_.at(cache_offset), v_cache_.at(cache_offset), partials_, attn_,
                                   hp_.n_head, hp_.n_head_kv, hp_.head_dim, max_pos_, pos, splits, merge);
      } else if (device_pos_) {
        attention_decode<fk::attention_decode_f32_position_buffer>(cache_offset, pos, q_, attn_);
      } else {
        attention_decode<fk::attention_decode_f32>(cache_offset, pos, q_, attn_);
      }
    }
    if (merged)
      merged_wo_gemv(w.wo, splits);
    else
      residual_gemv<G>(w.wo, attn_, hp_.n_embd_q());
    {
      using gate_up = typename G::gate_up;
      typename gate_up::arguments a;
      w.gate.template bind<"w_gate">(a);
      w.up.template bind<"w_up">(a);
      a.template set<"x">(x_).template set<"gamma">(w.ffn_norm).template set<"eps">(hp_.rms_eps);
      a.template set<"hidden">(hp_.n_embd).template set<"ffn">(hp_.n_ff).template set<"y">(h_);
      ex_.dispatch<gate_up>(a);
    }
    residual_gemv<G>(w.down, h_, hp_.n_ff);
  }

  // Whether the layer's Wo GEMV merges flash-decoding's partial states
  // (use_flash_merge wo_gemv): asked for, with a Wo policy that has vector loads and
  // attention outputs that fit the merged vector's threadgroup memory.
  bool merges_in_wo(const layer& w) const {
    if (merge_at_ != flash_merge_at::wo_gemv) return false;
    return std::visit(
        [&]<class P>(const device_matrix<P>&) {
          if constexpr (has_vector_loads<P>)
            return hp_.n_embd_q() <= fk::flash_merged_input<P>::max_k;
          else
            return false;
        },
        w.wo);
  }

  // Flash-decoding's split count for n_pos positions (set_flash_decode_splits).
  std::uint32_t flash_splits(std::uint32_t n_pos) const {
    return fk::flash_decode_splits(n_pos, splits_.positions_per_split, splits_.max_splits);
  }

  // Throws std::invalid_argument for a rule with a 0 (the constructor and
  // set_flash_decode_splits).
  static void check_split_rule(flash_split_rule rule) {
    if (rule.positions_per_split == 0 || rule.max_splits == 0)
      throw std::invalid_argument("flash-decoding: positions per split and the split count must be at least 1");
  }

  // partials_: n_head · (the context's split count) · (head_dim + 2) floats.
  void allocate_partials() {
    partials_ = ex_.allocate<float>(std::size_t{hp_.n_head} * flash_splits(max_pos_) * (hp_.head_dim + 2));
  }

  // x = Wo · merge(partials) + x: the Wo GEMV reading flash-decoding's
  // partial states (merges_in_wo).
  void merged_wo_gemv(const residual_matrix& m, std::uint32_t splits) {
    std::visit(
        [&]<class P>(const device_matrix<P>& w) {
          if constexpr (has_vector_loads<P>) {
            dispatch_residual<gemv_residual_flash_merged_for<P>>(w, hp_.n_embd_q(), [&](auto& a) {
              a.template set<"partials">(partials_).template set<"head_dim">(hp_.head_dim);
              a.template set<"splits">(splits);
            });
          } else {
            throw std::logic_error("merged_wo_gemv: Wo policy " + std::string(P::name.view()) + " has no vector loads");
          }
        },
        m);
  }

  // Whether layer l's decode step folds RoPE and the KV append into
  // flash-decoding's first pass (attention_flash_decode_rope): asked for
  // (`rope_placement::flash_decode`), with flash-decoding and device positions (the replayed
  // step), in layers with RoPE and without QK-norm.
  bool folds_rope(std::uint32_t l) const {
    return rope_ == rope_placement::flash_decode && flash_ && device_pos_ && hp_.uses_rope(l) && !hp_.arch.qk_norm;
  }

  // Whether layer l's QKV kernel applies RoPE and appends k, v to the
  // caches (rmsnorm_qkv_rope_kv_append): asked for, with device positions
  // (the kernel reads the position from position_), in layers with RoPE
  // and without QK-norm whose Wv is in PW. Only that form is composed: each
  // further Wv policy or position source would add one kernel per layer
  // policy and GEMV family to every build of the decoder.
  bool rope_in_qkv(std::uint32_t l) const {
    return rope_ == rope_placement::qkv_epilogue && device_pos_ && hp_.uses_rope(l) && !hp_.arch.qk_norm &&
           std::holds_alternative<device_matrix<PW>>(layers_[l].wv);
  }

  // Calls f(static_cast<K*>(nullptr)) with the QKV + RoPE + KV append
  // kernel of the GEMV family G for this model's RoPE pairing.
  template <class G, class F>
  void with_qkv_rope(F&& f) const {
    if (hp_.arch.rope == rope_type::neox)
      f(static_cast<typename G::template qkv_rope<fk::rope_pairing::neox>*>(nullptr));
    else
      f(static_cast<typename G::template qkv_rope<fk::rope_pairing::normal>*>(nullptr));
  }

  // q = RoPE(Wq·x̂ + bq), k_cache/v_cache[pos] = RoPE(Wk·x̂ + bk), Wv·x̂ + bv
  // of layer w (the caches at `cache_offset`) in one kernel K.
  template <class K>
  void run_qkv_rope(const layer& w, std::uint32_t pos, std::size_t cache_offset) {
    typename K::arguments a;
    w.wq.template bind<"wq">(a);
    w.wk.template bind<"wk">(a);
    std::get<device_matrix<PW>>(w.wv).template bind<"wv">(a);
    a.template set<"x">(x_).template set<"gamma">(w.attn_norm).template set<"eps">(hp_.rms_eps);
    a.template set<"hidden">(hp_.n_embd).template set<"n_heads">(hp_.n_head).template set<"n_kv">(hp_.n_head_kv);
    a.template set<"head_dim">(hp_.head_dim).template set<"q">(q_);
    a.template set<"k_cache">(k_cache_.at(cache_offset)).template set<"v_cache">(v_cache_.at(cache_offset));
    a.template set<"max_seq">(max_pos_).template set<"freq_base">(hp_.rope_freq_base);
    set_position<K>(a, pos);
    w.bind_biases(a);
    ex_.dispatch<K>(a);
  }

  // y = decode attention of the query q at `pos` over the caches at
  // `cache_offset` (kernel K: attention_decode_f32 or its position-buffer form).
  template <class K>
  void attention_decode(std::size_t cache_offset, std::uint32_t pos, buffer_ref q, buffer_ref y) {
    typename K::arguments a;
    a.template set<"q">(q).template set<"k_cache">(k_cache_.at(cache_offset));
    a.template set<"v_cache">(v_cache_.at(cache_offset)).template set<"y">(y);
    a.template set<"n_heads">(hp_.n_head).template set<"n_kv">(hp_.n_head_kv).template set<"head_dim">(hp_.head_dim);
    a.template set<"max_seq">(max_pos_);
    set_position<K>(a, pos);
    ex_.dispatch<K>(a);
  }

  // Batched buffers of a chunk of `tokens` tokens (grown on demand).
  void reserve_chunk(std::uint32_t tokens) {
    if (tokens <= chunk_cap_) return;
    chunk_cap_ = tokens;
    X_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_embd);
    Q_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_embd_q());
    K_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_embd_kv());
    V_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_embd_kv());
    A_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_embd_q());
    H_ = ex_.allocate<float>(std::size_t{tokens} * hp_.n_ff);
  }

  // Tokens `part` at positions pos.. in one pass (see the file comment).
  std::int32_t prefill_chunk(std::span<const std::int32_t> part, std::uint32_t pos) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint32_t M = std::uint32_t(part.size());
    reserve_chunk(M);
    for (std::uint32_t m = 0; m < M; ++m)
      embed<embedding>(std::uint32_t(part[m]), X_.at(std::size_t{m} * hp_.n_embd * sizeof(float)));
    for (std::uint32_t l = 0; l < hp_.n_layer; ++l) {
      if (gpu_tiles_)
        prefill_layer<gpu_gemms>(l, pos, M);
      else
        prefill_layer<cpu_gemms>(l, pos, M);
    }
    with_gemvs([&]<class G>(G) { lm_head<G>(X_.at(std::size_t{M - 1} * hp_.n_embd * sizeof(float))); });
    fk::argmax_two_pass(ex_, logits_, hp_.n_vocab, part_value_, part_index_, best_value_, best_index_,
                        argmax_chunk);
    host_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ex_.synchronize();
    filled_ = pos + M;
    logits_valid_ = false;
    return std::int32_t(best_index_.read<std::uint32_t>()[0]);
  }

  template <class G>
  void prefill_layer(std::uint32_t l, std::uint32_t pos, std::uint32_t M) {
    using qkv_gemm = typename G::qkv;
    using gate_up_gemm = typename G::gate_up;
    const layer& w = layers_[l];
    const std::size_t cache_offset = std::size_t{l} * hp_.n_head_kv * max_pos_ * hp_.head_dim * sizeof(float);
    const std::size_t qb = std::size_t{hp_.n_embd_q()} * sizeof(float);
    {
      typename qkv_gemm::arguments a;
      w.wq.template bind<"wq">(a);
      w.wk.template bind<"wk">(a);
      std::get<device_matrix<PW>>(w.wv).template bind<"wv">(a);
      a.template set<"x">(X_).template set<"gamma">(w.attn_norm).template set<"eps">(hp_.rms_eps);
      a.template set<"k">(hp_.n_embd).template set<"batch">(M).template set<"n_heads">(hp_.n_head);
      a.template set<"n_kv">(hp_.n_head_kv).template set<"head_dim">(hp_.head_dim);
      a.template set<"q">(Q_).template set<"k_out">(K_).template set<"v_out">(V_);
      w.bind_biases(a);
      ex_.dispatch<qkv_gemm>(a);
    }
    // RoPE and the cache append of the whole chunk first, then the
    // attention of each token over positions 0..its own.
    rope_append(l, pos, M, Q_, K_, V_);
    if (hp_.head_dim == 64)
      attention_prefill<fk::attention_prefill_f32_d64>(cache_offset, pos, M);
    else if (hp_.head_dim == 128)
      attention_prefill<fk::attention_prefill_f32_d128>(cache_offset, pos, M);
    else
      for (std::uint32_t m = 0; m < M; ++m)  // other head sizes: one decode attention per token
        attention_decode<fk::attention_decode_f32>(cache_offset, pos + m, Q_.at(m * qb), A_.at(m * qb));
    residual_gemm<typename G::residual>(std::get<device_matrix<PW>>(w.wo), A_, hp_.n_embd_q(), M);
    {
      typename gate_up_gemm::arguments a;
      w.gate.template bind<"w_gate">(a);
      w.up.template bind<"w_up">(a);
      a.template set<"x">(X_).template set<"gamma">(w.ffn_norm).template set<"eps">(hp_.rms_eps);
      a.template set<"k">(hp_.n_embd).template set<"ffn">(hp_.n_ff).template set<"batch">(M).template set<"y">(H_);
      ex_.dispatch<gate_up_gemm>(a);
    }
    residual_gemm<typename G::residual>(std::get<device_matrix<PW>>(w.down), H_, hp_.n_ff, M);
  }

  // A = causal attention of the chunk's M queries (positions pos..) over the
  // cache (FlashAttention prefill).
  template <class K>
  void attention_prefill(std::size_t cache_offset, std::uint32_t pos, std::uint32_t M) {
    typename K::arguments a;
    a.template set<"q">(Q_).template set<"k_cache">(k_cache_.at(cache_offset));
    a.template set<"v_cache">(v_cache_.at(cache_offset)).template set<"y">(A_);
    a.template set<"n_heads">(hp_.n_head).template set<"n_kv">(hp_.n_head_kv).template set<"head_dim">(hp_.head_dim);
    a.template set<"max_seq">(max_pos_).template set<"pos">(pos).template set<"batch">(M);
    ex_.dispatch<K>(a);
  }

  // X = In · Wᵀ + X over M tokens (in place: each element's residual is read
  // and its result written by the same thread).
  template <class gemm_residual>
  void residual_gemm(const device_matrix<PW>& w, const buffer& in, std::uint32_t k, std::uint32_t M) {
    typename gemm_residual::arguments a;
    w.template bind<"w">(a);
    a.template set<"x">(in).template set<"n">(hp_.n_embd).template set<"k">(k).template set<"batch">(M);
    a.template set<"residual">(X_).template set<"y">(X_);
    ex_.dispatch<gemm_residual>(a);
  }

  template <class K, class V>
  void run_qkv(const layer& w, const V& wv) {
    typename K::arguments a;
    w.wq.template bind<"wq">(a);
    w.wk.template bind<"wk">(a);
    wv.template bind<"wv">(a);
    a.template set<"x">(x_).template set<"gamma">(w.attn_norm).template set<"eps">(hp_.rms_eps);
    a.template set<"hidden">(hp_.n_embd).template set<"n_heads">(hp_.n_head).template set<"n_kv">(hp_.n_head_kv);
    a.template set<"head_dim">(hp_.head_dim).template set<"q">(q_).template set<"k">(k_).template set<"v">(v_);
    w.bind_biases(a);
    ex_.dispatch<K>(a);
  }

  // RoPE of q (in place) and k, and the append of k and v to layer l's
  // caches, for `batch` tokens at positions pos.. (q, k, v [batch, heads,
  // head_dim]): the kernel of the architecture (model.hpp's table) and
  // layer: QK-norm first (qwen3), NeoX or adjacent pairs, or no RoPE at all
  // (smollm3's NoPE layers; q is left as it is). No supported architecture
  // has both QK-norm and NoPE layers (model.hpp rejects nothing here, so
  // the constructor checks it).
  void rope_append(std::uint32_t l, std::uint32_t pos, std::uint32_t batch, const buffer& q, const buffer& k,
                   const buffer& v) {
    const std::size_t cache_offset = std::size_t{l} * hp_.n_head_kv * max_pos_ * hp_.head_dim * sizeof(float);
    const architecture& arch = hp_.arch;
    // One kernel: the arguments it has (RoPE's q and frequency, the batched
    // kernels' batch, QK-norm's weights) beside those every one has.
    auto run = [&]<class K>(K*) {
      typename K::arguments a;
      a.template set<"k">(k).template set<"v">(v).template set<"k_cache">(k_cache_.at(cache_offset));
      a.template set<"v_cache">(v_cache_.at(cache_offset)).template set<"n_kv">(hp_.n_head_kv);
      a.template set<"head_dim">(hp_.head_dim).template set<"max_seq">(max_pos_);
      set_position<K>(a, pos);
      if constexpr (has_argument<K, "freq_base">)
        a.template set<"q">(q).template set<"n_heads">(hp_.n_head).template set<"freq_base">(hp_.rope_freq_base);
      if constexpr (has_argument<K, "batch">) a.template set<"batch">(batch);
      if constexpr (has_argument<K, "q_norm">) {
        const layer& w = layers_[l];
        a.template set<"q_norm">(w.q_norm).template set<"k_norm">(w.k_norm).template set<"eps">(hp_.rms_eps);
      }
      ex_.dispatch<K>(a);
    };
    // The batched kernel for a chunk; for one decode token the position-buffer
    // kernel with `device_positions`, else the scalar-position one.
    auto pick = [&]<class Batched, class FromBuffer, class Scalar>() {
      if (batch > 1)
        run(static_cast<Batched*>(nullptr));
      else if (device_pos_)
        run(static_cast<FromBuffer*>(nullptr));
      else
        run(static_cast<Scalar*>(nullptr));
    };
    if (!hp_.uses_rope(l))
      pick.template operator()<fk::kv_append_batched_f32, fk::kv_append_f32_position_buffer, fk::kv_append_f32>();
    else if (arch.qk_norm)
      run(static_cast<fk::qk_norm_rope_neox_kv_append_f32*>(nullptr));
    else if (arch.rope == rope_type::neox)
      pick.template operator()<fk::rope_neox_kv_append_batched_f32, fk::rope_neox_kv_append_f32_position_buffer,
                               fk::rope_neox_kv_append_f32>();
    else
      pick.template operator()<fk::rope_norm_kv_append_batched_f32, fk::rope_norm_kv_append_f32_position_buffer,
                               fk::rope_norm_kv_append_f32>();
  }

  // x = W · in + x (in place: each row reads its residual before writing it).
  template <class G>
  void residual_gemv(const residual_matrix& m, const buffer& in, std::uint32_t k) {
    std::visit(
        [&]<class P>(const device_matrix<P>& w) {
          with_residual<G, P>([&]<class K>(K*) {
            dispatch_residual<K>(w, k, [&](auto& a) { a.template set<"x">(in); });
          });
        },
        m);
  }

  // x = W · input + x by residual GEMV kernel K (W [n_embd, k]); `set_input`
  // binds the input arguments (`x`, or the merged input's `partials`, ...).
  template <class K, weight_policy P, class SetInput>
  void dispatch_residual(const device_matrix<P>& w, std::uint32_t k, SetInput&& set_input) {
    typename K::arguments a;
    w.template bind<"w">(a);
    set_input(a);
    a.template set<"n">(hp_.n_embd).template set<"k">(k);
    a.template set<"residual">(x_).template set<"y">(x_);
    ex_.dispatch<K>(a);
  }

  executor ex_;
  bool q8_;  // the decode GEMVs' family: q8_gemvs (true) or float_gemvs
  bool flash_;  // decode attention by flash-decoding (partials_ its scratch)
  flash_split_rule splits_;  // flash-decoding's split count (set_flash_decode_splits)
  fk::split_lanes lanes_;  // flash-decoding's first pass with device positions: its GPU layout (set_flash_split_lanes)
  bool device_pos_;  // decode steps read position_ and token_ (device_positions)
  bool fold_argmax_;  // decoder_options::fold_argmax (folds_argmax)
  rope_placement rope_;  // where RoPE and the KV append run (rope_in_qkv, folds_rope)
  bool recorded_ = false;  // the recorder holds a step (replays() recorders replay it)
  std::optional<std::uint32_t> device_at_, device_token_;  // what position_ and token_ hold, when known
  std::size_t in_flight_ = 0;  // launched steps not collected (runs_ahead)
  std::optional<std::uint32_t> launched_next_;  // the position after the step launched last (runs_ahead)
  llama_hparams hp_;
  std::uint32_t max_pos_;
  device_matrix<PE> head_;
  std::unique_ptr<device_matrix<PE>> embd_;
  bool tied_ = false;
  std::vector<layer> layers_;
  std::unique_ptr<step_recorder> recorder_;
  double host_seconds_ = 0.0;
  std::uint64_t step_dispatches_ = 0;  // dispatches_per_step
  buffer output_norm_, k_cache_, v_cache_, x_, q_, k_, v_, attn_, h_, logits_;
  buffer part_value_, part_index_, best_value_, best_index_, partials_;
  buffer position_, token_;  // device_positions: the step's position and token id (uint[1] each)
  buffer merge_counters_;  // flash_merge_at::split_kernel: uint[n_kv], zero between dispatches
  std::uint32_t filled_ = 0;
  std::uint32_t chunk_ = 512, chunk_cap_ = 0;
  bool uniform_ = true;  // every layer matrix in PW (the batched prefill needs it)
  bool gpu_tiles_ = false;  // prefill GEMMs on the GPU tiles (use_gpu_tiles)
  bool multi_row_ = false;  // decode residual GEMVs and LM head multi-row (use_multi_row_gemvs)
  flash_merge_at merge_at_ = flash_merge_at::combine_kernel;  // where flash-decoding merges (use_flash_merge)
  buffer X_, Q_, K_, V_, A_, H_;  // batched buffers of a prefill chunk
  bool logits_valid_ = false;
  std::vector<float> host_logits_;
  device_sampler sampler_;  // sampling on logits_ (choose_next)
};

/// A decoder on Foundry kernels for `m` on backend `be`, choosing the
/// policies from the tensor types the file holds (every layer matrix must
/// share one type), with `recorder` (optional) wrapping each step's
/// dispatches and the settings of `o` (`decoder_options`). `m` must
/// outlive the decoder. Throws `std::runtime_error` for types without
/// kernels and for layers whose matrices do not share a type, and what the
/// constructor throws. Defined in decoders/make_foundry_decoder.cpp, which
/// instantiates the decoder for every pair of policies (the project's
/// slowest code to compile, so it is compiled once): link
/// `foundry_generate_decoders`.
std::unique_ptr<decoder> make_foundry_decoder(std::unique_ptr<backend> be, const llama_model& m,
                                              std::uint32_t max_positions,
                                              std::unique_ptr<step_recorder> recorder = nullptr,
                                              const decoder_options& o = {});

}  // namespace foundry::generate
