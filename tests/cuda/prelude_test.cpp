// The CUDA prelude (include/foundry/backends/cuda/msl_prelude.h) on the
// device, against host models of docs/msl-subset.md: SIMD-group functions
// on warps, every half <-> float conversion (the PTX path; the constant-
// expression path is checked by tests/unit/cuda_nvrtc_test.cpp), atomics on
// device and threadgroup memory under contention, and the thread-position
// builtins of a 3-D grid.
//
// Needs a CUDA device: without one the test prints "skipped: no CUDA
// device" and exits 77.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/describe/class.hpp>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <foundry/backends/cuda/cuda.hpp>
#include <foundry/foundry.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "cpu/test_support.hpp"
#include "support/simdgroup_matrix_probe.hpp"

namespace fd = foundry;
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

fd::executor& gpu() {
  static fd::executor ex{fc::make_backend()};
  return ex;
}

// --- SIMD-group functions ----------------------------------------------------------

constexpr std::uint32_t NF = 21;  // float outputs per thread
constexpr std::uint32_t NU = 19;  // uint outputs per thread

struct simd_args {
  fd::input<float> X;
  fd::input<std::int32_t> K;
  fd::input<std::uint16_t> S;
  fd::output<float> F;
  fd::output<std::uint32_t> U;
  fd::scalar<std::uint32_t> n;
};
BOOST_DESCRIBE_STRUCT(simd_args, (), (X, K, S, F, U, n))
inline constexpr std::string_view simd_text = R"(
ALWAYS_INLINE void simd_probe_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {
  const uint gid = thread_position_in_grid.x;
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
using simd_probe = fd::standalone_kernel<"simd_probe", simd_args, fd::per_element<fd::size_arg<"n">, 128>,
                                         fd::source_piece<"simd_probe", simd_text>,
                                         fd::uses<"thread_position_in_grid">>;

// Host model of each SIMD-group (32 consecutive threads, all active).
// Reductions run in another order than the host's (a butterfly), so float
// results are compared within 1e-5 of the sum of magnitudes; integer
// results and shuffles exactly.
TEST(CudaPrelude, SimdFunctionsMatchModel) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 3 * 128;
  auto X = foundry_test::random_vector<float>(g, n, -4.0, 4.0);
  auto K = foundry_test::random_vector<std::int32_t>(g, n, -100, 100);
  auto S = foundry_test::random_vector<std::uint16_t>(g, n, 0, 40);  // some sources out of range
  auto& ex = gpu();
  fd::buffer xb = ex.upload(X), kb = ex.upload(K), sb = ex.upload(S);
  fd::buffer fb = ex.allocate<float>(std::size_t{n} * NF), ub = ex.allocate<std::uint32_t>(std::size_t{n} * NU);
  fb.fill_bytes(0xFF);
  ub.fill_bytes(0xCD);
  ex.dispatch<simd_probe>(simd_args{xb, kb, sb, fb, ub, n});
  const auto F = fb.read<float>();
  const auto U = ub.read<std::uint32_t>();

  for (std::uint32_t g0 = 0; g0 < n; g0 += 32) {
    auto xi = [&](std::uint32_t i) { return X[g0 + i]; };
    auto ki = [&](std::uint32_t i) { return K[g0 + i]; };
    auto src = [&](std::uint32_t i, long s) -> std::uint32_t { return (s >= 0 && s < 32) ? std::uint32_t(s) : i; };
    double sum = 0, mag = 0, prod = 1, s2 = 0, sk = 0, hsum = 0, hmag = 0;
    float mn = xi(0), mx = xi(0);
    int isum = 0, imin = ki(0), imax = ki(0);
    std::uint32_t uand = ~0u, uor = 0, uxor = 0;
    std::uint64_t ballot = 0;
    bool all_odd = true, any8 = false;
    for (std::uint32_t i = 0; i < 32; ++i) {
      sum += xi(i);
      mag += std::fabs(xi(i));
      prod *= 1.0 + double(float(xi(i) * 0.01f));
      mn = std::fmin(mn, xi(i));
      mx = std::fmax(mx, xi(i));
      s2 += 2.0 * xi(i);
      sk += ki(i);
      hsum += double(float(fd::half(xi(i))));
      hmag += std::fabs(xi(i));
      isum += ki(i);
      imin = std::min(imin, ki(i));
      imax = std::max(imax, ki(i));
      uand &= std::uint32_t(ki(i));
      uor |= std::uint32_t(ki(i));
      uxor ^= std::uint32_t(ki(i));
      if (ki(i) & 1) ballot |= std::uint64_t(1) << i;
      all_odd = all_odd && (ki(i) & 1);
      any8 = any8 || (ki(i) & 7) == 0;
    }
    double incl = 0;
    int iincl = 0;
    std::uint32_t pincl = 1;
    for (std::uint32_t i = 0; i < 32; ++i) {
      const std::uint32_t gid = g0 + i;
      const float* f = &F[std::size_t(gid) * NF];
      const std::uint32_t* o = &U[std::size_t(gid) * NU];
      const double excl = incl;
      incl += xi(i);
      const int iexcl = iincl;
      iincl += ki(i);
      const std::uint32_t pexcl = pincl;
      pincl *= std::uint32_t(ki(i) & 3) + 1u;
      const double want_f[NF] = {sum, prod, mn, mx, incl, excl,
                                 xi(src(i, S[gid])), xi(src(i, long(i ^ 5u))), xi(src(i, long(i) - 3)),
                                 xi(src(i, long(i) + 7)), xi((i + 32 - 3) % 32), xi((i + 30) % 32), xi(2), xi(0),
                                 sum, s2, sk, 32.0, xi(src(i, long(i) + 1)), -xi(src(i, long(i) + 1)), hsum};
      const double tol[NF] = {1e-5 * mag, 1e-5, 0, 0, 1e-5 * mag, 1e-5 * mag, 0, 0, 0, 0, 0, 0, 0, 0,
                              1e-5 * mag, 2e-5 * mag, 1e-5 * 3200, 0, 0, 0,
                              // half: every partial sum rounds to 11 bits
                              5 * std::ldexp(hmag, -10)};
      for (std::uint32_t k = 0; k < NF; ++k)
        ASSERT_LE(std::fabs(double(f[k]) - want_f[k]), tol[k])
            << "F" << k << " lane " << i << " of SIMD-group at thread " << g0 << ": got " << f[k] << " want "
            << want_f[k];
      // Every lane gets the bit-identical reduction.
      for (std::uint32_t k : {0u, 1u, 14u, 15u, 16u, 20u})
        ASSERT_EQ(std::memcmp(&f[k], &F[std::size_t(g0) * NF + k], 4), 0) << "F" << k << " differs between lanes";
      const std::uint32_t want_u[NU] = {std::uint32_t(isum), std::uint32_t(imin), std::uint32_t(imax), uand, uor,
                                        uxor, std::uint32_t(iincl), std::uint32_t(iexcl), pincl, pexcl,
                                        std::uint32_t(ballot), std::uint32_t(ballot >> 32), 1u, all_odd ? 1u : 0u,
                                        any8 ? 1u : 0u, i == 0 ? 1u : 0u, 0xffffffffu, ballot != 0 ? 1u : 0u,
                                        all_odd ? 1u : 0u};
      for (std::uint32_t k = 0; k < NU; ++k)
        ASSERT_EQ(o[k], want_u[k]) << "U" << k << " lane " << i << " of SIMD-group at thread " << g0;
    }
  }
}

