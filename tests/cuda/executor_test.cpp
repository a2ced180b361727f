// Library kernels and composed kernels run end to end through the executor
// on the CUDA backend, against float64 references (the checks of
// tests/cpu/executor_test.cpp, plus the quantized GEMVs and the SmolLM2
// vocabulary shape, which are cheap on a GPU); the executor's error paths
// (a stage with a syntax error, a launch the device rejects); CUDA graph
// capture and replay against direct launches.
//
// Tolerance: outputs are float32 dot products over k <= 1536 terms (576 for
// the vocabulary GEMV), so the relative error vs float64 is ~1e-7 whatever
// the summation order (lanes, then a butterfly); 1e-5 catches any real
// mistake (a wrong row, a dropped tail element, a wrong scale) by orders of
// magnitude.
//
// Needs a CUDA device: without one the test prints "skipped: no CUDA
// device" and exits 77.
#include <gtest/gtest.h>

#include <boost/describe/class.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <foundry/backends/cuda/cuda.hpp>
#include <foundry/foundry.hpp>
#include <foundry/quant/ggml_blocks.hpp>
#include <kernels/library.hpp>
#include <kernels/policies/repack.hpp>
#include <span>
#include <string>
#include <vector>

#include "cpu/test_support.hpp"

#include "support/test_kernels.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;
namespace fc = foundry::cuda;

namespace {

struct RequireCudaDevice : ::testing::Environment {
  void SetUp() override {
    if (fc::device_count() == 0) {
      std::printf("skipped: no CUDA device (%s)\n",
                  fc::driver_unavailable_reason().empty() ? "the driver reports none"
                                                          : fc::driver_unavailable_reason().c_str());
      std::fflush(stdout);
      std::exit(FOUNDRY_TEST_SKIP_RETURN_CODE);
    }
  }
};
[[maybe_unused]] auto* const kEnv = ::testing::AddGlobalTestEnvironment(new RequireCudaDevice);

using foundry_test::rel_error;
fd::executor& gpu() {
  static fd::executor ex{fc::make_backend()};
  return ex;
}
fc::cuda_backend& cuda() { return static_cast<fc::cuda_backend&>(gpu().get_backend()); }

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
// (tail loop), and SmolLM2 shapes (576 → 960, 576 → 1536, 1536 → 576, the
// 49152-row vocabulary projection).
const shape kShapes[] = {{1, 4},      {7, 33},     {33, 100},  {130, 64},
                         {960, 576},  {1536, 576}, {576, 1536}, {49152, 576}};

template <class K, class W>
void check_plain_gemv(const shape& s) {
  FOUNDRY_SEED_TRACE();
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
  auto g = foundry_test::rng();
  auto w = foundry_test::random_vector<float>(g, std::size_t{s.n} * s.k, -1, 1);
  auto x = foundry_test::random_vector<float>(g, s.k, -1, 1);
  std::vector<W> wq(w.begin(), w.end());
  auto& ex = gpu();
  fd::buffer wb = ex.upload(wq), xb = ex.upload(x), yb = ex.allocate<float>(s.n);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"y">(yb).template set<"n">(s.n).template set<"k">(s.k);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::gemv_error(yb.read<float>(), wq, std::vector<double>(x.begin(), x.end()), s.n), 1e-5);
}

TEST(CudaExecutor, GemvF16) {
  for (const shape& s : kShapes) check_plain_gemv<fk::gemv_f16, fd::half>(s);
}
TEST(CudaExecutor, GemvF32) {
  for (const shape& s : kShapes) check_plain_gemv<fk::gemv_f32, float>(s);
}

TEST(CudaExecutor, GemvBiasSiluWithAndWithoutBias) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 37, k = 96;
  auto w = foundry_test::random_vector<float>(g, std::size_t{n} * k, -1, 1);
  auto x = foundry_test::random_vector<float>(g, k, -1, 1);
  auto bias = foundry_test::random_vector<float>(g, n, -1, 1);
  std::vector<fd::half> wq(w.begin(), w.end());
  auto& ex = gpu();
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

