// Atomics on device and threadgroup memory under contention: many
// threadgroups on every worker hit a few counters at once.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace foundry_test;

const char* atomics_source = R"(
struct Counters {
  atomic_uint count[4];
  atomic_int imin, imax, iand, ior, ixor, isum;
  atomic_float fsum;
  atomic_uint slot;
  atomic_float fmax_cas;
};

ALWAYS_INLINE void atomics_body(const device int* v, device Counters* c, device uint* olds,
                                device uint* swapped, threadgroup atomic_uint* tg_count,
                                device uint* tg_totals, uint gid, uint tid, uint group) {
  const int x = v[gid];
  olds[gid] = atomic_fetch_add_explicit(&c->count[gid % 4], 1u, memory_order_relaxed);
  atomic_fetch_min_explicit(&c->imin, x, memory_order_relaxed);
  atomic_fetch_max_explicit(&c->imax, x, memory_order_relaxed);
  atomic_fetch_and_explicit(&c->iand, x | 0x0F0F0000, memory_order_relaxed);
  atomic_fetch_or_explicit(&c->ior, x & 0x00FF00FF, memory_order_relaxed);
  atomic_fetch_xor_explicit(&c->ixor, x, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->isum, x, memory_order_relaxed);
  atomic_fetch_sub_explicit(&c->isum, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->fsum, float(x % 64), memory_order_relaxed);
  swapped[gid] = atomic_exchange_explicit(&c->slot, gid + 1u, memory_order_relaxed);
  // A float max through a compare-exchange loop.
  float expected = atomic_load_explicit(&c->fmax_cas, memory_order_relaxed);
  const float want = float(x) * 0.5f;
  while (expected < want &&
         !atomic_compare_exchange_weak_explicit(&c->fmax_cas, &expected, want, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
  // Threadgroup atomics.
  if (tid == 0) atomic_store_explicit(tg_count, 0u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(tg_count, uint(x & 7), memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) tg_totals[group] = atomic_load_explicit(tg_count, memory_order_relaxed);
}
)";

struct Counters {
  uint32_t count[4];
  int32_t imin, imax, iand, ior, ixor, isum;
  float fsum;
  uint32_t slot;
  float fmax_cas;
};

TEST(Atomics, ContentionOnDeviceAndThreadgroupMemory) {
  FOUNDRY_SEED_TRACE();
  auto m = build({{"atomics",
                   std::string(atomics_source) +
                       entry("atomics", "atomics_body((const device int*)L->args[0], (device Counters*)L->args[1], "
                                        "(device uint*)L->args[2], (device uint*)L->args[3], "
                                        "(threadgroup atomic_uint*)T->threadgroup_memory, (device uint*)L->args[4], "
                                        "T->thread_position_in_grid.x, T->thread_index_in_threadgroup, "
                                        "T->threadgroup_position_in_grid.x)"),
                   {}}});
  auto g = rng();
  const uint32_t groups = 64, size = 256, n = groups * size;
  auto v = random_vector<int32_t>(g, n, -1000000, 1000000);
  Counters c{};
  c.imin = INT32_MAX;
  c.imax = INT32_MIN;
  c.iand = -1;
  c.slot = 0;
  c.fmax_cas = -1e30f;
  auto olds = poisoned<uint32_t>(n), swapped = poisoned<uint32_t>(n), totals = poisoned<uint32_t>(groups);
  run(*m, "atomics__cpu", {v.data(), &c, olds.data(), swapped.data(), totals.data()}, {groups, 1, 1}, {size, 1, 1},
      16);

  int32_t imin = INT32_MAX, imax = INT32_MIN, iand = -1, ior = 0, ixor = 0;
  int64_t isum = 0;
  float fmax = -1e30f;
  double fsum = 0;
  for (int32_t x : v) {
    imin = std::min(imin, x);
    imax = std::max(imax, x);
    iand &= x | 0x0F0F0000;
    ior |= x & 0x00FF00FF;
    ixor ^= x;
    isum += x - 1;
    fsum += x % 64;
    fmax = std::max(fmax, float(x) * 0.5f);
  }
  for (int k = 0; k < 4; ++k) EXPECT_EQ(c.count[k], n / 4);
  EXPECT_EQ(c.imin, imin);
  EXPECT_EQ(c.imax, imax);
  EXPECT_EQ(c.iand, iand);
  EXPECT_EQ(c.ior, ior);
  EXPECT_EQ(c.ixor, ixor);
  EXPECT_EQ(c.isum, int32_t(isum));
  EXPECT_EQ(double(c.fsum), fsum);  // small integers: exact in float
  EXPECT_EQ(c.fmax_cas, fmax);

  // fetch_add returned every old value exactly once per counter.
  for (uint32_t k = 0; k < 4; ++k) {
    std::vector<uint32_t> seen;
    for (uint32_t i = k; i < n; i += 4) seen.push_back(olds[i]);
    std::sort(seen.begin(), seen.end());
    for (uint32_t j = 0; j < seen.size(); ++j) ASSERT_EQ(seen[j], j) << "counter " << k;
  }
  // exchange: the returned values plus the final one are {0, 1..n}.
  std::vector<uint32_t> all(swapped.begin(), swapped.end());
  all.push_back(c.slot);
  std::sort(all.begin(), all.end());
  for (uint32_t j = 0; j <= n; ++j) ASSERT_EQ(all[j], j);
  for (uint32_t grp = 0; grp < groups; ++grp) {
    uint32_t want = 0;
    for (uint32_t t = 0; t < size; ++t) want += uint32_t(v[grp * size + t] & 7);
    ASSERT_EQ(totals[grp], want) << "group " << grp;
  }
}

}  // namespace
