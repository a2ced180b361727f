// foundry/backends/cuda/msl_prelude.h - the Metal Shading Language
// compatibility layer of the CUDA backend. Compiled by NVRTC only (never by
// the host compiler): the CUDA backend prepends it to every emitted kernel
// (see nvrtc.hpp), exactly as the CPU backend prepends its own
// backends/cpu/msl_prelude.h. It implements the same portable MSL subset
// (docs/msl-subset.md). Scalar and vector types, `metal::` math and the
// constants come from the MSL core both preludes share
// (backends/common/msl_core.h); this header adds what CUDA does its own way:
// the core's hooks (libdevice math, PTX conversions for `half`), atomics,
// SIMD-group functions and barriers on warps, the thread-position builtins
// and the address-space qualifiers. What differs on CUDA is listed in
// docs/cuda-backend.md.
//
// Rules this header follows, and why:
//  * NVRTC has no host standard library, so nothing here includes a system
//    header: the few type traits it needs are the core's (metal::msl_detail),
//    `half` is the core's 16-bit struct converted with the PTX `cvt`
//    instructions (no cuda_fp16.h), and the limits and constants of
//    <float.h>/<limits.h>/<metal_math> are the core's. The backend inlines
//    the core in place of its #include (nvrtc.hpp), so no include path is
//    needed at run time.
//  * NVRTC declares CUDA's own vector types (`::float4`, `::uint3`, ...) and
//    math functions (`::max`, `::exp`, ...) at global scope. MSL's are
//    defined in namespace `metal`; a kernel source is compiled inside its own
//    namespace that starts with FOUNDRY_MSL_NAMES (defined at the end):
//    `using namespace metal;` plus a using-declaration for every name CUDA
//    also declares, so unqualified `float4` or `max` in kernel code finds
//    the MSL entity first and never the CUDA one.
//  * Every function is a device function: the backend compiles with
//    `--device-as-default-execution-space`, so this header and kernel code
//    carry no `__device__` annotations (as on Metal).
//  * It defines the macros `device`, `thread`, `threadgroup` and `constant`
//    last, so nothing after it may use those words as identifiers.
//  * SIMD-groups are warps (32 lanes, lane = linear thread index % 32).
//    Collectives use the full warp mask: every lane of the SIMD-group must
//    call them at the same place (the subset's rule; a lane that has
//    returned before a SIMD-group function is outside it on CUDA).

#ifndef FOUNDRY_CUDA_MSL_PRELUDE_H
#define FOUNDRY_CUDA_MSL_PRELUDE_H

#if !defined(__CUDACC_RTC__)
#error "foundry/backends/cuda/msl_prelude.h is compiled by NVRTC only (the CUDA backend prepends it)"
#endif

// ---------------------------------------------------------------------------
// Scalar types (MSL names; `long` is 64-bit on every CUDA host ABI Foundry
// supports, as MSL's `long`).
// ---------------------------------------------------------------------------
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
static_assert(sizeof(ulong) == 8, "MSL ulong is 64-bit");

// The core's hooks (see msl_core.h): CUDA's libdevice math and bit
// intrinsics.
#define FOUNDRY_MSL_F(name) ::name##f
#define FOUNDRY_MSL_D(name) ::name
#define FOUNDRY_MSL_RSQRTF(x) ::rsqrtf(x)
#define FOUNDRY_MSL_RSQRT(x) ::rsqrt(x)
#define FOUNDRY_MSL_EXP10F(x) ::exp10f(x)
#define FOUNDRY_MSL_EXP10(x) ::exp10(x)
#define FOUNDRY_MSL_POPCOUNT64(u) __popcll(u)
#define FOUNDRY_MSL_CLZ64(u) __clzll(static_cast<long long>(u))
#define FOUNDRY_MSL_CTZ64(u) (__ffsll(static_cast<long long>(u)) - 1)
#define FOUNDRY_MSL_MEMCPY(d, s, n) memcpy(d, s, n)
#define FOUNDRY_MSL_VEC_TARGET_MEMBERS(N_)

#include "../common/msl_core.h"

