// foundry/backends/cpu/msl_prelude.h - the Metal Shading Language
// compatibility layer of the CPU backend.
//
// Emitted MSL (a body function plus an `extern "C"` CPU entry, see abi.h) is
// compiled by the host C++ compiler with this header prepended. It defines
// the portable MSL subset documented in docs/msl-subset.md. Scalar and
// vector types, `metal::` math and the constants come from the MSL core that
// the CUDA prelude shares (backends/common/msl_core.h); this header adds what
// the CPU does its own way: `half` as `_Float16` where the compiler has it,
// the core's hooks (libm builtins, bit counts), atomics, SIMD-group
// functions and barriers (through the host scheduler), and the address-space
// qualifiers. Kernel code calls these unqualified, as in MSL.
//
// Rules this header follows, and why:
//  * It is only ever the *first* thing in a translation unit: it defines the
//    macros `device`, `thread`, `threadgroup` and `constant`, which would
//    break any standard header included after it (`std::thread`). So every
//    standard header it needs is included before those macros, and it must
//    never be included into host code.
//  * It does not include <cmath>/<math.h>: those declare `::exp`, `::abs`,
//    ... at global scope, which would collide with the `metal::` overloads
//    that `using namespace metal;` makes visible. Math goes through
//    `__builtin_*` instead (same code, no declarations).
//  * The JIT reads this file, abi.h and the core as text (see jit.hpp) and
//    inlines each in place of its #include, so a JIT translation unit needs
//    no include path. They must therefore stay self-contained.
//  * Barriers and SIMD-group functions call into the host scheduler through
//    the table that `foundry_cpu_module_init` stores (abi.h).

#ifndef FOUNDRY_CPU_MSL_PRELUDE_H
#define FOUNDRY_CPU_MSL_PRELUDE_H

// Kernel code may pick a form that suits the host CPU (lane loops run the
// lanes of a SIMD-group one after another): `#if FOUNDRY_TARGET_CPU`.
#define FOUNDRY_TARGET_CPU 1

#include "abi.h"

#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <limits>
#include <type_traits>

// Anonymous structs inside the vector unions (`v.x`) are a GNU extension both
// compilers implement; silence the pedantic note for this header only.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-anonymous-struct"
#pragma clang diagnostic ignored "-Wnested-anon-types"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
// Everything the prelude defines stays inside the module: only the kernels'
// extern "C" entry points (declared after the pop below) are exported.
#pragma GCC visibility push(hidden)

// ---------------------------------------------------------------------------
// Scalar types. Declared at global scope with the same types glibc uses for
// its own `uint`/`ushort`/`ulong` typedefs, so a redeclaration is harmless.
// ---------------------------------------------------------------------------
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;
static_assert(sizeof(ulong) == 8, "MSL ulong is 64-bit");

// half: IEEE binary16. Where the compiler has `_Float16` on this target (g++
// 12, clang 15 and later on x86-64; the macro __FLT16_MANT_DIG__ says so) it
// is that type. Elsewhere (clang 14 on x86-64) it is the core's storage-only
// struct: conversions round to nearest even, bit for bit as `_Float16`'s do
// (the F16C instructions where the CPU has them, the same rounding in
// software otherwise; see msl_target below), and `half op half` computes in
// float and rounds the result, as Metal's half arithmetic does. Defining
// FOUNDRY_MSL_SOFT_HALF selects the struct with any compiler (the tests
// compare both).
#if defined(__FLT16_MANT_DIG__) && !defined(FOUNDRY_MSL_SOFT_HALF)
typedef _Float16 half;
#define FOUNDRY_MSL_NATIVE_HALF 1
#endif

