// The sampler chain of sampling.hpp on the device that holds the logits.
//
// Per token, after the decode step has written the logits:
//   penalty      repetition_penalty_f32 on the logits in place (the ids of
//                the window, uploaded: at most repeat_last_n uints)
//   greedy       argmax_f32, two passes                  → 1 index read
//   temperature  gumbel_argmax_f32 + argmax_f32          → 1 index read
//   filters      top_k_candidates_f32 (T = 1)            → groups·64 pairs and
//                                                          groups (max, sum) read
//                then choose_from_candidates on the host; when it cannot
//                decide, logits_at_least_f32 rounds (every logit ≥ τ, τ
//                2, 4, ..., 32 below the 64th candidate, bisected when a
//                round overflows; at most `second_round_capacity` pairs
//                read) until it can, and only when none decides the full
//                logits are read (counted in sampling_state::second_round
//                / fallbacks).
// So in the normal case the host reads a few KiB per token, never the
// vocabulary. The kernels must have been prepared on the executor (the
// decoder prepares `sampling_kernels`); buffers are allocated on first use.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <foundry/foundry.hpp>
#include <kernels/elementwise/argmax.hpp>
#include <kernels/sampling/sampling.hpp>

#include "sampling.hpp"

namespace foundry::generate {

/// The kernels `device_sampler` dispatches (for `executor::prepare`).
using sampling_kernels = type_list<kernels::repetition_penalty_f32, kernels::top_k_candidates_f32,
                                   kernels::gumbel_argmax_f32, kernels::argmax_f32, kernels::logits_at_least_f32>;

/// Runs the sampler chain on the logits of a vocabulary of `n_vocab` tokens
/// held in a device buffer (see the file comment).
class device_sampler {
 public:
  /// Candidates the device keeps (K_max of sampling.hpp).
  static constexpr std::uint32_t candidates = kernels::top_k_candidates_k;
  /// Most logits a second round reads back (64 KiB of pairs).
  static constexpr std::uint32_t second_round_capacity = 8192;

  device_sampler() = default;

  /// The next token after a step whose logits are in `logits` (float
  /// [n_vocab], modified in place by the penalty): `greedy` is the step's
  /// arg-max (returned as is when `p` is greedy without a penalty), `recent`
  /// the last tokens of the sequence. Synchronizes `ex`. Same result as
  /// sample_from_logits on the same logits and state, except where float
  /// rounding of the device's normalizer or Gumbel noise puts two choices
  /// within a few ulp of each other. Throws std::invalid_argument when
  /// n_vocab is 0.
  std::int32_t choose(executor& ex, const buffer& logits, std::uint32_t n_vocab, std::int32_t greedy,
                      const sampling_params& p, sampling_state& state, std::span<const std::int32_t> recent) {
    if (p.greedy() && !p.penalizes()) return greedy;
    if (n_vocab == 0) throw std::invalid_argument("device_sampler: empty vocabulary");
    reserve(ex, n_vocab, p.repeat_last_n);
    if (p.penalizes()) {
      const auto ids = penalty_ids(recent_window(recent, p.repeat_last_n), n_vocab);
      if (!ids.empty()) {
        ids_.write(ids);
        kernels::repetition_penalty_f32::arguments a;
        a.set<"logits">(logits).set<"ids">(ids_).set<"count">(std::uint32_t(ids.size())).set<"n">(n_vocab);
        a.set<"penalty">(static_cast<float>(p.repeat_penalty));
        ex.dispatch<kernels::repetition_penalty_f32>(a);
      }
    }
    if (p.greedy()) {
      kernels::argmax_two_pass(ex, logits, n_vocab, part_value_, part_index_, best_value_, best_index_, chunk);
      ex.synchronize();
      return read_index();
    }
    const sampling_state::draw d = state.next();
    if (!p.filters()) {
      kernels::gumbel_argmax_two_pass(ex, logits, n_vocab, static_cast<float>(p.temperature), d.key, part_value_,
                                      part_index_, best_value_, best_index_, chunk);
      ex.synchronize();
      ++state.device_decided;
      return read_index();
    }
    kernels::top_k_candidates_f32::arguments a;
    a.set<"x">(logits).set<"n">(n_vocab).set<"temperature">(1.0f);
    a.set<"out_value">(cand_value_).set<"out_index">(cand_index_).set<"out_max">(group_max_).set<"out_sum">(group_sum_);
    ex.dispatch<kernels::top_k_candidates_f32>(a);
    ex.synchronize();
    const auto value = cand_value_.read<float>();
    const auto index = cand_index_.read<std::uint32_t>();
    const auto gmax = group_max_.read<float>();
    const auto gsum = group_sum_.read<float>();
    const candidate_set c = merge_candidates(value, index, gmax, gsum, candidates, n_vocab);
    if (const auto token = choose_from_candidates(c, p, d.u)) {
      ++state.device_decided;
      return *token;
    }
    if (const auto token = second_round(ex, logits, n_vocab, c, p, d.u)) {
      ++state.device_decided;
      ++state.second_round;
      return *token;
    }
    ++state.fallbacks;
    const auto all = logits.read<float>();
    return *choose_from_candidates(all_candidates(std::span<const float>(all).first(n_vocab)), p, d.u);
  }

