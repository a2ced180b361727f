// The host side of sampling (examples/generate/sampling.hpp) and stop
// strings (examples/generate/stop_strings.hpp): option validation, the
// support each filter keeps (every token's membership checked), the
// distribution of many draws, seeds, the decisions on partial candidate
// sets that make the device path fall back, and streamed stop strings.
//
// Frequency bounds: N draws of a token of probability p give a binomial
// count with standard deviation σ = sqrt(N p (1 − p)); the tests accept
// |count − N p| ≤ 5σ + 1. A correct sampler fails one such check with
// probability below 1e-6 (so the few dozen checks here practically never
// fail by chance; the generator is seeded, so a run is reproducible anyway),
// while an error of the size of a wrong temperature, a missing
// renormalization or an off-by-one support moves counts by tens of σ at
// N = 200000.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "examples/generate/sampling.hpp"
#include "examples/generate/stop_strings.hpp"

namespace gen = foundry::generate;
namespace fk = foundry::kernels;

namespace {

gen::sampling_params make(double temperature, std::uint32_t top_k = 0, double top_p = 1, double min_p = 0) {
  gen::sampling_params p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  return p;
}

// --- options -------------------------------------------------------------------------

void expect_rejected(const gen::sampling_params& p, const std::string& option) {
  try {
    p.validate();
    ADD_FAILURE() << "accepted an invalid " << option;
  } catch (const gen::sampling_error& e) {
    EXPECT_EQ(e.option(), option);
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
  }
}

TEST(SamplingParams, InvalidValuesNameTheOption) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const double t : {-0.1, nan, inf}) {
    auto p = make(t);
    expect_rejected(p, "--temperature");
  }
  for (const double v : {-0.01, 1.01, nan}) {
    auto p = make(1);
    p.top_p = v;
    expect_rejected(p, "--top-p");
    p = make(1);
    p.min_p = v;
    expect_rejected(p, "--min-p");
  }
  for (const double v : {0.0, -1.0, nan, inf}) {
    auto p = make(1);
    p.repeat_penalty = v;
    expect_rejected(p, "--repeat-penalty");
  }
  EXPECT_THROW(gen::stop_matcher({"ok", ""}), gen::sampling_error);
}

TEST(SamplingParams, BoundaryValuesAreAccepted) {
  auto p = make(0, 0, 0, 1);
  EXPECT_NO_THROW(p.validate());
  p = make(100, 1000000, 1, 0);
  p.repeat_penalty = 0.5;
  p.repeat_last_n = 0;
  EXPECT_NO_THROW(p.validate());
  EXPECT_TRUE(make(0).greedy());
  EXPECT_FALSE(make(0).filters());
  EXPECT_TRUE(make(1, 0, 0.99).filters());
  EXPECT_FALSE(p.penalizes());  // last_n 0 turns the penalty off
}

// --- the support of each filter --------------------------------------------------------

// Probabilities 0.4, 0.3, 0.2, 0.1 (as logits, in a scrambled order) plus
// two tokens of probability 0.
const std::vector<float> kQuarterLogits = {std::log(0.2f), -std::numeric_limits<float>::infinity(), std::log(0.4f),
                                           std::log(0.1f), std::log(0.3f), -std::numeric_limits<float>::infinity()};

std::set<std::uint32_t> support(const std::vector<float>& logits, const gen::sampling_params& p) {
  const gen::candidate_set c = gen::all_candidates(logits);
  const auto kept = gen::candidates_kept(c, p);
  EXPECT_TRUE(kept.has_value()) << "a complete set always decides";
  std::set<std::uint32_t> s;
  for (std::size_t j = 0; j < kept.value_or(0); ++j) s.insert(c.top[j].index);
  return s;
}

TEST(Filters, KeepExactlyTheRightTokens) {
  using S = std::set<std::uint32_t>;
  // Token ids by probability: 0.4 → 2, 0.3 → 4, 0.2 → 0, 0.1 → 3.
  EXPECT_EQ(support(kQuarterLogits, make(1)), (S{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 1)), (S{2}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 3)), (S{2, 4, 0}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 6)), (S{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.35)), (S{2}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.45)), (S{2, 4}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.75)), (S{2, 4, 0}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.95)), (S{2, 4, 0, 3}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.0)), (S{2}));
  // top-p over what top-k kept, renormalized: 0.4/0.9, 0.3/0.9 = 0.78 ≥ 0.75.
  EXPECT_EQ(support(kQuarterLogits, make(1, 3, 0.75)), (S{2, 4}));
  EXPECT_EQ(support(kQuarterLogits, make(1, 3, 0.8)), (S{2, 4, 0}));
  // min-p relative to the largest probability 0.4.
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 1, 0.45)), (S{2, 4, 0}));   // ≥ 0.18
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 1, 0.55)), (S{2, 4}));      // ≥ 0.22
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 1, 0.2)), (S{2, 4, 0, 3}));  // ≥ 0.08
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 1, 1.0)), (S{2}));
  // The chain: top-p 0.95 keeps 4, then min-p 0.6 (≥ 0.24) keeps 2.
  EXPECT_EQ(support(kQuarterLogits, make(1, 0, 0.95, 0.6)), (S{2, 4}));
  // The temperature does not change the support (it comes last).
  EXPECT_EQ(support(kQuarterLogits, make(0.1, 0, 0.45)), (S{2, 4}));
}