// --- half conversions at run time ----------------------------------------------------

struct half_args {
  fd::input<float> x;
  fd::output<std::uint16_t> to_half;
  fd::input<std::uint16_t> bits;
  fd::output<float> to_float;
  fd::output<float> arith;
  fd::scalar<std::uint32_t> n;
};
BOOST_DESCRIBE_STRUCT(half_args, (), (x, to_half, bits, to_float, arith, n))
inline constexpr std::string_view half_text = R"(
ALWAYS_INLINE void half_probe_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {
  const uint i = thread_position_in_grid.x;
  if (i >= n) return;
  to_half[i] = as_type<ushort>(half(x[i]));
  const half h = as_type<half>(bits[i]);
  to_float[i] = float(h);
  // half arithmetic rounds every operation: (h * 3 + 1) / 7 in half.
  arith[i] = float((h * half(3.0f) + half(1.0f)) / half(7.0f));
}
)";
using half_probe = fd::standalone_kernel<"half_probe", half_args, fd::per_element<fd::size_arg<"n">, 256>,
                                         fd::source_piece<"half_probe", half_text>,
                                         fd::uses<"thread_position_in_grid">>;

TEST(CudaPrelude, HalfConversionsOfEveryBitPattern) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t n = 65536;
  std::vector<std::uint16_t> bits(n);
  std::iota(bits.begin(), bits.end(), std::uint16_t{0});
  // Floats around every half: the half itself, halfway points, random.
  std::vector<float> x(n);
  auto r = foundry_test::random_vector<float>(g, n, -1.0, 1.0);
  for (std::uint32_t i = 0; i < n; ++i) {
    const float f = float(fd::half::from_bits(bits[i]));
    x[i] = std::isfinite(f) ? f * (1.0f + r[i] * 0.0009765625f) : r[i] * 70000.0f;
  }
  auto& ex = gpu();
  fd::buffer xb = ex.upload(x), bb = ex.upload(bits);
  fd::buffer hb = ex.allocate<std::uint16_t>(n), fb = ex.allocate<float>(n), ab = ex.allocate<float>(n);
  ex.dispatch<half_probe>(half_args{xb, hb, bb, fb, ab, n});
  const auto to_half = hb.read<std::uint16_t>();
  const auto to_float = fb.read<float>();
  const auto arith = ab.read<float>();
  auto bits_of = [](fd::half h) { return h.bits(); };
  auto from_bits = [](std::uint16_t b) { return fd::half::from_bits(b); };
  auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, 4) == 0; };
  int bad = 0;
  for (std::uint32_t i = 0; i < n && bad < 10; ++i) {
    const fd::half want = fd::half(x[i]);
    const float hf = float(from_bits(bits[i]));
    // Each operation rounded to half: t1 = h·3, t2 = t1 + 1, t3 = t2 / 7.
    const float t1 = float(fd::half(hf * 3.0f)), t2 = float(fd::half(t1 + 1.0f)), t3 = float(fd::half(t2 / 7.0f));
    const bool ok_to_half = std::isnan(float(want)) ? std::isnan(float(from_bits(to_half[i])))
                                                    : to_half[i] == bits_of(want);
    if (!ok_to_half || !same(hf, to_float[i]) || !same(t3, arith[i])) {
      ADD_FAILURE() << "bits 0x" << std::hex << bits[i] << std::dec << ": x=" << x[i] << " half(x) device 0x"
                    << std::hex << to_half[i] << " host 0x" << bits_of(want) << std::dec << "; float(half) device "
                    << to_float[i] << " host " << hf << "; arithmetic device " << arith[i] << " host " << t3;
      ++bad;
    }
  }
}

