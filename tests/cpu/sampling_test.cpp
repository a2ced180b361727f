// The sampling kernels (kernels/sampling/) and the device sampler
// (examples/generate/device_sampler.hpp) against host references, on fresh
// random logits of odd sizes (1, 7, 4097 and the vocabulary plus 5).
//
// Exactness: the penalty is one float division or multiplication per token,
// so the result must equal the host's bit for bit. The candidates are a
// selection, so values and indices must be exactly the reference sort's;
// the per-chunk normalizer sums ≤ 4096 float exp terms (each within a few
// ulp; 16 per thread, then SIMD-group trees): relative error ≤ 1e-5. The
// Gumbel noise is the same 24-bit u on every target, and −log(−log u) is
// float math: within 2e-6 (relative, or absolute near 0) of the host's
// double. Sampled tokens must equal the host reference's for the same seed;
// where a Gumbel perturbed maximum is within float rounding of the runner-up
// either token is accepted (and counted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <foundry/foundry.hpp>
#include <kernels/elementwise/argmax.hpp>
#include <kernels/sampling/sampling.hpp>

#include "examples/generate/device_sampler.hpp"
#include "examples/generate/sampling.hpp"
#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace gen = foundry::generate;

namespace {

using foundry_test::exec;

constexpr float kInf = std::numeric_limits<float>::infinity();
// Odd sizes: one element, less than a SIMD-group, one past a 4096 chunk, and
// SmolLM2's vocabulary plus 5 (a partial last chunk).
const std::uint32_t kSizes[] = {1, 7, 4097, 49152 + 5};

std::vector<float> normal_logits(std::mt19937_64& g, std::size_t n, double sigma) {
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(d(g));
  return v;
}

// --- repetition penalty ---------------------------------------------------------

void check_penalty(const std::vector<float>& logits, const std::vector<std::uint32_t>& ids, float penalty) {
  auto& ex = exec();
  const auto n = static_cast<std::uint32_t>(logits.size());
  std::vector<float> guarded = logits;
  guarded.push_back(-1234.5f);  // a guard element past n: never touched
  fd::buffer lb = ex.upload(guarded), ib = ex.upload(ids);
  fk::repetition_penalty_f32::arguments a;
  a.set<"logits">(lb).set<"ids">(ib).set<"count">(std::uint32_t(ids.size())).set<"n">(n).set<"penalty">(penalty);
  ex.dispatch<fk::repetition_penalty_f32>(a);
  const auto out = lb.read<float>();
  // Reference: each distinct id < n once, in float.
  std::vector<float> want = logits;
  std::vector<bool> seen(n, false);
  for (const std::uint32_t id : ids) {
    if (id >= n || seen[id]) continue;
    seen[id] = true;
    want[id] = want[id] > 0.0f ? want[id] / penalty : want[id] * penalty;
  }
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(out[i], want[i]) << "token " << i;
  EXPECT_EQ(out[n], -1234.5f) << "guard element";
}

TEST(RepetitionPenalty, MatchesHostOnOddSizes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const std::uint32_t n : kSizes)
    for (const std::uint32_t count : {1u, 5u, 64u, 300u}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " count=" + std::to_string(count));
      auto logits = foundry_test::random_vector<float>(g, n, -10, 10);
      logits[0] = 0.0f;  // zero stays zero either way
      // Ids from a range a little wider than n: some out of the vocabulary.
      auto ids = foundry_test::random_vector<std::uint32_t>(g, count, 0, n + n / 8 + 2);
      for (const float penalty : {1.3f, 0.7f}) check_penalty(logits, ids, penalty);
      // The host helper's ids (distinct, in range) give the same result.
      std::vector<std::int32_t> recent(ids.begin(), ids.end());
      const auto distinct = gen::penalty_ids(recent, n);
      std::vector<float> host = logits;
      gen::apply_repetition_penalty(host, distinct, 1.3f);
      std::vector<float> want = logits;
      std::vector<bool> seen(n, false);
      for (const std::uint32_t id : ids)
        if (id < n && !seen[id]) {
          seen[id] = true;
          want[id] = want[id] > 0.0f ? want[id] / 1.3f : want[id] * 1.3f;
        }
      EXPECT_EQ(host, want);
    }
}

