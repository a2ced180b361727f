// Threadgroups: barriers and threadgroup memory (reductions and scans at
// every size from 32 to 1024, odd grids), the thread-position builtins,
// non-uniform grids, threadgroup memory poisoning, barrier divergence, the
// no-collectives fast path and argument validation.

#include <cmath>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace foundry_test;

const char* reduce_source = R"(
// Tree reduction through threadgroup memory, any threadgroup size.
ALWAYS_INLINE void tree_sum_body(const device int* x, device int* out, threadgroup int* tg,
                                 uint gid, uint tid, uint n, uint group) {
  tg[tid] = x[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = 1; s < n; s *= 2) {
    if (tid % (2 * s) == 0 && tid + s < n) tg[tid] += tg[tid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (tid == 0) out[group] = tg[0];
}
)";

const char* simd_reduce_source = R"(
// Two-level reduction: simd_sum per SIMD-group, partials through
// threadgroup memory, the first SIMD-group finishes. Also a threadgroup-wide
// exclusive scan built from simd_prefix_exclusive_sum.
ALWAYS_INLINE void block_body(const device float* x, device float* sums, device float* scan,
                              threadgroup float* partial, threadgroup float* offsets,
                              uint gid, uint tid, uint lane, uint sg, uint nsg, uint group) {
  const float v = x[gid];
  const float s = simd_sum(v);
  const float pre = simd_prefix_exclusive_sum(v);
  if (lane == 0) partial[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 0) {
    const float p = lane < nsg ? partial[lane] : 0.0f;
    const float total = simd_sum(p);
    const float off = simd_prefix_exclusive_sum(p);
    if (lane < nsg) offsets[lane] = off;
    if (lane == 0) sums[group] = total;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  scan[gid] = offsets[sg] + pre;
  (void)tid;
}
)";

const char* builtins_source = R"(
ALWAYS_INLINE void builtins_body(device uint* o, uint3 pos, uint3 tpos, uint3 tgpos, uint3 tpt, uint3 tgpg,
                                 uint3 tpg, uint3 dtpt, uint tidx, uint lane, uint sg, uint nsg, uint tps,
                                 ushort2 tpos16) {
  const uint linear = pos.x + pos.y * tpg.x + pos.z * tpg.x * tpg.y;
  device uint* r = o + linear * 28;
  r[0] = pos.x; r[1] = pos.y; r[2] = pos.z;
  r[3] = tpos.x; r[4] = tpos.y; r[5] = tpos.z;
  r[6] = tgpos.x; r[7] = tgpos.y; r[8] = tgpos.z;
  r[9] = tpt.x; r[10] = tpt.y; r[11] = tpt.z;
  r[12] = tgpg.x; r[13] = tgpg.y; r[14] = tgpg.z;
  r[15] = tpg.x; r[16] = tpg.y; r[17] = tpg.z;
  r[18] = dtpt.x; r[19] = dtpt.y; r[20] = dtpt.z;
  r[21] = tidx; r[22] = lane; r[23] = sg; r[24] = nsg; r[25] = tps;
  r[26] = uint(tpos16.x) + 1000u * uint(tpos16.y);
  r[27] = 0xABCD0000u + simd_sum(1u);
}
)";

const char* misc_source = R"(
// Reads threadgroup memory nobody wrote (the executor's poison).
ALWAYS_INLINE void peek_body(device uint* o, threadgroup uint* tg, uint gid) { o[gid] = tg[gid % 64]; }