// RMSNorm reference: x̂ = x / sqrt(mean(x²) + eps) · gamma.
std::vector<double> rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& gamma, float eps) {
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> xn(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xn[i] = x[i] * inv * gamma[i];
  return xn;
}

TEST(CudaExecutor, RmsNormFusedGemv) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const shape& s : {shape{5, 64}, shape{960, 576}, shape{49152, 576}}) {
    auto w = foundry_test::random_vector<float>(g, std::size_t{s.n} * s.k, -1, 1);
    auto x = foundry_test::random_vector<float>(g, s.k, -3, 3);
    auto gamma = foundry_test::random_vector<float>(g, s.k, 0.5, 1.5);
    std::vector<fd::half> wq(w.begin(), w.end());
    const float eps = 1e-5f;
    auto& ex = gpu();
    fd::buffer wb = ex.upload(wq), xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(s.n);
    yb.fill_bytes(0xFF);
    fk::rmsnorm_gemv_f16::arguments a;
    a.set<"w">(wb).set<"x">(xb).set<"gamma">(gb).set<"eps">(eps).set<"y">(yb).set<"n">(s.n).set<"k">(s.k);
    ex.dispatch<fk::rmsnorm_gemv_f16>(a);
    EXPECT_LT(foundry_test::gemv_error(yb.read<float>(), wq, rmsnorm_ref(x, gamma, eps), s.n), 1e-5) << "n=" << s.n;
  }
}

// --- quantized GEMVs: planes from GGUF blocks, reference from the planes ---------

template <class K, fd::weight_policy P>
void check_quantized_gemv(fp::layout lay, const shape& s) {
  FOUNDRY_SEED_TRACE();
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
  auto g = foundry_test::rng();
  const auto wf = foundry_test::random_vector<float>(g, std::size_t{s.n} * s.k, -1, 1);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(s.n, s.k));
  foundry::quant::quantize_row(fp::ggml_type_of<P>, wf.data(), gguf.data(), wf.size());
  const auto planes = fp::repack<P>(gguf.data(), s.n, s.k, lay);
  const std::vector<float> wref = fp::dequantize(planes);
  const auto x = foundry_test::random_vector<float>(g, s.k, -1, 1);
  auto& ex = gpu();
  fd::buffer wb = ex.upload(planes.data), xb = ex.upload(x), yb = ex.allocate<float>(s.n);
  fd::buffer sb = ex.upload(planes.scales.empty() ? std::vector<std::uint8_t>(4) : planes.scales);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"x">(xb).template set<"y">(yb).template set<"n">(s.n).template set<"k">(s.k);
  if constexpr (P::has_scale) a.template set<"w_scales">(sb);
  ex.dispatch<K>(a);
  EXPECT_LT(foundry_test::gemv_error(yb.read<float>(), wref, std::vector<double>(x.begin(), x.end()), s.n), 1e-5);
}

// k a multiple of 32 (one GGUF block); rows not multiples of the 4 or 8
// rows per threadgroup.
const shape kBlockShapes[] = {{7, 64}, {33, 96}, {960, 576}, {576, 1536}};

TEST(CudaExecutor, QuantizedGemvsRowMajor) {
  for (const shape& s : kBlockShapes) {
    check_quantized_gemv<fk::gemv_q8_0, fp::q8_0>(fp::layout::row_major, s);
    check_quantized_gemv<fk::gemv_q4_0, fp::q4_0>(fp::layout::row_major, s);
    check_quantized_gemv<fk::gemv_q4_1, fp::q4_1>(fp::layout::row_major, s);
  }
}
TEST(CudaExecutor, GemvsCanonical) {
  for (const shape& s : kBlockShapes) {
    check_quantized_gemv<fk::gemv_f16_canonical, fp::f16>(fp::layout::canonical, s);
    check_quantized_gemv<fk::gemv_q8_0_canonical, fp::q8_0>(fp::layout::canonical, s);
    check_quantized_gemv<fk::gemv_q4_0_canonical, fp::q4_0>(fp::layout::canonical, s);
    check_quantized_gemv<fk::gemv_q4_1_canonical, fp::q4_1>(fp::layout::canonical, s);
  }
}

// --- standalone kernel (a params struct passed by value) ---------------------------

using foundry::test_kernels::saxpy;
using foundry::test_kernels::saxpy_args;
using foundry::test_kernels::saxpy_params;

TEST(CudaExecutor, StandaloneKernel) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 1000;  // not a multiple of the 64 threads per threadgroup
  auto x = foundry_test::random_vector<float>(g, n, -1, 1);
  auto y = foundry_test::random_vector<float>(g, n, -1, 1);
  auto& ex = gpu();
  fd::buffer xb = ex.upload(x), yb = ex.upload(y);
  ex.dispatch<saxpy>(saxpy_args{xb, yb, saxpy_params{2.5f, n}});
  const auto out = yb.read<float>();
  std::vector<double> ref(n);
  for (std::uint32_t i = 0; i < n; ++i) ref[i] = 2.5 * x[i] + y[i];
  EXPECT_LT(rel_error(out, ref), 1e-6);
}