// An id repeated many times is penalized once, wherever its copies sit
// (several threadgroups of 64 threads).
TEST(RepetitionPenalty, RepeatedIdsArePenalizedOnce) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto logits = foundry_test::random_vector<float>(g, 1000, -5, 5);
  logits[17] = 4.0f;
  logits[900] = -4.0f;
  std::vector<std::uint32_t> ids(500, 17u);
  for (std::size_t i = 0; i < ids.size(); i += 3) ids[i] = 900u;
  ids.back() = 5000u;  // outside the vocabulary: ignored
  check_penalty(logits, ids, 2.0f);
  auto& ex = exec();
  fd::buffer lb = ex.upload(logits), ib = ex.upload(ids);
  fk::repetition_penalty_f32::arguments a;
  a.set<"logits">(lb).set<"ids">(ib).set<"count">(std::uint32_t(ids.size())).set<"n">(1000u).set<"penalty">(2.0f);
  ex.dispatch<fk::repetition_penalty_f32>(a);
  const auto out = lb.read<float>();
  EXPECT_EQ(out[17], 2.0f);
  EXPECT_EQ(out[900], -8.0f);
}

// --- top-k candidates ------------------------------------------------------------

/// Runs candidates kernel `Kernel` (K candidates per chunk of `Chunk`) on x
/// with poisoned outputs and checks every group against a sorted float64
/// reference; stores the merged candidate set in `merged` when given.
template <class Kernel, std::uint32_t K, std::uint32_t Chunk>
void check_candidates(const std::vector<float>& x, float temperature, gen::candidate_set* merged = nullptr) {
  auto& ex = exec();
  const auto n = static_cast<std::uint32_t>(x.size());
  const std::uint32_t groups = (n + Chunk - 1) / Chunk;
  fd::buffer xb = ex.upload(x);
  fd::buffer vb = ex.upload(foundry_test::poisoned<float>(std::size_t{groups} * K));
  fd::buffer ib = ex.upload(foundry_test::poisoned<std::uint32_t>(std::size_t{groups} * K));
  fd::buffer mb = ex.upload(foundry_test::poisoned<float>(groups));
  fd::buffer sb = ex.upload(foundry_test::poisoned<float>(groups));
  typename Kernel::arguments a;
  a.template set<"x">(xb).template set<"n">(n).template set<"temperature">(temperature);
  a.template set<"out_value">(vb).template set<"out_index">(ib).template set<"out_max">(mb).template set<"out_sum">(sb);
  ex.template dispatch<Kernel>(a);
  const auto value = vb.read<float>();
  const auto index = ib.read<std::uint32_t>();
  const auto gmax = mb.read<float>();
  const auto gsum = sb.read<float>();
  for (std::uint32_t g = 0; g < groups; ++g) {
    SCOPED_TRACE("group " + std::to_string(g));
    const std::uint32_t lo = g * Chunk, hi = std::min(n, lo + Chunk);
    std::vector<gen::candidate> ref;
    for (std::uint32_t i = lo; i < hi; ++i)
      if (!std::isnan(x[i])) ref.push_back({x[i], i});
    std::sort(ref.begin(), ref.end(), gen::candidate_before);
    for (std::uint32_t r = 0; r < K; ++r) {
      const std::size_t slot = std::size_t{g} * K + r;
      if (r < ref.size()) {
        ASSERT_EQ(index[slot], ref[r].index) << "rank " << r;
        ASSERT_EQ(value[slot], ref[r].logit) << "rank " << r;
      } else {
        ASSERT_EQ(index[slot], 0xFFFFFFFFu) << "empty slot " << r;
        ASSERT_EQ(value[slot], -kInf) << "empty slot " << r;
      }
    }
    if (ref.empty() || ref[0].logit == -kInf) {
      EXPECT_EQ(gmax[g], -kInf);
      EXPECT_EQ(gsum[g], 0.0f);
    } else {
      EXPECT_EQ(gmax[g], ref[0].logit);
      double s = 0;
      for (const auto& c : ref) s += std::exp((double(c.logit) - ref[0].logit) / temperature);
      EXPECT_NEAR(gsum[g], s, 1e-5 * s);
    }
  }
  if (merged) *merged = gen::merge_candidates(value, index, gmax, gsum, K, n);
}

