#pragma once
/// @file repetition_penalty.hpp
/// Repetition penalty on a logits vector, in place: for every distinct token
/// id t listed in `ids` (t < n),
///
///   logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] · penalty
///
/// so a penalty above 1 makes every recently seen token less likely whatever
/// the sign of its logit (Keskar et al., "CTRL: A Conditional Transformer
/// Language Model for Controllable Generation", arXiv:1909.05858, section
/// 4.1; llama.cpp's `penalty_repeat`, src/llama-sampling.cpp).
///
/// Kernel `repetition_penalty_f32`: one thread per entry of `ids`
/// (ceil(count / 64) threadgroups of 64). An id listed more than once is
/// penalized once: thread t acts only when ids[t] does not occur in
/// ids[0..t) (O(count²) comparisons in all; count is the sampler's window,
/// 64 by default, and the host passes distinct ids anyway). Ids ≥ n are
/// ignored. The arithmetic is one float division or multiplication per
/// token, so the host reference (examples/generate/sampling.hpp) repeats it
/// bit for bit.

#include <cstdint>
#include <string>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::kernels {

/// Repetition penalty main stage (see the file comment). Arguments:
/// `logits` (float [n], read and written), `ids` (uint [count]), `count`,
/// `n` (uint), `penalty` (float, > 0; 1 changes nothing).
struct repetition_penalty_stage {
  static constexpr fixed_string name = "repetition_penalty";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"logits", inout<float, min_elements<size_arg<"n">>>>,
                              arg<"ids", input<std::uint32_t, min_elements<size_arg<"count">>>>,
                              arg<"count", scalar<std::uint32_t>>, arg<"n", scalar<std::uint32_t>>,
                              arg<"penalty", scalar<float>>>;
  static constexpr std::string_view body = R"(const uint t_ = $thread_position_in_grid.x;
if (t_ < $count) {
  const uint id_ = $ids[t_];
  bool first_ = id_ < $n;
  for (uint j_ = 0u; first_ && j_ < t_; ++j_) first_ = $ids[j_] != id_;
  if (first_) {
    const float l_ = $logits[id_];
    $logits[id_] = l_ > 0.0f ? l_ / $penalty : l_ * $penalty;
  }
})";
};

/// The repetition penalty in place (see the file comment). Arguments, in
/// buffer order: `logits`, `ids`, `count`, `n`, `penalty`. count must be at
/// least 1 (a dispatch of 0 threadgroups is an error; skip it instead).
using repetition_penalty_f32 =
    fused_kernel<"repetition_penalty_f32", per_element<size_arg<"count">, 64>, repetition_penalty_stage>;

}  // namespace foundry::kernels
