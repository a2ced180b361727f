#pragma once
/// @file gemv.hpp
/// GEMV main stage, row-major weights, one SIMD-group per output row.
///
/// Computes, for each output row r < n: value = Σ_k W[r, k] · x[k] with W an
/// [n, k] matrix in the hook's policy (data plane `w`, scale plane
/// `w_scales`, see policy.hpp) and x a float vector of k elements. Rows are
/// spread as `simdgroup_per_row<size_arg<"n">, RowsPerThreadgroup>`
/// dispatches them: row = threadgroup_position_in_grid.x · RowsPerThreadgroup
/// + simdgroup_index_in_threadgroup. Each lane accumulates chunks of 4
/// elements strided by 128, then `simd_sum` reduces the SIMD-group.
/// Requires k to be a multiple of the policy's weights_per_block.
///
/// Produces the row convention ports of epilogues.hpp (`value`, `row`,
/// `row_active`, `writer`); combine with `epi::store<"y">` to write y.

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::kernels {

/// The GEMV main stage (see the file comment).
template <hook Hook, unsigned RowsPerThreadgroup = 4>
struct gemv_row_major {
  using policy = typename Hook::policy;
  static constexpr fixed_string name = "gemv_row_major";
  static constexpr stage_role role = stage_role::main;
  using hook = Hook;
  /// `w` (data plane), `w_scales` (scale plane; only for policies with a
  /// scale), `x`, `n` (rows), `k` (columns).
  using rows = size_arg<"n">;
  using cols = size_arg<"k">;
  using arguments = concat_t<
      type_list<arg<"w", input<std::byte, min_elements<data_plane_size<policy, rows, cols>>>>>,
      std::conditional_t<policy::has_scale,
                         type_list<arg<"w_scales", input<std::byte, min_elements<scale_plane_size<policy, rows, cols>>>>>,
                         type_list<>>,
      type_list<arg<"x", input<float, min_elements<cols>>>, arg<"n", scalar<std::uint32_t>>,
                arg<"k", scalar<std::uint32_t>>>>;
  using produces = type_list<port<"value", float>, port<"row", std::uint32_t>,
                             port<"row_active", bool>, port<"writer", bool>>;

  static constexpr std::string emit() {
    const std::string P(policy::metal_name);
    const std::string wpb = to_text(policy::weights_per_block);
    std::string affine_chunk, affine_one, scales = "$w";  // unused without a scale plane
    if (policy::has_scale) scales = "$w_scales + (ulong)$row * blocks * " + to_text(policy::scale_bytes) + "u";
    if (policy::has_affine) {
      affine_chunk = "    acc += " + P + "::load_affine(ws, b) * (xv[0] + xv[1] + xv[2] + xv[3]);\n";
      affine_one = " + " + P + "::load_affine(ws, b) * xv[0]";
    }
    return "$row = $threadgroup_position_in_grid.x * " + to_text(RowsPerThreadgroup) +
           "u + $simdgroup_index_in_threadgroup;\n"
           "$row_active = $row < $n;\n"
           "$writer = $row_active && $thread_index_in_simdgroup == 0u;\n"
           "float acc = 0.0f;\n"
           "if ($row_active) {\n"
           "  const uint blocks = $k / " + wpb + "u;\n"
           "  const device uchar* wd = $w + (ulong)$row * blocks * " + to_text(policy::block_bytes) + "u;\n"
           "  const device uchar* ws = " + scales + ";\n"
           "  uint k0 = $thread_index_in_simdgroup * 4u;\n"
           "  for (; k0 + 4u <= $k; k0 += 128u) {\n"
           "    float xv[4];\n"
           "    for (int i = 0; i < 4; ++i) xv[i] = " + Hook::load_input("$x", "k0 + i") + ";\n"
           "    const uint b = k0 / " + wpb + "u;\n"
           "    acc += " + P + "::load_scale(ws, b) * " + P + "::dot<4>(wd, k0, xv);\n" +
           affine_chunk +
           "  }\n"
           "  for (uint k1 = ($k / 4u) * 4u + $thread_index_in_simdgroup; k1 < $k; k1 += 32u) {\n"
           "    float xv[1] = {" + Hook::load_input("$x", "k1") + "};\n"
           "    const uint b = k1 / " + wpb + "u;\n"
           "    acc += " + P + "::load_scale(ws, b) * " + P + "::dot<1>(wd, k1, xv)" +
           affine_one + ";\n"
           "  }\n"
           "}\n"
           "$value = simd_sum(acc);";
  }
};

}  // namespace foundry::kernels
