// The decode-step interface of the generation example.
//
// A decoder owns a model's runtime state (weights in the form its compute
// path wants, the KV cache, scratch buffers) and runs one token at a time:
//
//   step(token, pos) -> next
//
// feeds `token` at position `pos` through every layer, appends its keys and
// values to the cache at `pos`, and returns the greedy next token: the argmax
// of the logits (the lowest id among equal maxima). The prompt is fed the same
// way, one token per step, and the tokens predicted for positions inside the
// prompt are ignored. choose_next picks the token to feed next from the
// last step's logits under the sampler chain of sampling.hpp (greedy by
// default: then it returns what step returned).
//
// Positions: pos must not exceed the number of positions already in the cache
// (0, 1, 2, ... in order). A smaller pos rewinds: the cache keeps positions
// [0, pos) and the sequence continues from there (pos == 0 starts a new one).
// pos >= max_positions() is an error (std::out_of_range), as is a token
// outside the vocabulary.
//
// Greedy decode one step ahead: a loop that feeds every step's argmax to
// the next step can launch step pos + 1 before it reads step pos's token,
//
//   launch(t, pos); launch_next(pos + 1); t1 = collect(); launch_next(pos + 2); t2 = collect(); ...
//
// so a decoder whose argmax stays on the device (the Foundry decoder with a
// replayed CUDA graph) keeps the GPU busy while the host reads a token and
// prints it. The defaults run each step when it is launched.
//
// Implementations: the float64 reference of the tests
// (tests/model/support/reference_model.hpp, `--reference` in foundry-generate)
// and the one on Foundry kernels (selected by --backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "sampling.hpp"

namespace foundry::generate {

class decoder {
 public:
  decoder() = default;
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;
  virtual ~decoder() = default;

  /// Runs `token` at position `pos`; returns the argmax of the next-token
  /// logits (see the file comment for the position rules).
  virtual std::int32_t step(std::int32_t token, std::uint32_t pos) = 0;
  /// Runs `tokens` at positions pos, pos + 1, ... (the same position rules
  /// as step, for the first one) and returns the argmax of the logits after
  /// the last one; logits() are then those of the last token. The default
  /// runs them one step at a time; a decoder with batched kernels overrides
  /// it (the prompt in one pass). An empty `tokens` is an error
  /// (std::invalid_argument).
  virtual std::int32_t prefill(std::span<const std::int32_t> tokens, std::uint32_t pos) {
    if (tokens.empty()) throw std::invalid_argument("prefill: no tokens");
    std::int32_t next = -1;
    for (const std::int32_t t : tokens) next = step(t, pos++);
    return next;
  }

  /// The logits of the last step (vocabulary size values; empty before the
  /// first step), valid until the next call. For sampling other than greedy;
  /// a device implementation may copy them back only when asked.
  virtual std::span<const float> logits() = 0;

  /// The token that follows the last step under the sampler chain of
  /// sampling.hpp: `greedy` is what the step returned (kept as is when
  /// `params` is greedy without a repetition penalty), `recent` the tokens of
  /// the sequence so far (prompt and generated; the penalty looks at the
  /// last repeat_last_n), `state` the generation's generator, advanced by one
  /// draw unless greedy. The default runs sample_from_logits on logits(),
  /// on the host (exact, double precision); a decoder whose logits live on a
  /// device overrides it to sample there. A penalty may change logits().
  /// -1 when no logit is a number.
  virtual std::int32_t choose_next(std::int32_t greedy, const sampling_params& params, sampling_state& state,
                                   std::span<const std::int32_t> recent) {
    if (params.greedy() && !params.penalizes()) return greedy;
    return sample_from_logits(logits(), greedy, params, state, recent);
  }

  /// Starts the step of `token` at `pos` (step's rules); its argmax is
  /// returned by `collect`. The default runs the step now.
  virtual void launch(std::int32_t token, std::uint32_t pos) {
    last_ = step(token, pos);
    ahead_.push_back(last_);
    next_pos_ = pos + 1;
  }
  /// Starts the step at `pos` on the argmax of the step launched last (at
  /// pos - 1), which need not be collected yet. Throws std::logic_error when
  /// no step was launched, and std::invalid_argument when `pos` does not
  /// follow the step launched last.
  virtual void launch_next(std::uint32_t pos) {
    check_launch_next(next_pos_, pos);
    launch(last_, pos);
  }
  /// The argmax of the oldest launched step not collected yet (launch
  /// order). Throws std::logic_error when every launched step was collected.
  virtual std::int32_t collect() {
    if (ahead_.empty()) throw std::logic_error("collect: no launched step to collect");
    const std::int32_t t = ahead_.front();
    ahead_.pop_front();
    return t;
  }
  /// Whether launch and launch_next return before the step has run, so the
  /// host's work between collects overlaps the device's.
  virtual bool runs_ahead() const { return false; }

  /// Positions the KV cache holds (the most tokens one sequence can have).
  virtual std::uint32_t max_positions() const = 0;

  /// What runs the steps, for messages: "float64 reference", "cpu", ...
  virtual std::string name() const = 0;

  /// Seconds spent compiling kernels so far (0 for paths without kernels).
  virtual double compile_seconds() const { return 0.0; }

  /// Kernels one decode step dispatches (counted the last time a step's
  /// kernels were issued; 0 before, and for paths without kernels).
  virtual std::uint64_t dispatches_per_step() const { return 0; }

  /// Host seconds spent issuing the steps so far: from a step's start until
  /// its work is submitted, before the wait for its result (0 for paths that
  /// compute on the host). Divided by the steps, the host overhead per token.
  virtual double host_seconds() const { return 0.0; }

 protected:
  /// launch_next's checks: `next` is the position after the last launched
  /// step (empty when none is launched).
  static void check_launch_next(std::optional<std::uint32_t> next, std::uint32_t pos) {
    if (!next) throw std::logic_error("launch_next: no launched step to continue from");
    if (pos != *next)
      throw std::invalid_argument("launch_next: position " + std::to_string(pos) + " does not follow the last " +
                                  "launched step's (" + std::to_string(*next - 1) + ")");
  }

 private:
  // The default launch: argmaxes of launched steps not collected, the
  // argmax of the step launched last and the position after it.
  std::deque<std::int32_t> ahead_;
  std::int32_t last_ = -1;
  std::optional<std::uint32_t> next_pos_;
};

/// The greedy choice: index of the largest value, the lowest one among equal
/// maxima (and among NaNs, which never win over numbers). -1 when empty.
template <class T>
std::int32_t argmax(std::span<const T> values) {
  std::int32_t best = -1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] != values[i]) continue;  // NaN
    if (best < 0 || values[i] > values[static_cast<std::size_t>(best)])
      best = static_cast<std::int32_t>(i);
  }
  return best;
}

}  // namespace foundry::generate
