#pragma once
/// @file softmax.hpp
/// Numerically stable softmax over rows: `y[r, i] = exp(x[r, i] − M_r) / S_r`,
/// `M_r = max_i x[r, i]`, `S_r = Σ_i exp(x[r, i] − M_r)` (softmax.metal).
///
/// Layout: x, y float32 [rows, n], row-major; one threadgroup of `Threads`
/// threads per row (three passes over the row, two threadgroup barriers).
/// y may be x (in place). A row whose values are all −inf yields NaN.

#include <cstdint>
#include <string>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/elementwise/softmax.metal.hpp"

namespace foundry::kernels {

/// Metal helper `foundry_softmax_row`.
using softmax_piece = source_piece<"softmax", embedded::elementwise::softmax_metal>;

/// Softmax main stage: row `threadgroup_position_in_grid.x` of `x` into `y`.
/// Arguments: `x`, `y` (float [rows, n]), `n` (row length), `rows` (uint).
struct softmax_stage {
  static constexpr fixed_string name = "softmax";
  static constexpr stage_role role = stage_role::main;
  using elements = sizes::product<size_arg<"rows">, size_arg<"n">>;
  using arguments = type_list<arg<"x", input<float, min_elements<elements>>>, arg<"y", output<float, min_elements<elements>>>,
                              arg<"n", scalar<std::uint32_t>>, arg<"rows", scalar<std::uint32_t>>>;
  using threadgroup = type_list<tg_array<"softmax_max", float, 32>, tg_array<"softmax_sum", float, 32>>;
  using helpers = type_list<softmax_piece>;
  static constexpr std::string_view body = R"(const ulong off = (ulong)$threadgroup_position_in_grid.x * $n;
foundry_softmax_row($x + off, $y + off, $n, $softmax_max, $softmax_sum, $thread_index_in_threadgroup,
                    $threads_per_threadgroup.x, $thread_index_in_simdgroup, $simdgroup_index_in_threadgroup,
                    $simdgroups_per_threadgroup);)";
};

/// Softmax of each row of x [rows, n] into y (float32; y may be x).
/// Arguments, in buffer order: `x`, `y`, `n`, `rows` (uint). One threadgroup
/// of 1024 threads per row.
using softmax_f32 = fused_kernel<"softmax_f32", per_row<size_arg<"rows">, 1024>, softmax_stage>;

/// The library's softmax kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using softmax_library = type_list<
    softmax_f32>;

}  // namespace foundry::kernels