 private:
  static constexpr std::uint32_t chunk = 4096;  // arg-max passes' chunk

  // Rounds of logits_at_least_f32 below the first round's candidates `c`
  // (see the file comment): thresholds 2, 4, ..., 32 below the last
  // candidate until the chain decides; when a round overflows
  // `second_round_capacity`, bisection between it and the last round that
  // was too small (3 more rounds at most). The token, or nothing when no
  // round decides.
  std::optional<std::int32_t> second_round(executor& ex, const buffer& logits, std::uint32_t n_vocab,
                                           const candidate_set& c, const sampling_params& p, double u) {
    if (c.top.empty()) return std::nullopt;
    const double last = c.top.back().logit;
    double short_gap = 0, long_gap = 0;  // last gap too small to decide, first that overflowed
    for (double gap = 2; gap <= 32 && long_gap == 0; gap *= 2) {
      const round r = at_least_round(ex, logits, n_vocab, static_cast<float>(last - gap), c, p, u);
      if (r.token) return r.token;
      (r.overflow ? long_gap : short_gap) = gap;
    }
    for (int i = 0; i < 3 && long_gap > 0; ++i) {
      const double gap = (short_gap + long_gap) / 2;
      const round r = at_least_round(ex, logits, n_vocab, static_cast<float>(last - gap), c, p, u);
      if (r.token) return r.token;
      (r.overflow ? long_gap : short_gap) = gap;
    }
    return std::nullopt;
  }

  struct round {
    std::optional<std::int32_t> token;  ///< decided
    bool overflow = false;              ///< more logits ≥ τ than the capacity
  };

  // One logits_at_least_f32 round at `threshold`, decided on the host.
  round at_least_round(executor& ex, const buffer& logits, std::uint32_t n_vocab, float threshold,
                       const candidate_set& c, const sampling_params& p, double u) {
    at_least_count_.fill_bytes(0);
    kernels::logits_at_least_f32::arguments a;
    a.set<"x">(logits).set<"n">(n_vocab).set<"threshold">(threshold).set<"capacity">(second_round_capacity);
    a.set<"out_value">(at_least_value_).set<"out_index">(at_least_index_).set<"count">(at_least_count_);
    ex.dispatch<kernels::logits_at_least_f32>(a);
    ex.synchronize();
    const std::uint32_t count = at_least_count_.read<std::uint32_t>()[0];
    if (count > second_round_capacity) return {std::nullopt, true};
    const auto value = at_least_value_.read<float>();
    const auto index = at_least_index_.read<std::uint32_t>();
    return {choose_from_candidates(at_least_candidates(value, index, count, threshold, c), p, u), false};
  }

  void reserve(executor& ex, std::uint32_t n_vocab, std::uint32_t window) {
    if (n_vocab != n_vocab_) {
      n_vocab_ = n_vocab;
      const std::uint32_t argmax_groups = (n_vocab - 1) / chunk + 1;
      part_value_ = ex.allocate<float>(argmax_groups);
      part_index_ = ex.allocate<std::uint32_t>(argmax_groups);
      best_value_ = ex.allocate<float>(1);
      best_index_ = ex.allocate<std::uint32_t>(1);
      const std::uint32_t groups = (n_vocab - 1) / kernels::top_k_candidates_chunk + 1;
      cand_value_ = ex.allocate<float>(std::size_t{groups} * candidates);
      cand_index_ = ex.allocate<std::uint32_t>(std::size_t{groups} * candidates);
      group_max_ = ex.allocate<float>(groups);
      group_sum_ = ex.allocate<float>(groups);
      at_least_value_ = ex.allocate<float>(second_round_capacity);
      at_least_index_ = ex.allocate<std::uint32_t>(second_round_capacity);
      at_least_count_ = ex.allocate<std::uint32_t>(1);
    }
    if (window > ids_capacity_) {
      ids_capacity_ = window;
      ids_ = ex.allocate<std::uint32_t>(window);
    }
  }

  std::int32_t read_index() const { return static_cast<std::int32_t>(best_index_.read<std::uint32_t>()[0]); }

  std::uint32_t n_vocab_ = 0, ids_capacity_ = 0;
  buffer part_value_, part_index_, best_value_, best_index_;
  buffer cand_value_, cand_index_, group_max_, group_sum_;
  buffer at_least_value_, at_least_index_, at_least_count_;
  buffer ids_;
};

}  // namespace foundry::generate
