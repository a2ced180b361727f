// SIMD-group functions against a host model of their semantics: full and
// partial SIMD-groups (threadgroup sizes that are not multiples of 32), lanes
// that returned before the collective (inactive), scalar, vector and half
// operands. See docs/msl-subset.md, "SIMD-group functions".

#include <cmath>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace foundry_test;
__extension__ typedef _Float16 f16;

constexpr uint32_t NF = 21;  // float outputs per thread
constexpr uint32_t NU = 19;  // uint outputs per thread

const char* simd_source = R"(
ALWAYS_INLINE void simd_body(const device float* X, const device int* K, const device ushort* S,
                             device float* F, device uint* U, constant uint& exit_mod,
                             uint gid, uint tid) {
  // Lanes that return here are inactive for every collective below.
  if (exit_mod != 0 && tid % exit_mod == exit_mod - 1) return;
  const float x = X[gid];
  const int k = K[gid];
  const uint u = uint(k);
  device float* f = F + gid * 21;
  device uint* o = U + gid * 19;
  f[0] = simd_sum(x);
  f[1] = simd_product(1.0f + x * 0.01f);
  f[2] = simd_min(x);
  f[3] = simd_max(x);
  f[4] = simd_prefix_inclusive_sum(x);
  f[5] = simd_prefix_exclusive_sum(x);
  f[6] = simd_shuffle(x, S[gid]);
  f[7] = simd_shuffle_xor(x, 5);
  f[8] = simd_shuffle_up(x, 3);
  f[9] = simd_shuffle_down(x, 7);
  f[10] = simd_shuffle_rotate_up(x, 3);
  f[11] = simd_shuffle_rotate_down(x, 30);
  f[12] = simd_broadcast(x, 2);
  f[13] = simd_broadcast_first(x);
  const float4 v = simd_sum(float4(x, 2.0f * x, float(k), 1.0f));
  f[14] = v.x; f[15] = v.y; f[16] = v.z; f[17] = v.w;
  const float2 d = simd_shuffle_down(float2(x, -x), 1);
  f[18] = d.x; f[19] = d.y;
  f[20] = float(simd_sum(half(x)));
  simdgroup_barrier(mem_flags::mem_none);
  o[0] = uint(simd_sum(k));
  o[1] = uint(simd_min(k));
  o[2] = uint(simd_max(k));
  o[3] = simd_and(u);
  o[4] = simd_or(u);
  o[5] = simd_xor(u);
  o[6] = uint(simd_prefix_inclusive_sum(k));
  o[7] = uint(simd_prefix_exclusive_sum(k));
  o[8] = simd_prefix_inclusive_product(uint(k & 3) + 1u);
  o[9] = simd_prefix_exclusive_product(uint(k & 3) + 1u);
  const simd_vote b = simd_ballot((k & 1) != 0);
  o[10] = uint(ulong(b));
  o[11] = uint(ulong(b) >> 32);
  o[12] = simd_all(k > -1000) ? 1u : 0u;
  o[13] = simd_all((k & 1) != 0) ? 1u : 0u;
  o[14] = simd_any((k & 7) == 0) ? 1u : 0u;
  o[15] = simd_is_first() ? 1u : 0u;
  o[16] = uint(ulong(simd_active_threads_mask()));
  o[17] = b ? 1u : 0u;
  o[18] = b.all() ? 1u : 0u;
}
)";

class Simd : public ::testing::TestWithParam<std::pair<uint32_t, uint32_t>> {
 protected:
  static void SetUpTestSuite() {
    module_ = build({{"simd", std::string(simd_source) +
                                  entry("simd", "simd_body((const device float*)L->args[0], (const device int*)L->args[1], "
                                                "(const device ushort*)L->args[2], (device float*)L->args[3], "
                                                "(device uint*)L->args[4], *(constant uint*)L->args[5], "
                                                "T->thread_position_in_grid.x, T->thread_index_in_threadgroup)"),
                      {}}});
  }
  static void TearDownTestSuite() { module_.reset(); }
  static inline std::shared_ptr<const fc::module> module_;
};

