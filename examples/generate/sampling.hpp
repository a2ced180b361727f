// Sampling the next token from the logits: the parameters, the generator
// state, and the host side of the sampler chain.
//
// The chain is llama.cpp's default one (common/common.h `samplers`, built in
// common/sampling.cpp; each step's semantics as in src/llama-sampling.cpp),
// restricted to the steps offered here, in this order:
//
//   1. repetition penalty  every distinct token among the last
//                          repeat_last_n tokens (prompt and generated):
//                          l > 0 ? l / penalty : l · penalty  (CTRL, arXiv:1909.05858)
//   2. top-k               keep the top_k largest logits (0: off)
//   3. top-p               keep the smallest prefix, in descending order,
//                          whose softmax mass (at temperature 1, over what
//                          top-k kept) reaches top_p (1: off)
//   4. min-p               keep tokens with p ≥ min_p · p_max, i.e.
//                          l ≥ l_max + ln(min_p) (0: off)
//   5. temperature         l / T
//   6. draw                one token from the softmax of what is left
//
// so top-p and min-p see the untempered distribution, as in llama.cpp.
// Temperature 0 is greedy: the arg-max after the penalty (steps 2-6 cannot
// change it). Order among equal logits: the smaller token id first, so every
// step is deterministic.
//
// Where it runs. A `decoder` (decoder.hpp) chooses the next token with
// `choose_next`; its default, `sample_from_logits` below, works on the full
// logits on the host in double precision (the float64 `--reference`
// decoder and the tests). The Foundry decoder runs steps 1 and the
// selection on the device (device_sampler.hpp): the penalty kernel, then
// either Gumbel-max over the whole vocabulary (temperature only: exact, one
// index read back) or the top-k candidates kernel, whose K_max = 64 best
// logits and exact softmax normalizer `choose_from_candidates` finishes on
// the host. When the candidates cannot decide the result (top-k off or above
// K_max with top-p or the draw needing tokens beyond them; min-p still
// passing the K_max-th candidate) that function says so, and the decoder
// asks the device for every logit ≥ τ, τ further below the K_max-th
// candidate each round (kernels/sampling/logits_at_least.hpp): a set that
// holds every token at least as likely as its least likely member, on which
// the same code decides exactly (`at_least_candidates`; counted in
// `sampling_state::second_round`). Only when that set outgrows its capacity
// does the decoder read the full logits (`sampling_state::fallbacks`).
// Never approximated.
//
// Randomness. One draw per sampled token: u = (x >> 11) · 2^-53 in [0, 1)
// from std::mt19937_64 seeded with --seed (the standard fixes that engine's
// output sequence; std:: distributions are implementation-defined, hence
// the explicit conversion), used as the inverse-CDF point of step 6, and the
// token counter `step`, which with the seed keys the Gumbel noise of the
// temperature-only path (kernels/sampling/counter_hash.hpp). Every sampled
// token consumes both, whichever path decides it, so the same seed gives
// the same tokens on every platform and backend (up to logits that differ
// between backends, and Gumbel values within a few float ulp).
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/sampling/counter_hash.hpp"

namespace foundry::generate {

/// An invalid sampling option. what() names the option as the command line
/// spells it ("--top-p ..."); option() returns that name alone.
class sampling_error : public std::invalid_argument {
 public:
  sampling_error(std::string option, const std::string& message)
      : std::invalid_argument(option + " " + message), option_(std::move(option)) {}
  const std::string& option() const noexcept { return option_; }

 private:
  std::string option_;
};

/// The sampler's settings (see the file comment for what each does). The
/// defaults are greedy decoding with every filter off; `validate` checks
/// the ranges.
struct sampling_params {
  double temperature = 0.0;           ///< ≥ 0; 0 is greedy
  std::uint32_t top_k = 0;            ///< tokens kept by top-k; 0 is off
  double top_p = 1.0;                 ///< in [0, 1]; 1 is off
  double min_p = 0.0;                 ///< in [0, 1]; 0 is off
  double repeat_penalty = 1.0;        ///< > 0; 1 is off
  std::uint32_t repeat_last_n = 64;   ///< tokens the penalty looks back over; 0 is off
  std::uint64_t seed = 0;             ///< seed of the generator (sampling_state)

