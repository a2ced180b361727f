#pragma once
/// @file gemv.hpp
/// GEMV main stage, row-major weights, one SIMD-group per output row.
///
/// Computes, for each output row r < n (and batch item b < batch):
///   value = Σ_k W[r, k] · x[b, k]
/// with W an [n, k] matrix in the hook's policy (data plane `w`, scale plane
/// `w_scales`, see policy.hpp) and x float. Rows are spread as
/// `simdgroup_per_row<size_arg<"n">, RowsPerThreadgroup[, size_arg<"batch">]>`
/// dispatches them: row = threadgroup_position_in_grid.x · RowsPerThreadgroup
/// + simdgroup_index_in_threadgroup, batch item = threadgroup_position_in_grid.y.
/// Each lane accumulates runs of `Chunk` adjacent elements (8 for block
/// formats: a run never leaves its block, and a Q4 lane reads one 32-bit word
/// per run; 4 for F16/F32), lanes striding the row by 32·Chunk, then
/// `simd_sum` reduces the SIMD-group (a reduction point, dsl/simd_reduce.hpp, so
/// the CPU runs the stage as lane loops). Per run the lane adds
/// `d·dot(q, x)` and, for affine formats, `m·Σx` (policy.hpp).
///
/// The hook gives the input: any hook with `load_input` (`plain_input`,
/// `rmsnorm_input`, `rmsnorm_simdgroup_input`), or the folded RMSNorm
/// (`rmsnorm_folded_input<P>`, not batched): each lane also sums its x_k²,
/// the row's one reduction point sums (dot, Σx²) as a float2 and the value
/// is scaled by inv_rms after it — no threadgroup memory, no barrier, no
/// second pass over x.
///
/// Before it waits for the kernel before it (CUDA, dsl/stage.hpp: prefetch)
/// each threadgroup asks for its rows' weight bytes into L2.
///
/// Requires k to be a multiple of the policy's `weights_per_block` (a GGUF
/// row always is: 32 for Q8_0/Q4_0/Q4_1); for F16/F32 any k works (a tail
/// loop takes the last k % Chunk elements).
///
/// Produces the row convention ports of epilogues.hpp (`value`, `row`,
/// `row_active`, `writer`); combine with `epi::store<"y">` to write y. The
/// batched form (`Batched = true`) adds the scalar argument `batch` (items),
/// x becomes [batch, k] (item b at element offset b·k) and the stage also
/// produces `batch_index` (uint, b) and `out_index` (uint, b·n + row: the
/// element of a [batch, n] output); store with `epi::store_indexed<"y">`
/// and add a residual with `epi::add_residual` (dsl/epilogues.hpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/common/rmsnorm_input.hpp"
#include "kernels/common/row_dot.hpp"

