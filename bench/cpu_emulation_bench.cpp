// Cost of the CPU backend's GPU emulation, its JIT and its dispatch path.
//
//  * BM_Gemv_*: y = A x for a 1024 x 1024 float matrix, one SIMD-group per
//    row (lanes stride the columns, simd_sum at the end), against a plain
//    scalar loop. Read the two times side by side for the emulation ratio.
//  * BM_Reduce_*: sum of 2^20 floats, threadgroups of 256 (simd_sum, then
//    partials through threadgroup memory and a barrier), against a loop.
//  * BM_JitCold_*: compile and load 1 kernel / a batch of 20 (prepare), each
//    iteration a never-seen source in a private cache folder; ms.
//  * BM_JitDiskHit: load a cached object again (in-process memo cleared); ms.
//  * BM_DispatchOverhead: one threadgroup of 32 threads of a trivial
//    kernel, with fibers and with the no-collectives loop; ns.
//
//  * BM_FusedGemvF32/<path>: the library's fused `gemv_f32` (one SIMD-group
//    per row, its simd_sum a reduction point) on the same 1024 x 1024
//    matrix through the executor, as lane loops and with one fiber per
//    thread (FOUNDRY_CPU_EXECUTION=fibers forced through the executor
//    options), beside BM_Gemv_ScalarLoop.
//  * BM_FusedReduce/<path>: a composed reduction of 2^20 floats (per lane a
//    run of 4, then a reduction point), lane loops vs fibers.
//
// The workers follow FOUNDRY_CPU_THREADS (default: all cores).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "foundry/backends/cpu/backend.hpp"
#include "foundry/backends/cpu/cpu.hpp"
#include "foundry/foundry.hpp"
#include "kernels/library.hpp"

namespace {

namespace fc = foundry::cpu;
namespace fs = std::filesystem;

const char* kernels = R"(
ALWAYS_INLINE void gemv_body(const device float* A, const device float* x, device float* y,
                             constant uint& n, uint row, uint lane) {
  float acc = 0.0f;
  for (uint c = lane; c < n; c += 32) acc += A[row * n + c] * x[c];
  acc = simd_sum(acc);
  if (lane == 0) y[row] = acc;
}
extern "C" void gemv__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {
  gemv_body((const device float*)L->args[0], (const device float*)L->args[1], (device float*)L->args[2],
            *(constant uint*)L->args[3],
            T->threadgroup_position_in_grid.x * T->simdgroups_per_threadgroup + T->simdgroup_index_in_threadgroup,
            T->thread_index_in_simdgroup);
}

ALWAYS_INLINE void reduce_body(const device float* x, device float* partials, threadgroup float* tg,
                               uint gid, uint lane, uint sg, uint nsg, uint group) {
  float s = simd_sum(x[gid]);
  if (lane == 0) tg[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 0) {
    s = simd_sum(lane < nsg ? tg[lane] : 0.0f);
    if (lane == 0) partials[group] = s;
  }
}
extern "C" void reduce__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {
  reduce_body((const device float*)L->args[0], (device float*)L->args[1], (threadgroup float*)T->threadgroup_memory,
              T->thread_position_in_grid.x, T->thread_index_in_simdgroup, T->simdgroup_index_in_threadgroup,
              T->simdgroups_per_threadgroup, T->threadgroup_position_in_grid.x);
}

extern "C" void trivial__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {
  ((device uint*)L->args[0])[T->thread_position_in_grid.x] = T->thread_position_in_grid.x;
}
)";

std::shared_ptr<const fc::module> bench_module() {
  static auto m = fc::compile({"bench", kernels, {}});
  return m;
}

void run(const char* entry, void* const* args, uint32_t nargs, fc::dim3 groups, fc::dim3 tpt, std::size_t tg = 0,
         bool collectives = true) {
  fc::dispatch_desc d;
  d.kernel_name = entry;
  d.entry = bench_module()->entry(entry);
  d.args = args;
  d.arg_count = nargs;
  d.threadgroups_per_grid = groups;
  d.threads_per_threadgroup = tpt;
  d.threadgroup_memory_bytes = tg;
  d.collectives = collectives;
  fc::dispatch(d);
}