// The core's hooks (see msl_core.h): libm through the compiler's builtins
// (no <cmath>, see the top), the GCC/Clang bit-count builtins, and the
// conversion from the scheduler's builtin struct (`uint3 gid =
// T->thread_position_in_grid;`, abi.h).
#define FOUNDRY_MSL_F(name) __builtin_##name##f
#define FOUNDRY_MSL_D(name) __builtin_##name
#define FOUNDRY_MSL_RSQRTF(x) (1.0f / __builtin_sqrtf(x))
#define FOUNDRY_MSL_RSQRT(x) (1.0 / __builtin_sqrt(x))
#define FOUNDRY_MSL_EXP10F(x) __builtin_powf(10.0f, x)
#define FOUNDRY_MSL_EXP10(x) __builtin_pow(10.0, x)
#define FOUNDRY_MSL_POPCOUNT64(u) __builtin_popcountll(u)
#define FOUNDRY_MSL_CLZ64(u) __builtin_clzll(u)
#define FOUNDRY_MSL_CTZ64(u) __builtin_ctzll(u)
#define FOUNDRY_MSL_MEMCPY(d, s, n) __builtin_memcpy(d, s, n)
#define FOUNDRY_MSL_VEC_TARGET_MEMBERS(N_)                                                  \
  constexpr vec(const foundry_cpu_uint3& u)                                                 \
    requires(N_ <= 3 && msl_detail::is_iscalar<T>)                                          \
  {                                                                                         \
    const uint32_t c[3] = {u.x, u.y, u.z};                                                  \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(c[i]);                          \
  }

#include "../common/msl_core.h"

