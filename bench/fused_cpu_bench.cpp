// CPU-backend time of the fused decode projections against the unfused
// kernel sequences they replace, at the SmolLM2-135M shapes (hidden 576,
// 9 query heads and 3 KV heads of 64, FFN 1536), for F16 and Q4_1 weights:
//
//  * BM_Qkv<P>/fused:     rmsnorm_qkv<P>, one dispatch;
//    BM_Qkv<P>/separate:  rmsnorm_f32 (one row) + gemv of Wq, Wk, Wv: 4 dispatches.
//  * BM_GateUp<P>/fused:    rmsnorm_gate_up_swiglu<P>, one dispatch;
//    BM_GateUp<P>/separate: rmsnorm_f32 + gemv of W_gate, W_up + element-wise
//                           SwiGLU: 4 dispatches.
//
// Fused and separate runs of one projection and policy are adjacent rows of
// the table; the counter `vs_fused` of a separate row is its time divided
// by the fused row's (measured just before it in the same process), so
// values above 1 mean the fused kernel is faster. Times are wall-clock
// (the work runs on the backend's worker threads); each iteration ends with
// a synchronize. Weights are random, quantized with ggml's reference
// quantizers (values do not change the time). Workers follow
// FOUNDRY_CPU_THREADS (default: all cores).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/ffn/aliases.hpp>
#include <kernels/gemv/aliases.hpp>
#include <kernels/policies/repack.hpp>
#include <kernels/qkv/aliases.hpp>
#include <kernels/rmsnorm/aliases.hpp>

namespace {

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;

constexpr std::uint32_t kHidden = 576, kHeads = 9, kKv = 3, kHeadDim = 64, kFfn = 1536;
constexpr std::uint32_t kQRows = kHeads * kHeadDim, kKvRows = kKv * kHeadDim;

fd::executor& cpu() {
  static fd::executor ex{fd::cpu::make_backend()};
  return ex;
}

/// Seconds per iteration of the fused run of each projection/policy, for
/// the ratio reported by the separate run.
std::map<std::string, double>& fused_times() {
  static std::map<std::string, double> t;
  return t;
}

std::vector<float> random_floats(std::mt19937& g, std::size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

/// Device planes of a random [rows, k] matrix in policy P.
template <class P>
struct device_matrix {
  fd::buffer data, scales;
  device_matrix(fd::executor& ex, std::mt19937& g, std::uint32_t rows, std::uint32_t k) {
    const auto w = random_floats(g, std::size_t{rows} * k);
    std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, k));
    fd::quant::quantize_row(fp::ggml_type_of<P>, w.data(), gguf.data(), w.size());
    const auto planes = fp::repack<P>(gguf.data(), rows, k, fp::layout::row_major);
    data = ex.upload(planes.data);
    scales = P::has_scale ? ex.upload(planes.scales) : ex.allocate<float>(1);
  }
};

/// The library's row-major GEMV for policy P (y = W·x).
template <class P>
struct gemv_for;
template <>
struct gemv_for<fp::f16> {
  using type = fk::gemv_f16;
};
template <>
struct gemv_for<fp::q4_1> {
  using type = fk::gemv_q4_1;
};

/// Element-wise SwiGLU of the unfused FFN: y[i] = SiLU(gate[i]) · up[i].
struct swiglu_elements {
  static constexpr fd::fixed_string name = "swiglu_elements";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"gate", fd::input<float>>, fd::arg<"up", fd::input<float>>,
                                  fd::arg<"y", fd::output<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using helpers = fd::type_list<fd::act::silu::piece>;
  static constexpr std::string_view body = R"(const uint i = $thread_position_in_grid.x;
if (i < $n) $y[i] = ActSiLU::apply($gate[i]) * $up[i];)";
};
using swiglu_kernel = fd::fused_kernel<"bench_swiglu", fd::per_element<fd::size_arg<"n">, 256>, swiglu_elements>;

/// Binds a GEMV of matrix `m` (P) from x to y.
template <class P>
typename gemv_for<P>::type::arguments gemv_args(const device_matrix<P>& m, const fd::buffer& x, const fd::buffer& y,
                                                std::uint32_t n, std::uint32_t k) {
  typename gemv_for<P>::type::arguments a;
  a.template set<"w">(m.data).template set<"x">(x).template set<"y">(y).template set<"n">(n).template set<"k">(k);
  if constexpr (P::has_scale) a.template set<"w_scales">(m.scales);
  return a;
}

fk::rmsnorm_f32::arguments rmsnorm_args(const fd::buffer& x, const fd::buffer& gamma, const fd::buffer& y) {
  fk::rmsnorm_f32::arguments a;
  a.set<"x">(x).set<"gamma">(gamma).set<"y">(y).set<"eps">(1e-5f).set<"rows">(1u).set<"n">(kHidden);
  return a;
}

/// Times `step` (dispatches + synchronize) per iteration; records the fused
/// time under `key`, or reports the ratio to it.
template <class Step>
void timed(benchmark::State& state, const std::string& key, bool fused, Step step) {
  step();  // compile (or load from the disk cache) outside the timed loop
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t iters = 0;
  for (auto _ : state) {
    step();
    ++iters;
  }
  const double per_iter =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / double(std::max<std::int64_t>(iters, 1));
  if (fused)
    fused_times()[key] = per_iter;
  else if (auto it = fused_times().find(key); it != fused_times().end())
    state.counters["vs_fused"] = per_iter / it->second;
}

