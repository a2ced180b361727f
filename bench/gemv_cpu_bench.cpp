// CPU-backend time of the library's quantized GEMVs at the SmolLM2-135M
// shapes (hidden 576, FFN 1536, vocabulary 49152):
//
//  * BM_GemvQ4_1/<n>/<k>: y = W·x, W [n, k] Q4_1 row-major: 576 → 960
//    (the fused Q/K/V rows: 576 + 2·192), 576 → 1536 (FFN gate / up),
//    1536 → 576 (FFN down). Also the canonical layout (BM_GemvQ4_1Canonical).
//  * BM_GemvQ8_0/49152/576: the tied output head (token_embd, Q8_0).
//  * BM_GemvQ4_K, BM_GemvQ5_K, BM_GemvQ6_K and, side by side, BM_GemvQ4_1 on
//    the shapes whose k is a multiple of 256 (K-quant rows): 1536 → 576
//    (SmolLM2's FFN down, the only K-quant matrix of its Q4_K_M file) and
//    2048 → 2048 (a Llama-3.2-1B projection).
//
// Each iteration is one dispatch and a synchronize; items are weights
// (n·k per iteration), bytes are the planes read. Weights are random rows
// quantized by ggml's reference quantizers (values do not change the time).
// The workers follow FOUNDRY_CPU_THREADS (default: all cores).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/gemv/aliases.hpp>
#include <kernels/gemv/k_quant_aliases.hpp>
#include <kernels/policies/repack.hpp>

namespace {

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

fd::executor& cpu() {
  static fd::executor ex{fd::cpu::make_backend()};
  return ex;
}

std::vector<float> random_floats(std::mt19937& g, std::size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

template <class K, fd::weight_policy P, fp::layout L>
void run_gemv(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0)), k = static_cast<std::uint32_t>(state.range(1));
  std::mt19937 g(42);
  const auto wf = random_floats(g, std::size_t{n} * k);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(n, k));
  foundry::quant::quantize_row(fp::ggml_type_of<P>, wf.data(), gguf.data(), wf.size());
  const auto planes = fp::repack<P>(gguf.data(), n, k, L);
  auto& ex = cpu();
  fd::buffer wb = ex.upload(planes.data), sb = ex.upload(planes.scales), xb = ex.upload(random_floats(g, k)),
             yb = ex.allocate<float>(n);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"w_scales">(sb).template set<"x">(xb).template set<"n">(n);
  a.template set<"k">(k).template set<"y">(yb);
  ex.dispatch<K>(a);  // compile (or load from the disk cache) outside the timed loop
  ex.synchronize();
  for (auto _ : state) {
    ex.dispatch<K>(a);
    ex.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t{n} * k);
  state.SetBytesProcessed(state.iterations() * std::int64_t(planes.data.size() + planes.scales.size()));
}

void smollm2_q4_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "k"})->Args({960, 576})->Args({1536, 576})->Args({576, 1536});
}

void BM_GemvQ4_1(benchmark::State& s) { run_gemv<fk::gemv_q4_1, fp::q4_1, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ4_1)->Apply(smollm2_q4_shapes)->Unit(benchmark::kMicrosecond);

void BM_GemvQ4_1Canonical(benchmark::State& s) {
  run_gemv<fk::gemv_q4_1_canonical, fp::q4_1, fp::layout::canonical>(s);
}
BENCHMARK(BM_GemvQ4_1Canonical)->Apply(smollm2_q4_shapes)->Unit(benchmark::kMicrosecond);

void k_quant_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "k"})->Args({576, 1536})->Args({2048, 2048});
}
void BM_GemvQ4_1KShapes(benchmark::State& s) { run_gemv<fk::gemv_q4_1, fp::q4_1, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ4_1KShapes)->Apply(k_quant_shapes)->Unit(benchmark::kMicrosecond);
void BM_GemvQ4_K(benchmark::State& s) { run_gemv<fk::gemv_q4_k, fp::q4_k, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ4_K)->Apply(k_quant_shapes)->Unit(benchmark::kMicrosecond);
void BM_GemvQ5_K(benchmark::State& s) { run_gemv<fk::gemv_q5_k, fp::q5_k, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ5_K)->Apply(k_quant_shapes)->Unit(benchmark::kMicrosecond);
void BM_GemvQ6_K(benchmark::State& s) { run_gemv<fk::gemv_q6_k, fp::q6_k, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ6_K)->Apply(k_quant_shapes)->Unit(benchmark::kMicrosecond);

void BM_GemvQ8_0(benchmark::State& s) { run_gemv<fk::gemv_q8_0, fp::q8_0, fp::layout::row_major>(s); }
BENCHMARK(BM_GemvQ8_0)->ArgNames({"n", "k"})->Args({49152, 576})->Unit(benchmark::kMillisecond);

}  // namespace