// Barrier divergence, selected by `mode`:
//  0: no divergence;  1: one thread returns after the first barrier;
//  2: threads wait at different barriers;  3: a SIMD-group function meets a
//  threadgroup barrier;  4: lanes call different SIMD-group functions.
ALWAYS_INLINE void diverge_body(device float* o, constant uint& mode, uint tid) {
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (mode == 1 && tid == 5) return;
  if (mode == 2) {
    if (tid < 40) {
      threadgroup_barrier(mem_flags::mem_threadgroup);
    } else {
      threadgroup_barrier(mem_flags::mem_device);
    }
  }
  if (mode == 3) {
    if (tid == 3) {
      threadgroup_barrier(mem_flags::mem_threadgroup);
    } else {
      o[tid] = simd_sum(1.0f);
    }
  }
  if (mode == 4) {
    if (tid == 7) {
      o[tid] = simd_max(2.0f);
    } else {
      o[tid] = simd_sum(2.0f);
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  o[tid] = float(tid);
}

ALWAYS_INLINE void axpy_body(const device float* x, device float* y, constant float& a, uint gid) {
  y[gid] = a * x[gid] + y[gid];
}
)";

class Threadgroup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    module_ = build({
        {"tree_sum",
         std::string(reduce_source) +
             entry("tree_sum", "tree_sum_body((const device int*)L->args[0], (device int*)L->args[1], "
                               "(threadgroup int*)T->threadgroup_memory, T->thread_position_in_grid.x, "
                               "T->thread_index_in_threadgroup, T->threads_per_threadgroup.x, "
                               "T->threadgroup_position_in_grid.x + T->threadgroup_position_in_grid.y * "
                               "T->threadgroups_per_grid.x)"),
         {}},
        {"block",
         std::string(simd_reduce_source) +
             entry("block", "block_body((const device float*)L->args[0], (device float*)L->args[1], "
                            "(device float*)L->args[2], (threadgroup float*)(T->threadgroup_memory + 0), "
                            "(threadgroup float*)(T->threadgroup_memory + 128), T->thread_position_in_grid.x, "
                            "T->thread_index_in_threadgroup, T->thread_index_in_simdgroup, "
                            "T->simdgroup_index_in_threadgroup, T->simdgroups_per_threadgroup, "
                            "T->threadgroup_position_in_grid.x)"),
         {}},
        {"builtins",
         std::string(builtins_source) +
             entry("builtins", "builtins_body((device uint*)L->args[0], T->thread_position_in_grid, "
                               "T->thread_position_in_threadgroup, T->threadgroup_position_in_grid, "
                               "T->threads_per_threadgroup, T->threadgroups_per_grid, T->threads_per_grid, "
                               "T->dispatch_threads_per_threadgroup, T->thread_index_in_threadgroup, "
                               "T->thread_index_in_simdgroup, T->simdgroup_index_in_threadgroup, "
                               "T->simdgroups_per_threadgroup, T->threads_per_simdgroup, "
                               "T->thread_position_in_threadgroup)"),
         {}},
        {"misc",
         std::string(misc_source) +
             entry("peek", "peek_body((device uint*)L->args[0], (threadgroup uint*)T->threadgroup_memory, "
                           "T->thread_position_in_grid.x)") +
             entry("diverge", "diverge_body((device float*)L->args[0], *(constant uint*)L->args[1], "
                              "T->thread_index_in_threadgroup)") +
             entry("axpy", "axpy_body((const device float*)L->args[0], (device float*)L->args[1], "
                           "*(constant float*)L->args[2], T->thread_position_in_grid.x)"),
         {}},
    });
  }
  static void TearDownTestSuite() { module_.reset(); }
  static inline std::shared_ptr<const fc::module> module_;
};

TEST_F(Threadgroup, TreeReductionEverySizeOddGrid) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  for (uint32_t size : {32u, 64u, 96u, 100u, 128u, 256u, 333u, 512u, 1024u}) {
    SCOPED_TRACE("threads per threadgroup " + std::to_string(size));
    const uint32_t gx = 7, gy = 3, n = gx * gy * size;  // 2-D grid of 21 groups (x only carries threads)
    auto x = random_vector<int32_t>(g, n, -1000, 1000);
    auto out = poisoned<int32_t>(gx * gy);
    // thread_position_in_grid.x = tg.x * size + tid, so group (gx_i, gy_i)
    // reads x[gx_i * size + tid]: the y groups share inputs.
    run(*module_, "tree_sum__cpu", {x.data(), out.data()}, {gx, gy, 1}, {size, 1, 1}, size * sizeof(int32_t));
    for (uint32_t yy = 0; yy < gy; ++yy)
      for (uint32_t xx = 0; xx < gx; ++xx) {
        const int32_t want = std::accumulate(x.begin() + xx * size, x.begin() + (xx + 1) * size, 0);
        ASSERT_EQ(out[xx + yy * gx], want) << "group (" << xx << ", " << yy << ")";
      }
  }
}

