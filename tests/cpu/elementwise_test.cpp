// Residual add, softmax and arg-max (kernels/elementwise/) on the CPU
// backend, against float64 references.
//
// Tolerances: a residual add rounds one float sum per element (relative
// error ≤ 2^-24 each), so ‖out − ref‖/‖ref‖ ≤ 1e-7. Softmax evaluates float
// exp (≈ 1 ulp) and sums ≤ 49152 terms in float (each thread sums ≤ 48
// strided terms, then a SIMD-group and a threadgroup tree): relative error
// ≤ 1e-5 with room to spare (observed ~1e-7), while a missing max
// subtraction overflows to NaN and a wrong sum is off by O(1). Arg-max is
// exact: the index must equal the reference scan's (ties to the smallest
// index, NaN skipped).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/elementwise/argmax.hpp>
#include <kernels/elementwise/residual.hpp>
#include <kernels/elementwise/softmax.hpp>
#include <kernels/gemv/gemv_multi_row.hpp>
#include <kernels/policies/f32.hpp>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

using foundry_test::exec;
using foundry_test::rel_error;
// --- residual add ----------------------------------------------------------------

// Sizes around the 4-element vector width and the 256-thread threadgroup, plus
// SmolLM2's hidden size and a vocabulary-sized vector.
const std::uint32_t kAddSizes[] = {1, 3, 4, 5, 7, 576, 1023, 1024, 1025, 1536, 49155};

TEST(ResidualAdd, OutOfPlace) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (std::uint32_t n : kAddSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto a = foundry_test::random_vector<float>(g, n, -10, 10), b = foundry_test::random_vector<float>(g, n, -10, 10);
    fd::buffer ab = ex.upload(a), bb = ex.upload(b), y = ex.allocate<float>(n + 5);
    y.fill_bytes(0xFF);
    fk::residual_add_f32::arguments args;
    args.set<"a">(ab).set<"b">(bb).set<"y">(y).set<"n">(n);
    ex.dispatch<fk::residual_add_f32>(args);
    const auto out = y.read<float>();
    std::vector<double> ref(n);
    for (std::uint32_t i = 0; i < n; ++i) ref[i] = double(a[i]) + b[i];
    EXPECT_LT(rel_error(out, ref), 1e-7);
    for (std::uint32_t i = n; i < n + 5; ++i) EXPECT_TRUE(std::isnan(out[i])) << "guard element " << i;
  }
}

// y bound to a itself (x += r), at a float offset that is not 16-byte aligned.
TEST(ResidualAdd, InPlaceAtUnalignedOffset) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (std::uint32_t n : {5u, 576u, 1027u}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto x = foundry_test::random_vector<float>(g, n + 2, -10, 10), r = foundry_test::random_vector<float>(g, n, -10, 10);
    fd::buffer xb = ex.upload(x), rb = ex.upload(r);
    fk::residual_add_f32::arguments args;
    args.set<"a">(xb.at(4)).set<"b">(rb).set<"y">(xb.at(4)).set<"n">(n);
    ex.dispatch<fk::residual_add_f32>(args);
    const auto out = xb.read<float>();
    std::vector<double> ref(n);
    for (std::uint32_t i = 0; i < n; ++i) ref[i] = double(x[i + 1]) + r[i];
    EXPECT_LT(rel_error(std::vector<float>(out.begin() + 1, out.begin() + 1 + n), ref), 1e-7);
    EXPECT_EQ(out[0], x[0]);
    EXPECT_EQ(out[n + 1], x[n + 1]);
  }
}

// --- softmax --------------------------------------------------------------------

std::vector<double> softmax_ref(const std::vector<float>& x, std::uint32_t rows, std::uint32_t n) {
  std::vector<double> y(x.begin(), x.end());
  for (std::uint32_t r = 0; r < rows; ++r) {
    double* row = y.data() + std::size_t{r} * n;
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (std::uint32_t i = 0; i < n; ++i) m = std::max(m, row[i]);
    for (std::uint32_t i = 0; i < n; ++i) s += (row[i] = std::exp(row[i] - m));
    for (std::uint32_t i = 0; i < n; ++i) row[i] /= s;
  }
  return y;
}