// Equal logits: top-k keeps the smaller ids.
TEST(Filters, TiesKeepTheSmallerIds) {
  const std::vector<float> x = {1, 3, 3, 2, 3, 3};
  EXPECT_EQ(support(x, make(1, 2)), (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(support(x, make(1, 3)), (std::set<std::uint32_t>{1, 2, 4}));
}

// Every token drawn over a fine grid of u lies in the support, and every
// token of the support is drawn.
TEST(Filters, DrawsCoverExactlyTheSupport) {
  for (const auto& p : {make(0.7, 3), make(1.5, 0, 0.75), make(1, 0, 1, 0.45), make(2, 4, 0.95, 0.3)}) {
    const std::set<std::uint32_t> want = support(kQuarterLogits, p);
    std::set<std::uint32_t> drawn;
    const gen::candidate_set c = gen::all_candidates(kQuarterLogits);
    for (int i = 0; i < 10000; ++i) drawn.insert(std::uint32_t(*gen::choose_from_candidates(c, p, (i + 0.5) / 10000)));
    EXPECT_EQ(drawn, want);
  }
}

// --- distributions ----------------------------------------------------------------------

/// Expected probabilities: softmax(l / T) over `keep` (ids), 0 elsewhere.
std::vector<double> softmax_over(const std::vector<float>& logits, const std::set<std::uint32_t>& keep, double t) {
  std::vector<double> p(logits.size(), 0.0);
  double m = -std::numeric_limits<double>::infinity(), s = 0;
  for (const auto i : keep) m = std::max(m, double(logits[i]));
  for (const auto i : keep) s += p[i] = std::exp((logits[i] - m) / t);
  for (auto& v : p) v /= s;
  return p;
}

void expect_frequencies(const std::vector<float>& logits, const gen::sampling_params& p, const std::vector<double>& prob) {
  constexpr int N = 200000;
  gen::sampling_state st(p.seed);
  std::vector<int> count(logits.size(), 0);
  const std::int32_t greedy = gen::greedy_token(logits);
  for (int i = 0; i < N; ++i) {
    const std::int32_t t = gen::sample_from_logits(logits, greedy, p, st, {});
    ASSERT_GE(t, 0);
    ASSERT_LT(std::size_t(t), logits.size());
    ++count[std::size_t(t)];
  }
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double mean = N * prob[i], sigma = std::sqrt(N * prob[i] * (1 - prob[i]));
    EXPECT_LE(std::fabs(count[i] - mean), 5 * sigma + 1) << "token " << i << ": " << count[i] << " draws, expected "
                                                         << mean << " ± " << sigma;
  }
}

const std::vector<float> kSix = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 1.0f};

TEST(Distribution, TopKAndTemperature) {
  auto p = make(0.7, 4);
  p.seed = 11;
  expect_frequencies(kSix, p, softmax_over(kSix, {1, 3, 5, 0}, 0.7));
}

TEST(Distribution, TopPMinPAndTemperature) {
  // At T = 1 the probabilities are .094 .420 .021 .255 .057 .154 (sorted: 1,
  // 3, 5, 0, 4, 2). top-p 0.7 keeps 1, 3, 5 (cumulative .420, .674, then
  // .829); min-p 0.3 (≥ 0.3 · .420 = .126) keeps the same three.
  auto p = make(1.8, 0, 0.7);
  p.seed = 12;
  expect_frequencies(kSix, p, softmax_over(kSix, {1, 3, 5}, 1.8));
  p = make(1.8, 0, 1, 0.3);
  p.seed = 13;
  expect_frequencies(kSix, p, softmax_over(kSix, {1, 3, 5}, 1.8));
}