TEST_F(Threadgroup, SimdTwoLevelReductionAndScan) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  for (uint32_t size : {32u, 64u, 96u, 160u, 256u, 1000u, 1024u}) {
    SCOPED_TRACE("threads per threadgroup " + std::to_string(size));
    const uint32_t groups = 5, n = groups * size;
    auto x = random_vector<float>(g, n, -1.0, 1.0);
    auto sums = poisoned<float>(groups);
    auto scan = poisoned<float>(n);
    run(*module_, "block__cpu", {x.data(), sums.data(), scan.data()}, {groups, 1, 1}, {size, 1, 1}, 256);
    for (uint32_t grp = 0; grp < groups; ++grp) {
      double acc = 0;
      for (uint32_t t = 0; t < size; ++t) {
        ASSERT_TRUE(near(scan[grp * size + t], acc, 1e-4, 1e-4)) << "scan at " << grp * size + t;
        acc += x[grp * size + t];
      }
      ASSERT_TRUE(near(sums[grp], acc, 1e-4, 1e-4)) << "sum of group " << grp;
    }
  }
}

void check_builtins(const fc::module& m, fc::dim3 tpt, fc::dim3 groups, std::optional<fc::dim3> grid) {
  const fc::dim3 g = grid ? *grid : fc::dim3{groups.x * tpt.x, groups.y * tpt.y, groups.z * tpt.z};
  const fc::dim3 tg = grid ? fc::dim3{(g.x + tpt.x - 1) / tpt.x, (g.y + tpt.y - 1) / tpt.y, (g.z + tpt.z - 1) / tpt.z}
                           : groups;
  const std::size_t n = std::size_t(g.x) * g.y * g.z;
  auto out = poisoned<uint32_t>(n * 28);
  void* args[] = {out.data()};
  fc::dispatch_desc d;
  d.kernel_name = "builtins";
  d.entry = m.entry("builtins__cpu");
  d.args = args;
  d.arg_count = 1;
  d.threadgroups_per_grid = groups;
  d.threads_per_threadgroup = tpt;
  d.threads_per_grid = grid;
  fc::dispatch(d);
  for (uint32_t z = 0; z < g.z; ++z)
    for (uint32_t y = 0; y < g.y; ++y)
      for (uint32_t x = 0; x < g.x; ++x) {
        const uint32_t* r = &out[(x + y * g.x + std::size_t(z) * g.x * g.y) * 28];
        const uint32_t gp[3] = {x / tpt.x, y / tpt.y, z / tpt.z};
        const uint32_t tp[3] = {x % tpt.x, y % tpt.y, z % tpt.z};
        // Size of this threadgroup (trimmed at the edge of a non-uniform grid).
        const uint32_t sz[3] = {std::min(tpt.x, g.x - gp[0] * tpt.x), std::min(tpt.y, g.y - gp[1] * tpt.y),
                                std::min(tpt.z, g.z - gp[2] * tpt.z)};
        const uint32_t idx = tp[0] + tp[1] * sz[0] + tp[2] * sz[0] * sz[1];
        const uint32_t count = sz[0] * sz[1] * sz[2];
        const uint32_t want[28] = {x, y, z, tp[0], tp[1], tp[2], gp[0], gp[1], gp[2], sz[0], sz[1], sz[2],
                                   tg.x, tg.y, tg.z, g.x, g.y, g.z, tpt.x, tpt.y, tpt.z, idx, idx % 32, idx / 32,
                                   (count + 31) / 32, 32, tp[0] + 1000 * tp[1],
                                   0xABCD0000u + std::min(32u, count - idx / 32 * 32)};
        for (int k = 0; k < 28; ++k)
          ASSERT_EQ(r[k], want[k]) << "builtin " << k << " of thread (" << x << ", " << y << ", " << z << ")";
      }
}

TEST_F(Threadgroup, BuiltinsThreeDimensional) { check_builtins(*module_, {8, 4, 3}, {3, 2, 5}, std::nullopt); }

TEST_F(Threadgroup, BuiltinsNonUniformGrid) {
  check_builtins(*module_, {32, 4, 1}, {}, fc::dim3{100, 7, 3});
  check_builtins(*module_, {16, 16, 2}, {}, fc::dim3{17, 33, 5});
}

TEST_F(Threadgroup, MemoryIsPoisonedBeforeEachGroup) {
  const uint32_t n = 256;
  auto out = poisoned<uint32_t>(n);
  std::fill(out.begin(), out.end(), 0u);
  run(*module_, "peek__cpu", {out.data()}, {4, 1, 1}, {64, 1, 1}, 64 * sizeof(uint32_t));
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(out[i], 0xFFFFFFFFu) << i;
}