std::vector<float> random_floats(std::size_t n) {
  std::mt19937 g(42);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

constexpr uint32_t kN = 1024;

void BM_Gemv_CpuBackend(benchmark::State& state) {
  auto A = random_floats(std::size_t(kN) * kN), x = random_floats(kN);
  std::vector<float> y(kN);
  uint32_t n = kN;
  void* args[] = {A.data(), x.data(), y.data(), &n};
  for (auto _ : state) {
    run("gemv__cpu", args, 4, {kN / 8, 1, 1}, {256, 1, 1});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kN) * kN);
}
BENCHMARK(BM_Gemv_CpuBackend)->Unit(benchmark::kMicrosecond);

void BM_Gemv_ScalarLoop(benchmark::State& state) {
  auto A = random_floats(std::size_t(kN) * kN), x = random_floats(kN);
  std::vector<float> y(kN);
  for (auto _ : state) {
    for (uint32_t r = 0; r < kN; ++r) {
      float acc = 0.0f;
      for (uint32_t c = 0; c < kN; ++c) acc += A[std::size_t(r) * kN + c] * x[c];
      y[r] = acc;
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kN) * kN);
}
BENCHMARK(BM_Gemv_ScalarLoop)->Unit(benchmark::kMicrosecond);

constexpr uint32_t kR = 1u << 20;

void BM_Reduce_CpuBackend(benchmark::State& state) {
  auto x = random_floats(kR);
  std::vector<float> partials(kR / 256);
  void* args[] = {x.data(), partials.data()};
  for (auto _ : state) {
    run("reduce__cpu", args, 2, {kR / 256, 1, 1}, {256, 1, 1}, 8 * sizeof(float));
    benchmark::DoNotOptimize(partials.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kR));
}
BENCHMARK(BM_Reduce_CpuBackend)->Unit(benchmark::kMicrosecond);

void BM_Reduce_ScalarLoop(benchmark::State& state) {
  auto x = random_floats(kR);
  for (auto _ : state) {
    float s = 0.0f;
    for (float v : x) s += v;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kR));
}
BENCHMARK(BM_Reduce_ScalarLoop)->Unit(benchmark::kMicrosecond);

// --- composed kernels: lane loops vs fibers ---------------------------------

/// Runs the benchmark body with lane loops on (path 1) or forced fibers (0).
struct execution_path {
  foundry::cpu::executor_options saved = foundry::cpu::get_executor_options();
  explicit execution_path(benchmark::State& state) {
    foundry::cpu::executor_options o = saved;
    o.lane_loops = state.range(0) != 0;
    foundry::cpu::set_executor_options(o);
    state.SetLabel(o.lane_loops ? "lane loops" : "fibers");
  }
  ~execution_path() { foundry::cpu::set_executor_options(saved); }
};

foundry::executor& cpu_executor() {
  static foundry::executor ex{foundry::cpu::make_backend()};
  return ex;
}

void BM_FusedGemvF32(benchmark::State& state) {
  execution_path path(state);
  using K = foundry::kernels::gemv_f32;
  auto& ex = cpu_executor();
  auto A = random_floats(std::size_t(kN) * kN), x = random_floats(kN);
  foundry::buffer wb = ex.upload(A), xb = ex.upload(x), yb = ex.allocate<float>(kN);
  K::arguments args;
  args.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(kN).set<"k">(kN);
  ex.dispatch<K>(args);  // compile outside the timing
  for (auto _ : state) {
    ex.dispatch<K>(args);
    ex.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kN) * kN);
}
BENCHMARK(BM_FusedGemvF32)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

/// Main stage: each thread sums a run of 4 floats, a reduction point sums
/// the SIMD-group, lane 0 writes the SIMD-group's partial.
struct partial_sums {
  static constexpr foundry::fixed_string name = "partial_sums";
  static constexpr foundry::stage_role role = foundry::stage_role::main;
  using arguments = foundry::type_list<
      foundry::arg<"x", foundry::input<float, foundry::min_elements<foundry::sizes::product<
                                                   foundry::size_arg<"n">, foundry::size_const<4>>>>>,
      foundry::arg<"partials", foundry::output<float>>, foundry::arg<"n", foundry::scalar<uint32_t>>>;
  static constexpr foundry::ct_string emit() {
    return "const uint i = $thread_position_in_grid.x;\n"
           "const float4 v = i < $n ? ((const device float4*)$x)[i] : float4(0.0f);\n" +
           foundry::simd_reduction(foundry::reduce_op::add, "float", "s", "v.x + v.y + v.z + v.w") +
           "if ($thread_index_in_simdgroup == 0u) $partials[$thread_position_in_grid.x / 32u] = s;\n";
  }
};
using fused_reduce = foundry::fused_kernel<"bench_partial_sums", foundry::per_element<foundry::size_arg<"n">, 256>,
                                           partial_sums>;