// Temperature only: Gumbel-max with the counter hash.
TEST(Distribution, GumbelMaxIsSoftmax) {
  for (const double t : {0.5, 1.0, 3.0}) {
    auto p = make(t);
    p.seed = 14;
    expect_frequencies(kSix, p, softmax_over(kSix, {0, 1, 2, 3, 4, 5}, t));
  }
}

// The penalty: the last tokens' logits divided (positive) or multiplied
// (negative) by 2 before the draw.
TEST(Distribution, RepetitionPenalty) {
  auto p = make(1.0, 0, 1, 0);
  p.repeat_penalty = 2;
  p.repeat_last_n = 2;
  p.seed = 15;
  const std::vector<std::int32_t> recent = {2, 1, 1, 1, 3, 2};  // last 2: 3, 2
  std::vector<float> penalized = kSix;
  penalized[3] /= 2;  // 1.5 → 0.75
  penalized[2] *= 2;  // −1 → −2
  gen::sampling_state st(p.seed);
  constexpr int N = 200000;
  std::vector<int> count(6, 0);
  for (int i = 0; i < N; ++i) ++count[std::size_t(gen::sample_from_logits(kSix, 1, p, st, recent))];
  const auto prob = softmax_over(penalized, {0, 1, 2, 3, 4, 5}, 1.0);
  for (std::size_t i = 0; i < 6; ++i)
    EXPECT_LE(std::fabs(count[i] - N * prob[i]), 5 * std::sqrt(N * prob[i] * (1 - prob[i])) + 1) << "token " << i;
  // Greedy with a penalty: token 1 (2.0) stays; penalizing it (→ 1.0) makes 3 (1.5) the arg-max.
  auto g = make(0);
  g.repeat_penalty = 2;
  EXPECT_EQ(gen::sample_from_logits(kSix, 1, g, st, std::vector<std::int32_t>{}), 1);
  EXPECT_EQ(gen::sample_from_logits(kSix, 1, g, st, std::vector<std::int32_t>{1, 1}), 3);
}

// u: (x >> 11) · 2^-53 lies in [0, 1) and uses the top bits.
TEST(Distribution, UnitInterval) {
  EXPECT_EQ(gen::unit_interval(0), 0.0);
  EXPECT_LT(gen::unit_interval(~0ull), 1.0);
  EXPECT_EQ(gen::unit_interval(1ull << 63), 0.5);
  EXPECT_EQ(gen::unit_interval(2047), 0.0);  // the low 11 bits are dropped
}

// The Gumbel noise's uniforms: 64 bins of 1M counter values.
TEST(Distribution, CounterHashIsUniform) {
  constexpr int N = 1 << 20, B = 64;
  std::vector<int> bins(B, 0);
  const fk::gumbel_key key = fk::gumbel_key_for(99, 7);
  for (std::uint32_t i = 0; i < N; ++i) {
    const double u = fk::gumbel_uniform(fk::gumbel_bits(key, i));
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    ++bins[std::size_t(u * B)];
  }
  const double mean = double(N) / B, sigma = std::sqrt(N * (1.0 / B) * (1 - 1.0 / B));
  for (int b = 0; b < B; ++b) EXPECT_LE(std::fabs(bins[std::size_t(b)] - mean), 5 * sigma) << "bin " << b;
  // u is exact in float (the device computes it in float).
  for (const std::uint32_t bits : {0u, 1u, 0xFFFFFFFFu, 0x80000000u, 0x12345678u}) {
    const double u = fk::gumbel_uniform(bits);
    EXPECT_EQ(double(float(u)), u);
  }
}

// --- seeds -------------------------------------------------------------------------------

std::vector<std::int32_t> sequence(const gen::sampling_params& p, const std::vector<float>& logits, int n) {
  gen::sampling_state st(p.seed);
  std::vector<std::int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(gen::sample_from_logits(logits, gen::greedy_token(logits), p, st, out));
  return out;
}

TEST(Seeds, SameSeedSameTokensOtherSeedOthers) {
  std::vector<float> logits(1000);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(double(i)) * 2);  // fixed, spread out
  for (auto p : {make(1.0), make(0.8, 40, 0.95), make(1.2, 0, 0.9, 0.01)}) {
    p.repeat_penalty = 1.1;
    p.seed = 42;
    const auto a = sequence(p, logits, 50), b = sequence(p, logits, 50);
    EXPECT_EQ(a, b);
    p.seed = 43;
    EXPECT_NE(sequence(p, logits, 50), a);
  }
  // The generator's output is fixed by the standard: the first u of seed 42.
  gen::sampling_state st(42);
  EXPECT_EQ(st.next().u, gen::unit_interval(std::mt19937_64(42)()));
  EXPECT_EQ(st.steps(), 1u);
}

