#pragma once
/// @file argmax.hpp
/// Arg-max over a float32 vector (greedy sampling over the vocabulary), as a
/// two-level reduction.
///
/// Kernel `argmax_f32`: threadgroup g reduces elements [g·chunk, min((g+1)·chunk,
/// n)) of `x` to `out_value[g]`, `out_index[g]` (ceil(n / chunk)
/// threadgroups of 256 threads: per-thread strided scan, SIMD-group
/// butterfly, one slot per SIMD-group in threadgroup memory, final
/// butterfly). With the optional `x_index` bound, element e's index is
/// `x_index[e]` instead of e, so the same kernel reduces the partial results
/// of a first pass:
///   pass 1: x = logits, n = 49152, chunk = 4096 → 12 (value, index) pairs;
///   pass 2: x = pass-1 values, x_index = pass-1 indices, n = chunk = 12
///           → out_index[0] is the token.
/// One pass with chunk = n uses a single threadgroup (fine for small n).
/// `argmax_two_pass` issues both passes.
///
/// The first pass may instead be folded into the GEMV that computes the
/// values (`argmax_partial`, an epilogue: one pair per SIMD-group of the
/// GEMV's rows); the second pass then reduces those pairs, with
/// `argmax_f32_advance_position` also moving a replayed decode step's
/// position on.
///
/// Ties go to the smallest index; NaN is never selected; an empty or
/// all-NaN range yields (−inf, 0xFFFFFFFF) (argmax.metal).

#include <cstdint>
#include <string>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/argument_access.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/elementwise/argmax.metal.hpp"

namespace foundry::kernels {

/// Metal helpers `foundry_argmax_better`, `foundry_argmax_simd`, `foundry_argmax_block`.
using argmax_piece = source_piece<"argmax", embedded::elementwise::argmax_metal>;

/// Threadgroups of a kernel that reduces x[0..n) in chunks of `chunk`
/// elements, one threadgroup each (argmax_f32, gumbel_argmax_f32):
/// ceil(n / chunk). Throws dispatch_error naming `Kernel` when chunk is 0.
template <fixed_string Kernel>
struct chunk_groups {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    const std::uint64_t chunk = argument<"chunk">(a).value;
    if (chunk == 0) throw dispatch_error("kernel " + std::string(Kernel.view()) + ": chunk is 0");
    return (std::uint64_t{argument<"n">(a).value} + chunk - 1) / chunk;
  }
};

/// Dispatch of a chunked reduction (chunk_groups): ceil(n / chunk)
/// threadgroups of `Threads`. Throws dispatch_error naming `Kernel` past
/// 2^32 − 1 threadgroups.
template <fixed_string Kernel, std::uint32_t Threads>
struct chunk_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = Threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    const std::uint64_t groups = chunk_groups<Kernel>::get(a);
    if (groups > 0xffffffffu) throw dispatch_error("kernel " + std::string(Kernel.view()) + ": too many threadgroups");
    return {{static_cast<std::uint32_t>(groups), 1, 1}, {Threads, 1, 1}};
  }
};

/// Threadgroups of the argmax_f32 kernel: ceil(n / chunk).
using argmax_groups = chunk_groups<"argmax_f32">;

/// Argmax main stage (see the file comment). Arguments: `x` (float [n]),
/// `x_index` (optional uint [n]), `n`, `chunk` (uint), `out_value` (float
/// [ceil(n/chunk)]), `out_index` (uint [ceil(n/chunk)]).
struct argmax_stage {
  static constexpr fixed_string name = "argmax";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"x", input<float, min_elements<size_arg<"n">>>>,
                              arg<"x_index", optional_input<std::uint32_t>>, arg<"n", scalar<std::uint32_t>>,
                              arg<"chunk", scalar<std::uint32_t>>,
                              arg<"out_value", output<float, min_elements<argmax_groups>>>,
                              arg<"out_index", output<std::uint32_t, min_elements<argmax_groups>>>>;
  using threadgroup = type_list<tg_array<"argmax_value", float, 32>, tg_array<"argmax_index", std::uint32_t, 32>>;
  using helpers = type_list<argmax_piece>;
  static constexpr std::string_view body = R"(foundry_argmax_block($x, $x_index, $has_x_index, $n, $chunk, $out_value, $out_index,
                     $argmax_value, $argmax_index, $threadgroup_position_in_grid.x,
                     $thread_index_in_threadgroup, $threads_per_threadgroup.x, $thread_index_in_simdgroup,
                     $simdgroup_index_in_threadgroup, $simdgroups_per_threadgroup);)";
};

/// Dispatch of `argmax_f32`: ceil(n / chunk) threadgroups of `Threads`.
template <std::uint32_t Threads = 256>
using argmax_dispatch = chunk_dispatch<"argmax_f32", Threads>;

/// Per-chunk arg-max of x (see the file comment). Arguments, in buffer
/// order: `x`, `x_index`, `x_index_present`, `n`, `chunk`, `out_value`,
/// `out_index`.
using argmax_f32 = fused_kernel<"argmax_f32", argmax_dispatch<256>, argmax_stage>;