void check_softmax(std::uint32_t rows, std::uint32_t n, double lo, double hi, bool in_place) {
  FOUNDRY_SEED_TRACE();
  SCOPED_TRACE("rows=" + std::to_string(rows) + " n=" + std::to_string(n) + " range=[" + std::to_string(lo) + ", " +
               std::to_string(hi) + "]" + (in_place ? " in place" : ""));
  auto g = foundry_test::rng();
  auto& ex = exec();
  const std::size_t total = std::size_t{rows} * n;
  auto x = foundry_test::random_vector<float>(g, total, lo, hi);
  fd::buffer xb = ex.upload(x), yb = ex.allocate<float>(total + 3);
  yb.fill_bytes(0xFF);
  fk::softmax_f32::arguments a;
  a.set<"x">(xb).set<"y">(in_place ? xb.at(0) : yb.at(0)).set<"n">(n).set<"rows">(rows);
  ex.dispatch<fk::softmax_f32>(a);
  const auto out = (in_place ? xb : yb).read<float>();
  const auto ref = softmax_ref(x, rows, n);
  for (std::uint32_t r = 0; r < rows; ++r) {
    std::vector<float> row(out.begin() + std::ptrdiff_t(r) * n, out.begin() + std::ptrdiff_t(r + 1) * n);
    std::vector<double> rrow(ref.begin() + std::ptrdiff_t(r) * n, ref.begin() + std::ptrdiff_t(r + 1) * n);
    EXPECT_LT(rel_error(row, rrow), 1e-5) << "row " << r;
    double s = 0;
    for (float v : row) s += v;
    EXPECT_NEAR(s, 1.0, 1e-5) << "row " << r;
  }
  if (!in_place) {
    for (std::size_t i = total; i < total + 3; ++i) EXPECT_TRUE(std::isnan(out[i])) << "guard element " << i;
  }
}

TEST(Softmax, SizesAndRows) {
  check_softmax(1, 1, -5, 5, false);
  check_softmax(1, 33, -5, 5, false);
  check_softmax(3, 1000, -10, 10, false);
  check_softmax(2, 1025, -10, 10, false);
  check_softmax(1, 49152, -15, 15, false);  // the vocabulary
}
// Values whose exp overflows float (e^100): only the max subtraction keeps
// the result finite.
TEST(Softmax, LargeLogitsAreStable) { check_softmax(2, 777, 80, 100, false); }
TEST(Softmax, InPlace) { check_softmax(3, 500, -10, 10, true); }

// --- arg-max ---------------------------------------------------------------------

/// Sequential reference: the first index of the largest non-NaN value.
std::uint32_t argmax_ref(const std::vector<float>& x) {
  std::uint32_t best = 0xFFFFFFFFu;
  for (std::uint32_t i = 0; i < x.size(); ++i)
    if (!std::isnan(x[i]) && (best == 0xFFFFFFFFu || x[i] > x[best])) best = i;
  return best;
}

struct argmax_out {
  std::uint32_t index;
  float value;
};

argmax_out run_two_pass(const std::vector<float>& x, std::uint32_t chunk) {
  auto& ex = exec();
  const auto n = static_cast<std::uint32_t>(x.size());
  const std::uint32_t groups = (n + chunk - 1) / chunk;
  fd::buffer xb = ex.upload(x), pv = ex.allocate<float>(groups), pi = ex.allocate<std::uint32_t>(groups);
  fd::buffer ov = ex.allocate<float>(1), oi = ex.allocate<std::uint32_t>(1);
  pv.fill_bytes(0xFF), pi.fill_bytes(0xFF), ov.fill_bytes(0xFF), oi.fill_bytes(0xFF);
  fk::argmax_two_pass(ex, xb.at(0), n, pv.at(0), pi.at(0), ov.at(0), oi.at(0), chunk);
  ex.synchronize();
  return {oi.read<std::uint32_t>()[0], ov.read<float>()[0]};
}