namespace metal {

// binary16 conversions with the PTX `cvt` instructions (round to nearest
// even; a double converts with one rounding).
namespace msl_target {
inline ushort float_to_half_bits(float f) {
  ushort r = 0;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
inline ushort double_to_half_bits(double d) {
  ushort r = 0;
  asm("cvt.rn.f16.f64 %0, %1;" : "=h"(r) : "d"(d));
  return r;
}
inline float half_bits_to_float(ushort h) {
  float r = 0.0f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(h));
  return r;
}
}  // namespace msl_target

// ---------------------------------------------------------------------------
// Atomics: atomic<T> is T's storage; the functions are the MSL free
// functions, on CUDA's atomic instructions (device or shared memory through
// generic pointers). Read-modify-writes CUDA has no instruction for (float
// min/max, 1- and 2-byte types) are compare-and-swap loops. memory_order
// relaxed is what MSL offers; a stronger order adds __threadfence().
// ---------------------------------------------------------------------------
namespace msl_detail {
inline void fence_for(memory_order o) {
  if (o != memory_order_relaxed) __threadfence();
}
// The unsigned type of a value's bits (4- and 8-byte values).
template <class T>
using word_t = conditional_t<sizeof(T) == 8, unsigned long long, unsigned int>;
template <class T>
concept word_sized = sizeof(T) == 4 || sizeof(T) == 8;
// The unsigned integer of T's size (bitwise comparison of values).
template <class T>
using bits_t = conditional_t<sizeof(T) == 1, unsigned char,
                             conditional_t<sizeof(T) == 2, unsigned short,
                                           conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>>>;

// Compare-and-swap: if *p holds `expected`, store `desired`; returns what *p
// held. 1- and 2-byte values go through their aligned 32-bit word (the
// other bytes are kept; a change to them retries, never fails).
template <class T>
inline T cas(T* p, T expected, T desired) {
  if constexpr (word_sized<T>) {
    using W = word_t<T>;
    const W seen = atomicCAS(reinterpret_cast<W*>(p), __builtin_bit_cast(W, expected), __builtin_bit_cast(W, desired));
    return __builtin_bit_cast(T, seen);
  } else {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2, "atomics: unsupported value size");
    unsigned int* w = reinterpret_cast<unsigned int*>(reinterpret_cast<size_t>(p) & ~size_t(3));
    const unsigned int shift = unsigned(reinterpret_cast<size_t>(p) & 3u) * 8u;
    const unsigned int mask = ((1u << (8u * sizeof(T))) - 1u) << shift;
    unsigned int e = 0, d = 0;
    memcpy(&e, &expected, sizeof(T));
    memcpy(&d, &desired, sizeof(T));
    unsigned int old = *reinterpret_cast<volatile unsigned int*>(w);
    for (;;) {
      const unsigned int cur = (old & mask) >> shift;
      if (cur != e) {
        T r;
        memcpy(&r, &cur, sizeof(T));
        return r;
      }
      const unsigned int seen = atomicCAS(w, old, (old & ~mask) | (d << shift));
      if (seen == old) return expected;
      old = seen;
    }
  }
}
// Read-modify-write by compare-and-swap: *p = f(*p); returns the old value.
template <class T, class F>
inline T cas_rmw(T* p, F f) {
  T old = *reinterpret_cast<volatile T*>(p);
  for (;;) {
    const T seen = cas(p, old, static_cast<T>(f(old)));
    if (__builtin_bit_cast(bits_t<T>, seen) == __builtin_bit_cast(bits_t<T>, old)) return old;
    old = seen;
  }
}
}  // namespace msl_detail