namespace metal {

// binary16 conversions for the storage-only half: F16C where the CPU has it
// (-march=native), else the core's software rounding (the same results).
namespace msl_target {
#if defined(__F16C__)
typedef float f16c_v4sf __attribute__((vector_size(16)));
typedef short f16c_v8hi __attribute__((vector_size(16)));
inline ushort float_to_half_bits(float f) {
  const f16c_v4sf v = {f, 0.0f, 0.0f, 0.0f};
  return static_cast<ushort>(__builtin_ia32_vcvtps2ph(v, 0)[0]);  // imm 0: round to nearest even
}
inline float half_bits_to_float(ushort h) {
  const f16c_v8hi v = {static_cast<short>(h), 0, 0, 0, 0, 0, 0, 0};
  return __builtin_ia32_vcvtph2ps(v)[0];
}
#else
inline ushort float_to_half_bits(float f) { return msl_detail::float_to_half_bits_soft(f); }
inline float half_bits_to_float(ushort h) { return msl_detail::half_bits_to_float_soft(h); }
#endif
inline ushort double_to_half_bits(double d) { return float_to_half_bits(msl_detail::round_to_odd_float(d)); }
}  // namespace msl_target

// ---------------------------------------------------------------------------
// Atomics: atomic<T> is T's storage; the functions are the MSL free
// functions. On the CPU every order is honoured as given (relaxed is what
// MSL offers; it is also what the CPU implements for it).
// ---------------------------------------------------------------------------
// memory_order's values are the GCC/Clang __ATOMIC_* orders (the core's).
static_assert(memory_order_relaxed == __ATOMIC_RELAXED && memory_order_acquire == __ATOMIC_ACQUIRE &&
                  memory_order_release == __ATOMIC_RELEASE && memory_order_acq_rel == __ATOMIC_ACQ_REL &&
                  memory_order_seq_cst == __ATOMIC_SEQ_CST,
              "memory_order values are the __ATOMIC_* orders");

namespace msl_detail {
// Read-modify-write by compare-exchange, for floats and min/max.
template <class T, class F>
inline T cas_rmw(T* p, F f, int order) {
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T desired = f(old);
  while (!__atomic_compare_exchange(p, &old, &desired, true, order, __ATOMIC_RELAXED)) desired = f(old);
  return old;
}
}  // namespace msl_detail

template <class A, class V> requires msl_detail::atomic_obj<A>
inline void atomic_store_explicit(A* obj, V desired, memory_order order) {
  msl_detail::atomic_t<A> d = static_cast<msl_detail::atomic_t<A>>(desired);
  __atomic_store(msl_detail::atomic_ptr(obj), &d, order == memory_order_relaxed ? __ATOMIC_RELAXED : __ATOMIC_SEQ_CST);
}
template <class A> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_load_explicit(A* obj, memory_order order) {
  msl_detail::atomic_t<A> r;
  __atomic_load(msl_detail::atomic_ptr(obj), &r, order == memory_order_relaxed ? __ATOMIC_RELAXED : __ATOMIC_SEQ_CST);
  return r;
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_exchange_explicit(A* obj, V desired, memory_order order) {
  msl_detail::atomic_t<A> d = static_cast<msl_detail::atomic_t<A>>(desired), r;
  __atomic_exchange(msl_detail::atomic_ptr(obj), &d, &r, order);
  return r;
}
// Returns true and stores `desired` if *obj == *expected, else loads *obj
// into *expected and returns false. "weak": may fail spuriously.
template <class A, class V> requires msl_detail::atomic_obj<A>
inline bool atomic_compare_exchange_weak_explicit(A* obj, msl_detail::atomic_t<A>* expected, V desired,
                                                  memory_order success, memory_order failure) {
  msl_detail::atomic_t<A> d = static_cast<msl_detail::atomic_t<A>>(desired);
  (void)failure;
  return __atomic_compare_exchange(msl_detail::atomic_ptr(obj), expected, &d, true, success, __ATOMIC_RELAXED);
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline bool atomic_compare_exchange_strong_explicit(A* obj, msl_detail::atomic_t<A>* expected, V desired,
                                                    memory_order success, memory_order failure) {
  msl_detail::atomic_t<A> d = static_cast<msl_detail::atomic_t<A>>(desired);
  (void)failure;
  return __atomic_compare_exchange(msl_detail::atomic_ptr(obj), expected, &d, false, success, __ATOMIC_RELAXED);
}

#define FOUNDRY_ATOMIC_RMW(name, builtin, expr)                                                  \
  template <class A, class V> requires msl_detail::atomic_obj<A>                                 \
  inline msl_detail::atomic_t<A> name(A* obj, V operand, memory_order order) {                   \
    using T = msl_detail::atomic_t<A>;                                                           \
    const T v = static_cast<T>(operand);                                                         \
    if constexpr (msl_detail::is_iscalar<T>) {                                                   \
      return builtin(msl_detail::atomic_ptr(obj), v, order);                                     \
    } else {                                                                                     \
      return msl_detail::cas_rmw(msl_detail::atomic_ptr(obj), [v](T old) { return expr; }, order); \
    }                                                                                            \
  }
FOUNDRY_ATOMIC_RMW(atomic_fetch_add_explicit, __atomic_fetch_add, static_cast<T>(old + v))
FOUNDRY_ATOMIC_RMW(atomic_fetch_sub_explicit, __atomic_fetch_sub, static_cast<T>(old - v))
FOUNDRY_ATOMIC_RMW(atomic_fetch_and_explicit, __atomic_fetch_and, static_cast<T>(old & v))
FOUNDRY_ATOMIC_RMW(atomic_fetch_or_explicit, __atomic_fetch_or, static_cast<T>(old | v))
FOUNDRY_ATOMIC_RMW(atomic_fetch_xor_explicit, __atomic_fetch_xor, static_cast<T>(old ^ v))
#undef FOUNDRY_ATOMIC_RMW
template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_fetch_min_explicit(A* obj, V operand, memory_order order) {
  using T = msl_detail::atomic_t<A>;
  const T v = static_cast<T>(operand);
  return msl_detail::cas_rmw(msl_detail::atomic_ptr(obj), [v](T old) { return v < old ? v : old; }, order);
}
template <class A, class V> requires msl_detail::atomic_obj<A>
inline msl_detail::atomic_t<A> atomic_fetch_max_explicit(A* obj, V operand, memory_order order) {
  using T = msl_detail::atomic_t<A>;
  const T v = static_cast<T>(operand);
  return msl_detail::cas_rmw(msl_detail::atomic_ptr(obj), [v](T old) { return old < v ? v : old; }, order);
}

// ---------------------------------------------------------------------------
// Barriers and SIMD-group functions: collectives executed by the host
// scheduler (see scheduler.hpp and docs/msl-subset.md for the semantics,
// including partial SIMD-groups and lanes that have returned).
// The trailing `site` parameter defaults to the caller's source line; the
// scheduler uses it to tell call sites apart (divergence detection).
// ---------------------------------------------------------------------------

namespace msl_detail {
// Set by foundry_cpu_module_init (appended by the JIT).
inline const foundry_cpu_host_api* host = nullptr;

[[noreturn]] inline void no_host() {
  // Reached only if an entry point is called outside a Foundry dispatch.
  __builtin_trap();
}

template <class T>
inline T slot_load(const unsigned char* base, uint lane) {
  T t;
  __builtin_memcpy(static_cast<void*>(&t), base + lane * FOUNDRY_CPU_SIMD_SLOT_BYTES, sizeof(T));
  return t;
}
template <class T>
inline void slot_store(unsigned char* base, uint lane, const T& t) {
  __builtin_memcpy(base + lane * FOUNDRY_CPU_SIMD_SLOT_BYTES, static_cast<const void*>(&t), sizeof(T));
}
#define FOUNDRY_FOR_ACTIVE(x, i) \
  for (uint m_ = (x)->active_mask, i = 0; m_ != 0 && ((i = uint(__builtin_ctz(m_))), true); m_ &= m_ - 1)

template <class Op, class T, class R = T>
inline R collective(uint site, const T& value, uint param) {
  static_assert(sizeof(T) <= FOUNDRY_CPU_SIMD_SLOT_BYTES && sizeof(R) <= FOUNDRY_CPU_SIMD_SLOT_BYTES,
                "SIMD-group operand too large");
  if (host == nullptr) no_host();
  const void* out = host->simd_collective(site, &value, uint(sizeof(T)), param, &Op::template run<T>);
  R r;
  __builtin_memcpy(static_cast<void*>(&r), out, sizeof(R));
  return r;
}

// Reductions over the active lanes, in lane order (so every lane sees the
// bit-identical result).
template <class F>
struct reduce_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange* x) {
    T acc{};
    bool first = true;
    FOUNDRY_FOR_ACTIVE(x, i) {
      const T v = slot_load<T>(x->in, i);
      acc = first ? v : static_cast<T>(F{}(acc, v));
      first = false;
    }
    FOUNDRY_FOR_ACTIVE(x, i) slot_store(x->out, i, acc);
  }
};
template <class F, bool Inclusive, int Identity>
struct scan_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange* x) {
    T acc = static_cast<T>(Identity);
    FOUNDRY_FOR_ACTIVE(x, i) {
      const T v = slot_load<T>(x->in, i);
      if (Inclusive) {
        acc = static_cast<T>(F{}(acc, v));
        slot_store(x->out, i, acc);
      } else {
        slot_store(x->out, i, acc);
        acc = static_cast<T>(F{}(acc, v));
      }
    }
  }
};
struct f_min { template <class A> A operator()(const A& a, const A& b) const { return static_cast<A>(metal::min(a, b)); } };
struct f_max { template <class A> A operator()(const A& a, const A& b) const { return static_cast<A>(metal::max(a, b)); } };

