#pragma once
// Shared helpers for the CPU backend tests: seeded random inputs, poisoned
// outputs, compiling test kernels and dispatching them.
//
// Every test draws fresh inputs: the seed comes from std::random_device
// unless FOUNDRY_TEST_SEED is set, and it is attached to every failure
// (SCOPED_TRACE) so a failing run can be replayed.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "foundry/backends/cpu/backend.hpp"
#include "foundry/backends/cpu/cpu.hpp"
#include "foundry/runtime/executor.hpp"
#include "support/test_backend.hpp"

namespace foundry_test {

namespace fc = foundry::cpu;

/// The seed for this process: FOUNDRY_TEST_SEED or std::random_device.
inline uint64_t seed() {
  static const uint64_t s = [] {
    if (const char* e = std::getenv("FOUNDRY_TEST_SEED")) return uint64_t(std::strtoull(e, nullptr, 10));
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return s;
}

/// A generator per test, seeded from seed() and the test's name (so tests
/// draw independent streams but replay together).
inline std::mt19937_64 rng() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  return std::mt19937_64(seed() ^ std::hash<std::string>{}(name));
}

#define FOUNDRY_SEED_TRACE() SCOPED_TRACE("seed " + std::to_string(::foundry_test::seed()) + " (FOUNDRY_TEST_SEED)")

/// Relative error ‖y − ref‖ / ‖ref‖ over ref.size() elements (the measure
/// every kernel test compares against a float64 reference with).
inline double rel_error(const std::vector<float>& y, const std::vector<double>& ref) {
  double e = 0, n = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    e += (y[i] - ref[i]) * (y[i] - ref[i]);
    n += ref[i] * ref[i];
  }
  return std::sqrt(e / n);
}

/// Error relative to a per-element scale: ‖y − ref‖ / ‖scale‖. For sums
/// whose terms can cancel (a dot product plus a residual), `scale` is the
/// sum of the terms' magnitudes, which bounds the rounding error where
/// ‖ref‖ does not.
inline double error_to_scale(const std::vector<float>& y, const std::vector<double>& ref,
                             const std::vector<double>& scale) {
  double e = 0, n = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    e += (y[i] - ref[i]) * (y[i] - ref[i]);
    n += scale[i] * scale[i];
  }
  return std::sqrt(e / n);
}

/// x̂ = x / sqrt(mean(x²) + eps) · gamma in float64 (RMSNorm, Zhang &
/// Sennrich 2019).
inline std::vector<double> rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& gamma, float eps) {
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / double(x.size()) + double(eps));
  std::vector<double> xn(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xn[i] = x[i] * inv * gamma[i];
  return xn;
}

/// The error of a GEMV output y ≈ W·x (W row-major [n, k] of float-
/// convertible elements, x of k elements), measured in float64 against the
/// magnitude of the products summed: ‖y − W·x‖ / ‖|W|·|x|‖ (see
/// error_to_scale; a single output row can cancel to near zero).
template <class W>
double gemv_error(const std::vector<float>& y, const std::vector<W>& w, const std::vector<double>& x, std::size_t n) {
  const std::size_t k = x.size();
  std::vector<double> ref(n), mag(n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < k; ++i) {
      const double t = double(float(w[r * k + i])) * x[i];
      ref[r] += t;
      mag[r] += std::abs(t);
    }
  return error_to_scale(y, ref, mag);
}


template <class T>
std::vector<T> random_vector(std::mt19937_64& g, std::size_t n, double lo, double hi) {
  std::vector<T> v(n);
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : v) x = static_cast<T>(d(g));
  } else {
    std::uniform_int_distribution<long long> d(static_cast<long long>(lo), static_cast<long long>(hi));
    for (auto& x : v) x = static_cast<T>(d(g));
  }
  return v;
}

/// An output buffer full of poison: NaN for floating point, 0xCD bytes
/// otherwise, so an element the kernel never wrote fails the comparison.
template <class T>
std::vector<T> poisoned(std::size_t n) {
  std::vector<T> v(n);
  if constexpr (std::is_floating_point_v<T>) {
    for (auto& x : v) x = std::numeric_limits<T>::quiet_NaN();
  } else {
    std::memset(static_cast<void*>(v.data()), 0xCD, n * sizeof(T));
  }
  return v;
}

/// |a - b| <= abs_tol + rel_tol * |b|, NaN only matches NaN.
inline bool near(double a, double b, double rel_tol, double abs_tol = 0.0) {
  if (std::isnan(b)) return std::isnan(a);
  if (std::isinf(b)) return a == b;
  return std::fabs(a - b) <= abs_tol + rel_tol * std::fabs(b);
}

/// Compiles a batch of test kernels once per process (shared by the tests
/// of one executable), using the normal disk cache: results do not depend
/// on whether it is warm, and a warm cache keeps reruns fast.
inline std::shared_ptr<const fc::module> build(std::vector<fc::kernel_source> sources, fc::jit_options o = {}) {
  return fc::prepare(sources, o);
}

/// Dispatches `entry` of `m` over `groups` x `tpt`.
inline void run(const fc::module& m, const char* entry, std::vector<void*> args, fc::dim3 groups, fc::dim3 tpt,
                std::size_t tg_bytes = 0) {
  fc::dispatch_desc d;
  d.kernel_name = entry;
  d.entry = m.entry(entry);
  d.args = args.data();
  d.arg_count = static_cast<uint32_t>(args.size());
  d.threadgroups_per_grid = groups;
  d.threads_per_threadgroup = tpt;
  d.threadgroup_memory_bytes = tg_bytes;
  fc::dispatch(d);
}

/// The standard entry boilerplate: `extern "C" void <name>__cpu(L, T) { <call>; }`.
inline std::string entry(const std::string& name, const std::string& call) {
  return "extern \"C\" void " + name + "__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {\n  " +
         call + ";\n}\n";
}

}  // namespace foundry_test