template <class P>
void BM_Qkv(benchmark::State& state, bool fused) {
  auto& ex = cpu();
  std::mt19937 g(42);
  const device_matrix<P> wq(ex, g, kQRows, kHidden), wk(ex, g, kKvRows, kHidden), wv(ex, g, kKvRows, kHidden);
  fd::buffer x = ex.upload(random_floats(g, kHidden, -3, 3)), gamma = ex.upload(random_floats(g, kHidden, 0.5f, 1.5f));
  fd::buffer xn = ex.allocate<float>(kHidden), q = ex.allocate<float>(kQRows), k = ex.allocate<float>(kKvRows),
             v = ex.allocate<float>(kKvRows);
  const std::string key = std::string("qkv_") + std::string(P::name.view());
  if (fused) {
    using K = fk::rmsnorm_qkv<P>;
    typename K::arguments a;
    a.template set<"wq">(wq.data).template set<"wk">(wk.data).template set<"wv">(wv.data);
    if constexpr (P::has_scale)
      a.template set<"wq_scales">(wq.scales).template set<"wk_scales">(wk.scales).template set<"wv_scales">(wv.scales);
    a.template set<"x">(x).template set<"gamma">(gamma).template set<"eps">(1e-5f).template set<"hidden">(kHidden);
    a.template set<"n_heads">(kHeads).template set<"n_kv">(kKv).template set<"head_dim">(kHeadDim);
    a.template set<"q">(q).template set<"k">(k).template set<"v">(v);
    timed(state, key, true, [&] {
      ex.dispatch<K>(a);
      ex.synchronize();
    });
  } else {
    using G = typename gemv_for<P>::type;
    const auto rn = rmsnorm_args(x, gamma, xn);
    const auto aq = gemv_args(wq, xn, q, kQRows, kHidden), ak = gemv_args(wk, xn, k, kKvRows, kHidden),
               av = gemv_args(wv, xn, v, kKvRows, kHidden);
    timed(state, key, false, [&] {
      ex.dispatch<fk::rmsnorm_f32>(rn);
      ex.dispatch<G>(aq);
      ex.dispatch<G>(ak);
      ex.dispatch<G>(av);
      ex.synchronize();
    });
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t{kQRows + 2 * kKvRows} * kHidden);
}

template <class P>
void BM_GateUp(benchmark::State& state, bool fused) {
  auto& ex = cpu();
  std::mt19937 g(43);
  const device_matrix<P> wg(ex, g, kFfn, kHidden), wu(ex, g, kFfn, kHidden);
  fd::buffer x = ex.upload(random_floats(g, kHidden, -3, 3)), gamma = ex.upload(random_floats(g, kHidden, 0.5f, 1.5f));
  fd::buffer xn = ex.allocate<float>(kHidden), gate = ex.allocate<float>(kFfn), up = ex.allocate<float>(kFfn),
             y = ex.allocate<float>(kFfn);
  const std::string key = std::string("gate_up_") + std::string(P::name.view());
  if (fused) {
    using K = fk::rmsnorm_gate_up_swiglu<P>;
    typename K::arguments a;
    a.template set<"w_gate">(wg.data).template set<"w_up">(wu.data);
    if constexpr (P::has_scale) a.template set<"w_gate_scales">(wg.scales).template set<"w_up_scales">(wu.scales);
    a.template set<"x">(x).template set<"gamma">(gamma).template set<"eps">(1e-5f).template set<"hidden">(kHidden);
    a.template set<"ffn">(kFfn).template set<"y">(y);
    timed(state, key, true, [&] {
      ex.dispatch<K>(a);
      ex.synchronize();
    });
  } else {
    using G = typename gemv_for<P>::type;
    const auto rn = rmsnorm_args(x, gamma, xn);
    const auto ag = gemv_args(wg, xn, gate, kFfn, kHidden), au = gemv_args(wu, xn, up, kFfn, kHidden);
    swiglu_kernel::arguments sw;
    sw.set<"gate">(gate).set<"up">(up).set<"y">(y).set<"n">(kFfn);
    timed(state, key, false, [&] {
      ex.dispatch<fk::rmsnorm_f32>(rn);
      ex.dispatch<G>(ag);
      ex.dispatch<G>(au);
      ex.dispatch<swiglu_kernel>(sw);
      ex.synchronize();
    });
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t{2 * kFfn} * kHidden);
}

void register_all() {
  benchmark::RegisterBenchmark("BM_QkvF16/fused", BM_Qkv<fp::f16>, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_QkvF16/separate", BM_Qkv<fp::f16>, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_QkvQ4_1/fused", BM_Qkv<fp::q4_1>, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_QkvQ4_1/separate", BM_Qkv<fp::q4_1>, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_GateUpF16/fused", BM_GateUp<fp::f16>, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_GateUpF16/separate", BM_GateUp<fp::f16>, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_GateUpQ4_1/fused", BM_GateUp<fp::q4_1>, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_GateUpQ4_1/separate", BM_GateUp<fp::q4_1>, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
}
[[maybe_unused]] const bool kRegistered = (register_all(), true);

}  // namespace