// Shuffles: the source lane comes from each lane's parameter; a source that
// is out of range or inactive yields the caller's own value.
enum class src_kind { index, xor_mask, up, down, rotate_up, rotate_down, first };
template <src_kind K>
struct shuffle_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange* x) {
    const uint first = uint(__builtin_ctz(x->active_mask));
    FOUNDRY_FOR_ACTIVE(x, i) {
      const uint p = x->param[i];
      uint s = i;
      switch (K) {
        case src_kind::index: s = p; break;
        case src_kind::xor_mask: s = i ^ p; break;
        case src_kind::up: s = p <= i ? i - p : ~0u; break;
        case src_kind::down: s = i + p; break;
        case src_kind::rotate_up: s = (i + FOUNDRY_CPU_SIMD_WIDTH - p % FOUNDRY_CPU_SIMD_WIDTH) % FOUNDRY_CPU_SIMD_WIDTH; break;
        case src_kind::rotate_down: s = (i + p) % FOUNDRY_CPU_SIMD_WIDTH; break;
        case src_kind::first: s = first; break;
      }
      if (s >= FOUNDRY_CPU_SIMD_WIDTH || ((x->active_mask >> s) & 1u) == 0) s = i;
      slot_store(x->out, i, slot_load<T>(x->in, s));
    }
  }
};
// Ballot: a 64-bit mask of active lanes whose predicate is true, plus the
// active mask (for simd_vote::all).
struct ballot_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange* x) {
    uint64_t votes = 0;
    FOUNDRY_FOR_ACTIVE(x, i) if (slot_load<T>(x->in, i)) votes |= uint64_t(1) << i;
    const uint64_t res[2] = {votes, uint64_t(x->active_mask)};
    FOUNDRY_FOR_ACTIVE(x, i) __builtin_memcpy(x->out + i * FOUNDRY_CPU_SIMD_SLOT_BYTES, res, sizeof res);
  }
};
struct is_first_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange* x) {
    const uint first = uint(__builtin_ctz(x->active_mask));
    FOUNDRY_FOR_ACTIVE(x, i) slot_store(x->out, i, bool(i == first));
  }
};
struct noop_op {
  template <class T>
  static void run(const foundry_cpu_simd_exchange*) {}
};
#undef FOUNDRY_FOR_ACTIVE

template <class T>
concept simd_value = (scalar_like<T> || vecish<T>);
template <class T>
using simd_t = std::conditional_t<(vn_f<T>() > 0), vec<elem_t<T>, (vn_f<T>() > 0 ? vn_f<T>() : 1)>, std::remove_cvref_t<T>>;
}  // namespace msl_detail

