#pragma once
/// @file q8_activations.hpp
/// Activations in 8-bit blocks for the integer GEMVs (`gemv_multi_row` with
/// `Q8Activations`): x float[k] → codes `xq` (int8 [k]) and per block of 32
/// the pair (d, Σc) in `xq_scales` (float [2·k/32]).
///
/// Rule (GGUF's Q8_0 quantization, ggml-quants.c `quantize_row_q8_0`): per
/// block of 32 elements, d = max|x|/127, c = round(x/d) (half away from
/// zero; c = 0 where d = 0), so |x − d·c| <= d/2. The block also keeps Σc
/// (an integer of at most 32·127, exact as a float) for the formats with a
/// code offset or a minimum (Q4_0: Σ(q − 8)c, Q4_1: m·Σx ≈ m·d·Σc), as
/// llama.cpp's Q8_1 activations do.
///
/// Code order: element order, or, with `PairSplit`, per group of 8 elements
/// 0, 2, 4, 6, 1, 3, 5, 7 — the order in which a 4-bit data plane's low and
/// high nibbles hold them (dsl/policy.hpp, `vector_i8_pair_split`).
///
/// Work split: one SIMD-group per block of 32, lane = element; `simd_max`
/// gives max|x| and `simd_sum` Σc (reduction points, so the CPU runs it as
/// lane loops). Requires k a multiple of 32.

#include <cstdint>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::kernels {

/// The quantization stage (see the file comment): arguments `x` (float
/// [k]), `k` (uint, a multiple of 32), `xq` (int8 [k], written),
/// `xq_scales` (float [2·k/32], written: d then Σc per block).
template <bool PairSplit, unsigned SimdgroupsPerThreadgroup = 4>
struct quantize_q8_blocks {
  static constexpr fixed_string name = "quantize_q8_blocks";
  static constexpr stage_role role = stage_role::main;
  using blocks = sizes::quotient<size_arg<"k">, 32>;
  using dispatch = simdgroup_per_row<blocks, SimdgroupsPerThreadgroup>;
  template <class Dispatch>
  static constexpr bool accepts_dispatch = is_simdgroup_per_row_of<Dispatch, blocks, SimdgroupsPerThreadgroup>;
  static constexpr ct_string required_dispatch() {
    return "simdgroup_per_row<sizes::quotient<size_arg<k>, 32>, " + to_text(SimdgroupsPerThreadgroup) +
           "> (one SIMD-group per block of 32)";
  }
  using arguments =
      type_list<arg<"x", input<float, min_elements<size_arg<"k">>>>, arg<"k", scalar<std::uint32_t>>,
                arg<"xq", output<std::int8_t, min_elements<size_arg<"k">>>>,
                arg<"xq_scales", output<float, min_elements<sizes::quotient<size_arg<"k">, 16>>>>>;
  using produces = type_list<>;

  static constexpr ct_string emit() {
    // The block and x are read again after each reduction point (the code
    // after one may use only its results, ports, arguments and builtins).
    const ct_string blk = "($threadgroup_position_in_grid.x * " + to_text(SimdgroupsPerThreadgroup) +
                          "u + $simdgroup_index_in_threadgroup)";
    const ct_string value = "(" + blk + " < $k / 32u ? $x[" + blk + " * 32u + $thread_index_in_simdgroup] : 0.0f)";
    // id = 1/d with d = amax/127, as quantize_row_q8_0 computes it.
    const ct_string code = "(amax > 0.0f ? int(round(" + value + " * (1.0f / (amax / 127.0f)))) : 0)";
    ct_string pos = "$thread_index_in_simdgroup";
    if (PairSplit)  // element 8g + t at 8g + t/2 (t even) or 8g + 4 + t/2 (t odd)
      pos = "(($thread_index_in_simdgroup & ~7u) + ($thread_index_in_simdgroup & 1u) * 4u + "
            "(($thread_index_in_simdgroup & 7u) >> 1u))";
    return simd_reduction(reduce_op::max, "float", "amax", "fabs" + value) +
           simd_reduction(reduce_op::add, "int", "csum", code) +
           "if (" + blk + " < $k / 32u) {\n"
           "  $xq[" + blk + " * 32u + " + pos + "] = char(" + code + ");\n"
           "  if ($thread_index_in_simdgroup == 0u) {\n"
           "    $xq_scales[2u * " + blk + "] = amax / 127.0f;\n"
           "    $xq_scales[2u * " + blk + " + 1u] = float(csum);\n"
           "  }\n"
           "}\n";
  }
};

/// x float[k] → 8-bit blocks in element order (for Q8_0 weights):
/// `xq` int8 [k], `xq_scales` float [2·k/32] (d, Σc per block).
using quantize_q8_activations =
    fused_kernel<"quantize_q8_activations", quantize_q8_blocks<false>::dispatch, quantize_q8_blocks<false>>;
/// As `quantize_q8_activations`, codes in pair-split order (for Q4_0/Q4_1
/// weights, see the file comment).
using quantize_q8_activations_pair_split =
    fused_kernel<"quantize_q8_activations_pair_split", quantize_q8_blocks<true>::dispatch, quantize_q8_blocks<true>>;

}  // namespace foundry::kernels