template <class A, class V> requires msl_detail::atomic_obj<A>
inline void atomic_store_explicit(A* obj, V desired, memory_order order) {
  msl_detail::fence_for(order);
  *reinterpret_cast<volatile msl_detail::atomic_t<A>*>(msl_detail::atomic_ptr(obj)) =
      static_cast<msl_detail::atomic_t<A>>(desired);
  msl_detail::fence_for(order);
}
template <class A> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_load_explicit(A* obj, memory_order order) {
  msl_detail::fence_for(order);
  const msl_detail::atomic_t<A> r = *reinterpret_cast<volatile msl_detail::atomic_t<A>*>(msl_detail::atomic_ptr(obj));
  msl_detail::fence_for(order);
  return r;
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_exchange_explicit(A* obj, V desired, memory_order order) {
  using T = msl_detail::atomic_t<A>;
  const T d = static_cast<T>(desired);
  msl_detail::fence_for(order);
  T r;
  if constexpr (msl_detail::word_sized<T>) {
    using W = msl_detail::word_t<T>;
    r = __builtin_bit_cast(T, atomicExch(reinterpret_cast<W*>(msl_detail::atomic_ptr(obj)), __builtin_bit_cast(W, d)));
  } else {
    r = msl_detail::cas_rmw(msl_detail::atomic_ptr(obj), [d](T) { return d; });
  }
  msl_detail::fence_for(order);
  return r;
}
// Returns true and stores `desired` if *obj == *expected, else loads *obj
// into *expected and returns false (never fails spuriously on CUDA).
template <class A, class V> requires msl_detail::atomic_obj<A>
inline bool atomic_compare_exchange_weak_explicit(A* obj, msl_detail::atomic_t<A>* expected, V desired,
                                                  memory_order success, memory_order failure) {
  using T = msl_detail::atomic_t<A>;
  (void)failure;
  msl_detail::fence_for(success);
  const T e = *expected;
  const T seen = msl_detail::cas(msl_detail::atomic_ptr(obj), e, static_cast<T>(desired));
  msl_detail::fence_for(success);
  if (__builtin_bit_cast(msl_detail::bits_t<T>, seen) == __builtin_bit_cast(msl_detail::bits_t<T>, e))
    return true;
  *expected = seen;
  return false;
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline bool atomic_compare_exchange_strong_explicit(A* obj, msl_detail::atomic_t<A>* expected, V desired,
                                                    memory_order success, memory_order failure) {
  return atomic_compare_exchange_weak_explicit(obj, expected, desired, success, failure);
}

namespace msl_detail {
// The native atomic for T's operation, or the compare-and-swap loop.
template <class T> concept is_i32 = is_same_v<T, int> || is_same_v<T, uint>;
template <class T> concept is_i64 = is_same_v<T, long> || is_same_v<T, ulong> ||
                                                  is_same_v<T, long long> || is_same_v<T, unsigned long long>;
}  // namespace msl_detail

template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_fetch_add_explicit(A* obj, V operand, memory_order order) {
  using T = msl_detail::atomic_t<A>;
  const T v = static_cast<T>(operand);
  T* p = msl_detail::atomic_ptr(obj);
  msl_detail::fence_for(order);
  T r;
  if constexpr (msl_detail::is_i32<T> || msl_detail::is_same_v<T, float> || msl_detail::is_same_v<T, double>)
    r = atomicAdd(p, v);
  else if constexpr (msl_detail::is_i64<T>)
    r = static_cast<T>(atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v)));
  else
    r = msl_detail::cas_rmw(p, [v](T old) { return static_cast<T>(old + v); });
  msl_detail::fence_for(order);
  return r;
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_fetch_sub_explicit(A* obj, V operand, memory_order order) {
  using T = msl_detail::atomic_t<A>;
  const T v = static_cast<T>(operand);
  T* p = msl_detail::atomic_ptr(obj);
  msl_detail::fence_for(order);
  T r;
  if constexpr (msl_detail::is_i32<T>)
    r = atomicSub(p, v);
  else if constexpr (msl_detail::is_same_v<T, float> || msl_detail::is_same_v<T, double>)
    r = atomicAdd(p, -v);
  else if constexpr (msl_detail::is_i64<T>)
    r = static_cast<T>(atomicAdd(reinterpret_cast<unsigned long long*>(p), 0ull - static_cast<unsigned long long>(v)));
  else
    r = msl_detail::cas_rmw(p, [v](T old) { return static_cast<T>(old - v); });
  msl_detail::fence_for(order);
  return r;
}
#define FOUNDRY_ATOMIC_BITS(name, native, expr)                                                     \
  template <class A, class V> requires msl_detail::atomic_obj<A>                                    \
  inline msl_detail::atomic_t<A> name(A* obj, V operand, memory_order order) {                      \
    using T = msl_detail::atomic_t<A>;                                                              \
    const T v = static_cast<T>(operand);                                                            \
    T* p = msl_detail::atomic_ptr(obj);                                                             \
    msl_detail::fence_for(order);                                                                   \
    T r;                                                                                            \
    if constexpr (msl_detail::is_i32<T>)                                                            \
      r = native(p, v);                                                                             \
    else if constexpr (msl_detail::is_i64<T>)                                                       \
      r = static_cast<T>(native(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v))); \
    else                                                                                            \
      r = msl_detail::cas_rmw(p, [v](T old) { return static_cast<T>(expr); });                      \
    msl_detail::fence_for(order);                                                                   \
    return r;                                                                                       \
  }
FOUNDRY_ATOMIC_BITS(atomic_fetch_and_explicit, atomicAnd, old & v)
FOUNDRY_ATOMIC_BITS(atomic_fetch_or_explicit, atomicOr, old | v)
FOUNDRY_ATOMIC_BITS(atomic_fetch_xor_explicit, atomicXor, old ^ v)
#undef FOUNDRY_ATOMIC_BITS
#define FOUNDRY_ATOMIC_MINMAX(name, native, expr)                                                   \
  template <class A, class V> requires msl_detail::atomic_obj<A>                                    \
  inline msl_detail::atomic_t<A> name(A* obj, V operand, memory_order order) {                      \
    using T = msl_detail::atomic_t<A>;                                                              \
    const T v = static_cast<T>(operand);                                                            \
    T* p = msl_detail::atomic_ptr(obj);                                                             \
    msl_detail::fence_for(order);                                                                   \
    T r;                                                                                            \
    if constexpr (msl_detail::is_i32<T>)                                                            \
      r = native(p, v);                                                                             \
    else if constexpr (msl_detail::is_same_v<T, long> || msl_detail::is_same_v<T, long long>)       \
      r = static_cast<T>(native(reinterpret_cast<long long*>(p), static_cast<long long>(v)));       \
    else if constexpr (msl_detail::is_same_v<T, ulong> || msl_detail::is_same_v<T, unsigned long long>) \
      r = static_cast<T>(native(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v))); \
    else                                                                                            \
      r = msl_detail::cas_rmw(p, [v](T old) { return expr; });                                      \
    msl_detail::fence_for(order);                                                                   \
    return r;                                                                                       \
  }