#define FOUNDRY_SITE uint site_ = __builtin_LINE()

inline void threadgroup_barrier(mem_flags flags = mem_flags::mem_none, FOUNDRY_SITE) {
  if (msl_detail::host == nullptr) msl_detail::no_host();
  msl_detail::host->threadgroup_barrier(site_, static_cast<uint>(flags));
}
inline void simdgroup_barrier(mem_flags flags = mem_flags::mem_none, FOUNDRY_SITE) {
  (void)flags;
  msl_detail::collective<msl_detail::noop_op>(site_, char(0), 0);
}

#define FOUNDRY_SIMD_REDUCE(name, ...)                                                        \
  template <class T> requires msl_detail::simd_value<T>                                       \
  inline msl_detail::simd_t<T> name(const T& v, FOUNDRY_SITE) {                               \
    return msl_detail::collective<__VA_ARGS__>(site_, msl_detail::simd_t<T>(v), 0);           \
  }
FOUNDRY_SIMD_REDUCE(simd_sum, msl_detail::reduce_op<msl_detail::op_add>)
FOUNDRY_SIMD_REDUCE(simd_product, msl_detail::reduce_op<msl_detail::op_mul>)
FOUNDRY_SIMD_REDUCE(simd_min, msl_detail::reduce_op<msl_detail::f_min>)
FOUNDRY_SIMD_REDUCE(simd_max, msl_detail::reduce_op<msl_detail::f_max>)
FOUNDRY_SIMD_REDUCE(simd_and, msl_detail::reduce_op<msl_detail::op_and>)
FOUNDRY_SIMD_REDUCE(simd_or, msl_detail::reduce_op<msl_detail::op_or>)
FOUNDRY_SIMD_REDUCE(simd_xor, msl_detail::reduce_op<msl_detail::op_xor>)
FOUNDRY_SIMD_REDUCE(simd_prefix_inclusive_sum, msl_detail::scan_op<msl_detail::op_add, true, 0>)
FOUNDRY_SIMD_REDUCE(simd_prefix_exclusive_sum, msl_detail::scan_op<msl_detail::op_add, false, 0>)
FOUNDRY_SIMD_REDUCE(simd_prefix_inclusive_product, msl_detail::scan_op<msl_detail::op_mul, true, 1>)
FOUNDRY_SIMD_REDUCE(simd_prefix_exclusive_product, msl_detail::scan_op<msl_detail::op_mul, false, 1>)
FOUNDRY_SIMD_REDUCE(simd_broadcast_first, msl_detail::shuffle_op<msl_detail::src_kind::first>)
#undef FOUNDRY_SIMD_REDUCE

#define FOUNDRY_SIMD_SHUFFLE(name, kind)                                                      \
  template <class T> requires msl_detail::simd_value<T>                                       \
  inline msl_detail::simd_t<T> name(const T& v, ushort p, FOUNDRY_SITE) {                     \
    return msl_detail::collective<msl_detail::shuffle_op<msl_detail::src_kind::kind>>(        \
        site_, msl_detail::simd_t<T>(v), p);                                                  \
  }
FOUNDRY_SIMD_SHUFFLE(simd_shuffle, index)
FOUNDRY_SIMD_SHUFFLE(simd_broadcast, index)
FOUNDRY_SIMD_SHUFFLE(simd_shuffle_xor, xor_mask)
FOUNDRY_SIMD_SHUFFLE(simd_shuffle_up, up)
FOUNDRY_SIMD_SHUFFLE(simd_shuffle_down, down)
FOUNDRY_SIMD_SHUFFLE(simd_shuffle_rotate_up, rotate_up)
FOUNDRY_SIMD_SHUFFLE(simd_shuffle_rotate_down, rotate_down)
#undef FOUNDRY_SIMD_SHUFFLE