// --- error paths ------------------------------------------------------------------

using foundry::test_kernels::broken_kernel;

TEST(CudaExecutor, CompileErrorNamesStageAndLine) {
  try {
    gpu().pipeline_for<broken_kernel>();
    FAIL() << "expected a compile error";
  } catch (const fd::compile_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\nstage broken, line 1: error: "), std::string::npos) << what;
    EXPECT_NE(what.find("v_value = v_value * ;"), std::string::npos) << what;
    EXPECT_NE(what.find("generated source: broken_kernel.metal:"), std::string::npos) << what;
    EXPECT_EQ(what.find("stage stage"), std::string::npos) << what;
  }
}

// A grid the device rejects (gridDim.y > 65535): cuLaunchKernel's error
// names the kernel, and the backend stays usable.
TEST(CudaExecutor, LaunchErrorNamesTheKernel) {
  auto& ex = gpu();
  const std::uint32_t batch = 70000, n = 1, k = 4;
  fd::buffer wb = ex.upload(std::vector<fd::half>(n * k, fd::half(1.0f)));
  fd::buffer xb = ex.upload(std::vector<float>(std::size_t{batch} * k, 1.0f));
  fd::buffer yb = ex.allocate<float>(std::size_t{batch} * n);
  fk::gemv_f16_batched::arguments a;
  a.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(n).set<"k">(k).set<"batch">(batch);
  try {
    ex.dispatch<fk::gemv_f16_batched>(a);
    ex.synchronize();
    FAIL() << "expected a launch error";
  } catch (const fd::dispatch_error& e) {
    EXPECT_NE(std::string(e.what()).find("gemv_f16_batched"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuLaunchKernel"), std::string::npos) << e.what();
  }
  check_plain_gemv<fk::gemv_f16, fd::half>({33, 100});
}

// --- CUDA graphs ------------------------------------------------------------------

// RMSNorm+GEMV (576 → 1536) then a GEMV back (1536 → 576) reading its output:
// captured once, replayed, equal bit for bit to the same two direct launches,
// and replays see new input contents.
TEST(CudaExecutor, GraphReplayEqualsDirectLaunches) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t k = 576, n = 1536;
  auto w1 = foundry_test::random_vector<float>(g, std::size_t{n} * k, -1, 1);
  auto w2 = foundry_test::random_vector<float>(g, std::size_t{k} * n, -1, 1);
  auto gamma = foundry_test::random_vector<float>(g, k, 0.5, 1.5);
  auto x = foundry_test::random_vector<float>(g, k, -3, 3);
  auto& ex = gpu();
  fd::buffer w1b = ex.upload(std::vector<fd::half>(w1.begin(), w1.end()));
  fd::buffer w2b = ex.upload(std::vector<fd::half>(w2.begin(), w2.end()));
  fd::buffer gb = ex.upload(gamma), xb = ex.upload(x), hb = ex.allocate<float>(n), yb = ex.allocate<float>(k);
  fk::rmsnorm_gemv_f16::arguments a1;
  a1.set<"w">(w1b).set<"x">(xb).set<"gamma">(gb).set<"eps">(1e-5f).set<"y">(hb).set<"n">(n).set<"k">(k);
  fk::gemv_f16::arguments a2;
  a2.set<"w">(w2b).set<"x">(hb).set<"y">(yb).set<"n">(k).set<"k">(n);
  ex.prepare<fk::rmsnorm_gemv_f16, fk::gemv_f16>();
  auto direct = [&] {
    hb.fill_bytes(0xFF);
    yb.fill_bytes(0xFF);
    ex.dispatch<fk::rmsnorm_gemv_f16>(a1);
    ex.dispatch<fk::gemv_f16>(a2);
    ex.synchronize();
    return yb.read<float>();
  };
  const std::vector<float> expect = direct();

  fc::cuda_backend& be = cuda();
  hb.fill_bytes(0xFF);
  yb.fill_bytes(0xFF);
  be.begin_capture();
  ex.dispatch<fk::rmsnorm_gemv_f16>(a1);
  ex.dispatch<fk::gemv_f16>(a2);
  EXPECT_THROW(ex.synchronize(), fd::error);  // not while capturing
  fc::graph graph = be.end_capture();
  ASSERT_TRUE(graph);
  EXPECT_EQ(graph.dispatches(), 2u);
  // Capturing ran nothing: the outputs still hold the poison.
  for (float v : yb.read<float>()) ASSERT_TRUE(std::isnan(v));
  be.replay(graph);
  ex.synchronize();
  const std::vector<float> replayed = yb.read<float>();
  ASSERT_EQ(replayed.size(), expect.size());
  EXPECT_EQ(std::memcmp(replayed.data(), expect.data(), expect.size() * sizeof(float)), 0);

  // New input contents, same buffers: replay == direct.
  x = foundry_test::random_vector<float>(g, k, -3, 3);
  xb.write(x);
  const std::vector<float> expect2 = direct();
  yb.fill_bytes(0xFF);
  for (int i = 0; i < 3; ++i) be.replay(graph);
  ex.synchronize();
  const std::vector<float> replayed2 = yb.read<float>();
  EXPECT_EQ(std::memcmp(replayed2.data(), expect2.data(), expect2.size() * sizeof(float)), 0);
  // And both match float64 (the hidden vector rounded to float, as stored).
  std::vector<double> h = gemv_ref(std::vector<fd::half>(w1.begin(), w1.end()), rmsnorm_ref(x, gamma, 1e-5f), n);
  for (auto& v : h) v = double(float(v));
  EXPECT_LT(foundry_test::gemv_error(replayed2, std::vector<fd::half>(w2.begin(), w2.end()), h, k), 1e-5);
}

// Asynchronous read-back (cuda_backend::read_back into page-locked host
// memory): a GEMV's output read back, the same output buffer overwritten by
// a second GEMV queued behind the copy, read back into a second slot; each
// slot holds its own GEMV's output bit for bit (the direct launches'), so
// the copy ran in stream order and the later kernel did not reach it.
// Misuse throws.
TEST(CudaExecutor, ReadBackKeepsStreamOrder) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t k = 576, n = 960;
  auto w = foundry_test::random_vector<float>(g, std::size_t{n} * k, -1, 1);
  auto x1 = foundry_test::random_vector<float>(g, k, -1, 1), x2 = foundry_test::random_vector<float>(g, k, -1, 1);
  auto& ex = gpu();
  fd::buffer wb = ex.upload(std::vector<fd::half>(w.begin(), w.end()));
  fd::buffer x1b = ex.upload(x1), x2b = ex.upload(x2), yb = ex.allocate<float>(n);
  auto gemv = [&](const fd::buffer& xb) {
    fk::gemv_f16::arguments a;
    a.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(n).set<"k">(k);
    ex.dispatch<fk::gemv_f16>(a);
  };
  auto direct = [&](const fd::buffer& xb) {
    yb.fill_bytes(0xFF);
    gemv(xb);
    ex.synchronize();
    return yb.read<float>();
  };
  const std::vector<float> y1 = direct(x1b), y2 = direct(x2b);
  ASSERT_NE(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0);

  fc::cuda_backend& be = cuda();
  const std::size_t bytes = std::size_t{n} * sizeof(float);
  fc::host_readback first = be.make_host_readback(bytes), second = be.make_host_readback(bytes);
  EXPECT_THROW(be.wait(first), fd::error);  // nothing in flight
  EXPECT_THROW(be.read_back(yb.info(), 4, bytes, first), fd::error);  // past the buffer's end
  yb.fill_bytes(0xFF);
  gemv(x1b);
  be.read_back(yb.info(), 0, bytes, first);
  EXPECT_TRUE(first.in_flight());
  EXPECT_THROW(be.read_back(yb.info(), 0, bytes, first), fd::error);  // not waited for
  gemv(x2b);
  be.read_back(yb.info(), 0, bytes, second);
  const std::span<const std::byte> a = be.wait(first);
  ASSERT_EQ(a.size(), bytes);
  EXPECT_EQ(std::memcmp(a.data(), y1.data(), bytes), 0) << "the first read-back holds the first GEMV's output";
  const std::span<const std::byte> b = be.wait(second);
  EXPECT_EQ(std::memcmp(b.data(), y2.data(), bytes), 0) << "the second read-back holds the second GEMV's output";
  EXPECT_FALSE(first.in_flight());
  be.begin_capture();
  gemv(x1b);
  EXPECT_THROW(be.read_back(yb.info(), 0, bytes, first), fd::error);  // not while capturing
  (void)be.end_capture();
}

}  // namespace