argmax_out run_single(const std::vector<float>& x) {
  auto& ex = exec();
  const auto n = static_cast<std::uint32_t>(x.size());
  fd::buffer xb = ex.upload(x), ov = ex.allocate<float>(1), oi = ex.allocate<std::uint32_t>(1);
  ov.fill_bytes(0xFF), oi.fill_bytes(0xFF);
  fk::argmax_f32::arguments a;
  a.set<"x">(xb).set<"n">(n).set<"chunk">(n).set<"out_value">(ov).set<"out_index">(oi);
  ex.dispatch<fk::argmax_f32>(a);
  return {oi.read<std::uint32_t>()[0], ov.read<float>()[0]};
}

void expect_argmax(const std::vector<float>& x, std::uint32_t chunk) {
  const std::uint32_t want = argmax_ref(x);
  const argmax_out two = run_two_pass(x, chunk), one = run_single(x);
  EXPECT_EQ(two.index, want) << "two passes, chunk " << chunk;
  EXPECT_EQ(one.index, want) << "one pass";
  if (want != 0xFFFFFFFFu) {
    EXPECT_EQ(two.value, x[want]);
    EXPECT_EQ(one.value, x[want]);
  }
}

// A random vocabulary-sized vector: the greedy-sampling case.
TEST(Argmax, RandomVocabulary) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (int rep = 0; rep < 3; ++rep) expect_argmax(foundry_test::random_vector<float>(g, 49152, -20, 20), 4096);
}

// Odd sizes and chunks (partial last chunk, chunks smaller than a threadgroup).
TEST(Argmax, OddSizes) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (std::uint32_t n : {1u, 2u, 33u, 1000u, 4097u})
    for (std::uint32_t chunk : {1u, 7u, 256u, 1000u}) {
      if ((n + chunk - 1) / chunk > 4096) continue;
      SCOPED_TRACE("n=" + std::to_string(n) + " chunk=" + std::to_string(chunk));
      expect_argmax(foundry_test::random_vector<float>(g, n, -1, 1), chunk);
    }
}

// Ties go to the smallest index, wherever the tied elements sit. With 256
// threads and chunk 4096, element e of chunk c is scanned by thread e mod
// 256 (SIMD-group (e mod 256) / 32); all-equal vectors give 0.
TEST(Argmax, TiesGoToTheSmallestIndex) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto x = foundry_test::random_vector<float>(g, 49152, -20, 20);
  for (std::uint32_t i : {49151u, 40000u, 8193u, 4097u, 300u, 123u, 97u}) x[i] = 25.0f;
  expect_argmax(x, 4096);  // 97: lanes 1 and 27 of SIMD-group 3 tie (97, 123)
  x[97] = 0.0f;
  expect_argmax(x, 4096);  // 123 (SIMD-group 3) beats 300 (thread 44, SIMD-group 1)
  x[44] = 25.0f;
  expect_argmax(x, 4096);  // 44 and 300: two elements of one thread
  x[44] = x[123] = x[300] = 0.0f;
  expect_argmax(x, 4096);  // 4097 (chunk 1) beats 8193, 40000, 49151 (later chunks)
  expect_argmax(std::vector<float>(5000, 1.5f), 256);
  expect_argmax(std::vector<float>(77, -std::numeric_limits<float>::infinity()), 16);
}