// --- partial candidate sets (what the device returns) -------------------------------------

/// Candidates: the top `k` of `logits` merged the way the device's are (one
/// group), with the exact normalizer.
gen::candidate_set partial(const std::vector<float>& logits, std::uint32_t k) {
  gen::candidate_set all = gen::all_candidates(logits), c;
  c.vocab = std::uint32_t(logits.size());
  c.complete = false;
  c.normalizer = all.normalizer;
  c.top.assign(all.top.begin(), all.top.begin() + k);
  c.floor = std::nextafter(c.top.back().logit, std::numeric_limits<float>::infinity());
  return c;
}

TEST(Candidates, DecideOrAskForTheFullLogits) {
  // Probabilities ∝ 8, 4, 2, 1, 1, 1, 1, 1, 1, 1 (sum 21); candidates: the top 3.
  std::vector<float> x = {std::log(8.f), std::log(4.f), std::log(2.f)};
  x.resize(10, 0.0f);
  const gen::candidate_set c = partial(x, 3);
  auto kept = [&](const gen::sampling_params& p) { return gen::candidates_kept(c, p); };
  EXPECT_EQ(kept(make(1, 2)), 2u);                         // top-k within the candidates
  const std::optional<std::size_t> undecided;
  EXPECT_EQ(kept(make(1, 2)), 2u);                       // top-k within the candidates
  EXPECT_EQ(kept(make(1, 3, 0.6)), 2u);                  // of 14: 8 < 8.4, 12 ≥ 8.4
  EXPECT_EQ(kept(make(1, 3, 0.5)), 1u);                  // of 14: 8 ≥ 7
  EXPECT_EQ(kept(make(1, 0, 0.55)), 2u);                 // of 21: 8, 12 ≥ 11.55
  EXPECT_EQ(kept(make(1, 0, 0.65)), 3u);                 // of 21: 12, 14 ≥ 13.65
  EXPECT_EQ(kept(make(1, 0, 0.75)), undecided);          // the candidates hold 14/21 < 0.75
  EXPECT_EQ(kept(make(1, 5, 0.5)), undecided);           // top-k past the candidates: its mass is unknown
  EXPECT_EQ(kept(make(1, 0, 1, 0.2)), undecided);        // ≥ 1.6: the 3rd (2) passes, so more may
  EXPECT_EQ(kept(make(1, 0, 1, 0.3)), 2u);               // ≥ 2.4: the 3rd fails
  EXPECT_EQ(kept(make(1, 5, 1, 0.3)), 2u);               // min-p closes a longer top-k
  EXPECT_EQ(kept(make(1, 5)), undecided);                // the draw needs 5 tokens
  EXPECT_EQ(kept(make(1)), undecided);                   // the draw needs all 10
  EXPECT_EQ(kept(make(1, 0, 0.75, 0.3)), 2u);            // top-p open, min-p (≥ 2.4) closes it
  EXPECT_EQ(kept(make(1, 0, 0.75, 0.2)), undecided);     // top-p open, min-p (≥ 1.6) may reach past
  // The full logits decide, with the same answer the candidates give where they can.
  const gen::candidate_set all = gen::all_candidates(x);
  EXPECT_EQ(gen::candidates_kept(all, make(1, 0, 0.75)), 5u);  // 15 < 15.75 ≤ 16
  EXPECT_EQ(gen::candidates_kept(all, make(1, 0, 1, 0.2)), 3u);
  EXPECT_EQ(gen::candidates_kept(all, make(1, 0, 1, 0.1)), 10u);
  EXPECT_EQ(gen::candidates_kept(all, make(1, 0, 0.75, 0.3)), 2u);
  for (const auto& p : {make(0.9, 2), make(1.1, 0, 0.55), make(1.3, 5, 1, 0.3), make(0.5, 3, 0.6)})
    for (double u = 0.005; u < 1; u += 0.01)
      EXPECT_EQ(gen::choose_from_candidates(c, p, u), gen::choose_from_candidates(all, p, u)) << "u " << u;
}

