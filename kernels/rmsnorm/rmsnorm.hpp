#pragma once
/// @file rmsnorm.hpp
/// RMSNorm as stages (Zhang & Sennrich, 2019, "Root Mean Square Layer
/// Normalization", eq. 4):
///   y_i = x_i · inv_rms · gamma_i,   inv_rms = 1 / sqrt(mean_i(x_i²) + eps).
///
/// - `rmsnorm_prologue`: a prologue stage producing port `inv_rms` inside
///   each threadgroup (threadgroup-wide reduction, `foundry_rms_inv` of
///   kernels/common/rmsnorm.metal), for kernels whose main stage is not a GEMV. (A GEMV-like
///   main stage takes the RMSNorm as its input hook instead:
///   `rmsnorm_input` in kernels/common/rmsnorm_input.hpp.)
/// - `rmsnorm_apply`: a main stage writing the normalised rows.
/// The standalone kernel composed of the two is `rmsnorm_f32` (aliases.hpp).

#include <cstdint>
#include <string>

#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/common/rmsnorm_piece.hpp"

namespace foundry::kernels {

/// Prologue stage: port `inv_rms` (float) = 1 / sqrt(mean(v²) + eps) of a
/// float vector v of `N` elements, the same value in every thread of the
/// threadgroup.
///
/// - `X`: the input buffer argument, declared with handle `XHandle` (give
///   the main stage's handle type when the main stage also reads `X`; the
///   composer requires one handle type per name).
/// - `N`: scalar argument (uint), the vector length.
/// - `Batched`: false: v is `X[0..N)`; true: v is row
///   `threadgroup_position_in_grid.x` of a row-major [rows, N] matrix `X`
///   (one threadgroup per row, `per_row` dispatch).
/// Adds argument `eps` (float) and 32 floats of threadgroup memory
/// (`rms_partial`). Every thread of the threadgroup must run it: later
/// stages guard their work, they never return before it.
template <fixed_string X = "x", fixed_string N = "n", bool Batched = false, class XHandle = input<float>>
struct rmsnorm_prologue {
  static constexpr fixed_string name = "rmsnorm_prologue";
  static constexpr stage_role role = stage_role::prologue;
  using arguments = type_list<arg<X, XHandle>, arg<N, scalar<std::uint32_t>>, arg<"eps", scalar<float>>>;
  using produces = type_list<port<"inv_rms", float>>;
  using threadgroup = type_list<tg_array<"rms_partial", float, 32>>;
  using helpers = type_list<rmsnorm_piece>;
  static constexpr ct_string emit() {
    const ct_string n = "$" + ct_string(N.view());
    ct_string v = "$" + ct_string(X.view());
    if (Batched) v += " + (ulong)$threadgroup_position_in_grid.x * " + n;
    return "$inv_rms = foundry_rms_inv(" + v + ", " + n +
           ", $eps, $rms_partial, $thread_index_in_threadgroup,\n"
           "                           $threads_per_threadgroup.x, $thread_index_in_simdgroup,\n"
           "                           $simdgroup_index_in_threadgroup, $simdgroups_per_threadgroup);";
  }
};

/// Size source: `rows · n`, the elements of the RMSNorm kernel's x and y.
struct rmsnorm_elements {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return size_arg<"rows">::get(a) * size_arg<"n">::get(a);
  }
};

/// Main stage: `y[r, i] = x[r, i] · inv_rms · gamma[i]` for the row
/// r = `threadgroup_position_in_grid.x` of row-major [rows, n] float
/// matrices x and y (one threadgroup per row; its threads stride the row).
/// Consumes `inv_rms` (from `rmsnorm_prologue<"x", "n", true, ...>`).
/// Arguments: `x` (float[rows·n]), `gamma` (float[n]), `y` (float[rows·n],
/// output), `rows`, `n` (uint).
struct rmsnorm_apply {
  static constexpr fixed_string name = "rmsnorm_apply";
  static constexpr stage_role role = stage_role::main;
  using x_handle = input<float, min_elements<rmsnorm_elements>>;
  using arguments = type_list<arg<"x", x_handle>, arg<"gamma", input<float, min_elements<size_arg<"n">>>>,
                              arg<"y", output<float, min_elements<rmsnorm_elements>>>,
                              arg<"rows", scalar<std::uint32_t>>, arg<"n", scalar<std::uint32_t>>>;
  using consumes = type_list<port<"inv_rms", float>>;
  static constexpr std::string_view body = R"(const uint r = $threadgroup_position_in_grid.x;
if (r < $rows) {
  const ulong base = (ulong)r * $n;
  for (uint i = $thread_index_in_threadgroup; i < $n; i += $threads_per_threadgroup.x)
    $y[base + i] = $x[base + i] * $inv_rms * $gamma[i];
})";
};

}  // namespace foundry::kernels
