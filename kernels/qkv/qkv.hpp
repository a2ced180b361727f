#pragma once
/// @file qkv.hpp
/// Fused Q, K, V projection of one token (decode), stages: the main stage
/// `qkv_projection` and its epilogues `qkv_bias_add`, `qkv_store`.
///
/// For a hidden vector x [hidden] (RMS-normalised by the default input
/// hook, `rmsnorm_folded_input` of kernels/common/rmsnorm_input.hpp: every
/// SIMD-group sums x² while it reads x for its row and scales its dot
/// product by inv_rms) it computes
///   q = Wq·x̂ (+ bq),  Wq [n_heads·head_dim, hidden] in policy PQ,
///   k = Wk·x̂ (+ bk),  Wk [n_kv·head_dim,    hidden] in policy PK,
///   v = Wv·x̂ (+ bv),  Wv [n_kv·head_dim,    hidden] in policy PV,
/// (grouped-query attention: n_kv ≤ n_heads, n_heads a multiple of n_kv in
/// the models, though the kernel does not require it). Output rows are
/// numbered as one range: global row g in [0, q_rows) is q row g,
/// [q_rows, q_rows + kv_rows) k row g − q_rows, the rest v row
/// g − q_rows − kv_rows (q_rows = n_heads·head_dim, kv_rows =
/// n_kv·head_dim). One SIMD-group per global row (`simdgroup_per_row` over
/// `qkv_rows`), `RowsPerThreadgroup` rows per threadgroup; a threadgroup
/// may hold rows of two parts (each SIMD-group branches on its own part;
/// the one `simd_sum`, of the dot product and Σx² together, is outside the
/// branches).
///
/// Weights are three separate matrices, each a data plane and, for
/// policies with a scale, a scale plane (policy.hpp layout, row-major; as
/// `policies::repack<P>(gguf, rows, hidden, layout::row_major)` makes
/// them). `hidden` must be a multiple of the three policies'
/// weights_per_block (32 for Q8_0/Q4_0/Q4_1; any size for F16/F32).

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/common/rmsnorm_input.hpp"
#include "kernels/common/row_dot.hpp"

namespace foundry::kernels {

/// Size source: q rows, `n_heads · head_dim`.
struct qkv_q_rows {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return size_arg<"n_heads">::get(a) * size_arg<"head_dim">::get(a);
  }
};
/// Size source: k (and v) rows, `n_kv · head_dim`.
struct qkv_kv_rows {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return size_arg<"n_kv">::get(a) * size_arg<"head_dim">::get(a);
  }
};
/// Size source: all output rows, `(n_heads + 2·n_kv) · head_dim`.
struct qkv_rows {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return qkv_q_rows::get(a) + 2 * qkv_kv_rows::get(a);
  }
};

namespace detail {
/// Arguments `<W>` (data plane of a [Rows, hidden] matrix in `P`) and, for
/// policies with a scale, `<W>_scales`.
template <fixed_string W, weight_policy P, class Rows>
using qkv_weight_args = concat_t<
    type_list<arg<W, input<std::byte, min_elements<data_plane_size<P, Rows, size_arg<"hidden">>>>>>,
    std::conditional_t<P::has_scale,
                       type_list<arg<W + fixed_string("_scales"),
                                     input<std::byte, min_elements<scale_plane_size<P, Rows, size_arg<"hidden">>>>>>,
                       type_list<>>>;
}  // namespace detail

/// Main stage: the fused Q/K/V projection (see the file comment).
///
/// Arguments, in order: `wq`, `wq_scales`, `wk`, `wk_scales`, `wv`,
/// `wv_scales` (bytes; a `_scales` plane only for policies with a scale),
/// `x` (float[hidden]), `hidden`, `n_heads`, `n_kv`, `head_dim` (uint),
/// then the hook's (`gamma` float[hidden], `eps` float for the RMSNorm
/// hooks). `Input` must read its vector as `x` with length `hidden`:
/// `rmsnorm_hidden_input<P>` (default, folded RMSNorm),
/// `rmsnorm_hidden_input_threadgroup<P>` (threadgroup reduction first), or
/// `plain_input<P>` (x used as is).
///
/// Produces the row convention ports (epilogues.hpp) with `row` the row
/// within its part, plus `part` (uint: 0 = q, 1 = k, 2 = v); follow with
/// `qkv_bias_add` (optional) and `qkv_store`.
template <weight_policy PQ, weight_policy PK, weight_policy PV, hook Input = rmsnorm_hidden_input<PQ>,
          unsigned RowsPerThreadgroup = 4>
struct qkv_projection {
  static constexpr fixed_string name = "qkv_projection";
  static constexpr stage_role role = stage_role::main;
  using hook = Input;
  using policies = type_list<PQ, PK, PV>;
  static constexpr unsigned rows_per_threadgroup = RowsPerThreadgroup;
  /// On the CPU lane 0 computes each row alone where all three policies'
  /// CPU forms allow it (`host_rows_lane0`); `$writer` is lane 0's.
  static constexpr bool cpu_lane0 = host_rows_lane0<PQ, Input, row_dot_chunk<PQ>> &&
                                    host_rows_lane0<PK, Input, row_dot_chunk<PK>> &&
                                    host_rows_lane0<PV, Input, row_dot_chunk<PV>>;
  /// The dispatch this stage expects: one SIMD-group per row of q, k, v.
  using dispatch = simdgroup_per_row<qkv_rows, RowsPerThreadgroup>;
  using arguments = concat_t<detail::qkv_weight_args<"wq", PQ, qkv_q_rows>,
                             detail::qkv_weight_args<"wk", PK, qkv_kv_rows>,
                             detail::qkv_weight_args<"wv", PV, qkv_kv_rows>,
                             type_list<arg<"x", input<float, min_elements<size_arg<"hidden">>>>,
                                       arg<"hidden", scalar<std::uint32_t>>, arg<"n_heads", scalar<std::uint32_t>>,
                                       arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>>>;
  using produces = type_list<port<"value", float>, port<"row", std::uint32_t>, port<"row_active", bool>,
                             port<"writer", bool>, port<"part", std::uint32_t>>;