// A second round's set (every logit ≥ τ) decides what the K best could not,
// exactly as the full logits do, as long as τ is low enough for the filter.
TEST(Candidates, SecondRoundSetsDecideBelowTheirFloor) {
  std::vector<float> x = {std::log(8.f), std::log(4.f), std::log(2.f)};
  x.resize(10, 0.0f);
  const gen::candidate_set first = partial(x, 2), all = gen::all_candidates(x);
  auto at_least = [&](float threshold) {
    std::vector<float> v;
    std::vector<std::uint32_t> i;
    for (std::uint32_t t = 9; t < 10; --t)  // any order: the set sorts itself
      if (x[t] >= threshold) v.push_back(x[t]), i.push_back(t);
    return gen::at_least_candidates(v, i, v.size(), threshold, first);
  };
  const std::optional<std::size_t> undecided;
  const gen::candidate_set three = at_least(0.3f), ten = at_least(-1.0f);
  ASSERT_EQ(three.top.size(), 3u);
  EXPECT_EQ(three.top[0].index, 0u);
  EXPECT_NEAR(three.normalizer, all.normalizer, 1e-12);
  EXPECT_EQ(gen::candidates_kept(three, make(1, 0, 1, 0.2)), 3u);   // ≥ 1.6 ⇔ l ≥ 0.47 > τ = 0.3
  EXPECT_EQ(gen::candidates_kept(three, make(1, 0, 1, 0.1)), undecided);  // ≥ 0.8 ⇔ l ≥ −0.22 < τ
  EXPECT_EQ(gen::candidates_kept(three, make(1, 0, 0.6)), 3u);      // of 21: 8, 12 < 12.6 ≤ 14
  EXPECT_TRUE(ten.complete);
  for (const auto& p : {make(1, 0, 0.75), make(1, 0, 1, 0.1), make(1, 7, 0.9), make(0.7)})
    EXPECT_EQ(gen::candidates_kept(ten, p), gen::candidates_kept(all, p));
}

// merge_candidates: the best k of several groups, empty slots dropped, and
// the normalizer rescaled to the global maximum.
TEST(Candidates, MergeOfGroups) {
  const std::vector<float> value = {5, 1, -std::numeric_limits<float>::infinity(), 7, 5, 2};
  const std::vector<std::uint32_t> index = {10, 11, 0xFFFFFFFFu, 3, 4, 5};
  const std::vector<float> gmax = {5, 7}, gsum = {1.5f, 2.0f};
  const gen::candidate_set c = gen::merge_candidates(value, index, gmax, gsum, 3, 100);
  ASSERT_EQ(c.top.size(), 3u);
  EXPECT_EQ(c.top[0].index, 3u);
  EXPECT_EQ(c.top[1].index, 4u);   // 5 at id 4 before 5 at id 10
  EXPECT_EQ(c.top[2].index, 10u);
  EXPECT_FALSE(c.complete);
  EXPECT_NEAR(c.normalizer, 1.5 * std::exp(-2.0) + 2.0, 1e-12);
  EXPECT_THROW(gen::merge_candidates(value, index, gmax, gsum, 4, 100), std::invalid_argument);
  EXPECT_EQ(gen::penalty_ids(std::vector<std::int32_t>{5, -1, 3, 5, 99, 3}, 10), (std::vector<std::uint32_t>{3, 5}));
}

// --- stop strings ---------------------------------------------------------------------------

std::string stream(gen::stop_matcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) {
    out += m.push(p);
    if (m.stopped()) return out;
  }
  return out + m.flush();
}

TEST(StopStrings, FoundAcrossPiecesAndNotPrinted) {
  gen::stop_matcher a({"\nUser:"});
  EXPECT_EQ(stream(a, {"Hello", " there\nUs", "er: more"}), "Hello there");
  EXPECT_TRUE(a.stopped());
  EXPECT_EQ(a.matched(), "\nUser:");
  EXPECT_EQ(a.push("late"), "");

  gen::stop_matcher b({"aab"});  // an overlapping prefix: "aaab" holds "aa", finds "aab"
  EXPECT_EQ(b.push("a"), "");
  EXPECT_EQ(b.push("a"), "");
  EXPECT_EQ(b.push("a"), "a");
  EXPECT_EQ(b.push("bc"), "");
  EXPECT_TRUE(b.stopped());

  gen::stop_matcher c({"END", "stop"});  // the one starting first wins
  EXPECT_EQ(stream(c, {"go stop and END"}), "go ");
  EXPECT_EQ(c.matched(), "stop");

  gen::stop_matcher d({"xyz"});  // a held-back prefix that does not complete
  EXPECT_EQ(d.push("abcx"), "abc");
  EXPECT_EQ(d.push("y"), "");
  EXPECT_EQ(d.flush(), "xy");
  EXPECT_FALSE(d.stopped());

  gen::stop_matcher none;
  EXPECT_EQ(stream(none, {"any", "thing"}), "anything");
}

}  // namespace
