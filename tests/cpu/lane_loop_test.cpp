// Lane-loop execution (dsl/lane_loop.hpp): which kernels take it, what it
// reports when they cannot, and that it computes exactly what the fiber path
// computes — reductions over partial SIMD-groups, threads that return before
// a reduction point, several points in one kernel, edge threadgroups of a
// non-uniform grid. Every kernel here runs on both paths in the same test
// (executor option `lane_loops`), outputs poisoned first.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/test_support.hpp"
#include "foundry/backends/cpu/entry.hpp"
#include "foundry/foundry.hpp"
#include "kernels/library.hpp"
#include "kernels/policies/repack.hpp"

namespace {

namespace fd = foundry;
using foundry_test::exec;

// --- kernels under test ------------------------------------------------------

/// y[i] = the sum, max and min of x over the lanes of i's SIMD-group that
/// have `i < n` (threads at or past n return before the reduction points),
/// then the sum of squares of the SIMD-group minus its max: three reduction
/// points in one stage and one after a value computed from the first.
struct three_points {
  static constexpr fd::fixed_string name = "three_points";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float, fd::min_elements<fd::size_arg<"n">>>>,
                                  fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"i", std::uint32_t>, fd::port<"v", fd::metal::float4>>;
  static constexpr fd::ct_string emit() {
    return "$i = $thread_position_in_grid.x;\n"
           "if ($i >= $n) return;\n"
           "const float xi = $x[$i];\n" +
           fd::simd_reduction(fd::reduce_op::add, "float", "sum", "xi") +
           fd::simd_reduction(fd::reduce_op::max, "float", "hi", "$x[$i]") +
           fd::simd_reduction(fd::reduce_op::min, "float", "lo", "$x[$i] - hi") +
           "$v = float4(sum, hi, lo, 0.0f);\n";
  }
};
/// Epilogue: a second reduction point after the main stage, then the store.
struct square_sum_store {
  static constexpr fd::fixed_string name = "square_sum_store";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using arguments = fd::type_list<fd::arg<"y", fd::output<float, fd::min_elements<fd::sizes::product<
                                                                fd::size_arg<"n">, fd::size_const<4>>>>>>;
  using consumes = fd::type_list<fd::port<"i", std::uint32_t>, fd::port<"v", fd::metal::float4>>;
  static constexpr fd::ct_string emit() {
    return fd::simd_reduction(fd::reduce_op::add, "float", "sq", "$v.x * $v.x") +
           "$y[4u * $i + 0u] = $v.x;\n"
           "$y[4u * $i + 1u] = $v.y;\n"
           "$y[4u * $i + 2u] = $v.z;\n"
           "$y[4u * $i + 3u] = sq;\n";
  }
};

template <std::uint32_t Threads>
using reductions_kernel = fd::fused_kernel<"lane_loop_reductions", fd::per_element<fd::size_arg<"n">, Threads>,
                                           three_points, square_sum_store>;

/// A stage with a barrier inside a loop: must keep the fiber path.
struct barrier_in_loop {
  static constexpr fd::fixed_string name = "barrier_in_loop";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float, fd::min_elements<fd::size_arg<"n">>>>,
                                  fd::arg<"y", fd::output<float, fd::min_elements<fd::size_arg<"n">>>>,
                                  fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using threadgroup = fd::type_list<fd::tg_array<"t", float, 64>>;
  static constexpr std::string_view body =
      "const uint i = $thread_position_in_grid.x, l = $thread_index_in_threadgroup;\n"
      "float v = i < $n ? $x[i] : 0.0f;\n"
      "for (uint r = 0; r < 2u; ++r) {\n"
      "  $t[l] = v;\n"
      "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
      "  v += $t[63u - l];\n"
      "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
      "}\n"
      "if (i < $n) $y[i] = v;\n";
};
using barrier_kernel =
    fd::fused_kernel<"lane_loop_barrier", fd::per_element<fd::size_arg<"n">, 64>, barrier_in_loop>;

/// A reduction point written inside a block: not a point the composer can
/// split at.
struct point_in_block {
  static constexpr fd::fixed_string name = "point_in_block";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"y", fd::output<float>>>;
  static constexpr fd::ct_string emit() {
    return "if ($thread_index_in_simdgroup < 32u) {\n" +
           fd::simd_reduction(fd::reduce_op::add, "float", "s", "1.0f") + "  $y[0] = s;\n}\n";
  }
};
using point_in_block_kernel =
    fd::fused_kernel<"lane_loop_point_in_block", fd::per_element<fd::size_const<32>, 32>, point_in_block>;

// --- what takes the lane-loop path -------------------------------------------

TEST(LaneLoop, DecodeKernelsTakeTheLaneLoopPath) {
  namespace k = fd::kernels;
  static_assert(k::gemv_f16::lane_loop() && k::gemv_q8_0::lane_loop() && k::gemv_q4_0::lane_loop() &&
                k::gemv_q4_1::lane_loop());
  static_assert(k::rmsnorm_qkv_q4_1::lane_loop() && k::rmsnorm_gate_up_swiglu_q4_1::lane_loop());
  static_assert(reductions_kernel<64>::lane_loop());
  // Decode attention: its helper fences the GPU form (SIMD-group sums, a
  // barrier) off from the CPU, which gets a form without cross-lane operations.
  static_assert(k::attention_decode_f32::lane_loop() && k::attention_decode_f16::lane_loop() &&
                k::attention_decode_f32_position_buffer::lane_loop());
  // Flash-decoding: lane 0 of each SIMD-group takes its split on the CPU;
  // the combine pass has no cross-lane operation.
  static_assert(k::attention_split_f32::lane_loop() && k::attention_split_f32_g4::lane_loop() &&
                k::attention_combine_f32::lane_loop() && k::attention_split_f32_g4_position_buffer::lane_loop() &&
                k::attention_split_f32_position_buffer::lane_loop() && k::attention_combine_f32_position_buffer::lane_loop() &&
                k::attention_split_rope_norm_f32_g4_position_buffer::lane_loop() &&
                k::attention_split_rope_neox_f32_position_buffer::lane_loop());
  // Arg-max and the Gumbel-max pass: thread 0 scans on the CPU, the GPU
  // forms (SIMD-group butterflies, a barrier) are fenced off.
  static_assert(k::argmax_f32::lane_loop() && k::gumbel_argmax_f32::lane_loop());
  EXPECT_EQ(k::gemv_q4_1::lane_loop_blocker(), "");
}

TEST(LaneLoop, OnlyTextOutsideGpuFencesCountsForHelpers) {
  using fd::detail::cpu_text_collective;
  static_assert(!cpu_text_collective("float f(float x) { return x; }\n"));
  static_assert(cpu_text_collective("float f(float x) { return simd_sum(x); }\n"));
  static_assert(cpu_text_collective("// calls a barrier\n"));  // textual: comments count
  static_assert(!cpu_text_collective("#if !FOUNDRY_TARGET_CPU\nfloat f(float x) { return simd_sum(x); }\n#endif\n"));
  static_assert(!cpu_text_collective(
      "#if !FOUNDRY_TARGET_CPU\n#ifdef A\nsimd_max\n#endif\nthreadgroup_barrier\n#endif\nint x;\n"));
  static_assert(cpu_text_collective("#if !FOUNDRY_TARGET_CPU\n#endif\nsimd_sum\n"));
  static_assert(cpu_text_collective("#if !FOUNDRY_TARGET_CPU\nsimd_sum\n"));  // unclosed: collective
  static_assert(cpu_text_collective("#if FOUNDRY_TARGET_CPU\nsimd_sum\n#endif\n"));
  // The fence's own #else branch is CPU code: conservative.
  static_assert(cpu_text_collective("#if !FOUNDRY_TARGET_CPU\nint a;\n#else\nint b;\n#endif\n"));
  static_assert(!cpu_text_collective("#if !FOUNDRY_TARGET_CPU\n#if A\nsimd_sum\n#else\nsimd_max\n#endif\n#endif\n"));
}

TEST(LaneLoop, OtherCrossLaneOperationsKeepTheFiberPathAndSayWhy) {
  static_assert(!barrier_kernel::lane_loop());
  EXPECT_EQ(barrier_kernel::lane_loop_blocker(), "stage barrier_in_loop: it calls threadgroup_barrier outside a reduction point");
  static_assert(!point_in_block_kernel::lane_loop());
  EXPECT_EQ(point_in_block_kernel::lane_loop_blocker(),
            "stage point_in_block: its reduction point `s` is inside a block (it must be at the stage's top level)");
  static_assert(!fd::kernels::gemv_q4_1_canonical::lane_loop());
  EXPECT_NE(fd::kernels::gemv_q4_1_canonical::lane_loop_blocker().find("simd_shuffle_xor"), std::string::npos);
}

TEST(LaneLoop, CpuSourceHasTheLaneEntryOnlyWhereItApplies) {
  const auto lanes = fd::make_kernel_source<reductions_kernel<64>>(fd::cpu::cpu_entry{});
  EXPECT_NE(lanes.text.find("lane_loop_reductions__cpu_lanes("), std::string::npos);
  EXPECT_NE(lanes.text.find("foundry_lanes_reduce_max("), std::string::npos);
  const auto fibers = fd::make_kernel_source<barrier_kernel>(fd::cpu::cpu_entry{});
  EXPECT_EQ(fibers.text.find("__cpu_lanes"), std::string::npos);
  EXPECT_EQ(lanes.text.find("__cpu_lanes_stride"), std::string::npos);  // every thread is read
  // Lane 0 alone: the loops step by the SIMD width, the executor learns it
  // from the exported stride (abi.h).
  const auto lane0 = fd::make_kernel_source<fd::kernels::gemv_q4_1>(fd::cpu::cpu_entry{});
  EXPECT_NE(lane0.text.find("gemv_q4_1__cpu_lanes_stride = 32u;"), std::string::npos);
  EXPECT_NE(lane0.text.find("lane_ += FOUNDRY_CPU_SIMD_WIDTH"), std::string::npos);
  EXPECT_EQ(lane0.text.find("foundry_lanes_reduce_add("), std::string::npos);
  // The target-neutral body (what Metal and CUDA compile) keeps the plain call.
  EXPECT_NE(std::string(reductions_kernel<64>::body_source()).find("const float hi = simd_max(x[v_i]);"),
            std::string::npos);
}

// --- both paths compute the same ---------------------------------------------

/// Runs `run()` with lane loops on, then off, restoring the options.
template <class F>
auto on_path(bool lane_loops, F&& run) {
  const auto saved = fd::cpu::get_executor_options();
  auto o = saved;
  o.lane_loops = lane_loops;
  fd::cpu::set_executor_options(o);
  struct restore {
    fd::cpu::executor_options s;
    ~restore() { fd::cpu::set_executor_options(s); }
  } r{saved};
  return run();
}

template <std::uint32_t Threads>
void check_reductions(std::uint32_t n) {
  SCOPED_TRACE("n = " + std::to_string(n) + ", threads per threadgroup " + std::to_string(Threads));
  auto rng = foundry_test::rng();
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  // Reference: per SIMD-group of the grid, over the elements < n.
  std::vector<double> ref(4 * std::size_t(n));
  for (std::uint32_t g = 0; g < n; g += 32) {
    const std::uint32_t e = std::min(n, g + 32);
    double sum = 0, hi = -1e30, lo = 1e30;
    for (std::uint32_t i = g; i < e; ++i) sum += x[i], hi = std::max(hi, double(x[i]));
    for (std::uint32_t i = g; i < e; ++i) lo = std::min(lo, double(x[i]) - hi);
    for (std::uint32_t i = g; i < e; ++i) {
      ref[4 * i + 0] = sum, ref[4 * i + 1] = hi, ref[4 * i + 2] = lo;
      ref[4 * i + 3] = (e - g) * sum * sum;
    }
  }
  auto run = [&] {
    auto& ex = exec();
    fd::buffer xb = ex.upload(x), yb = ex.allocate<float>(4 * std::size_t(n));
    yb.fill_bytes(0xFF);
    typename reductions_kernel<Threads>::arguments a;
    a.template set<"x">(xb).template set<"y">(yb).template set<"n">(n);
    ex.template dispatch<reductions_kernel<Threads>>(a);
    ex.synchronize();
    return yb.template read<float>();
  };
  const std::vector<float> lanes = on_path(true, run), fibers = on_path(false, run);
  // Same operations in the same lane order: bit-identical.
  ASSERT_EQ(0, std::memcmp(lanes.data(), fibers.data(), lanes.size() * sizeof(float)));
  // float32 sums of ≤ 32 terms in [-1, 1]: relative error ~1e-7; 1e-5 is margin.
  EXPECT_LT(foundry_test::rel_error(lanes, ref), 1e-5);
}

TEST(LaneLoop, ReductionPointsMatchTheFiberPathBitForBit) {
  check_reductions<64>(64 * 5);    // whole threadgroups
  check_reductions<64>(64 * 3 + 45);  // last threadgroup partial, its last SIMD-group partial
  check_reductions<256>(7);        // one partial SIMD-group
  check_reductions<96>(1000);      // three SIMD-groups per threadgroup
}

/// LM-head form: y = W · RMSNorm(x; gamma), each SIMD-group normalising x
/// for its own row (rmsnorm_simdgroup_input, a reduction point in a hook).
using rms_gemv_f32 =
    fd::fused_kernel<"lane_loop_rms_gemv_f32", fd::kernels::gemv_dispatch,
                     fd::kernels::gemv_row_major<fd::kernels::rmsnorm_simdgroup_input<fd::policies::f32>>,
                     fd::epi::store<"y", "value", fd::size_arg<"n">>>;

/// The same with the RMSNorm folded into the row's reduction point
/// (rmsnorm_folded_input: Σx² summed with the dot product as a float2).
using folded_rms_gemv_f32 =
    fd::fused_kernel<"lane_loop_folded_rms_gemv_f32", fd::kernels::gemv_dispatch,
                     fd::kernels::gemv_row_major<fd::kernels::rmsnorm_folded_input<fd::policies::f32>>,
                     fd::epi::store<"y", "value", fd::size_arg<"n">>>;

template <class K>
void check_rms_gemv() {
  static_assert(K::lane_loop());
  const std::uint32_t n = 77, k = 300;  // a partial threadgroup; k not a multiple of 32·4
  const float eps = 1e-5f;
  auto rng = foundry_test::rng();
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> w(std::size_t(n) * k), x(k), gamma(k);
  for (float& v : w) v = d(rng);
  for (float& v : x) v = d(rng);
  for (float& v : gamma) v = 1.0f + 0.5f * d(rng);
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv_rms = 1.0 / std::sqrt(ss / k + eps);
  std::vector<double> ref(n);
  for (std::uint32_t r = 0; r < n; ++r)
    for (std::uint32_t i = 0; i < k; ++i) ref[r] += double(w[std::size_t(r) * k + i]) * x[i] * inv_rms * gamma[i];
  auto run = [&] {
    auto& ex = exec();
    fd::buffer wb = ex.upload(w), xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(n);
    yb.fill_bytes(0xFF);
    typename K::arguments a;
    a.template set<"w">(wb).template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(eps);
    a.template set<"y">(yb).template set<"n">(n).template set<"k">(k);
    ex.template dispatch<K>(a);
    ex.synchronize();
    return yb.template read<float>();
  };
  const std::vector<float> lanes = on_path(true, run), fibers = on_path(false, run);
  ASSERT_EQ(0, std::memcmp(lanes.data(), fibers.data(), lanes.size() * sizeof(float)));
  // float32 dot products of 300 terms: ~1e-7 relative; 1e-5 is margin.
  EXPECT_LT(foundry_test::rel_error(lanes, ref), 1e-5);
}

/// A GEMV whose epilogue makes no promise about its stores
/// (`scaled_residual`): lane loops, but every lane runs.
using gemv_q4_1_scaled =
    fd::fused_kernel<"lane_loop_gemv_q4_1_scaled", fd::kernels::gemv_dispatch,
                     fd::kernels::gemv_row_major<fd::plain_input<fd::policies::q4_1>>,
                     fd::epi::scaled_residual<>, fd::epi::store<"y", "value", fd::size_arg<"n">>>;

TEST(LaneLoop, LaneZeroAloneWhereTheMainStageComputesRowsWithIt) {
  namespace k = fd::kernels;
  // Block formats on the host run loop or the 8-bit form: lane 0 computes
  // the row, the epilogues store only for the writer.
  static_assert(k::gemv_q4_1::lane_loop_lane0() && k::gemv_q4_0_residual::lane_loop_lane0() &&
                k::gemv_q4_1_batched::lane_loop_lane0());
  static_assert(k::gemv_q8_0_cpu_q8::lane_loop_lane0() && k::gemv_q4_1_residual_cpu_q8::lane_loop_lane0());
  static_assert(k::rmsnorm_qkv_q4_1::lane_loop_lane0() && k::rmsnorm_qkv_q4_1_cpu_q8::lane_loop_lane0());
  static_assert(k::rmsnorm_gate_up_swiglu_q4_1::lane_loop_lane0() &&
                k::rmsnorm_gate_up_swiglu_q4_1_cpu_q8::lane_loop_lane0());
  // Every lane works: Q8_0's float form shares the row among the lanes,
  // F16 rows have a tail for all lanes, a hook preamble reduces over all
  // lanes, an epilogue without the promise might store for any lane.
  static_assert(k::gemv_q8_0::lane_loop() && !k::gemv_q8_0::lane_loop_lane0());
  static_assert(k::gemv_f16::lane_loop() && !k::gemv_f16::lane_loop_lane0());
  static_assert(k::rmsnorm_qkv_f16::lane_loop() && !k::rmsnorm_qkv_f16::lane_loop_lane0());
  static_assert(rms_gemv_f32::lane_loop() && !rms_gemv_f32::lane_loop_lane0());
  static_assert(gemv_q4_1_scaled::lane_loop() && !gemv_q4_1_scaled::lane_loop_lane0());
}

// Lane 0 alone (lane loops) and all 32 lanes on fibers give the same bits:
// the other lanes add zeros to the row's sum.
TEST(LaneLoop, LaneZeroAloneMatchesTheFiberPathBitForBit) {
  namespace k = fd::kernels;
  namespace fp = fd::policies;
  const std::uint32_t n = 77, kk = 320;  // a partial threadgroup
  auto rng = foundry_test::rng();
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> rows(std::size_t(n) * kk), x(kk), res(n);
  for (float& v : rows) v = d(rng);
  for (float& v : x) v = d(rng);
  for (float& v : res) v = d(rng);
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<fp::q4_1>(n, kk));
  const std::size_t row_bytes = gguf.size() / n;
  for (std::uint32_t r = 0; r < n; ++r)
    fd::quant::quantize_row(fp::ggml_type_of<fp::q4_1>, rows.data() + std::size_t(r) * kk,
                            gguf.data() + r * row_bytes, kk);
  const auto planes = fp::repack<fp::q4_1>(gguf.data(), n, kk, fp::layout::row_major);
  auto run = [&]<class K>() {
    auto& ex = exec();
    fd::buffer wb = ex.upload(planes.data), sb = ex.upload(planes.scales), xb = ex.upload(x);
    fd::buffer rb = ex.upload(res), yb = ex.allocate<float>(n);
    yb.fill_bytes(0xFF);
    typename K::arguments a;
    a.template set<"w">(wb).template set<"w_scales">(sb).template set<"x">(xb).template set<"residual">(rb);
    a.template set<"y">(yb).template set<"n">(n).template set<"k">(kk);
    ex.template dispatch<K>(a);
    ex.synchronize();
    return yb.template read<float>();
  };
  for (int q8 = 0; q8 < 2; ++q8) {
    SCOPED_TRACE(q8 ? "8-bit activations" : "float activations");
    auto one = [&] {
      return q8 ? run.template operator()<k::gemv_q4_1_residual_cpu_q8>()
                : run.template operator()<k::gemv_q4_1_residual>();
    };
    const std::vector<float> lanes = on_path(true, one), fibers = on_path(false, one);
    for (float v : lanes) ASSERT_FALSE(std::isnan(v));  // every row written
    EXPECT_EQ(0, std::memcmp(lanes.data(), fibers.data(), lanes.size() * sizeof(float)));
  }
}