inline simd_vote simd_ballot(bool pred, FOUNDRY_SITE) {
  const auto r = msl_detail::collective<msl_detail::ballot_op, bool, packed_vec<ulong, 2>>(site_, pred, 0);
  return simd_vote(r[0], r[1]);
}
inline simd_vote simd_active_threads_mask(FOUNDRY_SITE) {
  const auto r = msl_detail::collective<msl_detail::ballot_op, bool, packed_vec<ulong, 2>>(site_, true, 0);
  return simd_vote(r[0], r[1]);
}
inline bool simd_all(bool pred, FOUNDRY_SITE) { return simd_ballot(pred, site_).all(); }
inline bool simd_any(bool pred, FOUNDRY_SITE) { return simd_ballot(pred, site_).any(); }
inline bool simd_is_first(FOUNDRY_SITE) {
  return msl_detail::collective<msl_detail::is_first_op, bool>(site_, true, 0);
}
#undef FOUNDRY_SITE

}  // namespace metal

#pragma GCC visibility pop

using namespace metal;

// --- Reduction points of lane-loop kernels (dsl/lane_loop.hpp) ---
// v[0..n) holds one value per thread of the threadgroup; done[i] marks a
// thread that returned. Each SIMD-group's running lanes get the reduction of
// their values, combined in lane order exactly as the fiber path's
// simd_sum/simd_max/simd_min (reduce_op above), so both paths agree bit for
// bit. A SIMD-group whose lanes all returned is left as it is.
namespace metal::msl_detail {
template <class F, class T>
inline void lanes_reduce(T* v, const bool* done, uint n) {
  for (uint g = 0; g < n; g += FOUNDRY_CPU_SIMD_WIDTH) {
    const uint e = n - g < FOUNDRY_CPU_SIMD_WIDTH ? n : g + FOUNDRY_CPU_SIMD_WIDTH;
    T acc{};
    bool first = true;
    for (uint i = g; i < e; ++i)
      if (!done[i]) {
        acc = first ? v[i] : static_cast<T>(F{}(acc, v[i]));
        first = false;
      }
    for (uint i = g; i < e; ++i)
      if (!done[i]) v[i] = acc;
  }
}
}  // namespace metal::msl_detail
template <class T>
inline void foundry_lanes_reduce_add(T* v, const bool* done, uint n) {
  metal::msl_detail::lanes_reduce<metal::msl_detail::op_add>(v, done, n);
}
template <class T>
inline void foundry_lanes_reduce_max(T* v, const bool* done, uint n) {
  metal::msl_detail::lanes_reduce<metal::msl_detail::f_max>(v, done, n);
}
template <class T>
inline void foundry_lanes_reduce_min(T* v, const bool* done, uint n) {
  metal::msl_detail::lanes_reduce<metal::msl_detail::f_min>(v, done, n);
}

// --- SIMD-group matrices ---
// simdgroup_matrix<T, 8, 8> (T = float or half) and its functions, as in the
// Metal Shading Language specification (section "SIMD-group matrix
// functions"). Representation on the CPU: lane 0 of the SIMD-group holds
// the whole 8x8 matrix and does all of the work; every other lane's
// functions return at once. Why: the threads of a threadgroup run one after
// another on one OS thread, so spreading the 512 multiply-adds of an 8x8x8
// product over 32 fibers buys no parallelism and costs a fiber switch per
// lane (a collective); giving every lane the whole matrix costs 32 times the
// arithmetic. One owner does the minimum work with no switch at all, in
// vector registers (8 floats per row). Kernels rely only on the contract
// stated in ../common/msl_simdgroup_matrix.h. Element (row r, column c) of
// a matrix is e[r * 8 + c] here.
#pragma GCC visibility push(hidden)
namespace metal {

template <class T, int Cols, int Rows>
struct simdgroup_matrix {
  static_assert(Cols == 8 && Rows == 8, "simdgroup_matrix: the portable MSL subset has 8x8 matrices only");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>,
                "simdgroup_matrix: element type must be float or half");
  using value_type = T;
  T e[64];  // meaningful on lane 0 of the SIMD-group only
  // Whether this lane owns the matrix: 2 = not asked yet, else 0 or 1. A
  // lane asks the host once per object, so the other lanes' calls cost a
  // branch, not a call into the scheduler.
  unsigned char owner_ = 2;
};