// --- atomics ---------------------------------------------------------------------------

struct Counters {
  std::uint32_t count[4];
  std::int32_t imin, imax, iand, ior, ixor, isum;
  float fsum;
  std::uint32_t slot;
  float fmax_cas;
  std::uint32_t umax;
};
inline constexpr std::string_view counters_text = R"(struct Counters {
  atomic_uint count[4];
  atomic_int imin, imax, iand, ior, ixor, isum;
  atomic_float fsum;
  atomic_uint slot;
  atomic_float fmax_cas;
  atomic_uint umax;
};
)";

struct atomics_stage {
  static constexpr fd::fixed_string name = "atomics";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"v", fd::input<std::int32_t>>,
                                  fd::arg<"c", fd::inout<std::byte, fd::as_metal<"Counters">>>,
                                  fd::arg<"olds", fd::output<std::uint32_t>>,
                                  fd::arg<"swapped", fd::output<std::uint32_t>>,
                                  fd::arg<"tg_totals", fd::output<std::uint32_t>>>;
  using threadgroup = fd::type_list<fd::tg_array<"count", std::uint32_t, 1>>;
  using helpers = fd::type_list<fd::source_piece<"counters", counters_text>>;
  static constexpr std::string_view body = R"(const uint gid = $thread_position_in_grid.x;
const uint tid = $thread_index_in_threadgroup;
const int x = $v[gid];
device Counters* ctr = $c;
$olds[gid] = atomic_fetch_add_explicit(&ctr->count[gid % 4], 1u, memory_order_relaxed);
atomic_fetch_min_explicit(&ctr->imin, x, memory_order_relaxed);
atomic_fetch_max_explicit(&ctr->imax, x, memory_order_relaxed);
atomic_fetch_and_explicit(&ctr->iand, x | 0x0F0F0000, memory_order_relaxed);
atomic_fetch_or_explicit(&ctr->ior, x & 0x00FF00FF, memory_order_relaxed);
atomic_fetch_xor_explicit(&ctr->ixor, x, memory_order_relaxed);
atomic_fetch_add_explicit(&ctr->isum, x, memory_order_relaxed);
atomic_fetch_sub_explicit(&ctr->isum, 1, memory_order_relaxed);
atomic_fetch_add_explicit(&ctr->fsum, float(x % 64), memory_order_relaxed);
atomic_fetch_max_explicit(&ctr->umax, uint(x) & 0xFFFFu, memory_order_relaxed);
$swapped[gid] = atomic_exchange_explicit(&ctr->slot, gid + 1u, memory_order_relaxed);
float expected = atomic_load_explicit(&ctr->fmax_cas, memory_order_relaxed);
const float want = float(x) * 0.5f;
while (expected < want &&
       !atomic_compare_exchange_weak_explicit(&ctr->fmax_cas, &expected, want, memory_order_relaxed,
                                              memory_order_relaxed)) {
}
threadgroup atomic_uint* tg_sum = (threadgroup atomic_uint*)$count;
if (tid == 0) atomic_store_explicit(tg_sum, 0u, memory_order_relaxed);
threadgroup_barrier(mem_flags::mem_threadgroup);
atomic_fetch_add_explicit(tg_sum, uint(x & 7), memory_order_relaxed);
threadgroup_barrier(mem_flags::mem_threadgroup);
if (tid == 0) $tg_totals[$threadgroup_position_in_grid.x] = atomic_load_explicit(tg_sum, memory_order_relaxed);)";
};
using atomics_kernel = fd::fused_kernel<"atomics_probe", fd::per_element<fd::size_const<64 * 256>, 256>, atomics_stage>;

