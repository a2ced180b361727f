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
/// Ties go to the smallest index; NaN is never selected; an empty or
/// all-NaN range yields (−inf, 0xFFFFFFFF) (argmax.metal).

#include <cstdint>
#include <string>

#include "foundry/core/errors.hpp"
#include "foundry/dsl/argument_access.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/source_piece.hpp"
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
    argmax_f32>;

}  // namespace foundry::kernels