namespace msl_detail {
// True on the lane that owns SIMD-group matrices (lane 0); `m` caches it.
template <class T>
inline bool sgm_owner(simdgroup_matrix<T, 8, 8>& m) {
  if (m.owner_ == 2) {
    if (host == nullptr) no_host();
    m.owner_ = host->simd_lane() == 0u ? 1 : 0;
  }
  return m.owner_ == 1;
}
template <class T>
inline bool sgm_owner(const simdgroup_matrix<T, 8, 8>& m) {
  if (m.owner_ != 2) return m.owner_ == 1;
  if (host == nullptr) no_host();
  return host->simd_lane() == 0u;
}
typedef float sgm_row __attribute__((vector_size(32)));
// d = a * b (+ c), all in float; a, b, c, d row-major 8x8.
inline void sgm_mma(float* d, const float* a, const float* b, const float* c) {
  sgm_row brow[8], acc[8];
  for (int k = 0; k < 8; ++k) __builtin_memcpy(&brow[k], b + 8 * k, sizeof(sgm_row));
  for (int r = 0; r < 8; ++r) {
    if (c != nullptr) __builtin_memcpy(&acc[r], c + 8 * r, sizeof(sgm_row));
    else acc[r] = sgm_row{};
    for (int k = 0; k < 8; ++k) acc[r] += a[8 * r + k] * brow[k];
  }
  for (int r = 0; r < 8; ++r) __builtin_memcpy(d + 8 * r, &acc[r], sizeof(sgm_row));
}
// The matrix as 64 floats (no copy for float).
template <class T>
inline const float* sgm_floats(const simdgroup_matrix<T, 8, 8>& m, float* tmp) {
  if constexpr (std::is_same_v<T, float>) {
    (void)tmp;
    return m.e;
  } else {
    for (int i = 0; i < 64; ++i) tmp[i] = float(m.e[i]);
    return tmp;
  }
}
}  // namespace msl_detail

// Only the owner lane stores the elements.
template <class T>
inline simdgroup_matrix<T, 8, 8> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, 8, 8> m;
  if (msl_detail::sgm_owner(m))
    for (int i = 0; i < 64; ++i) m.e[i] = value;
  return m;
}

template <class T, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
inline void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, U* src, ulong elements_per_row = 8,
                           ulong2 matrix_origin = ulong2(0, 0), bool transpose_matrix = false) {
  if (!msl_detail::sgm_owner(d)) return;
  const U* base = src + ulong(matrix_origin.y) * elements_per_row + ulong(matrix_origin.x);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c)
      d.e[8 * r + c] = transpose_matrix ? base[ulong(c) * elements_per_row + ulong(r)]
                                        : base[ulong(r) * elements_per_row + ulong(c)];
}
template <class T>
inline void simdgroup_store(const simdgroup_matrix<T, 8, 8>& a, T* dst, ulong elements_per_row = 8,
                            ulong2 matrix_origin = ulong2(0, 0), bool transpose_matrix = false) {
  if (!msl_detail::sgm_owner(a)) return;
  T* base = dst + ulong(matrix_origin.y) * elements_per_row + ulong(matrix_origin.x);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c)
      (transpose_matrix ? base[ulong(c) * elements_per_row + ulong(r)] : base[ulong(r) * elements_per_row + ulong(c)]) =
          a.e[8 * r + c];
}

// d = a * b + c. Products and sums are formed in float (then rounded to
// d's type): half inputs are exact in float, so a half product loses
// nothing before its accumulation.
template <class TD, class TA, class TB, class TC>
inline void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                          const simdgroup_matrix<TB, 8, 8>& b, const simdgroup_matrix<TC, 8, 8>& c) {
  if (!msl_detail::sgm_owner(d)) return;
  float ta[64], tb[64], tc[64], td[64];
  const float* pa = msl_detail::sgm_floats(a, ta);
  const float* pb = msl_detail::sgm_floats(b, tb);
  const float* pc = msl_detail::sgm_floats(c, tc);
  if constexpr (std::is_same_v<TD, float>) {
    msl_detail::sgm_mma(d.e, pa, pb, pc);
  } else {
    msl_detail::sgm_mma(td, pa, pb, pc);
    for (int i = 0; i < 64; ++i) d.e[i] = TD(td[i]);
  }
}
// d = a * b.
template <class TD, class TA, class TB>
inline void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                               const simdgroup_matrix<TB, 8, 8>& b) {
  if (!msl_detail::sgm_owner(d)) return;
  float ta[64], tb[64], td[64];
  const float* pa = msl_detail::sgm_floats(a, ta);
  const float* pb = msl_detail::sgm_floats(b, tb);
  if constexpr (std::is_same_v<TD, float>) {
    msl_detail::sgm_mma(d.e, pa, pb, nullptr);
  } else {
    msl_detail::sgm_mma(td, pa, pb, nullptr);
    for (int i = 0; i < 64; ++i) d.e[i] = TD(td[i]);
  }
}

}  // namespace metal