// NaN is never selected.
TEST(Argmax, NanIsSkipped) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto x = foundry_test::random_vector<float>(g, 5000, -1, 1);
  for (std::uint32_t i = 0; i < x.size(); i += 7) x[i] = std::numeric_limits<float>::quiet_NaN();
  expect_argmax(x, 512);
  const argmax_out all_nan = run_single(std::vector<float>(40, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(all_nan.index, 0xFFFFFFFFu);
  EXPECT_EQ(all_nan.value, -std::numeric_limits<float>::infinity());
}

// The second pass that also advances the position: the pairs of a first
// pass (indices not in order, as a GEMV's partial pairs are not) reduce to
// the reference's pair, and position[0] grows by exactly one.
TEST(Argmax, SecondPassAdvancesThePosition) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  auto& ex = exec();
  for (std::uint32_t n : {1u, 5u, 1023u, 4097u, 12288u, 12291u}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    auto values = foundry_test::random_vector<float>(g, n, -20, 20);
    std::vector<std::uint32_t> index(n);
    for (std::uint32_t i = 0; i < n; ++i) index[i] = (i * 7919u + 13u) % 100003u;
    if (n > 4) values[n - 2] = values[3] = 30.0f;  // a tie: the smaller index wins
    std::uint32_t want = 0;
    for (std::uint32_t i = 1; i < n; ++i)
      if (values[i] > values[want] || (values[i] == values[want] && index[i] < index[want])) want = i;
    const std::uint32_t start = 1000u + n;
    fd::buffer vb = ex.upload(values), ib = ex.upload(index), pos = ex.upload(std::vector<std::uint32_t>{start});
    fd::buffer ov = ex.allocate<float>(1), oi = ex.allocate<std::uint32_t>(1);
    ov.fill_bytes(0xFF), oi.fill_bytes(0xFF);
    fk::argmax_f32_advance_position::arguments a;
    a.set<"x">(vb).set<"x_index">(ib).set<"n">(n).set<"chunk">(n);
    a.set<"out_value">(ov).set<"out_index">(oi).set<"position">(pos);
    ex.dispatch<fk::argmax_f32_advance_position>(a);
    EXPECT_EQ(oi.read<std::uint32_t>()[0], index[want]);
    EXPECT_EQ(ov.read<float>()[0], values[want]);
    EXPECT_EQ(pos.read<std::uint32_t>()[0], start + 1u);
  }
}

// --- arg-max folded into a GEMV (argmax_partial) -----------------------------------

// y = W·x with W float [n, k], R rows per SIMD-group, S SIMD-groups per
// threadgroup, storing y and one arg-max pair per SIMD-group.
template <unsigned R, unsigned S>
using gemv_argmax_main = fk::gemv_multi_row<fd::plain_input<fd::policies::f32>, R, S>;
template <unsigned R, unsigned S>
constexpr auto gemv_argmax_name() {
  if constexpr (R == 4)
    return fd::fixed_string("gemv_argmax_r4");
  else if constexpr (R == 2)
    return fd::fixed_string("gemv_argmax_r2");
  else
    return fd::fixed_string("gemv_argmax_r1");
}
template <unsigned R, unsigned S>
using gemv_argmax = fd::fused_kernel<gemv_argmax_name<R, S>(), typename gemv_argmax_main<R, S>::template dispatch_for<>,
                                     gemv_argmax_main<R, S>, fd::epi::store<"y", "value", fd::size_arg<"n">>,
                                     fk::argmax_partial<R>>;