namespace foundry::kernels {

namespace detail {

/// Arguments shared by the GEMV main stages: `w`, `w_scales` (with a scale
/// plane), `x` (k or batch·k floats; not with `WithInput` false, for hooks
/// that supply the input themselves), `n`, `k`, and `batch` when batched.
template <weight_policy P, bool Batched, bool WithInput = true>
using gemv_arguments = concat_t<
    type_list<arg<"w", input<std::byte, min_elements<data_plane_size<P, size_arg<"n">, size_arg<"k">>>>>>,
    std::conditional_t<P::has_scale,
                       type_list<arg<"w_scales",
                                     input<std::byte, min_elements<scale_plane_size<P, size_arg<"n">, size_arg<"k">>>>>>,
                       type_list<>>,
    std::conditional_t<WithInput,
                       type_list<arg<"x", input<float, min_elements<std::conditional_t<
                                                      Batched, sizes::product<size_arg<"batch">, size_arg<"k">>,
                                                      size_arg<"k">>>>>>,
                       type_list<>>,
    type_list<arg<"n", scalar<std::uint32_t>>, arg<"k", scalar<std::uint32_t>>>,
    std::conditional_t<Batched, type_list<arg<"batch", scalar<std::uint32_t>>>, type_list<>>>;

/// Ports produced by the GEMV main stages.
template <bool Batched>
using gemv_ports = concat_t<type_list<port<"value", float>, port<"row", std::uint32_t>, port<"row_active", bool>,
                                      port<"writer", bool>>,
                            std::conditional_t<Batched,
                                               type_list<port<"batch_index", std::uint32_t>,
                                                         port<"out_index", std::uint32_t>>,
                                               type_list<>>>;

/// Statements defining `batch_index`, `out_index` and the item's input
/// pointer `xb` (batched form only).
inline constexpr std::string_view gemv_batch_lines =
    "$batch_index = $threadgroup_position_in_grid.y;\n"
    "$out_index = $batch_index * $n + $row;\n"
    "const device float* xb = $x + (ulong)$batch_index * $k;\n";

}  // namespace detail

/// Default run length of a GEMV lane for policy `P`: 8 for block formats
/// (a divisor of every block size Foundry has), 4 for F16/F32.
template <weight_policy P>
inline constexpr unsigned gemv_default_chunk = P::weights_per_block == 1 ? 4u : 8u;

/// The GEMV main stage (see the file comment). `Chunk` (1, 2, 4, 8, 16 or
/// 32) must divide the policy's `weights_per_block` for block formats.
template <hook Hook, unsigned RowsPerThreadgroup = 4, bool Batched = false,
          unsigned Chunk = gemv_default_chunk<typename Hook::policy>>
struct gemv_row_major {
  using policy = typename Hook::policy;
  static_assert(Chunk == 1 || Chunk == 2 || Chunk == 4 || Chunk == 8 || Chunk == 16 || Chunk == 32,
                "gemv_row_major: Chunk must be a power of two from 1 to 32");
  static_assert(policy::weights_per_block == 1 || policy::weights_per_block % Chunk == 0,
                "gemv_row_major: a lane's run of Chunk elements must stay inside one block");
  static_assert(!Batched || supports_batched_input<Hook>,
                "gemv_row_major: this hook reads the input itself and cannot be batched");
  static constexpr fixed_string name = "gemv_row_major";
  static constexpr stage_role role = stage_role::main;
  using hook = Hook;
  static constexpr unsigned rows_per_threadgroup = RowsPerThreadgroup;
  /// On the CPU lane 0 computes the row alone where the policy's CPU form
  /// allows it (`host_rows_lane0`); `$writer` is lane 0's.
  static constexpr bool cpu_lane0 = host_rows_lane0<policy, Hook, Chunk>;
  /// The dispatch this stage expects (`Batch` a size source of the items).
  template <class Batch = size_const<1>>
  using dispatch_for = simdgroup_per_row<size_arg<"n">, RowsPerThreadgroup, Batch>;
  /// The dispatch rule this stage needs (checked by the composer): one
  /// SIMD-group per row of `n`, RowsPerThreadgroup rows per threadgroup.
  template <class Dispatch>
  static constexpr bool accepts_dispatch = is_simdgroup_per_row_of<Dispatch, size_arg<"n">, RowsPerThreadgroup>;
  static constexpr ct_string required_dispatch() {
    return "simdgroup_per_row<size_arg<n>, " + to_text(RowsPerThreadgroup) + "> (one SIMD-group per row)";
  }
  /// `w` (data plane), `w_scales` (scale plane; only for policies with a
  /// scale), `x`, `n` (rows), `k` (columns), `batch` (items; batched only).
  using arguments = detail::gemv_arguments<policy, Batched>;
  using produces = detail::gemv_ports<Batched>;

  /// Prefetch (dsl/stage.hpp): thread 0 of each threadgroup asks for its
  /// rows' weight bytes (of the first batch item's threadgroups only).
  static constexpr ct_string prefetch() { return gemv_rows_prefetch<policy>(RowsPerThreadgroup, Batched); }