FOUNDRY_ATOMIC_MINMAX(atomic_fetch_min_explicit, atomicMin, v < old ? v : old)
FOUNDRY_ATOMIC_MINMAX(atomic_fetch_max_explicit, atomicMax, old < v ? v : old)
#undef FOUNDRY_ATOMIC_MINMAX

// ---------------------------------------------------------------------------
// Barriers and SIMD-group functions. A SIMD-group is a warp; every
// collective uses the full warp mask (see the top of this file).
// ---------------------------------------------------------------------------

// __syncthreads also orders the threadgroup's device-memory accesses, so
// every mem_flags combination is honoured.
inline void threadgroup_barrier(mem_flags flags = mem_flags::mem_none) {
  (void)flags;
  __syncthreads();
}
inline void simdgroup_barrier(mem_flags flags = mem_flags::mem_none) {
  (void)flags;
  __syncwarp();
}

namespace msl_detail {
enum : unsigned int { warp_mask = 0xffffffffu };
inline uint lane_id() {
  uint l;
  asm("mov.u32 %0, %%laneid;" : "=r"(l));
  return l;
}
// Moves a value of any size between lanes as 32-bit words.
template <class T, class F>
inline T move_words(const T& v, F f) {
  constexpr int n = int((sizeof(T) + 3) / 4);
  unsigned int w[n];
  for (int i = 0; i < n; ++i) w[i] = 0u;
  memcpy(w, &v, sizeof(T));
  for (int i = 0; i < n; ++i) w[i] = f(w[i]);
  T r;
  memcpy(&r, w, sizeof(T));
  return r;
}
template <class T>
inline T shfl_idx(const T& v, uint src) {
  return move_words(v, [src](unsigned int w) { return __shfl_sync(warp_mask, w, int(src)); });
}
template <class T>
inline T shfl_xor(const T& v, uint m) {
  return move_words(v, [m](unsigned int w) { return __shfl_xor_sync(warp_mask, w, int(m)); });
}
template <class T>
inline T shfl_up(const T& v, uint d) {
  return move_words(v, [d](unsigned int w) { return __shfl_up_sync(warp_mask, w, d); });
}
template <class T>
inline T shfl_down(const T& v, uint d) {
  return move_words(v, [d](unsigned int w) { return __shfl_down_sync(warp_mask, w, d); });
}
// Butterfly reduction: after step m every lane holds f over its group of
// 2m lanes; f is commutative, so every lane computes the bit-identical
// result (the accumulation order differs from the CPU backend's lane order).
template <class T, class F>
inline T butterfly(T v, F f) {
  for (uint m = 16u; m > 0u; m >>= 1) v = static_cast<T>(f(v, shfl_xor(v, m)));
  return v;
}
// Inclusive scan (Hillis-Steele): lane i gets f over lanes 0..i.
template <class T, class F>
inline T scan_inclusive(T v, F f) {
  const uint lane = lane_id();
  for (uint d = 1u; d < 32u; d <<= 1) {
    const T o = shfl_up(v, d);
    if (lane >= d) v = static_cast<T>(f(o, v));
  }
  return v;
}
template <class T, class F>
inline T scan_exclusive(T v, F f, int identity) {
  const T r = shfl_up(scan_inclusive(v, f), 1u);
  return lane_id() == 0u ? static_cast<T>(identity) : r;
}
struct f_min { template <class A> A operator()(const A& a, const A& b) const { return static_cast<A>(metal::min(a, b)); } };
struct f_max { template <class A> A operator()(const A& a, const A& b) const { return static_cast<A>(metal::max(a, b)); } };

template <class T>
concept simd_value = (scalar_like<T> || vecish<T>);
template <class T>
using simd_t = conditional_t<(vn_f<T>() > 0), vec<elem_t<T>, (vn_f<T>() > 0 ? vn_f<T>() : 1)>, remove_cvref_t<T>>;
}  // namespace msl_detail

#define FOUNDRY_SIMD_REDUCE(name, F)                                                          \
  template <class T> requires msl_detail::simd_value<T>                                       \
  inline msl_detail::simd_t<T> name(const T& v) {                                             \
    return msl_detail::butterfly(msl_detail::simd_t<T>(v), msl_detail::F{});                  \
  }
FOUNDRY_SIMD_REDUCE(simd_sum, op_add)
FOUNDRY_SIMD_REDUCE(simd_product, op_mul)
FOUNDRY_SIMD_REDUCE(simd_min, f_min)
FOUNDRY_SIMD_REDUCE(simd_max, f_max)
FOUNDRY_SIMD_REDUCE(simd_and, op_and)
FOUNDRY_SIMD_REDUCE(simd_or, op_or)
FOUNDRY_SIMD_REDUCE(simd_xor, op_xor)
#undef FOUNDRY_SIMD_REDUCE
// Scans over lanes 0..i (inclusive) or 0..i-1 (exclusive; lane 0 gets the
// identity, 0 for sums and 1 for products).
#define FOUNDRY_SIMD_SCAN(name, F, inclusive, identity)                                       \
  template <class T> requires msl_detail::simd_value<T>                                       \
  inline msl_detail::simd_t<T> name(const T& v) {                                             \
    if constexpr (inclusive) return msl_detail::scan_inclusive(msl_detail::simd_t<T>(v), msl_detail::F{}); \
    else return msl_detail::scan_exclusive(msl_detail::simd_t<T>(v), msl_detail::F{}, identity); \
  }