// ---------------------------------------------------------------------------
// 8-bit activations for the CPU forms of row dot products.
//
// The serial number of the dispatch the calling OS thread is running
// (foundry_cpu_launch::serial, kept by the host: abi.h dispatch_serial), so a
// kernel can tell one dispatch from the next even when they reuse the same
// buffers. Not a thread-local of the module: the host's own is read instead
// (a module's thread-local first touched on a fiber stack upsets
// LeakSanitizer's thread scan at exit).
inline uint64_t foundry_cpu_dispatch_serial() { return metal::msl_detail::host->dispatch_serial(); }

// A kernel's input vector x̂ (k floats, k a multiple of 32) quantized to 8-bit
// blocks of 32 as GGUF's Q8_0 does (ggml-quants.c quantize_row_q8_0):
// d = max_i |x_i| / 127, q_i = round(x_i / d) (q = 0 when d = 0), so
// x_i ≈ d·q_i with |x_i − d·q_i| <= d/2. `sum[b]` is Σ q_i of block b
// (affine and offset formats need it). Block b's codes sit at q[32b .. 32b+32)
// in element order, or with `nibble_order` as the 4-bit formats pack them
// (kernels/policies/q4_nibbles.metal): elements 0, 2, ..., 30, then 1, 3, ...,
// 31, so that the low and the high nibbles of the block's 16 bytes each meet
// 16 adjacent codes. One per call site and worker thread (`static
// thread_local`), filled by the first row of a dispatch that reaches it and
// reused by the others: the quantization costs one pass over x per dispatch
// and thread instead of one per row. The storage grows with malloc and is
// never shrunk: the prelude stays free of <vector> because every JIT unit
// includes it.
struct foundry_q8_vector {
  uint64_t serial = ~uint64_t(0);
  const void* key = nullptr;
  uint32_t k = 0, blocks = 0, capacity = 0;
  bool nibble_order = false;
  int8_t* q = nullptr;
  float* d = nullptr;
  int32_t* sum = nullptr;
  float squares = 0.0f;  // Σ x_raw² of the pass, for a folded RMSNorm

  foundry_q8_vector() = default;
  foundry_q8_vector(const foundry_q8_vector&) = delete;
  foundry_q8_vector& operator=(const foundry_q8_vector&) = delete;
  ~foundry_q8_vector() {
    free(q);
    free(d);
    free(sum);
  }
  // True when this call site already holds x̂ of input `x` (length `n`) for
  // the running dispatch; otherwise prepares the storage for set_block and
  // returns false (the caller then fills every block).
  bool current(const void* x, uint32_t n, bool nibbles) {
    const uint64_t now = foundry_cpu_dispatch_serial();
    if (serial == now && key == x && k == n && nibble_order == nibbles) return true;
    if (n > capacity) {
      free(q);
      free(d);
      free(sum);
      q = static_cast<int8_t*>(malloc(n));
      d = static_cast<float*>(malloc(sizeof(float) * (n / 32u + 1u)));
      sum = static_cast<int32_t*>(malloc(sizeof(int32_t) * (n / 32u + 1u)));
      if (q == nullptr || d == nullptr || sum == nullptr) __builtin_trap();  // out of memory in a kernel
      capacity = n;
    }
    serial = now;
    key = x;
    k = n;
    blocks = n / 32u;
    nibble_order = nibbles;
    squares = 0.0f;
    return false;
  }
  // Quantizes block `b` from its 32 values `v` (element order).
  void set_block(uint32_t b, const float* v) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = __builtin_fmaxf(amax, __builtin_fabsf(v[i]));
    const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    int8_t c[32];
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) {
      c[i] = static_cast<int8_t>(__builtin_rintf(v[i] * inv));
      s += c[i];
    }
    int8_t* dst = q + 32u * b;
    if (nibble_order) {
      for (int i = 0; i < 16; ++i) {
        dst[i] = c[2 * i];
        dst[16 + i] = c[2 * i + 1];
      }
    } else {
      for (int i = 0; i < 32; ++i) dst[i] = c[i];
    }
    d[b] = scale;
    sum[b] = s;
  }
};

#include "../common/msl_simdgroup_matrix.h"
#pragma GCC visibility pop

// Address spaces and function qualifiers; these must come last (see the
// top). One flat address space on the CPU.
#include "../common/msl_qualifiers.h"

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif  // FOUNDRY_CPU_MSL_PRELUDE_H