  static constexpr ct_string emit() {
    const ct_string P(policy::metal_name);
    const ct_string wpb = to_text(policy::weights_per_block);
    const ct_string C = to_text(Chunk);
    const ct_string x = Batched ? "xb" : "$x";
    ct_string affine_chunk, affine_one, scales = "$w";  // unused without a scale plane
    if (policy::has_scale) scales = row_scales_expr<policy>("$w_scales", "$row", "blocks");
    if (policy::has_affine) {
      affine_chunk = "    float xt[" + C + "];  // Σx summed pairwise, as the dot products\n"
                     "    for (int i = 0; i < " + C + "; ++i) xt[i] = xv[i];\n"
                     "    acc += " + P + "::load_affine(ws, b) * foundry_pairwise_sum<" + C + ">(xt);\n";
      affine_one = " + " + P + "::load_affine(ws, b) * xv[0]";
    }
    // Input element `idx` into `dst`. A folded RMSNorm hook reads x raw,
    // adds its square (`square` is `sq[i] = ` or `ss += `) and scales it by
    // gamma; inv_rms is applied after the reduction.
    auto load = [&](const ct_string& dst, const ct_string& idx, const ct_string& square) -> ct_string {
      if constexpr (folded_rms_hook<Hook>)
        return "{ const float xr = " + Hook::load_raw(x, idx) + "; " + square + "xr * xr; " + dst + " = " +
               Hook::scale_raw("xr", idx) + "; }";
      else
        return dst + " = " + Hook::load_input(x, idx) + ";";
    };
    ct_string sq_decl, ss_decl;  // the run's squares and the lane's Σx² (folded RMSNorm only)
    if constexpr (folded_rms_hook<Hook>) {
      sq_decl = ", sq[" + C + "]";
      ss_decl = "float ss = 0.0f;  // Σx² of the lane's elements\n";
    }
    ct_string squares, reduce = simd_reduction(reduce_op::add, "float", "total", "acc") + "$value = total;\n";
    if constexpr (folded_rms_hook<Hook>) {
      squares = "    " + ct_string("ss += foundry_pairwise_sum<") + C + ">(sq);\n";
      reduce = simd_reduction(reduce_op::add, "float2", "total", "float2(acc, ss)") + Hook::set_inv_rms("total.y") +
               "$value = total.x * $inv_rms;\n";
    }
    const run_target host_targets[] = {{"acc", "wd", "ws"}};  // the CPU's run loop (row_dot.hpp)
    // The tail loop only exists where k need not be a multiple of Chunk.
    ct_string tail;
    if (policy::weights_per_block % Chunk != 0)
      tail = "  for (uint k1 = ($k / " + C + "u) * " + C + "u + $thread_index_in_simdgroup; k1 < $k; k1 += 32u) {\n"
             "    float xv[1];\n"
             "    " + load("xv[0]", "k1", "ss += ") + "\n"
             "    const uint b = k1 / " + wpb + "u;\n"
             "    acc += " + P + "::load_scale(ws, b) * " + P + "::dot<1>(wd, k1, xv)" + affine_one + ";\n"
             "  }\n";
    return "$row = $threadgroup_position_in_grid.x * " + to_text(RowsPerThreadgroup) +
           "u + $simdgroup_index_in_threadgroup;\n"
           "$row_active = $row < $n;\n"
           "$writer = $row_active && $thread_index_in_simdgroup == 0u;\n" +
           ct_string(Batched ? detail::gemv_batch_lines : "") +
           "float acc = 0.0f;\n" + ss_decl +
           "if ($row_active) {\n"
           "  const uint blocks = $k / " + wpb + "u;\n"
           "  const device uchar* wd = $w + (ulong)$row * blocks * " + to_text(policy::block_bytes) + "u;\n"
           "  const device uchar* ws = " + scales + ";\n" +
           host_run_loop<policy, Hook>(host_targets, Chunk, "$thread_index_in_simdgroup", "$k",
                                       load("xv[i]", "int(k0) + i", "sv[i] += "), folded_rms_hook<Hook> ? "ss" : "",
                                       x) +
           "  for (uint k0 = $thread_index_in_simdgroup * " + C + "u; k0 + " + C + "u <= $k; k0 += " +
           to_text(32 * Chunk) + "u) {\n"
           "    float xv[" + C + "]" + sq_decl + ";  // signed index: adjacent floats, no wrap-around\n"
           "    for (int i = 0; i < " + C + "; ++i) " + load("xv[i]", "int(k0) + i", "sq[i] = ") + "\n" + squares +
           "    const uint b = k0 / " + wpb + "u;\n"
           "    acc += " + P + "::load_scale(ws, b) * " + P + "::dot<" + C + ">(wd, k0, xv);\n" +
           affine_chunk +
           "  }\n" + ct_string(host_run_loop_end<policy, Hook>()) + tail +
           "}\n" + reduce;
  }
};

}  // namespace foundry::kernels
