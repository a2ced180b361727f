// Library kernels and composed kernels run end to end through the executor
// on the CPU backend, against float64 references; plus the executor's
// error paths (a stage with a syntax error, barrier divergence).
//
// Tolerance: outputs are float32 dot products over k ≤ 1536 terms, so the
// error vs float64, relative to the magnitude of the products summed
// (foundry_test::gemv_error), is ~1e-7; 1e-5 catches any real mistake (a
// wrong row, a dropped tail element) by orders of magnitude.
//
// Runs on the backend FOUNDRY_TEST_BACKEND names (tests/support/test_backend.hpp).
#include <gtest/gtest.h>

#include <boost/describe/class.hpp>
#include <cmath>
#include <cstdio>
#include <foundry/backends/common/compile_error.hpp>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

#include "test_support.hpp"

#include "support/test_kernels.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;

namespace {

using foundry_test::rel_error;
using foundry_test::exec;
template <class W>
std::vector<double> gemv_ref(const std::vector<W>& w, const std::vector<double>& x, std::size_t n) {
  const std::size_t k = x.size();
  std::vector<double> y(n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < k; ++i) y[r] += double(float(w[r * k + i])) * x[i];
  return y;
}

struct shape {
  std::uint32_t n, k;
};
// Rows not multiples of 4 (rows per threadgroup), k not multiples of 4 or 32
// (tail loop), and SmolLM2 shapes (576 → 960, 576 → 1536, 1536 → 576).
const shape kShapes[] = {{1, 4}, {7, 33}, {33, 100}, {130, 64}, {960, 576}, {1536, 576}, {576, 1536}};

template <class K, class W>
void check_plain_gemv(const shape& s) {
  FOUNDRY_SEED_TRACE();
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
  auto g = foundry_test::rng();
  auto w = foundry_test::random_vector<float>(g, std::size_t{s.n} * s.k, -1, 1);
  auto x = foundry_test::random_vector<float>(g, s.k, -1, 1);
  std::vector<W> wq(w.begin(), w.end());
  auto& ex = exec();
  fd::buffer wb = ex.upload(wq), xb = ex.upload(x), yb = ex.allocate<float>(s.n);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"y">(yb).template set<"n">(s.n).template set<"k">(s.k);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::gemv_error(yb.read<float>(), wq, std::vector<double>(x.begin(), x.end()), s.n), 1e-5);
}

TEST(CpuExecutor, GemvF16) {
  for (const shape& s : kShapes) check_plain_gemv<fk::gemv_f16, fd::half>(s);
}
TEST(CpuExecutor, GemvF32) {
  for (const shape& s : kShapes) check_plain_gemv<fk::gemv_f32, float>(s);
}

TEST(CpuExecutor, GemvBiasSiluWithAndWithoutBias) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 37, k = 96;
  auto w = foundry_test::random_vector<float>(g, std::size_t{n} * k, -1, 1);
  auto x = foundry_test::random_vector<float>(g, k, -1, 1);
  auto bias = foundry_test::random_vector<float>(g, n, -1, 1);
  std::vector<fd::half> wq(w.begin(), w.end());
  auto& ex = exec();
  fd::buffer wb = ex.upload(wq), xb = ex.upload(x), bb = ex.upload(bias), yb = ex.allocate<float>(n);
  auto ref = gemv_ref(wq, std::vector<double>(x.begin(), x.end()), n);
  for (bool with_bias : {false, true}) {
    yb.fill_bytes(0xFF);
    fk::gemv_f16_bias_silu::arguments a;
    a.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(n).set<"k">(k);
    if (with_bias) a.set<"bias">(bb);
    ex.dispatch<fk::gemv_f16_bias_silu>(a);
    std::vector<double> expect(n);
    for (std::uint32_t r = 0; r < n; ++r) {
      const double v = ref[r] + (with_bias ? bias[r] : 0.0);
      expect[r] = v / (1.0 + std::exp(-v));
    }
    EXPECT_LT(rel_error(yb.read<float>(), expect), 1e-5) << "with_bias=" << with_bias;
  }
}