using library_candidates = fk::top_k_candidates_f32;
// A small variant: K larger than a 256-element chunk of one SIMD-group (so
// most slots of a partial chunk are empty), and many threadgroups.
using wide_candidates = fk::top_k_candidates_kernel<"top_k_candidates_test_k300", 300, 32, 8>;
// Several SIMD-groups of 2 elements per thread, K = 8.
using narrow_candidates = fk::top_k_candidates_kernel<"top_k_candidates_test_k8", 8, 128, 2>;

TEST(TopKCandidates, MatchesSortedReferenceOnOddSizes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const std::uint32_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto x = normal_logits(g, n, 4.0);
    for (const float t : {1.0f, 0.7f}) {
      gen::candidate_set c;
      check_candidates<library_candidates, 64, 4096>(x, t, &c);
      check_candidates<wide_candidates, 300, 256>(x, t);
      check_candidates<narrow_candidates, 8, 256>(x, t);
      if (t != 1.0f) continue;
      // The merged set: the global top 64 and the exact normalizer.
      const gen::candidate_set all = gen::all_candidates(x);
      ASSERT_EQ(c.top.size(), std::min<std::size_t>(64, n));
      for (std::size_t r = 0; r < c.top.size(); ++r) {
        ASSERT_EQ(c.top[r].index, all.top[r].index) << "rank " << r;
        ASSERT_EQ(c.top[r].logit, all.top[r].logit) << "rank " << r;
      }
      EXPECT_EQ(c.complete, n <= 64);
      EXPECT_NEAR(c.normalizer, all.normalizer, 1e-5 * all.normalizer);
    }
  }
}

// Ties go to the smaller index; NaN is never a candidate nor in the sum;
// −inf is a candidate (after every finite value) with zero weight.
TEST(TopKCandidates, TiesNaNAndInfinity) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const std::uint32_t n : {7u, 300u, 4097u, 20000u}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    // Few distinct values: long runs of ties across threads and SIMD-groups.
    auto x = foundry_test::random_vector<float>(g, n, 0, 3);
    for (float& v : x) v = std::floor(v);
    std::uniform_int_distribution<std::uint32_t> pick(0, n - 1);
    for (std::uint32_t k = 0; k < n / 10 + 1; ++k) x[pick(g)] = std::numeric_limits<float>::quiet_NaN();
    for (std::uint32_t k = 0; k < n / 10 + 1; ++k) x[pick(g)] = -kInf;
    check_candidates<library_candidates, 64, 4096>(x, 1.0f);
    check_candidates<wide_candidates, 300, 256>(x, 1.0f);
    check_candidates<narrow_candidates, 8, 256>(x, 0.5f);
  }
  // All NaN, all −inf, all equal.
  check_candidates<library_candidates, 64, 4096>(std::vector<float>(4097, std::numeric_limits<float>::quiet_NaN()), 1.0f);
  check_candidates<library_candidates, 64, 4096>(std::vector<float>(5000, -kInf), 1.0f);
  check_candidates<narrow_candidates, 8, 256>(std::vector<float>(1000, 2.5f), 1.0f);
}

// --- Gumbel-max --------------------------------------------------------------------

// With chunk 1 each first-pass threadgroup reduces one element of zeros, so
// out_value[i] is element i's Gumbel noise: the device hash and noise
// against the host's (counter_hash.hpp).
TEST(GumbelArgmax, NoiseMatchesHostHash) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::uint32_t n = 4097;
  fd::buffer xb = ex.upload(std::vector<float>(n, 0.0f));
  fd::buffer vb = ex.upload(foundry_test::poisoned<float>(n));
  fd::buffer ib = ex.upload(foundry_test::poisoned<std::uint32_t>(n));
  for (int rep = 0; rep < 3; ++rep) {
    const fk::gumbel_key key = fk::gumbel_key_for(g(), g());
    fk::gumbel_argmax_f32::arguments a;
    a.set<"x">(xb).set<"n">(n).set<"chunk">(1u).set<"temperature">(1.0f).set<"key_a">(key.a).set<"key_b">(key.b);
    a.set<"out_value">(vb).set<"out_index">(ib);
    ex.dispatch<fk::gumbel_argmax_f32>(a);
    const auto value = vb.read<float>();
    const auto index = ib.read<std::uint32_t>();
    for (std::uint32_t i = 0; i < n; ++i) {
      const double u = fk::gumbel_uniform(fk::gumbel_bits(key, i));
      const double want = -std::log(-std::log(u));
      ASSERT_EQ(index[i], i);
      ASSERT_NEAR(value[i], want, 2e-6 * std::max(1.0, std::fabs(want))) << "element " << i;
    }
  }
}

