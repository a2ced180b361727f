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
// Implementations: the float64 reference of the tests
// (tests/model/support/reference_model.hpp, `--reference` in foundry-generate)
// and the one on Foundry kernels (selected by --backend).
#pragma once

#include <cstddef>
#include <cstdint>
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

  /// Positions the KV cache holds (the most tokens one sequence can have).
  virtual std::uint32_t max_positions() const = 0;

  /// What runs the steps, for messages: "float64 reference", "cpu", ...
  virtual std::string name() const = 0;

  /// Seconds spent compiling kernels so far (0 for paths without kernels).
  virtual double compile_seconds() const { return 0.0; }

  /// Host seconds spent issuing the steps so far: from a step's start until
  /// its work is submitted, before the wait for its result (0 for paths that
  /// compute on the host). Divided by the steps, the host overhead per token.
  virtual double host_seconds() const { return 0.0; }
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
