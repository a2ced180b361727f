#pragma once
/// @file gumbel_argmax.hpp
/// Sampling from softmax(logits / T) over the whole vocabulary with the
/// Gumbel-max trick: token = argmax_i (l_i / T + g_i), g_i standard Gumbel
/// noise from a counter-based hash of (seed, step, i) (counter_hash.hpp).
/// Exact (the arg-max is distributed as softmax(l / T)) and one read of the
/// logits, with no normalizer and no sort; the host reads back one index.
///
/// Kernel `gumbel_argmax_f32` is the first of two arg-max passes (the
/// structure of kernels/elementwise/argmax.hpp): threadgroup g reduces
/// elements [g·chunk, min((g+1)·chunk, n)) of the perturbed logits to
/// `out_value[g]`, `out_index[g]` (ceil(n / chunk) threadgroups of 256
/// threads); the second pass is `argmax_f32` over those pairs
/// (`gumbel_argmax_two_pass` issues both). Ties go to the smaller index and a
/// NaN logit is never selected, as in argmax_f32.
///
/// Every target computes the same u_i bit for bit; the noise −log(−log u_i)
/// and l_i / T are float operations, so two targets can disagree only when
/// two perturbed values are within a few ulp of each other.

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
#include "foundry/embedded/sampling/counter_hash.metal.hpp"
#include "foundry/embedded/sampling/gumbel_argmax.metal.hpp"
#include "kernels/elementwise/argmax.hpp"
#include "kernels/sampling/counter_hash.hpp"

namespace foundry::kernels {

/// Metal helpers `foundry_sampling_mix32`, `foundry_gumbel_noise` (counter_hash.metal).
using counter_hash_piece = source_piece<"counter_hash", embedded::sampling::counter_hash_metal>;
/// Metal helper `foundry_gumbel_argmax_block` (gumbel_argmax.metal).
using gumbel_argmax_piece =
    source_piece<"gumbel_argmax", embedded::sampling::gumbel_argmax_metal, argmax_piece, counter_hash_piece>;

/// Threadgroups of gumbel_argmax_f32: ceil(n / chunk).
using gumbel_argmax_groups = chunk_groups<"gumbel_argmax_f32">;

/// Gumbel-max first-pass stage (see the file comment). Arguments: `x`
/// (float [n], the logits), `n`, `chunk` (uint), `temperature` (float, > 0),
/// `key_a`, `key_b` (uint, from gumbel_key_for), `out_value` (float
/// [ceil(n/chunk)]), `out_index` (uint [ceil(n/chunk)]).
struct gumbel_argmax_stage {
  static constexpr fixed_string name = "gumbel_argmax";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"x", input<float, min_elements<size_arg<"n">>>>, arg<"n", scalar<std::uint32_t>>,
                              arg<"chunk", scalar<std::uint32_t>>, arg<"temperature", scalar<float>>,
                              arg<"key_a", scalar<std::uint32_t>>, arg<"key_b", scalar<std::uint32_t>>,
                              arg<"out_value", output<float, min_elements<gumbel_argmax_groups>>>,
                              arg<"out_index", output<std::uint32_t, min_elements<gumbel_argmax_groups>>>>;
  using threadgroup = type_list<tg_array<"gumbel_value", float, 32>, tg_array<"gumbel_index", std::uint32_t, 32>>;
  using helpers = type_list<gumbel_argmax_piece>;
  static constexpr std::string_view body = R"(foundry_gumbel_argmax_block($x, $n, $chunk, $temperature, $key_a, $key_b, $out_value,
                            $out_index, $gumbel_value, $gumbel_index, $threadgroup_position_in_grid.x,
                            $thread_index_in_threadgroup, $threads_per_threadgroup.x, $thread_index_in_simdgroup,
                            $simdgroup_index_in_threadgroup, $simdgroups_per_threadgroup);)";
};

/// Dispatch of gumbel_argmax_f32: ceil(n / chunk) threadgroups of 256.
using gumbel_argmax_dispatch = chunk_dispatch<"gumbel_argmax_f32", 256>;

/// Per-chunk arg-max of x / temperature + Gumbel noise. Arguments, in
/// buffer order: `x`, `n`, `chunk`, `temperature`, `key_a`, `key_b`,
/// `out_value`, `out_index`.
using gumbel_argmax_f32 = fused_kernel<"gumbel_argmax_f32", gumbel_argmax_dispatch, gumbel_argmax_stage>;

/// Issues both passes on `ex` (an `executor`): `partial_value` /
/// `partial_index` must hold ceil(n / chunk) elements, `out_value` /
/// `out_index` one; `out_index[0]` is the sampled token when the dispatches
/// complete. `temperature` must be positive and finite. Throws
/// `dispatch_error` when n or chunk is 0 or the temperature is not positive.
template <class Executor>
void gumbel_argmax_two_pass(Executor& ex, buffer_ref x, std::uint32_t n, float temperature, gumbel_key key,
                            buffer_ref partial_value, buffer_ref partial_index, buffer_ref out_value,
                            buffer_ref out_index, std::uint32_t chunk = 4096) {
  if (n == 0 || chunk == 0) throw dispatch_error("gumbel_argmax_two_pass: n and chunk must be positive");
  if (!(temperature > 0.0f) || temperature > 3.4e38f)
    throw dispatch_error("gumbel_argmax_two_pass: the temperature must be positive and finite");
  const std::uint32_t groups = (n - 1) / chunk + 1;
  typename gumbel_argmax_f32::arguments first;
  first.set<"x">(x).set<"n">(n).set<"chunk">(chunk).set<"temperature">(temperature);
  first.set<"key_a">(key.a).set<"key_b">(key.b).set<"out_value">(partial_value).set<"out_index">(partial_index);
  ex.template dispatch<gumbel_argmax_f32>(first);
  typename argmax_f32::arguments second;
  second.set<"x">(partial_value)
      .set<"x_index">(partial_index)
      .set<"n">(groups)
      .set<"chunk">(groups)
      .set<"out_value">(out_value)
      .set<"out_index">(out_index);
  ex.template dispatch<argmax_f32>(second);
}

}  // namespace foundry::kernels