/// The host's perturbed value of token i (double).
double perturbed(const std::vector<float>& x, double t, fk::gumbel_key key, std::uint32_t i) {
  return double(x[i]) / t - std::log(-std::log(fk::gumbel_uniform(fk::gumbel_bits(key, i))));
}

TEST(GumbelArgmax, MatchesHostReferenceOnOddSizes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  int near_ties = 0, draws = 0;
  for (const std::uint32_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::uint32_t groups = (n + 4095) / 4096;
    for (int rep = 0; rep < 4; ++rep) {
      const auto x = normal_logits(g, n, 3.0);
      const double t = rep % 2 == 0 ? 0.7 : 1.5;
      const fk::gumbel_key key = fk::gumbel_key_for(g(), std::uint64_t(rep));
      fd::buffer xb = ex.upload(x);
      fd::buffer pv = ex.upload(foundry_test::poisoned<float>(groups));
      fd::buffer pi = ex.upload(foundry_test::poisoned<std::uint32_t>(groups));
      fd::buffer ov = ex.upload(foundry_test::poisoned<float>(1));
      fd::buffer oi = ex.upload(foundry_test::poisoned<std::uint32_t>(1));
      fk::gumbel_argmax_two_pass(ex, xb.at(0), n, static_cast<float>(t), key, pv.at(0), pi.at(0), ov.at(0), oi.at(0));
      ex.synchronize();
      const auto got = oi.read<std::uint32_t>()[0];
      const auto want = static_cast<std::uint32_t>(gen::gumbel_max(x, static_cast<float>(t), key));
      ++draws;
      ASSERT_LT(got, n);
      if (got != want) {
        // Only a near-tie may differ: the two perturbed values within float rounding.
        const double a = perturbed(x, static_cast<float>(t), key, got), b = perturbed(x, static_cast<float>(t), key, want);
        EXPECT_NEAR(a, b, 1e-5 * std::max(1.0, std::fabs(b))) << "device " << got << ", host " << want;
        ++near_ties;
      }
      const double best = perturbed(x, static_cast<float>(t), key, got);
      EXPECT_NEAR(ov.read<float>()[0], best, 1e-5 * std::max(1.0, std::fabs(best)));
    }
  }
  RecordProperty("near_ties", near_ties);
  EXPECT_LE(near_ties, 1) << "of " << draws << " draws";
}

// --- logits_at_least_f32 ---------------------------------------------------------------

// Every logit ≥ τ, and nothing else, in some order; the count even past the
// capacity (then exactly `capacity` slots written, the rest poisoned).
TEST(LogitsAtLeast, AllAboveTheThresholdOnOddSizes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (const std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{4097}, std::size_t{49157}}) {
    for (const std::uint32_t capacity : {8192u, 16u}) {
      auto x = normal_logits(g, n, 3.0);
      if (n > 7) x[3] = std::numeric_limits<float>::quiet_NaN();  // never selected
      const float threshold = n == 1 ? x[0] : 4.5f;               // n = 1: equal to the threshold counts
      std::vector<std::pair<float, std::uint32_t>> want;
      for (std::size_t i = 0; i < n; ++i)
        if (x[i] >= threshold) want.emplace_back(x[i], std::uint32_t(i));
      SCOPED_TRACE("n " + std::to_string(n) + " capacity " + std::to_string(capacity) + " selected " +
                   std::to_string(want.size()));
      fd::buffer xb = ex.upload(x), vb = ex.allocate<float>(capacity), ib = ex.allocate<std::uint32_t>(capacity),
                 cb = ex.allocate<std::uint32_t>(1);
      vb.fill_bytes(0xFF);
      ib.fill_bytes(0xFF);
      cb.fill_bytes(0);
      fk::logits_at_least_f32::arguments a;
      a.set<"x">(xb).set<"n">(std::uint32_t(n)).set<"threshold">(threshold).set<"capacity">(capacity);
      a.set<"out_value">(vb).set<"out_index">(ib).set<"count">(cb);
      ex.dispatch<fk::logits_at_least_f32>(a);
      ex.synchronize();
      const std::uint32_t count = cb.read<std::uint32_t>()[0];
      ASSERT_EQ(count, want.size());
      const auto v = vb.read<float>();
      const auto idx = ib.read<std::uint32_t>();
      const std::size_t written = std::min<std::size_t>(count, capacity);
      std::vector<std::pair<float, std::uint32_t>> got;
      for (std::size_t j = 0; j < written; ++j) {
        ASSERT_LT(idx[j], n);
        EXPECT_EQ(v[j], x[idx[j]]) << "slot " << j;
        EXPECT_GE(v[j], threshold);
        got.emplace_back(v[j], idx[j]);
      }
      for (std::size_t j = written; j < capacity; ++j) EXPECT_EQ(idx[j], 0xFFFFFFFFu) << "slot " << j << " written";
      std::sort(got.begin(), got.end());
      EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "a token selected twice";
      if (count <= capacity) {
        std::sort(want.begin(), want.end());
        EXPECT_EQ(got, want);
      }
    }
  }
}