void BM_FusedReduce(benchmark::State& state) {
  execution_path path(state);
  auto& ex = cpu_executor();
  auto x = random_floats(kR);
  const uint32_t n = kR / 4;
  foundry::buffer xb = ex.upload(x), pb = ex.allocate<float>(n / 32);
  fused_reduce::arguments args;
  args.set<"x">(xb).set<"partials">(pb).set<"n">(n);
  ex.dispatch<fused_reduce>(args);
  for (auto _ : state) {
    ex.dispatch<fused_reduce>(args);
    ex.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kR));
}
BENCHMARK(BM_FusedReduce)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

struct private_cache {
  fs::path root = fs::temp_directory_path() / ("foundry-bench-" + std::to_string(::getpid()));
  private_cache() { fs::create_directories(root); }
  ~private_cache() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// A distinct kernel per (salt, index): a tiled elementwise op with a helper.
fc::kernel_source variant(uint64_t salt, int index) {
  const std::string k = "k" + std::to_string(salt) + "_" + std::to_string(index);
  return {k,
          "// " + k + "\n"
          "ALWAYS_INLINE float4 helper(float4 v) { return fma(v, float4(" + std::to_string(index) +
              ".0f), exp(-v)); }\n"
              "ALWAYS_INLINE void body(const device float4* x, device float4* y, uint i) { y[i] = helper(x[i]) + "
              "simd_sum(x[i]); }\n"
              "extern \"C\" void " + k + "__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {\n"
              "  body((const device float4*)L->args[0], (device float4*)L->args[1], T->thread_position_in_grid.x);\n"
              "}\n",
          {}};
}

void BM_JitCold_OneKernel(benchmark::State& state) {
  private_cache pc;
  fc::jit_options o;
  o.cache_dir = pc.root;
  uint64_t salt = uint64_t(::getpid()) << 20;
  for (auto _ : state) {
    auto m = fc::compile(variant(++salt, 0), o);
    benchmark::DoNotOptimize(m.get());
  }
}
BENCHMARK(BM_JitCold_OneKernel)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_JitCold_Prepare20(benchmark::State& state) {
  private_cache pc;
  fc::jit_options o;
  o.cache_dir = pc.root;
  uint64_t salt = (uint64_t(::getpid()) << 20) + 1000;
  for (auto _ : state) {
    std::vector<fc::kernel_source> batch;
    ++salt;
    for (int i = 0; i < 20; ++i) batch.push_back(variant(salt, i));
    auto m = fc::prepare(batch, o);
    benchmark::DoNotOptimize(m.get());
  }
}
BENCHMARK(BM_JitCold_Prepare20)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_JitDiskHit(benchmark::State& state) {
  private_cache pc;
  fc::jit_options o;
  o.cache_dir = pc.root;
  const auto k = variant(7, 1);
  fc::compile(k, o);  // populate; released at once
  for (auto _ : state) {
    fc::clear_memory_cache();
    auto m = fc::compile(k, o);
    if (!m->from_disk_cache()) state.SkipWithError("expected a disk-cache hit");
    benchmark::DoNotOptimize(m.get());
  }
}
BENCHMARK(BM_JitDiskHit)->Unit(benchmark::kMillisecond);

void BM_DispatchOverhead(benchmark::State& state) {
  std::vector<uint32_t> y(32);
  void* args[] = {y.data()};
  const bool collectives = state.range(0) != 0;
  for (auto _ : state) run("trivial__cpu", args, 1, {1, 1, 1}, {32, 1, 1}, 0, collectives);
  state.SetLabel(collectives ? "fibers" : "plain loop (collectives = false)");
}
BENCHMARK(BM_DispatchOverhead)->Arg(1)->Arg(0)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