TEST(CudaPrelude, AtomicsUnderContention) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const std::uint32_t groups = 64, n = groups * 256;
  auto v = foundry_test::random_vector<std::int32_t>(g, n, -100000, 100000);
  Counters init{};
  init.imin = INT_MAX;
  init.imax = INT_MIN;
  init.iand = -1;
  init.fmax_cas = -INFINITY;
  auto& ex = gpu();
  fd::buffer vb = ex.upload(v);
  fd::buffer cb = ex.allocate_bytes(sizeof(Counters));
  cb.write(std::vector<Counters>{init});
  fd::buffer ob = ex.allocate<std::uint32_t>(n), sb = ex.allocate<std::uint32_t>(n), tb = ex.allocate<std::uint32_t>(groups);
  atomics_kernel::arguments a;
  a.set<"v">(vb).set<"c">(cb).set<"olds">(ob).set<"swapped">(sb).set<"tg_totals">(tb);
  ex.dispatch<atomics_kernel>(a);
  const Counters c = cb.read<Counters>().front();
  const auto olds = ob.read<std::uint32_t>(), swapped = sb.read<std::uint32_t>(), totals = tb.read<std::uint32_t>();

  std::int32_t imin = INT_MAX, imax = INT_MIN, iand = -1, ior = 0, ixor = 0;
  std::int64_t isum = 0;
  float fsum = 0, fmax = -INFINITY;
  std::uint32_t umax = 0;
  for (std::int32_t x : v) {
    imin = std::min(imin, x);
    imax = std::max(imax, x);
    iand &= x | 0x0F0F0000;
    ior |= x & 0x00FF00FF;
    ixor ^= x;
    isum += x - 1;
    fsum += float(x % 64);  // small integers: exact in any order
    fmax = std::max(fmax, float(x) * 0.5f);
    umax = std::max(umax, std::uint32_t(x) & 0xFFFFu);
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.count[i], n / 4);
  EXPECT_EQ(c.imin, imin);
  EXPECT_EQ(c.imax, imax);
  EXPECT_EQ(c.iand, iand);
  EXPECT_EQ(c.ior, ior);
  EXPECT_EQ(c.ixor, ixor);
  EXPECT_EQ(c.isum, std::int32_t(isum));
  EXPECT_EQ(c.fsum, fsum);
  EXPECT_EQ(c.fmax_cas, fmax);
  EXPECT_EQ(c.umax, umax);
  // Every counter handed out 0..n/4-1 exactly once; the exchanges form a chain.
  for (std::uint32_t k = 0; k < 4; ++k) {
    std::vector<std::uint32_t> got;
    for (std::uint32_t i = k; i < n; i += 4) got.push_back(olds[i]);
    std::sort(got.begin(), got.end());
    for (std::uint32_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i) << "counter " << k;
  }
  std::vector<std::uint32_t> chain(swapped);
  chain.push_back(c.slot);
  std::sort(chain.begin(), chain.end());
  for (std::uint32_t i = 0; i <= n; ++i) ASSERT_EQ(chain[i], i);
  for (std::uint32_t grp = 0; grp < groups; ++grp) {
    std::uint32_t t = 0;
    for (std::uint32_t i = grp * 256; i < grp * 256 + 256; ++i) t += std::uint32_t(v[i] & 7);
    EXPECT_EQ(totals[grp], t) << "threadgroup " << grp;
  }
}

// --- thread-position builtins of a 3-D grid -----------------------------------------------