// --- the device sampler against the host reference -----------------------------------

struct run_result {
  std::vector<std::int32_t> device, host;
  std::uint64_t fallbacks = 0, decided = 0, second_round = 0;
};

/// `tokens` draws, each on fresh logits from `make`, through device_sampler
/// and through sample_from_logits with generators of the same seed. The
/// window of the penalty holds the tokens chosen so far and the current
/// arg-max (so the penalty changes the top of the distribution).
template <class Make>
run_result run_both(const gen::sampling_params& p, int tokens, std::mt19937_64& g, Make make) {
  auto& ex = exec();
  gen::device_sampler ds;
  gen::sampling_state sd(p.seed), sh(p.seed);
  std::vector<std::int32_t> history;
  run_result r;
  for (int t = 0; t < tokens; ++t) {
    const std::vector<float> x = make(g);
    const std::int32_t greedy = gen::greedy_token(x);
    std::vector<std::int32_t> recent = history;
    recent.push_back(greedy);
    fd::buffer lb = ex.upload(x);
    const std::int32_t d = ds.choose(ex, lb, std::uint32_t(x.size()), greedy, p, sd, recent);
    const std::int32_t h = gen::sample_from_logits(x, greedy, p, sh, recent);
    r.device.push_back(d);
    r.host.push_back(h);
    history.push_back(h);
  }
  r.fallbacks = sd.fallbacks;
  r.decided = sd.device_decided;
  r.second_round = sd.second_round;
  EXPECT_EQ(sd.steps(), sh.steps());
  return r;
}

gen::sampling_params params(double temperature, std::uint32_t top_k, double top_p, double min_p,
                            double penalty = 1.0, std::uint32_t last_n = 64) {
  gen::sampling_params p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.repeat_penalty = penalty;
  p.repeat_last_n = last_n;
  p.seed = 1234567;
  p.validate();
  return p;
}

// Peaked vocabulary-sized logits (σ = 5): the candidates decide top-k ≤ 64
// always, min-p 0.05 (the 64th is ~4.6 below the max, past ln 0.05 = −3.0)
// and top-p 0.9 (the top 64 hold nearly all the mass) in practice.
TEST(DeviceSampler, SameTokensAsHostReference) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const auto peaked = [](std::mt19937_64& rng) { return normal_logits(rng, 49152 + 5, 5.0); };
  struct config {
    const char* name;
    gen::sampling_params p;
    bool always_decided;  // the candidates decide by construction
  };
  const config configs[] = {
      {"top-k 40, top-p 0.95, T 0.8", params(0.8, 40, 0.95, 0.0), true},
      {"top-k 10, T 1", params(1.0, 10, 1.0, 0.0), true},
      {"top-k 64, min-p 0.2, T 1.3", params(1.3, 64, 1.0, 0.2), true},
      {"min-p 0.05, T 0.7", params(0.7, 0, 1.0, 0.05), false},
      {"top-p 0.9, T 0.9", params(0.9, 0, 0.9, 0.0), false},
      {"penalty 1.5 over 16, top-k 40, T 0.8", params(0.8, 40, 1.0, 0.0, 1.5, 16), true},
      {"greedy, penalty 1.3", params(0.0, 0, 1.0, 0.0, 1.3), true},
  };
  for (const config& c : configs) {
    SCOPED_TRACE(c.name);
    const run_result r = run_both(c.p, 12, g, peaked);
    EXPECT_EQ(r.device, r.host);
    if (c.always_decided) {
      EXPECT_EQ(r.fallbacks, 0u);
    }
    if (!c.p.greedy()) {
      EXPECT_EQ(r.decided + r.fallbacks, 12u);
    }
  }
}