  /// Throws `sampling_error` naming the option (--temperature, --top-p,
  /// --min-p, --repeat-penalty) for a value out of range or not finite.
  void validate() const {
    if (!std::isfinite(temperature) || temperature < 0)
      throw sampling_error("--temperature", fmt::format("must be a finite number >= 0, got {}", temperature));
    if (!(top_p >= 0 && top_p <= 1))
      throw sampling_error("--top-p", fmt::format("must be in [0, 1], got {}", top_p));
    if (!(min_p >= 0 && min_p <= 1))
      throw sampling_error("--min-p", fmt::format("must be in [0, 1], got {}", min_p));
    if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0)
      throw sampling_error("--repeat-penalty", fmt::format("must be a finite number > 0, got {}", repeat_penalty));
  }
  /// Temperature 0: the arg-max (after the penalty).
  bool greedy() const noexcept { return temperature == 0; }
  /// The repetition penalty changes logits.
  bool penalizes() const noexcept { return repeat_penalty != 1 && repeat_last_n > 0; }
  /// Top-k, top-p or min-p restrict the tokens (else: the whole vocabulary
  /// at the temperature, the Gumbel-max path).
  bool filters() const noexcept { return top_k > 0 || top_p < 1 || min_p > 0; }
};

/// [0, 1) from 64 random bits: the top 53 as a double's mantissa.
constexpr double unit_interval(std::uint64_t bits) noexcept { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

/// The generator of one generation and the sampler's counters.
class sampling_state {
 public:
  /// The randomness of one sampled token (see the file comment).
  struct draw {
    double u = 0;               ///< inverse-CDF point in [0, 1)
    kernels::gumbel_key key{};  ///< keys of the Gumbel noise of this token
  };

  explicit sampling_state(std::uint64_t seed = 0) : engine_(seed), seed_(seed) {}

  /// The next token's randomness: one output of the engine and the next
  /// counter value.
  draw next() {
    draw d;
    d.u = unit_interval(engine_());
    d.key = kernels::gumbel_key_for(seed_, step_++);
    return d;
  }
  std::uint64_t seed() const noexcept { return seed_; }
  /// Tokens sampled so far (greedy choices take no draw).
  std::uint64_t steps() const noexcept { return step_; }

  std::uint64_t device_decided = 0;  ///< tokens chosen from the device's candidates or Gumbel-max
  std::uint64_t second_round = 0;    ///< of device_decided, those that needed the logits ≥ τ round
  std::uint64_t fallbacks = 0;       ///< tokens that needed the full logits on the host (device path)

 private:
  std::mt19937_64 engine_;
  std::uint64_t seed_;
  std::uint64_t step_ = 0;
};

/// The last `last_n` tokens of `history` (all of them when it is shorter).
inline std::span<const std::int32_t> recent_window(std::span<const std::int32_t> history, std::uint32_t last_n) {
  return history.last(std::min<std::size_t>(history.size(), last_n));
}

/// The distinct token ids of `recent` inside [0, n_vocab), ascending: the
/// tokens the repetition penalty applies to (each once, however often it
/// occurs).
inline std::vector<std::uint32_t> penalty_ids(std::span<const std::int32_t> recent, std::uint32_t n_vocab) {
  std::vector<std::uint32_t> ids;
  ids.reserve(recent.size());
  for (const std::int32_t t : recent)
    if (t >= 0 && static_cast<std::uint32_t>(t) < n_vocab) ids.push_back(static_cast<std::uint32_t>(t));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

/// The repetition penalty on `logits` in place, for each of the distinct
/// `ids`: l > 0 ? l / penalty : l · penalty, in float arithmetic, as the
/// kernel (kernels/sampling/repetition_penalty.hpp) computes it.
inline void apply_repetition_penalty(std::span<float> logits, std::span<const std::uint32_t> ids, float penalty) {
  for (const std::uint32_t id : ids) {
    if (id >= logits.size()) continue;
    float& l = logits[id];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

/// One candidate token: its logit and id.
struct candidate {
  float logit = 0;
  std::uint32_t index = 0;
};

/// The sampler's order: larger logit first, the smaller id among equal ones.
constexpr bool candidate_before(const candidate& a, const candidate& b) noexcept {
  return a.logit > b.logit || (a.logit == b.logit && a.index < b.index);
}

/// The best logits of a vocabulary of `vocab` tokens, sorted by
/// `candidate_before`, with the softmax normalizer of all of them.
struct candidate_set {
  std::vector<candidate> top;  ///< best first (the whole vocabulary less NaNs when `complete`)
  bool complete = false;       ///< `top` holds every non-NaN logit
  std::uint32_t vocab = 0;     ///< tokens in the vocabulary
  double normalizer = 0;       ///< Σ exp(l − top[0].logit) over every non-NaN logit (temperature 1)
  /// Every token whose logit is ≥ floor is in `top` (−inf when complete;
  /// just above the last candidate for the K best, whose ties at the last
  /// value may be missing; the threshold of a logits_at_least round).
  double floor = std::numeric_limits<double>::infinity();
};

/// Every non-NaN logit of `logits`, sorted (the host reference's candidates;
/// O(n log n)).
inline candidate_set all_candidates(std::span<const float> logits) {
  candidate_set c;
  c.complete = true;
  c.floor = -std::numeric_limits<double>::infinity();
  c.vocab = static_cast<std::uint32_t>(logits.size());
  c.top.reserve(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i])) c.top.push_back({logits[i], static_cast<std::uint32_t>(i)});
  std::sort(c.top.begin(), c.top.end(), candidate_before);
  if (!c.top.empty() && c.top[0].logit != -std::numeric_limits<float>::infinity())
    for (const candidate& x : c.top) c.normalizer += std::exp(double(x.logit) - double(c.top[0].logit));
  return c;
}

/// The global candidates from the output of the top-k candidates kernel
/// (kernels/sampling/top_k_candidates.hpp) run with temperature 1 over
/// `vocab` logits: `value`/`index` hold `k` pairs per threadgroup (empty
/// slots have index 0xFFFFFFFF), `group_max`/`group_sum` one pair per
/// threadgroup. Keeps the best `k` overall; `complete` when `vocab` ≤ k
/// (then every token was a candidate). Throws std::invalid_argument when the
/// sizes disagree.
inline candidate_set merge_candidates(std::span<const float> value, std::span<const std::uint32_t> index,
                                      std::span<const float> group_max, std::span<const float> group_sum,
                                      std::uint32_t k, std::uint32_t vocab) {
  if (value.size() != index.size() || value.size() != group_max.size() * std::size_t{k} ||
      group_max.size() != group_sum.size())
    throw std::invalid_argument("merge_candidates: buffer sizes disagree");
  candidate_set c;
  c.vocab = vocab;
  c.complete = vocab <= k;
  c.top.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i)
    if (index[i] != 0xFFFFFFFFu) c.top.push_back({value[i], index[i]});
  const std::size_t keep = std::min<std::size_t>(k, c.top.size());
  std::partial_sort(c.top.begin(), c.top.begin() + std::ptrdiff_t(keep), c.top.end(), candidate_before);
  c.top.resize(keep);
  if (c.complete)
    c.floor = -std::numeric_limits<double>::infinity();
  else if (!c.top.empty())
    c.floor = std::nextafter(c.top.back().logit, std::numeric_limits<float>::infinity());
  if (!c.top.empty() && c.top[0].logit != -std::numeric_limits<float>::infinity()) {
    const double m = c.top[0].logit;  // the largest group maximum
    for (std::size_t g = 0; g < group_max.size(); ++g)
      if (group_max[g] != -std::numeric_limits<float>::infinity())
        c.normalizer += double(group_sum[g]) * std::exp(double(group_max[g]) - m);
  }
  return c;
}

/// The candidates of a second round (kernels/sampling/logits_at_least.hpp):
/// the first `count` pairs of `value`/`index`, every logit ≥ `threshold`
/// of a vocabulary of `vocab` tokens, and the normalizer of the first round
/// (`first`, whose top[0] is the largest logit). Throws std::invalid_argument
/// when `count` exceeds the pairs given.
inline candidate_set at_least_candidates(std::span<const float> value, std::span<const std::uint32_t> index,
                                         std::size_t count, float threshold, const candidate_set& first) {
  if (count > value.size() || count > index.size())
    throw std::invalid_argument("at_least_candidates: more logits than pairs");
  candidate_set c;
  c.vocab = first.vocab;
  c.floor = threshold;
  c.top.reserve(count);
  for (std::size_t i = 0; i < count; ++i) c.top.push_back({value[i], index[i]});
  std::sort(c.top.begin(), c.top.end(), candidate_before);
  c.complete = count == c.vocab;
  // The same reference logit as the first round's normalizer.
  c.normalizer = c.top.empty() || first.top.empty() ? 0.0
                                                    : first.normalizer * std::exp(double(first.top[0].logit) -
                                                                                  double(c.top[0].logit));
  return c;
}

/// Steps 2-4 of the chain (top-k, top-p, min-p; see the file comment) on
/// the candidates `c`: how many of the first candidates are left, or nothing
/// when the candidates cannot tell and the caller must rerun this on
/// `all_candidates` of the full logits:
///   - top-k off (or ≥ vocab) and top-p on, when the candidates hold less
///     than top_p of the softmax mass (by the exact normalizer);
///   - top-k above the candidates with top-p on (the mass of what top-k
///     keeps is not known);
///   - min-p on and its threshold below `c.floor` (tokens the candidates
///     lack may pass it);
///   - otherwise, when what is left extends beyond the candidates.
/// A complete set always decides. At least 1 unless `c.top` is empty (0).
inline std::optional<std::size_t> candidates_kept(const candidate_set& c, const sampling_params& p) {
  if (c.top.empty()) return c.complete ? std::optional<std::size_t>(0) : std::nullopt;
  const double l0 = c.top[0].logit;
  if (l0 == -std::numeric_limits<double>::infinity()) return 1;  // nothing has any mass: the first
  std::size_t kept = c.top.size();
  // `open`: what is left extends past the candidates; `whole`: what is
  // left is the whole vocabulary (so `normalizer` is its mass).
  bool open = !c.complete, whole = true;
  // 2. top-k
  if (p.top_k > 0 && p.top_k < c.vocab) {
    whole = false;
    if (p.top_k <= kept) {
      kept = p.top_k;
      open = false;
    }
  }
  // 3. top-p, on softmax(l) over what top-k kept: the shortest prefix whose
  // mass reaches top_p.
  if (p.top_p < 1) {
    double mass = 0;
    if (!open) {
      for (std::size_t j = 0; j < kept; ++j) mass += std::exp(double(c.top[j].logit) - l0);
    } else if (whole) {
      mass = c.normalizer;
    } else {
      return std::nullopt;  // top-k keeps more than the candidates: its mass is unknown
    }
    const double target = p.top_p * mass;
    double cum = 0;
    std::size_t j = 0;
    for (; j < kept; ++j) {
      cum += std::exp(double(c.top[j].logit) - l0);
      if (cum >= target) break;
    }
    if (j < kept) {
      kept = j + 1;
      open = false;
    } else if (open && !(p.min_p > 0 && l0 + std::log(p.min_p) >= c.floor)) {
      // The candidates hold less than top_p of the mass. (With a min-p
      // threshold at or above the floor, the prefix holds every candidate
      // and min-p below closes it: decided.)
      return std::nullopt;
    }
  }
  // 4. min-p: l ≥ l_max + ln(min_p), a prefix in this order.
  if (p.min_p > 0) {
    const double threshold = l0 + std::log(p.min_p);
    if (open && threshold < c.floor) return std::nullopt;
    std::size_t j = 1;  // the largest always passes
    while (j < kept && double(c.top[j].logit) >= threshold) ++j;
    kept = j;
    open = false;
  }
  if (open) return std::nullopt;
  return kept;
}

/// Steps 5-6: the token drawn from softmax(l / temperature) over the first
/// `kept` (≥ 1) candidates of `c`, at inverse-CDF point `u` in [0, 1): the
/// first one whose cumulative weight exceeds u · total.
inline std::int32_t draw_candidate(const candidate_set& c, std::size_t kept, double temperature, double u) {
  const double l0 = c.top[0].logit;
  if (l0 == -std::numeric_limits<double>::infinity()) return static_cast<std::int32_t>(c.top[0].index);
  double total = 0;
  for (std::size_t j = 0; j < kept; ++j) total += std::exp((double(c.top[j].logit) - l0) / temperature);
  const double target = u * total;
  double cum = 0;
  for (std::size_t j = 0; j < kept; ++j) {
    cum += std::exp((double(c.top[j].logit) - l0) / temperature);
    if (cum > target) return static_cast<std::int32_t>(c.top[j].index);
  }
  return static_cast<std::int32_t>(c.top[kept - 1].index);  // u · total rounded up to total
}

/// Steps 2-6 on the candidates `c` with inverse-CDF point `u`: the token,
/// or nothing when `candidates_kept` cannot decide (then rerun on
/// `all_candidates` of the full logits with the same `u`). -1 when there is
/// no non-NaN logit. Expects temperature > 0.
inline std::optional<std::int32_t> choose_from_candidates(const candidate_set& c, const sampling_params& p, double u) {
  const std::optional<std::size_t> kept = candidates_kept(c, p);
  if (!kept) return std::nullopt;
  if (*kept == 0) return -1;
  return draw_candidate(c, *kept, p.temperature, u);
}

/// Gumbel-max over all of `logits` on the host: argmax_i (l_i / T + g_i) in
/// double, g_i the Gumbel noise of `key` (kernels/sampling/counter_hash.hpp);
/// ties to the smaller id, NaN skipped; -1 when every logit is NaN. The
/// device computes the same in float (gumbel_argmax.hpp).
inline std::int32_t gumbel_max(std::span<const float> logits, double temperature, kernels::gumbel_key key) {
  std::int32_t best = -1;
  double best_v = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) continue;
    const double u = kernels::gumbel_uniform(kernels::gumbel_bits(key, static_cast<std::uint32_t>(i)));
    const double v = double(logits[i]) / temperature - std::log(-std::log(u));
    if (best < 0 || v > best_v) {
      best = static_cast<std::int32_t>(i);
      best_v = v;
    }
  }
  return best;
}