TEST(CpuExecutor, RmsNormFusedGemv) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const shape& s : {shape{5, 64}, shape{960, 576}}) {
    auto w = foundry_test::random_vector<float>(g, std::size_t{s.n} * s.k, -1, 1);
    auto x = foundry_test::random_vector<float>(g, s.k, -3, 3);
    auto gamma = foundry_test::random_vector<float>(g, s.k, 0.5, 1.5);
    std::vector<fd::half> wq(w.begin(), w.end());
    const float eps = 1e-5f;
    // RMSNorm reference: x̂ = x / sqrt(mean(x²) + eps) · gamma.
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / s.k + eps);
    std::vector<double> xn(s.k);
    for (std::size_t i = 0; i < s.k; ++i) xn[i] = x[i] * inv * gamma[i];
    auto& ex = exec();
    fd::buffer wb = ex.upload(wq), xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(s.n);
    yb.fill_bytes(0xFF);
    fk::rmsnorm_gemv_f16::arguments a;
    a.set<"w">(wb).set<"x">(xb).set<"gamma">(gb).set<"eps">(eps).set<"y">(yb).set<"n">(s.n).set<"k">(s.k);
    ex.dispatch<fk::rmsnorm_gemv_f16>(a);
    EXPECT_LT(foundry_test::gemv_error(yb.read<float>(), wq, xn, s.n), 1e-5) << "n=" << s.n;
  }
}

// --- standalone kernel ----------------------------------------------------------

using foundry::test_kernels::saxpy;
using foundry::test_kernels::saxpy_args;
using foundry::test_kernels::saxpy_params;

TEST(CpuExecutor, StandaloneKernel) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 1000;  // not a multiple of the 64 threads per threadgroup
  auto x = foundry_test::random_vector<float>(g, n, -1, 1);
  auto y = foundry_test::random_vector<float>(g, n, -1, 1);
  auto& ex = exec();
  fd::buffer xb = ex.upload(x), yb = ex.upload(y);
  ex.dispatch<saxpy>(saxpy_args{xb, yb, saxpy_params{2.5f, n}});
  const auto out = yb.read<float>();
  std::vector<double> ref(n);
  for (std::uint32_t i = 0; i < n; ++i) ref[i] = 2.5 * x[i] + y[i];
  EXPECT_LT(rel_error(out, ref), 1e-6);
}

// --- error paths ------------------------------------------------------------------

using foundry::test_kernels::broken_kernel;

TEST(CpuExecutor, CompileErrorNamesStageAndLine) {
  try {
    exec().pipeline_for<broken_kernel>();
    FAIL() << "expected a compile error";
  } catch (const fd::compile_error& e) {
    // The stage and the line within its body (the stage's snippet is one
    // line), then the generated line as a second reference.
    const std::string what = e.what();
    EXPECT_NE(what.find("\nstage broken, line 1: error: "), std::string::npos) << what;
    EXPECT_NE(what.find("    1 |     v_value = v_value * ;"), std::string::npos) << what;
    EXPECT_NE(what.find("generated source: broken_kernel.metal:"), std::string::npos) << what;
    EXPECT_EQ(what.find("stage stage"), std::string::npos) << what;
    const auto* ce = dynamic_cast<const fd::backend_common::compile_error*>(&e);
    ASSERT_NE(ce, nullptr) << what;
    EXPECT_EQ(ce->stage(), "broken");
    EXPECT_EQ(ce->where().origin_line, 1);
    EXPECT_EQ(ce->origin(), "stage broken");
    EXPECT_GT(ce->line(), 1);
  }
}

// An epilogue whose third body line does not compile: the error names that
// line of the body, not the line of the generated file.
struct broken_third_line_stage {
  static constexpr fd::fixed_string name = "broken_third_line";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = R"(const float scale = 2.0f;
$value = $value * scale;
$value = $value + no_such_variable;
)";
};
using broken_third_line_kernel =
    fd::fused_kernel<"broken_third_line_kernel", fk::gemv_dispatch, fk::gemv_row_major<fd::plain_input<fd::policies::f32>>,
                     broken_third_line_stage, fd::epi::store<"y">>;