// Host model of one SIMD-group: lanes [base, base + width) of a threadgroup
// whose thread `g0 + i` has inputs x[g0 + i]; `active` marks lanes that run.
TEST_P(Simd, AllFunctionsMatchModel) {
  FOUNDRY_SEED_TRACE();
  const auto [tg_size, exit_mod] = GetParam();
  SCOPED_TRACE("threads per threadgroup " + std::to_string(tg_size) + ", exit_mod " + std::to_string(exit_mod));
  auto g = rng();
  const uint32_t groups = 3, n = groups * tg_size;
  auto X = random_vector<float>(g, n, -4.0, 4.0);
  auto K = random_vector<int32_t>(g, n, -100, 100);
  auto S16 = random_vector<uint16_t>(g, n, 0, 40);  // some sources out of range
  auto F = poisoned<float>(std::size_t(n) * NF);
  auto U = poisoned<uint32_t>(std::size_t(n) * NU);
  uint32_t em = exit_mod;
  run(*module_, "simd__cpu", {X.data(), K.data(), S16.data(), F.data(), U.data(), &em}, {groups, 1, 1}, {tg_size, 1, 1});

  for (uint32_t grp = 0; grp < groups; ++grp) {
    for (uint32_t base = 0; base < tg_size; base += 32) {
      const uint32_t width = std::min(32u, tg_size - base);
      const uint32_t g0 = grp * tg_size + base;
      bool act[32] = {};
      uint32_t amask = 0;
      for (uint32_t i = 0; i < width; ++i) {
        const uint32_t tid = base + i;
        act[i] = !(exit_mod != 0 && tid % exit_mod == exit_mod - 1);
        if (act[i]) amask |= 1u << i;
      }
      auto xi = [&](uint32_t i) { return X[g0 + i]; };
      auto ki = [&](uint32_t i) { return K[g0 + i]; };
      auto src = [&](uint32_t i, long s) -> uint32_t { return (s >= 0 && s < 32 && act[s]) ? uint32_t(s) : i; };
      uint32_t first = 32;
      float sum = 0, prod = 0, mn = 0, mx = 0, s2 = 0, sk = 0, cnt = 0;
      int isum = 0, imin = 0, imax = 0;
      uint32_t uand = ~0u, uor = 0, uxor = 0;
      uint64_t ballot = 0;
      bool all_odd = true, any8 = false;
      f16 hsum = 0;
      for (uint32_t i = 0; i < width; ++i) {
        if (!act[i]) continue;
        const bool fst = first == 32;
        if (fst) first = i;
        const float p = 1.0f + xi(i) * 0.01f;
        sum = fst ? xi(i) : sum + xi(i);
        prod = fst ? p : prod * p;
        mn = fst ? xi(i) : std::fmin(mn, xi(i));
        mx = fst ? xi(i) : std::fmax(mx, xi(i));
        s2 = fst ? 2.0f * xi(i) : s2 + 2.0f * xi(i);
        sk = fst ? float(ki(i)) : sk + float(ki(i));
        cnt = fst ? 1.0f : cnt + 1.0f;
        hsum = fst ? f16(xi(i)) : f16(hsum + f16(xi(i)));
        isum += ki(i);
        imin = fst ? ki(i) : std::min(imin, ki(i));
        imax = fst ? ki(i) : std::max(imax, ki(i));
        uand &= uint32_t(ki(i));
        uor |= uint32_t(ki(i));
        uxor ^= uint32_t(ki(i));
        if (ki(i) & 1) ballot |= uint64_t(1) << i;
        all_odd = all_odd && (ki(i) & 1);
        any8 = any8 || (ki(i) & 7) == 0;
      }
      float incl = 0;
      int iincl = 0;
      uint32_t pincl = 1;
      for (uint32_t i = 0; i < width; ++i) {
        const uint32_t gid = g0 + i;
        const float* f = &F[std::size_t(gid) * NF];
        const uint32_t* o = &U[std::size_t(gid) * NU];
        if (!act[i]) {
          for (uint32_t k = 0; k < NF; ++k) ASSERT_TRUE(std::isnan(f[k])) << "inactive lane " << gid << " wrote F" << k;
          for (uint32_t k = 0; k < NU; ++k) ASSERT_EQ(o[k], 0xCDCDCDCDu) << "inactive lane " << gid << " wrote U" << k;
          continue;
        }
        const float excl = incl;
        incl = (i == first) ? xi(i) : incl + xi(i);
        const int iexcl = iincl;
        iincl += ki(i);
        const uint32_t pexcl = pincl;
        pincl *= uint32_t(ki(i) & 3) + 1u;
        const float want_f[NF] = {sum,
                                  prod,
                                  mn,
                                  mx,
                                  incl,
                                  i == first ? 0.0f : excl,
                                  xi(src(i, S16[gid])),
                                  xi(src(i, long(i ^ 5u))),
                                  xi(src(i, long(i) - 3)),
                                  xi(src(i, long(i) + 7)),
                                  xi(src(i, long((i + 32 - 3) % 32))),
                                  xi(src(i, long((i + 30) % 32))),
                                  xi(src(i, 2)),
                                  xi(first),
                                  sum,
                                  s2,
                                  sk,
                                  cnt,
                                  xi(src(i, long(i) + 1)),
                                  -xi(src(i, long(i) + 1)),
                                  float(hsum)};
        for (uint32_t k = 0; k < NF; ++k)
          ASSERT_TRUE(near(f[k], want_f[k], k == 20 ? 2e-2 : 1e-6, k == 20 ? 0.05 : 1e-6))
              << "F" << k << " lane " << i << " of SIMD-group at thread " << g0 << ": got " << f[k] << " want "
              << want_f[k];
        const uint32_t want_u[NU] = {uint32_t(isum), uint32_t(imin), uint32_t(imax), uand, uor, uxor,
                                     uint32_t(iincl), uint32_t(iexcl), pincl, pexcl,
                                     uint32_t(ballot), uint32_t(ballot >> 32), 1u, all_odd ? 1u : 0u,
                                     any8 ? 1u : 0u, i == first ? 1u : 0u, amask, ballot != 0 ? 1u : 0u,
                                     all_odd ? 1u : 0u};
        for (uint32_t k = 0; k < NU; ++k)
          ASSERT_EQ(o[k], want_u[k]) << "U" << k << " lane " << i << " of SIMD-group at thread " << g0;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, Simd,
                         ::testing::Values(std::pair{32u, 0u}, std::pair{64u, 0u}, std::pair{48u, 0u},
                                           std::pair{100u, 0u}, std::pair{1024u, 0u}, std::pair{96u, 3u},
                                           std::pair{33u, 4u}, std::pair{256u, 7u}),
                         [](const auto& info) {
                           return "tg" + std::to_string(info.param.first) + "_exit" + std::to_string(info.param.second);
                         });

}  // namespace