TEST(LaneLoop, SimdgroupRmsNormGemvMatchesFloat64OnBothPaths) { check_rms_gemv<rms_gemv_f32>(); }
TEST(LaneLoop, FoldedRmsNormGemvMatchesFloat64OnBothPaths) { check_rms_gemv<folded_rms_gemv_f32>(); }

TEST(LaneLoop, KernelWithBarriersRunsOnTheFiberPath) {
  const std::uint32_t n = 200;
  auto rng = foundry_test::rng();
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  auto& ex = exec();
  fd::buffer xb = ex.upload(x), yb = ex.allocate<float>(n);
  yb.fill_bytes(0xFF);
  barrier_kernel::arguments a;
  a.set<"x">(xb).set<"y">(yb).set<"n">(n);
  ex.dispatch<barrier_kernel>(a);
  ex.synchronize();
  const auto y = yb.read<float>();
  // v0 = x_l; v1 = v0_l + v0_{63-l}; v2 = v1_l + v1_{63-l} = 2·v1_l.
  std::vector<double> ref(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t g = i / 64 * 64, l = i % 64, m = g + 63 - l;
    ref[i] = 2.0 * (double(x[i]) + (m < n ? double(x[m]) : 0.0));
  }
  EXPECT_LT(foundry_test::rel_error(y, ref), 1e-6);
}

}  // namespace