FOUNDRY_SIMD_SCAN(simd_prefix_inclusive_sum, op_add, true, 0)
FOUNDRY_SIMD_SCAN(simd_prefix_exclusive_sum, op_add, false, 0)
FOUNDRY_SIMD_SCAN(simd_prefix_inclusive_product, op_mul, true, 1)
FOUNDRY_SIMD_SCAN(simd_prefix_exclusive_product, op_mul, false, 1)
#undef FOUNDRY_SIMD_SCAN

// Shuffles: a source lane outside 0..31 yields the caller's own value.
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle(const T& v, ushort lane) {
  const msl_detail::simd_t<T> x(v);
  const msl_detail::simd_t<T> r = msl_detail::shfl_idx(x, uint(lane) & 31u);
  return lane < 32u ? r : x;
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_broadcast(const T& v, ushort lane) {
  return simd_shuffle(v, lane);
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle_xor(const T& v, ushort mask) {
  const msl_detail::simd_t<T> x(v);
  const msl_detail::simd_t<T> r = msl_detail::shfl_xor(x, uint(mask) & 31u);
  return mask < 32u ? r : x;
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle_up(const T& v, ushort delta) {
  const msl_detail::simd_t<T> x(v);
  const msl_detail::simd_t<T> r = msl_detail::shfl_up(x, uint(delta) & 31u);
  return delta < 32u ? r : x;
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle_down(const T& v, ushort delta) {
  const msl_detail::simd_t<T> x(v);
  const msl_detail::simd_t<T> r = msl_detail::shfl_down(x, uint(delta) & 31u);
  return delta < 32u ? r : x;
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle_rotate_up(const T& v, ushort delta) {
  return msl_detail::shfl_idx(msl_detail::simd_t<T>(v), (msl_detail::lane_id() - uint(delta)) & 31u);
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_shuffle_rotate_down(const T& v, ushort delta) {
  return msl_detail::shfl_idx(msl_detail::simd_t<T>(v), (msl_detail::lane_id() + uint(delta)) & 31u);
}
template <class T> requires msl_detail::simd_value<T>
inline msl_detail::simd_t<T> simd_broadcast_first(const T& v) {
  __syncwarp();
  return msl_detail::shfl_idx(msl_detail::simd_t<T>(v), uint(__ffs(int(__activemask())) - 1));
}


inline simd_vote simd_ballot(bool pred) {
  const unsigned int votes = __ballot_sync(msl_detail::warp_mask, pred);
  return simd_vote(votes, __activemask());
}
inline simd_vote simd_active_threads_mask() {
  __syncwarp();
  const unsigned int active = __activemask();
  return simd_vote(active, active);
}
inline bool simd_all(bool pred) { return __all_sync(msl_detail::warp_mask, pred) != 0; }
inline bool simd_any(bool pred) { return __any_sync(msl_detail::warp_mask, pred) != 0; }
inline bool simd_is_first() {
  __syncwarp();
  return msl_detail::lane_id() == uint(__ffs(int(__activemask())) - 1);
}

}  // namespace metal

// ---------------------------------------------------------------------------
// Thread-position builtins (include/foundry/dsl/builtins.hpp), computed
// from CUDA's blockIdx/threadIdx/blockDim/gridDim. The composer's CUDA entry
// point passes `foundry_cuda_builtin::<name>()` for each builtin the body
// uses. Linear indices count x fastest; SIMD-group k is lanes 32k..32k+31,
// which is exactly warp k of the block.
// ---------------------------------------------------------------------------
namespace foundry_cuda_builtin {
inline metal::uint3 thread_position_in_grid() {
  return metal::uint3(blockIdx.x * blockDim.x + threadIdx.x, blockIdx.y * blockDim.y + threadIdx.y,
                      blockIdx.z * blockDim.z + threadIdx.z);
}
inline metal::uint3 threadgroup_position_in_grid() { return metal::uint3(blockIdx.x, blockIdx.y, blockIdx.z); }
inline metal::uint3 thread_position_in_threadgroup() { return metal::uint3(threadIdx.x, threadIdx.y, threadIdx.z); }
inline metal::uint3 threads_per_threadgroup() { return metal::uint3(blockDim.x, blockDim.y, blockDim.z); }
inline metal::uint3 threadgroups_per_grid() { return metal::uint3(gridDim.x, gridDim.y, gridDim.z); }
inline metal::uint3 threads_per_grid() {
  return metal::uint3(gridDim.x * blockDim.x, gridDim.y * blockDim.y, gridDim.z * blockDim.z);
}
inline uint thread_index_in_threadgroup() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
inline uint thread_index_in_simdgroup() { return thread_index_in_threadgroup() & 31u; }
inline uint simdgroup_index_in_threadgroup() { return thread_index_in_threadgroup() >> 5; }
inline uint simdgroups_per_threadgroup() { return (blockDim.x * blockDim.y * blockDim.z + 31u) >> 5; }
inline uint threads_per_simdgroup() { return 32u; }

// Programmatic dependent launch (sm_90 and later; PTX ISA "griddepcontrol").
// The entry point calls this first. `wait` blocks until the grids this one
// depends on have completed and their memory operations are visible, so a
// kernel launched early (CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
// still reads its inputs only after the previous kernel wrote them.
// `launch_dependents` then lets the next kernel in the stream be launched
// while this one runs: its launch latency and the ramp-up of its threadgroups
// overlap this kernel, which is most of the cost of a short decode kernel.
// Both are no-ops on a launch without the attribute and before sm_90.
inline void grid_dependency_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
}  // namespace foundry_cuda_builtin

// Asks for bytes [p, p + bytes) in L2 (a hint: nothing is returned and no
// fault is raised; dsl/stage.hpp's prefetch snippets call it before the
// kernel waits for the one before it). sm_90 and later: one bulk prefetch
// (PTX "cp.async.bulk.prefetch.L2"), its range widened to 16-byte
// boundaries as the instruction requires (a buffer's allocation is at
// least 256-byte aligned, so the widened range stays in its pages).
// Earlier GPUs launch a kernel only after the previous one ends, where a
// prefetch right before the loads gains nothing: a no-op there.
inline void foundry_prefetch_l2(const void* p, unsigned bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (bytes == 0u) return;
  const unsigned long long begin = reinterpret_cast<unsigned long long>(p) & ~15ull;
  const unsigned long long end = (reinterpret_cast<unsigned long long>(p) + bytes + 15ull) & ~15ull;
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(begin), "r"(unsigned(end - begin)) : "memory");
#else
  (void)p;
  (void)bytes;
#endif
}

// Bytes of one plane a kernel's prefetch snippets ask for in full: a plane
// of `plane_rows` rows that is larger has only the first
// FOUNDRY_PREFETCH_PLANE_BYTES / plane bytes of each range asked for, so a
// kernel asks for at most this much per plane. Measured on an H100
// (bench/results/2026-12-06-h100-gemv-prefetch-cap.md, graph replay with the
// weights rotated past L2): asking for whole planes made GEMVs of < 5 MB
// 1.14-1.25x faster (geometric means), was neutral at 5-10 MB and made them
// 3-8% slower at >= 10 MB (up to 1.45x slower): the early reads there
// compete with the kernel before for HBM and evict each other in L2.
#ifndef FOUNDRY_PREFETCH_PLANE_BYTES
#define FOUNDRY_PREFETCH_PLANE_BYTES (4ull << 20)
#endif

// Asks for rows [row, row + rows) of a plane of `plane_rows` rows of
// `row_bytes` bytes into L2 (kernels/common/row_dot.hpp's `rows_prefetch`):
// all of them for a plane of at most FOUNDRY_PREFETCH_PLANE_BYTES, else the
// first part of the range in proportion (see above).
inline void foundry_prefetch_rows(const void* plane, unsigned long long row_bytes, unsigned row, unsigned rows,
                                  unsigned long long plane_rows) {
  const unsigned long long plane_bytes = plane_rows * row_bytes;
  unsigned long long bytes = rows * row_bytes;
  if (plane_bytes > FOUNDRY_PREFETCH_PLANE_BYTES) bytes = bytes * FOUNDRY_PREFETCH_PLANE_BYTES / plane_bytes;
  foundry_prefetch_l2(static_cast<const char*>(plane) + row * row_bytes, unsigned(bytes));
}

// The first line of every kernel's namespace (see the top of this file):
// MSL's names win over CUDA's global ones in kernel code.
#define FOUNDRY_MSL_VEC_NAMES(name) \
  using ::metal::name##2; using ::metal::name##3; using ::metal::name##4;
#define FOUNDRY_MSL_NAMES                                                                        \
  using namespace ::metal;                                                                       \
  using ::metal::half; using ::metal::bfloat; using ::metal::vec; using ::metal::packed_vec;      \
  FOUNDRY_MSL_VEC_NAMES(float) FOUNDRY_MSL_VEC_NAMES(half) FOUNDRY_MSL_VEC_NAMES(bfloat)         \
  FOUNDRY_MSL_VEC_NAMES(int) FOUNDRY_MSL_VEC_NAMES(uint) FOUNDRY_MSL_VEC_NAMES(short)            \
  FOUNDRY_MSL_VEC_NAMES(ushort) FOUNDRY_MSL_VEC_NAMES(char) FOUNDRY_MSL_VEC_NAMES(uchar)         \
  FOUNDRY_MSL_VEC_NAMES(long) FOUNDRY_MSL_VEC_NAMES(ulong) FOUNDRY_MSL_VEC_NAMES(bool)           \
  using ::metal::exp; using ::metal::exp2; using ::metal::exp10; using ::metal::log;             \
  using ::metal::log2; using ::metal::log10; using ::metal::sqrt; using ::metal::rsqrt;          \
  using ::metal::sin; using ::metal::cos; using ::metal::tan; using ::metal::asin;               \
  using ::metal::acos; using ::metal::atan; using ::metal::atan2; using ::metal::sinh;           \
  using ::metal::cosh; using ::metal::tanh; using ::metal::pow; using ::metal::powr;             \
  using ::metal::fma; using ::metal::fmin; using ::metal::fmax; using ::metal::fmod;             \
  using ::metal::min; using ::metal::max; using ::metal::clamp; using ::metal::abs;              \
  using ::metal::fabs; using ::metal::floor; using ::metal::ceil; using ::metal::round;           \
  using ::metal::rint; using ::metal::trunc; using ::metal::fract; using ::metal::copysign;       \
  using ::metal::isnan; using ::metal::isinf; using ::metal::isfinite; using ::metal::signbit;   \
  using ::metal::popcount; using ::metal::clz; using ::metal::ctz; using ::metal::numeric_limits;

// --- SIMD-group matrices ---
// simdgroup_matrix<T, 8, 8> (T = float or half) and its functions, as in the
// Metal Shading Language specification ("SIMD-group matrix functions"), on
// a warp. Layout (docs/msl-subset.md): lane l holds the two elements of row
// l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 (e[0], e[1]), which is the
// layout of the accumulator and of the A operand of the tensor-core
// instruction mma.sync.m16n8k8 restricted to its first 8 rows. A half
// matrix also holds the two elements of column l / 4, rows 2 (l % 4) and
// 2 (l % 4) + 1 (c[0], c[1]): the instruction's B operand layout. A load
// reads both from memory, so a multiply with half operands runs on tensor
// cores (sm_75 and newer) with no data movement between lanes; only a half
// matrix made by a multiply gathers its column copy with two shuffles.
// Float operands (full fp32 products, as on Metal; the tensor cores' tf32
// would round them) and older architectures use shuffles and FMAs: 8 steps
// of 3 shuffles. The contract kernels rely on is stated in
// ../common/msl_simdgroup_matrix.h.
namespace metal {

template <class T, int Cols, int Rows>
struct simdgroup_matrix {
  static_assert(Cols == 8 && Rows == 8, "simdgroup_matrix: the portable MSL subset has 8x8 matrices only");
  static_assert(msl_detail::is_same_v<T, float> || msl_detail::is_same_v<T, half>,
                "simdgroup_matrix: element type must be float or half");
  using value_type = T;
  T e[2];  // this lane's elements: row lane/4, columns 2*(lane%4) + {0, 1}
  simdgroup_matrix() = default;
};
// Half: the row elements and the column copy the tensor core's B operand
// takes (two more registers per matrix; the copy of a matrix only used as
// an A operand is never read, and the compiler drops its loads).
template <int Cols, int Rows>
struct simdgroup_matrix<half, Cols, Rows> {
  static_assert(Cols == 8 && Rows == 8, "simdgroup_matrix: the portable MSL subset has 8x8 matrices only");
  using value_type = half;
  half e[2];  // row lane/4, columns 2*(lane%4) + {0, 1}
  half c[2];  // column lane/4, rows 2*(lane%4) + {0, 1}
  simdgroup_matrix() = default;
};

namespace msl_detail {
// Row and first column of this lane's two elements.
inline uint sgm_row() { return lane_id() >> 2; }
inline uint sgm_col() { return (lane_id() & 3u) << 1; }
// d = a * b (+ c) with full-precision float products and sums.
template <class TA, class TB>
inline void sgm_fma(float& d0, float& d1, const simdgroup_matrix<TA, 8, 8>& a, const simdgroup_matrix<TB, 8, 8>& b) {
  const uint r = sgm_row(), q = lane_id() & 3u;
  for (uint k = 0; k < 8u; ++k) {
    // A(r, k) lives in lane 4r + k/2, element k%2; B(k, c) in lane 4k + c/2.
    const float ak = shfl_idx(float(a.e[k & 1u]), 4u * r + (k >> 1));
    const float b0 = shfl_idx(float(b.e[0]), 4u * k + q);
    const float b1 = shfl_idx(float(b.e[1]), 4u * k + q);
    d0 = fma(ak, b0, d0);
    d1 = fma(ak, b1, d1);
  }
}
inline unsigned int sgm_pack(half lo, half hi) { return uint(lo.bits_) | (uint(hi.bits_) << 16); }
// d += a * b on a tensor core (sm_75+): mma.sync.m16n8k8 with A = [a; 0],
// B = b (its column copy is the instruction's B fragment), C = [c; 0].
inline void sgm_mma_f16(float& d0, float& d1, const simdgroup_matrix<half, 8, 8>& a,
                        const simdgroup_matrix<half, 8, 8>& b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  const unsigned int a01 = sgm_pack(a.e[0], a.e[1]), a23 = 0u, b01 = sgm_pack(b.c[0], b.c[1]);
  float d2 = 0.0f, d3 = 0.0f;
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(a01), "r"(a23), "r"(b01));
#else
  sgm_fma(d0, d1, a, b);
#endif
}
// The column copy of a half matrix from its row elements: M(2q, g) and
// M(2q + 1, g) (q = lane % 4, g = lane / 4) live in lanes 8q + g/2 and
// 8q + 4 + g/2, element g % 2.
inline void sgm_fill_columns(simdgroup_matrix<half, 8, 8>& m) {
  const uint g = sgm_row(), q = lane_id() & 3u;
  const unsigned int w = sgm_pack(m.e[0], m.e[1]);
  const unsigned int w0 = __shfl_sync(warp_mask, w, int(8u * q + (g >> 1)));
  const unsigned int w1 = __shfl_sync(warp_mask, w, int(8u * q + 4u + (g >> 1)));
  const unsigned int sh = (g & 1u) * 16u;
  m.c[0].bits_ = (unsigned short)((w0 >> sh) & 0xffffu);
  m.c[1].bits_ = (unsigned short)((w1 >> sh) & 0xffffu);
}
template <class T>
inline void sgm_fill_columns(simdgroup_matrix<T, 8, 8>&) {}
template <class TA, class TB>
inline void sgm_product(float& d0, float& d1, const simdgroup_matrix<TA, 8, 8>& a,
                        const simdgroup_matrix<TB, 8, 8>& b) {
  if constexpr (is_same_v<TA, half> && is_same_v<TB, half>) sgm_mma_f16(d0, d1, a, b);
  else sgm_fma(d0, d1, a, b);
}
}  // namespace msl_detail

template <class T>
inline simdgroup_matrix<T, 8, 8> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, 8, 8> m;
  m.e[0] = value;
  m.e[1] = value;
  if constexpr (msl_detail::is_same_v<T, half>) m.c[0] = m.c[1] = value;
  return m;
}

template <class T, class U>
  requires msl_detail::is_same_v<U, T> || msl_detail::is_same_v<U, const T>
inline void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, U* src, ulong elements_per_row = 8,
                           ulong2 matrix_origin = ulong2(0, 0), bool transpose_matrix = false) {
  const ulong r = msl_detail::sgm_row(), c = msl_detail::sgm_col();
  const U* base = src + ulong(matrix_origin.y) * elements_per_row + ulong(matrix_origin.x);
  for (ulong j = 0; j < 2; ++j)
    d.e[j] = transpose_matrix ? base[(c + j) * elements_per_row + r] : base[r * elements_per_row + c + j];
  if constexpr (msl_detail::is_same_v<T, half>)  // column r, rows c and c + 1
    for (ulong j = 0; j < 2; ++j)
      d.c[j] = transpose_matrix ? base[r * elements_per_row + c + j] : base[(c + j) * elements_per_row + r];
}
template <class T>
inline void simdgroup_store(const simdgroup_matrix<T, 8, 8>& a, T* dst, ulong elements_per_row = 8,
                            ulong2 matrix_origin = ulong2(0, 0), bool transpose_matrix = false) {
  const ulong r = msl_detail::sgm_row(), c = msl_detail::sgm_col();
  T* base = dst + ulong(matrix_origin.y) * elements_per_row + ulong(matrix_origin.x);
  for (ulong j = 0; j < 2; ++j)
    (transpose_matrix ? base[(c + j) * elements_per_row + r] : base[r * elements_per_row + c + j]) = a.e[j];
}

// d = a * b + c, formed in float and rounded to d's type.
template <class TD, class TA, class TB, class TC>
inline void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                          const simdgroup_matrix<TB, 8, 8>& b, const simdgroup_matrix<TC, 8, 8>& c) {
  float d0 = float(c.e[0]), d1 = float(c.e[1]);
  msl_detail::sgm_product(d0, d1, a, b);
  d.e[0] = TD(d0);
  d.e[1] = TD(d1);
  msl_detail::sgm_fill_columns(d);
}
// d = a * b.
template <class TD, class TA, class TB>
inline void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                               const simdgroup_matrix<TB, 8, 8>& b) {
  float d0 = 0.0f, d1 = 0.0f;
  msl_detail::sgm_product(d0, d1, a, b);
  d.e[0] = TD(d0);
  d.e[1] = TD(d1);
  msl_detail::sgm_fill_columns(d);
}

}  // namespace metal

#include "../common/msl_simdgroup_matrix.h"

// Address spaces and function qualifiers; these come last (see the top).
// CUDA's generic addressing reaches device, shared and local memory through
// one pointer type.
#include "../common/msl_qualifiers.h"

#endif  // FOUNDRY_CUDA_MSL_PRELUDE_H