  /// Prefetch (dsl/stage.hpp): lane 0 of each SIMD-group asks for its row
  /// of Wq, Wk or Wv (a threadgroup's rows may span two of them).
  static constexpr ct_string prefetch() {
    ct_string s = "const uint q_rows = $n_heads * $head_dim;\n"
                  "const uint kv_rows = $n_kv * $head_dim;\n"
                  "const uint g = $threadgroup_position_in_grid.x * ";
    s += to_text(RowsPerThreadgroup);
    s += "u + $simdgroup_index_in_threadgroup;\n"
         "if ($thread_index_in_simdgroup == 0u) {\n"
         "  if (g < q_rows) ";
    s += rows_prefetch<PQ>("$wq", "$wq_scales", "g", "1u", "q_rows", "$hidden");
    s += "  else if (g < q_rows + kv_rows) ";
    s += rows_prefetch<PK>("$wk", "$wk_scales", "g - q_rows", "1u", "kv_rows", "$hidden");
    s += "  else if (g < q_rows + 2u * kv_rows) ";
    s += rows_prefetch<PV>("$wv", "$wv_scales", "g - q_rows - kv_rows", "1u", "kv_rows", "$hidden");
    s += "}\n";
    return s;
  }

  static constexpr ct_string emit() {
    constexpr std::string_view lane = "$thread_index_in_simdgroup";
    ct_string reduce = simd_reduction(reduce_op::add, "float", "total", "acc") + "$value = total;\n";
    if constexpr (folded_rms_hook<Input>)
      reduce = simd_reduction(reduce_op::add, "float2", "total", "float2(acc, ss)") + Input::set_inv_rms("total.y") +
               "$value = total.x * $inv_rms;\n";
    return "const uint q_rows = $n_heads * $head_dim;\n"
           "const uint kv_rows = $n_kv * $head_dim;\n"
           "const uint g = $threadgroup_position_in_grid.x * " + to_text(RowsPerThreadgroup) +
           "u + $simdgroup_index_in_threadgroup;\n"
           "$row_active = g < q_rows + 2u * kv_rows;\n"
           "$part = g < q_rows ? 0u : (g < q_rows + kv_rows ? 1u : 2u);\n"
           "$row = $part == 0u ? g : ($part == 1u ? g - q_rows : g - q_rows - kv_rows);\n"
           "$writer = $row_active && $thread_index_in_simdgroup == 0u;\n"
           "float acc = 0.0f, ss = 0.0f;  // ss: Σx² (folded RMSNorm only)\n"
           "if ($row_active && $part == 0u) " +
           row_dot<PQ, Input>({{"acc", "$wq", "$wq_scales"}}, "$row", "$hidden", lane, "$x", "ss") +
           "else if ($row_active && $part == 1u) " +
           row_dot<PK, Input>({{"acc", "$wk", "$wk_scales"}}, "$row", "$hidden", lane, "$x", "ss") +
           "else if ($row_active) " +
           row_dot<PV, Input>({{"acc", "$wv", "$wv_scales"}}, "$row", "$hidden", lane, "$x", "ss") + reduce;
  }
};

/// Epilogue: adds the bias of the row's part, `value += b[row]` with b =
/// `bq` (float[n_heads·head_dim]), `bk` or `bv` (float[n_kv·head_dim]),
/// each an optional buffer (an absent one adds nothing; Qwen2-style models
/// have them, Llama-style ones do not).
struct qkv_bias_add {
  static constexpr fixed_string name = "qkv_bias_add";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<"bq", optional_input<float, min_elements<qkv_q_rows>>>,
                              arg<"bk", optional_input<float, min_elements<qkv_kv_rows>>>,
                              arg<"bv", optional_input<float, min_elements<qkv_kv_rows>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row_active", bool>, port<"part", std::uint32_t>>;
  using updates = type_list<port<"value", float>>;
  /// Reads only; writes no memory (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr std::string_view body = R"(if ($row_active) {
  if ($part == 0u) {
    if ($has_bq) $value += $bq[$row];
  } else if ($part == 1u) {
    if ($has_bk) $value += $bk[$row];
  } else if ($has_bv) {
    $value += $bv[$row];
  }
})";
};

/// Epilogue: stores the row's value into its part's output: `q`
/// (float[n_heads·head_dim], head h at element h·head_dim), `k`, `v`
/// (float[n_kv·head_dim]).
struct qkv_store {
  static constexpr fixed_string name = "qkv_store";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<"q", output<float, min_elements<qkv_q_rows>>>,
                              arg<"k", output<float, min_elements<qkv_kv_rows>>>,
                              arg<"v", output<float, min_elements<qkv_kv_rows>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"writer", bool>, port<"part", std::uint32_t>,
                             port<"value", float>>;
  /// Stores only for the writer (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr std::string_view body = R"(if ($writer) {
  if ($part == 0u) $q[$row] = $value;
  else if ($part == 1u) $k[$row] = $value;
  else $v[$row] = $value;
})";
};

}  // namespace foundry::kernels
