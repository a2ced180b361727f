#pragma once
/// @file gate_up.hpp
/// Gate and up projections of a gated feed-forward block for one token
/// (decode), as one main stage producing both dot products of each row.
///
/// For row i < ffn: gate_i = W_gate[i, :]·x̂ and up_i = W_up[i, :]·x̂ with
/// W_gate, W_up [ffn, hidden] (row-major planes, policy.hpp) and x̂ the
/// hook's input (by default x RMS-normalised with the normalisation folded
/// into the row's reduction, `rmsnorm_folded_input` of
/// kernels/common/rmsnorm_input.hpp). One SIMD-group computes both dot products of
/// its row (one pass over x̂ when the two matrices share a policy) and
/// reduces them, with Σx², in one `simd_sum` of a float4, so an
/// epilogue can combine them: `epi::swiglu<"gate", "up">` gives
/// SiLU(gate)·up (Shazeer, 2020, "GLU Variants Improve Transformer", FFN_SwiGLU).

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

namespace detail {
/// Arguments `<W>` (data plane of a [ffn, hidden] matrix in `P`) and, for
/// policies with a scale, `<W>_scales`.
template <fixed_string W, weight_policy P>
using ffn_weight_args = concat_t<
    type_list<arg<W, input<std::byte, min_elements<data_plane_size<P, size_arg<"ffn">, size_arg<"hidden">>>>>>,
    std::conditional_t<P::has_scale,
                       type_list<arg<W + fixed_string("_scales"),
                                     input<std::byte, min_elements<scale_plane_size<P, size_arg<"ffn">,
                                                                                    size_arg<"hidden">>>>>>,
                       type_list<>>>;
}  // namespace detail

/// Main stage: gate and up projections of row `row` (see the file comment),
/// W_gate in policy `PG`, W_up in `PU`.
///
/// Arguments, in order: `w_gate`, `w_gate_scales`, `w_up`, `w_up_scales`
/// (bytes; `_scales` only for policies with a scale), `x` (float[hidden]),
/// `hidden`, `ffn` (uint), then the hook's (`gamma` float[hidden], `eps`
/// float for the RMSNorm hooks; see `qkv_projection` for the choice of
/// `Input`). `hidden` must be a multiple of the policies' weights_per_block.
///
/// Produces `gate`, `up` (float, the row's two dot products, valid in every
/// lane) and the row convention ports `row`, `row_active`, `writer`
/// (epilogues.hpp; no `value`: an epilogue such as `epi::swiglu` makes it).
/// Rows: `simdgroup_per_row<size_arg<"ffn">, RowsPerThreadgroup>`.
template <weight_policy PG, weight_policy PU = PG, hook Input = rmsnorm_hidden_input<PG>,
          unsigned RowsPerThreadgroup = 4>
struct gate_up_projection {
  static constexpr fixed_string name = "gate_up_projection";
  static constexpr stage_role role = stage_role::main;
  using hook = Input;
  using policies = type_list<PG, PU>;
  static constexpr unsigned rows_per_threadgroup = RowsPerThreadgroup;
  /// On the CPU lane 0 computes each row alone where both policies' CPU
  /// forms allow it (`host_rows_lane0`); `$writer` is lane 0's.
  static constexpr bool cpu_lane0 =
      host_rows_lane0<PG, Input, row_dot_chunk<PG>> && host_rows_lane0<PU, Input, row_dot_chunk<PU>>;
  /// The dispatch this stage expects: one SIMD-group per row of y.
  using dispatch = simdgroup_per_row<size_arg<"ffn">, RowsPerThreadgroup>;
  using arguments = concat_t<detail::ffn_weight_args<"w_gate", PG>, detail::ffn_weight_args<"w_up", PU>,
                             type_list<arg<"x", input<float, min_elements<size_arg<"hidden">>>>,
                                       arg<"hidden", scalar<std::uint32_t>>, arg<"ffn", scalar<std::uint32_t>>>>;
  using produces = type_list<port<"gate", float>, port<"up", float>, port<"row", std::uint32_t>,
                             port<"row_active", bool>, port<"writer", bool>>;

  /// Prefetch (dsl/stage.hpp): thread 0 of each threadgroup asks for its
  /// rows of both matrices.
  static constexpr ct_string prefetch() {
    const ct_string R = to_text(RowsPerThreadgroup);
    const ct_string rows = "min(" + R + "u, $ffn - row0)";
    ct_string s = "const uint row0 = $threadgroup_position_in_grid.x * ";
    s += R;
    s += "u;\nif ($simdgroup_index_in_threadgroup == 0u && $thread_index_in_simdgroup == 0u && row0 < $ffn) {\n";
    s += rows_prefetch<PG>("$w_gate", "$w_gate_scales", "row0", rows, "$ffn", "$hidden");
    s += rows_prefetch<PU>("$w_up", "$w_up_scales", "row0", rows, "$ffn", "$hidden");
    s += "}\n";
    return s;
  }

  static constexpr ct_string emit() {
    constexpr std::string_view lane = "$thread_index_in_simdgroup";
    ct_string dots;
    if constexpr (std::is_same_v<PG, PU>) {
      dots = row_dot<PG, Input>({{"acc_gate", "$w_gate", "$w_gate_scales"}, {"acc_up", "$w_up", "$w_up_scales"}},
                                "$row", "$hidden", lane, "$x", "ss");
    } else {  // two passes over x; Σx² from the first
      dots = "{\n" +
             row_dot<PG, Input>({{"acc_gate", "$w_gate", "$w_gate_scales"}}, "$row", "$hidden", lane, "$x", "ss") +
             row_dot<PU, Input>({{"acc_up", "$w_up", "$w_up_scales"}}, "$row", "$hidden", lane, "$x") + "}\n";
    }
    ct_string reduce;
    if constexpr (folded_rms_hook<Input>)
      reduce = simd_reduction(reduce_op::add, "float4", "total", "float4(acc_gate, acc_up, ss, 0.0f)") +
               Input::set_inv_rms("total.z") +
               "$gate = total.x * $inv_rms;\n"
               "$up = total.y * $inv_rms;";
    else
      reduce = simd_reduction(reduce_op::add, "float2", "total", "float2(acc_gate, acc_up)") +
               "$gate = total.x;\n"
               "$up = total.y;";
    return "$row = $threadgroup_position_in_grid.x * " + to_text(RowsPerThreadgroup) +
           "u + $simdgroup_index_in_threadgroup;\n"
           "$row_active = $row < $ffn;\n"
           "$writer = $row_active && $thread_index_in_simdgroup == 0u;\n"
           "float acc_gate = 0.0f, acc_up = 0.0f, ss = 0.0f;  // ss: Σx² (folded RMSNorm only)\n"
           "if ($row_active) " + dots + reduce;
  }
};

}  // namespace foundry::kernels