// Checks gemv_argmax<R, S> on an n × k matrix: y against float64 (float sums
// of k products: 1e-5), then every pair against the best row of its
// SIMD-group's R rows of y (exact: the same floats), and the second pass
// over the pairs against the first index of y's largest non-NaN value.
// `nan_rows`: rows whose weights are all NaN (their y is NaN, never chosen).
template <unsigned R, unsigned S>
void check_gemv_argmax(std::uint32_t n, std::uint32_t k, const std::vector<std::uint32_t>& nan_rows,
                       const std::vector<std::uint32_t>& tied_rows) {
  SCOPED_TRACE("R=" + std::to_string(R) + " S=" + std::to_string(S) + " n=" + std::to_string(n) +
               " k=" + std::to_string(k));
  auto g = foundry_test::rng();
  auto& ex = exec();
  auto w = foundry_test::random_vector<float>(g, std::size_t{n} * k, -1, 1);
  const auto x = foundry_test::random_vector<float>(g, k, -1, 1);
  for (std::uint32_t r : tied_rows)  // equal rows: equal sums, a tie
    std::copy_n(w.begin(), k, w.begin() + std::ptrdiff_t(std::size_t{r} * k));
  for (std::uint32_t r : nan_rows)
    std::fill_n(w.begin() + std::ptrdiff_t(std::size_t{r} * k), k, std::numeric_limits<float>::quiet_NaN());
  const std::uint32_t pairs = (n + R - 1) / R;
  fd::buffer wb = ex.upload(w), xb = ex.upload(x), y = ex.allocate<float>(n);
  fd::buffer pv = ex.allocate<float>(pairs + 3), pi = ex.allocate<std::uint32_t>(pairs + 3);
  y.fill_bytes(0xFF), pv.fill_bytes(0xFF), pi.fill_bytes(0xFF);
  typename gemv_argmax<R, S>::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"y">(y).template set<"n">(n).template set<"k">(k);
  a.template set<"part_value">(pv).template set<"part_index">(pi);
  ex.template dispatch<gemv_argmax<R, S>>(a);
  const auto out = y.read<float>();
  const auto values = pv.read<float>();
  const auto index = pi.read<std::uint32_t>();
  std::vector<double> ref(n);
  std::vector<float> finite_out;
  std::vector<double> finite_ref;
  for (std::uint32_t r = 0; r < n; ++r) {
    for (std::uint32_t c = 0; c < k; ++c) ref[r] += double(w[std::size_t{r} * k + c]) * x[c];
    if (std::isnan(ref[r])) {
      EXPECT_TRUE(std::isnan(out[r])) << "row " << r;
    } else {
      finite_out.push_back(out[r]);
      finite_ref.push_back(ref[r]);
    }
  }
  if (!finite_ref.empty()) {
    EXPECT_LT(rel_error(finite_out, finite_ref), 1e-5);
  }
  for (std::uint32_t p = 0; p < pairs; ++p) {
    const std::uint32_t r0 = p * R, r1 = std::min(n, r0 + R);
    const std::vector<float> rows(out.begin() + r0, out.begin() + r1);
    const std::uint32_t best = argmax_ref(rows);
    EXPECT_EQ(index[p], best == 0xFFFFFFFFu ? best : r0 + best) << "pair " << p;
    if (best != 0xFFFFFFFFu) {
      EXPECT_EQ(values[p], rows[best]) << "pair " << p;
    }
  }
  for (std::uint32_t p = pairs; p < pairs + 3; ++p) EXPECT_EQ(index[p], 0xFFFFFFFFu) << "guard pair " << p;
  fd::buffer ov = ex.allocate<float>(1), oi = ex.allocate<std::uint32_t>(1);
  fk::argmax_f32::arguments second;
  second.set<"x">(pv).set<"x_index">(pi).set<"n">(pairs).set<"chunk">(pairs);
  second.set<"out_value">(ov).set<"out_index">(oi);
  ex.dispatch<fk::argmax_f32>(second);
  EXPECT_EQ(oi.read<std::uint32_t>()[0], argmax_ref(out));
}

TEST(ArgmaxPartial, MultiRowGemvShapes) {
  FOUNDRY_SEED_TRACE();
  check_gemv_argmax<4, 2>(1, 32, {}, {});
  check_gemv_argmax<4, 2>(7, 36, {}, {});  // a partial SIMD-group, an F32 row not a multiple of 4
  check_gemv_argmax<4, 2>(1027, 64, {}, {});
  check_gemv_argmax<1, 4>(133, 96, {}, {});
  check_gemv_argmax<2, 4>(261, 40, {}, {});
}

// Ties inside one SIMD-group and across SIMD-groups go to the smallest row;
// NaN rows are skipped, and a SIMD-group of NaN rows only yields no row.
TEST(ArgmaxPartial, TiesAndNan) {
  FOUNDRY_SEED_TRACE();
  check_gemv_argmax<4, 2>(300, 64, {5, 6, 100, 101, 102, 103}, {1, 3, 9, 250});
  check_gemv_argmax<4, 2>(8, 32, {0, 1, 2, 3, 4, 5, 6, 7}, {});
  check_gemv_argmax<1, 4>(50, 32, {0, 7}, {3, 40});
}

TEST(Argmax, ZeroChunkIsRejected) {
  auto& ex = exec();
  fd::buffer xb = ex.allocate<float>(4), ov = ex.allocate<float>(1), oi = ex.allocate<std::uint32_t>(1);
  fk::argmax_f32::arguments a;
  a.set<"x">(xb).set<"n">(4u).set<"chunk">(0u).set<"out_value">(ov).set<"out_index">(oi);
  EXPECT_THROW(ex.dispatch<fk::argmax_f32>(a), fd::error);
}

}  // namespace