/// The greedy choice over float logits: the first index of the largest
/// non-NaN value; -1 when there is none.
inline std::int32_t greedy_token(std::span<const float> logits) {
  std::int32_t best = -1;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) continue;
    if (best < 0 || logits[i] > logits[static_cast<std::size_t>(best)]) best = static_cast<std::int32_t>(i);
  }
  return best;
}

/// The whole chain on the host over the full `logits` (one value per token
/// of the vocabulary): the exact reference that the device path must match.
/// `greedy` is the arg-max of `logits` (returned as is when the parameters
/// are greedy without a penalty); `recent` holds the last tokens of the
/// sequence (recent_window). Draws from `state` unless greedy.
inline std::int32_t sample_from_logits(std::span<const float> logits, std::int32_t greedy, const sampling_params& p,
                                       sampling_state& state, std::span<const std::int32_t> recent) {
  if (p.greedy() && !p.penalizes()) return greedy;
  std::vector<float> l(logits.begin(), logits.end());
  if (p.penalizes()) {
    const auto ids = penalty_ids(recent_window(recent, p.repeat_last_n), static_cast<std::uint32_t>(l.size()));
    apply_repetition_penalty(l, ids, static_cast<float>(p.repeat_penalty));
  }
  if (p.greedy()) return greedy_token(l);
  const sampling_state::draw d = state.next();
  if (!p.filters()) return gumbel_max(l, p.temperature, d.key);
  return *choose_from_candidates(all_candidates(l), p, d.u);
}

}  // namespace foundry::generate