// Temperature only: Gumbel-max on the device, on the host in double.
TEST(DeviceSampler, TemperatureOnlyUsesGumbelMax) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const auto logits = [](std::mt19937_64& rng) { return normal_logits(rng, 49152 + 5, 2.0); };
  for (const double t : {0.6, 1.0, 1.7}) {
    const run_result r = run_both(params(t, 0, 1.0, 0.0, 1.2), 10, g, logits);
    int differ = 0;
    for (std::size_t i = 0; i < r.device.size(); ++i) differ += r.device[i] != r.host[i];
    EXPECT_LE(differ, 1) << "temperature " << t;  // a float near-tie at most
    EXPECT_EQ(r.fallbacks, 0u);
    EXPECT_EQ(r.decided, 10u);
  }
}

// Flat logits: the 64 candidates hold ~0.1 % of the mass, so top-p 0.9
// without top-k, min-p 0.5 and top-k 100 cannot be decided from them, and
// every second round (all logits within 2 of the 64th) overflows its 8192
// pairs. The device sampler must notice, read the full logits and still
// agree.
// Logits with a long tail (σ = 3; the mass of softmax then sits ~σ² above
// the mean): top-p 0.9 without top-k (~2000 tokens), min-p 0.01 (~250) and
// top-k 500 need more than the 64 candidates: the second round (every
// logit ≥ τ) decides them on the device, the full logits are never read,
// and the tokens equal the host's. (At σ = 2 top-p 0.9 needs ~11,600
// tokens, past the round's 8192: those fall back.)
TEST(DeviceSampler, SecondRoundDecidesLongTails) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const auto tail = [](std::mt19937_64& rng) { return normal_logits(rng, 49152 + 5, 3.0); };
  for (const auto& p : {params(1.0, 0, 0.9, 0.0), params(0.8, 0, 1.0, 0.01), params(1.0, 500, 0.95, 0.0),
                        params(1.0, 0, 0.95, 0.02, 1.3)}) {
    SCOPED_TRACE("top-k " + std::to_string(p.top_k) + " top-p " + std::to_string(p.top_p) + " min-p " +
                 std::to_string(p.min_p));
    const run_result r = run_both(p, 6, g, tail);
    EXPECT_EQ(r.device, r.host);
    EXPECT_EQ(r.fallbacks, 0u);
    EXPECT_EQ(r.decided, 6u);
    EXPECT_GT(r.second_round, 0u);
  }
}

TEST(DeviceSampler, FallsBackToFullLogitsWhenCandidatesCannotDecide) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const auto flat = [](std::mt19937_64& rng) { return foundry_test::random_vector<float>(rng, 49152 + 5, 0.0, 0.1); };
  for (const auto& p : {params(0.8, 0, 0.9, 0.0), params(1.0, 0, 1.0, 0.5), params(1.0, 100, 1.0, 0.0),
                        params(1.0, 200, 0.5, 0.0)}) {
    SCOPED_TRACE("top-k " + std::to_string(p.top_k) + " top-p " + std::to_string(p.top_p) + " min-p " +
                 std::to_string(p.min_p));
    const run_result r = run_both(p, 5, g, flat);
    EXPECT_EQ(r.device, r.host);
    EXPECT_EQ(r.fallbacks, 5u);
    EXPECT_EQ(r.decided, 0u);
  }
  // Small vocabularies are complete: always decided on the candidates.
  const auto small = [](std::mt19937_64& rng) { return foundry_test::random_vector<float>(rng, 7, 0.0, 0.1); };
  const run_result r = run_both(params(1.0, 0, 0.5, 0.1), 5, g, small);
  EXPECT_EQ(r.device, r.host);
  EXPECT_EQ(r.fallbacks, 0u);
}

}  // namespace
