// The model tests' comparisons of logits: the relative error of one logit
// vector against another, and llama.cpp's greedy decoding
// (tests/fixtures/*_reference*.txt): after the prompt, each step's top-5
// logits and greedy token against the fixture's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "examples/generate/decoder.hpp"
#include "model_files.hpp"

namespace foundry::test {

/// ‖got − want‖₂ / ‖want‖₂ over two logit vectors of equal length (the
/// caller checks the lengths), accumulated in double.
template <class Got, class Want>
double relative_error(const Got& got, const Want& want) {
  double err = 0, norm = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - double(want[i]);
    err += d * d;
    norm += double(want[i]) * double(want[i]);
  }
  return std::sqrt(err / norm);
}

/// Runs `steps` greedy steps of `dec`, which has just consumed the prompt
/// of `c` (ending at position `pos`, its argmax `next`), and expects every
/// step's greedy token to equal `c.generated` and each of the fixture's top-5
/// logits to be within `logit_bound` (stops at the first differing token).
///
/// `tie_margin` > 0: at a step where the fixture's two largest logits are
/// within `tie_margin` of each other, two float32 implementations may
/// legitimately pick different tokens (their summation orders differ by
/// about `logit_bound`); when they do, the step passes if `next` is one of
/// the tokens within the margin of the largest, and the comparison ends
/// there (the sequences part). Returns the number of steps compared; prints it and
/// the largest logit difference.
inline std::size_t expect_greedy_steps(generate::decoder& dec, const greedy_case& c, std::size_t steps,
                                       std::uint32_t pos, std::int32_t next, double logit_bound,
                                       double tie_margin = 0.0) {
  EXPECT_LE(steps, c.generated.size());
  steps = std::min(steps, c.generated.size());
  double max_diff = 0;
  for (std::size_t s = 0; s < steps; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    const auto logits = dec.logits();
    for (const auto& [id, value] : c.top[s]) {
      const double d = std::fabs(logits[static_cast<std::size_t>(id)] - value);
      EXPECT_LE(d, logit_bound) << "token " << id;
      max_diff = std::max(max_diff, d);
    }
    const auto& top = c.top[s];
    if (next != c.generated[s] && tie_margin > 0 && top.size() >= 2 && top[0].second - top[1].second < tie_margin) {
      bool close = false;
      for (const auto& [id, value] : top) close = close || (id == next && top[0].second - value < tie_margin);
      EXPECT_TRUE(close) << "token " << next << " is not among the fixture's near-tied best tokens";
      std::printf("  %s: %zu greedy tokens equal llama.cpp's, then a near tie broken the other way (%.4f apart; "
                  "took %d); "
                  "top-5 logits max |diff| %.4f\n",
                  c.name.c_str(), s, double(top[0].second - top[1].second), next, max_diff);
      return s + 1;
    }
    if (next != c.generated[s]) {
      ADD_FAILURE() << "greedy token " << next << " differs from llama.cpp's " << c.generated[s];
      return s + 1;
    }
    if (s + 1 < steps) next = dec.step(next, pos++);
  }
  std::printf("  %s: %zu greedy tokens equal llama.cpp's; top-5 logits max |diff| %.4f\n", c.name.c_str(), steps,
              max_diff);
  return steps;
}

}  // namespace foundry::test