struct divergence_case {
  uint32_t mode;
  uint32_t barrier_count;
  const char* text;
};

TEST_F(Threadgroup, DivergenceIsReportedNotHung) {
  const divergence_case cases[] = {
      {1, 1, "thread 5 returned while thread 0 waits at threadgroup_barrier"},
      {2, 1, "threads wait at different barriers"},
      {3, 1, "waits at a SIMD-group function"},
      {4, 1, "lanes wait at different SIMD-group functions"},
  };
  std::vector<float> o(64, 0.0f);
  for (const auto& c : cases) {
    SCOPED_TRACE("mode " + std::to_string(c.mode));
    uint32_t mode = c.mode;
    try {
      run(*module_, "diverge__cpu", {o.data(), &mode}, {6, 2, 1}, {64, 1, 1});
      FAIL() << "no barrier_divergence";
    } catch (const fc::barrier_divergence& e) {
      EXPECT_EQ(e.kernel(), "diverge__cpu");
      EXPECT_EQ(e.barrier_count(), c.barrier_count);
      EXPECT_LT(e.threadgroup()[0], 6u);
      EXPECT_LT(e.threadgroup()[1], 2u);
      EXPECT_NE(std::string(e.what()).find(c.text), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
    }
    // The executor is healthy afterwards.
    uint32_t ok = 0;
    std::fill(o.begin(), o.end(), -1.0f);
    run(*module_, "diverge__cpu", {o.data(), &ok}, {3, 1, 1}, {64, 1, 1});
    for (uint32_t i = 0; i < 64; ++i) ASSERT_EQ(o[i], float(i));
  }
}

TEST_F(Threadgroup, NoCollectivesFastPathAndManyGroups) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  const uint32_t n = 256 * 97;
  auto x = random_vector<float>(g, n, -1, 1), y = random_vector<float>(g, n, -1, 1), y0 = y;
  float a = 1.5f;
  void* args[] = {x.data(), y.data(), &a};
  fc::dispatch_desc d;
  d.kernel_name = "axpy";
  d.entry = module_->entry("axpy__cpu");
  d.args = args;
  d.arg_count = 3;
  d.threadgroups_per_grid = {97, 1, 1};
  d.threads_per_threadgroup = {256, 1, 1};
  d.collectives = false;
  fc::dispatch(d);
  // The kernel may contract a * x + y into an FMA (so may Metal).
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(near(y[i], a * x[i] + y0[i], 1e-6, 1e-6)) << i;
  d.collectives = true;
  fc::dispatch(d);
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(near(y[i], a * x[i] * 2 + y0[i], 1e-5, 1e-5)) << i;
}

TEST_F(Threadgroup, ConcurrentDispatchesFromSeveralHostThreads) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  const uint32_t size = 128, groups = 9, n = size * groups;
  std::vector<std::vector<int32_t>> inputs;
  for (int t = 0; t < 4; ++t) inputs.push_back(random_vector<int32_t>(g, n, -1000, 1000));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        auto out = poisoned<int32_t>(groups);
        run(*module_, "tree_sum__cpu", {inputs[t].data(), out.data()}, {groups, 1, 1}, {size, 1, 1},
            size * sizeof(int32_t));
        for (uint32_t grp = 0; grp < groups; ++grp)
          if (out[grp] != std::accumulate(inputs[t].begin() + grp * size, inputs[t].begin() + (grp + 1) * size, 0))
            ++failures[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "host thread " << t;
}

TEST_F(Threadgroup, InvalidDispatchesAreRejected) {
  fc::dispatch_desc d;
  d.entry = module_->entry("axpy__cpu");
  d.threads_per_threadgroup = {1025, 1, 1};
  EXPECT_THROW(fc::dispatch(d), std::invalid_argument);
  d.threads_per_threadgroup = {32, 32, 2};
  EXPECT_THROW(fc::dispatch(d), std::invalid_argument);
  d.threads_per_threadgroup = {32, 1, 1};
  d.threadgroups_per_grid = {0, 1, 1};
  EXPECT_THROW(fc::dispatch(d), std::invalid_argument);
  d.entry = nullptr;
  EXPECT_THROW(fc::dispatch(d), std::invalid_argument);
  EXPECT_THROW(module_->entry("missing__cpu"), fc::load_error);
}

}  // namespace