struct grid_3d {
  static constexpr std::uint32_t threads_per_threadgroup = 8 * 4 * 3;  // 96: three SIMD-groups
  template <class Args>
  static fd::dispatch_size compute(const Args&) {
    return {{3, 2, 2}, {8, 4, threads_per_threadgroup / 32}};
  }
};
struct builtin_args {
  fd::output<std::uint32_t> out;
};
BOOST_DESCRIBE_STRUCT(builtin_args, (), (out))
inline constexpr std::string_view builtin_text = R"(
ALWAYS_INLINE void builtin_probe_body(FOUNDRY_KERNEL_ARGS, uint3 gid, uint3 tgid, uint3 tpos, uint3 tptg, uint3 tgpg,
                                      uint3 tpg, uint tidx, uint lane, uint sg, uint sgptg, uint tpsg) {
  const uint group = tgid.x + tgpg.x * (tgid.y + tgpg.y * tgid.z);
  device uint* o = out + (group * (tptg.x * tptg.y * tptg.z) + tidx) * 20;
  o[0] = gid.x; o[1] = gid.y; o[2] = gid.z;
  o[3] = tgid.x; o[4] = tgid.y; o[5] = tgid.z;
  o[6] = tpos.x; o[7] = tpos.y; o[8] = tpos.z;
  o[9] = tptg.x * 10000u + tptg.y * 100u + tptg.z;
  o[10] = tgpg.x * 10000u + tgpg.y * 100u + tgpg.z;
  o[11] = tpg.x * 10000u + tpg.y * 100u + tpg.z;
  o[12] = tidx; o[13] = lane; o[14] = sg; o[15] = sgptg; o[16] = tpsg;
  o[17] = simd_sum(1u);
  o[18] = simd_broadcast(tidx, 0);
  o[19] = 12345u;
}
)";
using builtin_probe =
    fd::standalone_kernel<"builtin_probe", builtin_args, grid_3d, fd::source_piece<"builtin_probe", builtin_text>,
                          fd::uses<"thread_position_in_grid", "threadgroup_position_in_grid",
                                   "thread_position_in_threadgroup", "threads_per_threadgroup",
                                   "threadgroups_per_grid", "threads_per_grid", "thread_index_in_threadgroup",
                                   "thread_index_in_simdgroup", "simdgroup_index_in_threadgroup",
                                   "simdgroups_per_threadgroup", "threads_per_simdgroup">>;

TEST(CudaPrelude, BuiltinsOfAThreeDimensionalGrid) {
  auto& ex = gpu();
  const std::uint32_t threads = 12 * 96;
  fd::buffer ob = ex.allocate<std::uint32_t>(std::size_t{threads} * 20);
  ob.fill_bytes(0xCD);
  ex.dispatch<builtin_probe>(builtin_args{ob});
  const auto o = ob.read<std::uint32_t>();
  for (std::uint32_t gz = 0; gz < 2; ++gz)
    for (std::uint32_t gy = 0; gy < 2; ++gy)
      for (std::uint32_t gx = 0; gx < 3; ++gx)
        for (std::uint32_t tz = 0; tz < 3; ++tz)
          for (std::uint32_t ty = 0; ty < 4; ++ty)
            for (std::uint32_t tx = 0; tx < 8; ++tx) {
              const std::uint32_t group = gx + 3 * (gy + 2 * gz), tidx = tx + 8 * (ty + 4 * tz);
              const std::uint32_t* r = &o[(std::size_t(group) * 96 + tidx) * 20];
              const std::uint32_t want[20] = {gx * 8 + tx, gy * 4 + ty, gz * 3 + tz, gx, gy, gz, tx, ty, tz,
                                              80403u, 30202u, 240806u, tidx, tidx % 32, tidx / 32, 3u, 32u, 32u,
                                              tidx / 32 * 32, 12345u};
              for (int k = 0; k < 20; ++k)
                ASSERT_EQ(r[k], want[k]) << "value " << k << " of thread " << tidx << " in threadgroup (" << gx
                                         << ", " << gy << ", " << gz << ")";
            }
}

// --- SIMD-group matrices ---------------------------------------------------------
// simdgroup_matrix load/store (strides, origins, transposes), multiply and
// multiply-accumulate in float and half (the half x half products on tensor
// cores), against float64 (tests/support/simdgroup_matrix_probe.hpp).
TEST(CudaPrelude, SimdgroupMatrixFunctionsMatchFloat64) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  const auto& cases = fd::test_kernels::sgm_cases();
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(fd::test_kernels::sgm_run_case(gpu(), cases[i], g), "") << "case " << i;
}

}  // namespace