/// Argmax second pass that also moves a decode step's position on: the
/// `argmax_stage` of one threadgroup (chunk = n), then `position[0] += 1` by
/// thread 0 of threadgroup 0 (the position the kernels of a replayed decode
/// step read, kv_cache.hpp's `advance_position`). Arguments: those of
/// `argmax_stage`, then `position` (uint [1], read and written).
struct argmax_advance_position_stage {
  static constexpr fixed_string name = "argmax_advance_position";
  static constexpr stage_role role = stage_role::main;
  using arguments = concat_t<argmax_stage::arguments, type_list<arg<"position", inout<std::uint32_t>>>>;
  using threadgroup = argmax_stage::threadgroup;
  using helpers = argmax_stage::helpers;
  static constexpr ct_string emit() {
    return ct_string(argmax_stage::body) +
           "\nif ($threadgroup_position_in_grid.x == 0u && $thread_index_in_threadgroup == 0u) $position[0] += 1u;";
  }
};

/// The last kernel of a replayed greedy decode step whose LM head wrote
/// per-SIMD-group partial pairs (`argmax_partial`): the arg-max of those
/// pairs (x = values, x_index = indices, n = chunk = their count, one
/// threadgroup of 1024 threads, four pairs in flight per thread) and the
/// position moved on, in one dispatch instead of `argmax_f32` +
/// `advance_position`. Arguments, in buffer order: those of `argmax_f32`,
/// then `position`. Throws dispatch_error when chunk is 0.
using argmax_f32_advance_position =
    fused_kernel<"argmax_f32_advance_position", chunk_dispatch<"argmax_f32_advance_position", 1024>,
                 argmax_advance_position_stage>;

/// Epilogue: the arg-max of a GEMV's rows folded into the GEMV, as the first
/// pass of a two-pass arg-max. Each SIMD-group that holds `RowsPerSimdgroup`
/// adjacent rows (R, `gemv_multi_row`'s tiling: its first row a multiple of
/// R, lanes 0..R−1 the writers) reduces them to one (value, row) pair at
/// `part_value[row / R]`, `part_index[row / R]` (float, uint [ceil(n / R)]),
/// with the order and NaN rule of `argmax_f32` (argmax.metal); `argmax_f32`
/// or `argmax_f32_advance_position` over those ceil(n / R) pairs then gives
/// the arg-max of the n rows. Put it after the epilogue that stores the
/// rows (the logits stay available for sampling). Consumes `row`, `writer`
/// and `Value`; writes only for writers.
template <unsigned RowsPerSimdgroup, fixed_string Value = "value">
struct argmax_partial {
  static_assert(RowsPerSimdgroup >= 1 && RowsPerSimdgroup <= 32,
                "argmax_partial: RowsPerSimdgroup must be 1 to 32 (the rows of one SIMD-group)");
  static constexpr fixed_string name = "argmax_partial";
  static constexpr stage_role role = stage_role::epilogue;
  using pairs = sizes::ceil_quotient<size_arg<"n">, RowsPerSimdgroup>;
  using arguments = type_list<arg<"part_value", output<float, min_elements<pairs>>>,
                              arg<"part_index", output<std::uint32_t, min_elements<pairs>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"writer", bool>, port<Value, float>>;
  using helpers = type_list<argmax_piece>;
  /// Stores only for the writer (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    return "foundry_argmax_rows($" + ct_string(Value.view()) + ", $row, $writer, $row / " +
           to_text(RowsPerSimdgroup) + "u, $thread_index_in_simdgroup, $part_value, $part_index);";
  }
};

/// Issues the two argmax passes on `ex` (an `executor`): `partial_value` /
/// `partial_index` must hold ceil(n / chunk) elements, `out_value` /
/// `out_index` one; `out_index[0]` is the arg-max of x[0..n) when the
/// dispatches complete (the second pass reduces the ceil(n / chunk)
/// partials in one threadgroup). Throws `dispatch_error` when n or chunk is 0.
template <class Executor>
void argmax_two_pass(Executor& ex, buffer_ref x, std::uint32_t n, buffer_ref partial_value,
                     buffer_ref partial_index, buffer_ref out_value, buffer_ref out_index,
                     std::uint32_t chunk = 4096) {
  if (n == 0 || chunk == 0) throw dispatch_error("argmax_two_pass: n and chunk must be positive");
  const std::uint32_t groups = (n - 1) / chunk + 1;
  typename argmax_f32::arguments first;
  first.set<"x">(x).set<"n">(n).set<"chunk">(chunk).set<"out_value">(partial_value).set<"out_index">(partial_index);
  ex.template dispatch<argmax_f32>(first);
  typename argmax_f32::arguments second;
  second.set<"x">(partial_value)
      .set<"x_index">(partial_index)
      .set<"n">(groups)
      .set<"chunk">(groups)
      .set<"out_value">(out_value)
      .set<"out_index">(out_index);
  ex.template dispatch<argmax_f32>(second);
}

/// The library's argmax kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using argmax_library = type_list<
    argmax_f32,
    argmax_f32_advance_position>;

}  // namespace foundry::kernels