TEST(CpuExecutor, CompileErrorNamesTheLineWithinTheStageBody) {
  try {
    exec().pipeline_for<broken_third_line_kernel>();
    FAIL() << "expected a compile error";
  } catch (const fd::compile_error& e) {
    const std::string what = e.what();
    std::printf("%s\n", what.substr(0, what.find("\n---")).c_str());  // what a user sees first
    EXPECT_NE(what.find("\nstage broken_third_line, line 3: error: "), std::string::npos) << what;
    EXPECT_NE(what.find("no_such_variable"), std::string::npos) << what;
    EXPECT_NE(what.find("    3 |     v_value = v_value + no_such_variable;"), std::string::npos) << what;
    const auto* ce = dynamic_cast<const fd::backend_common::compile_error*>(&e);
    ASSERT_NE(ce, nullptr) << what;
    EXPECT_EQ(ce->stage(), "broken_third_line");
    EXPECT_EQ(ce->where().origin_line, 3);
    // The generated line is the second reference, and is a different number.
    EXPECT_GT(ce->line(), 3);
    EXPECT_NE(what.find("generated source: broken_third_line_kernel.metal:" + std::to_string(ce->line())),
              std::string::npos)
        << what;
  }
}

// A stage whose local shadows its argument: `$y` expands to the argument's
// name, so `device float* y = $y;` reads the uninitialized local. The CPU
// backend compiles with -Werror=uninitialized and reports the stage.
struct shadowing_stage {
  static constexpr fd::fixed_string name = "shadowing";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"y", fd::output<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  static constexpr std::string_view body = R"(device float* y = $y;
if ($thread_position_in_grid.x < $n) y[$thread_position_in_grid.x] = 1.0f;)";
};
using shadowing_kernel = fd::fused_kernel<"shadowing_kernel", fd::per_element<fd::size_arg<"n">, 64>, shadowing_stage>;

TEST(CpuExecutor, LocalShadowingAnArgumentIsACompileError) {
  if (!foundry_test::on_cpu_backend()) GTEST_SKIP() << "-Werror=uninitialized is a CPU backend compile flag";
  try {
    exec().pipeline_for<shadowing_kernel>();
    FAIL() << "expected a compile error";
  } catch (const fd::compile_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stage shadowing"), std::string::npos) << what;
    EXPECT_NE(what.find("uninitialized"), std::string::npos) << what;
  }
}

// A stage that returns before the threadgroup barrier in some threads.
struct early_return_stage {
  static constexpr fd::fixed_string name = "early_return";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"y", fd::output<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using threadgroup = fd::type_list<fd::tg_array<"tmp", float, 64>>;
  static constexpr std::string_view body = R"(if ($thread_position_in_grid.x >= $n) return;
$tmp[$thread_index_in_threadgroup] = 1.0f;
threadgroup_barrier(mem_flags::mem_threadgroup);
$y[$thread_position_in_grid.x] = $tmp[0];)";
};
using early_return_kernel =
    fd::fused_kernel<"early_return_kernel", fd::per_element<fd::size_arg<"n">, 64>, early_return_stage>;

TEST(CpuExecutor, BarrierDivergenceIsAnErrorNotAHang) {
  if (!foundry_test::on_cpu_backend()) GTEST_SKIP() << "barrier divergence is detected by the CPU backend only";
  auto& ex = exec();
  fd::buffer yb = ex.allocate<float>(64);
  early_return_kernel::arguments a;
  a.set<"y">(yb).set<"n">(50u);
  try {
    ex.dispatch<early_return_kernel>(a);
    FAIL() << "expected barrier divergence";
  } catch (const fd::cpu::barrier_divergence& e) {
    EXPECT_NE(std::string(e.what()).find("early_return_kernel"), std::string::npos) << e.what();
  }
}

}  // namespace
