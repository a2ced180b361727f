// foundry/backends/cuda/msl_prelude.h - the Metal Shading Language
// compatibility layer of the CUDA backend. Compiled by NVRTC only (never by
// the host compiler): the CUDA backend prepends it to every emitted kernel
// (see nvrtc.hpp), exactly as the CPU backend prepends its own
// backends/cpu/msl_prelude.h. It implements the same portable MSL subset
// (docs/msl-subset.md): address-space qualifiers, scalar and vector types,
// `metal::` math, atomics, SIMD-group functions and barriers; what differs
// on CUDA is listed in docs/cuda-backend.md.
//
// Rules this header follows, and why:
//  * NVRTC has no host standard library, so nothing here includes a header:
//    the few type traits it needs are defined in metal::msl_detail, `half`
//    is a 16-bit struct converted with the PTX `cvt` instructions (no
//    cuda_fp16.h, so no include path is needed at run time), and the limits
//    and constants of <float.h>/<limits.h>/<metal_math> are defined below.
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

namespace metal {

// ---------------------------------------------------------------------------
// The type traits the prelude needs (no <type_traits> under NVRTC).
// ---------------------------------------------------------------------------
namespace msl_detail {
// Traits are concepts and constexpr functions, never variables: NVRTC
// emits every instantiated namespace-scope or static member variable into
// the module (as a device variable), used or not.
template <class T, class U> struct same_t { enum : bool { value = false }; };
template <class T> struct same_t<T, T> { enum : bool { value = true }; };
template <class T, class U> concept is_same_v = bool(same_t<T, U>::value);
template <bool B, class T, class F> struct conditional { using type = T; };
template <class T, class F> struct conditional<false, T, F> { using type = F; };
template <bool B, class T, class F> using conditional_t = typename conditional<B, T, F>::type;
template <class T> struct remove_cv { using type = T; };
template <class T> struct remove_cv<const T> { using type = T; };
template <class T> struct remove_cv<volatile T> { using type = T; };
template <class T> struct remove_cv<const volatile T> { using type = T; };
template <class T> using remove_cv_t = typename remove_cv<T>::type;
template <class T> struct remove_reference { using type = T; };
template <class T> struct remove_reference<T&> { using type = T; };
template <class T> struct remove_reference<T&&> { using type = T; };
template <class T> using remove_cvref_t = remove_cv_t<typename remove_reference<T>::type>;
template <class T>
concept is_integral_v = is_same_v<T, bool> || is_same_v<T, char> || is_same_v<T, signed char> ||
                        is_same_v<T, unsigned char> || is_same_v<T, short> || is_same_v<T, unsigned short> ||
                        is_same_v<T, int> || is_same_v<T, unsigned int> || is_same_v<T, long> ||
                        is_same_v<T, unsigned long> || is_same_v<T, long long> || is_same_v<T, unsigned long long>;
template <class T> struct make_unsigned { using type = T; };
template <> struct make_unsigned<char> { using type = unsigned char; };
template <> struct make_unsigned<signed char> { using type = unsigned char; };
template <> struct make_unsigned<short> { using type = unsigned short; };
template <> struct make_unsigned<int> { using type = unsigned int; };
template <> struct make_unsigned<long> { using type = unsigned long; };
template <> struct make_unsigned<long long> { using type = unsigned long long; };
template <class T> using make_unsigned_t = typename make_unsigned<T>::type;

// IEEE binary16 <-> binary32. At run time the PTX conversions (round to
// nearest even); in constant expressions the same rounding in software.
constexpr ushort float_to_half_bits_soft(float f) {
  const uint x = __builtin_bit_cast(uint, f);
  const uint sign = (x >> 16) & 0x8000u;
  const uint ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<ushort>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN stays NaN
  if (ax >= 0x477ff000u) return static_cast<ushort>(sign | 0x7c00u);  // >= 65520 (and inf) -> inf
  if (ax < 0x38800000u) {                                            // below 2^-14: subnormal or zero
    if (ax < 0x33000000u) return static_cast<ushort>(sign);          // below 2^-25 -> 0
    const uint e = ax >> 23;
    const uint m = (ax & 0x7fffffu) | 0x800000u;
    const uint shift = 126u - e;  // units of 2^-24
    uint r = m >> shift;
    const uint rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
    return static_cast<ushort>(sign | r);
  }
  uint r = (ax - 0x38000000u) >> 13;  // rebias the exponent (127 -> 15)
  const uint rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry into the exponent is right
  return static_cast<ushort>(sign | r);
}
constexpr float half_bits_to_float_soft(ushort h) {
  const uint sign = uint(h & 0x8000u) << 16;
  const uint e = (uint(h) >> 10) & 0x1fu, m = uint(h) & 0x3ffu;
  if (e == 0x1fu) return __builtin_bit_cast(float, sign | 0x7f800000u | (m << 13));
  if (e == 0u) {
    const float v = float(m) * 5.9604644775390625e-8f;  // m * 2^-24
    return sign ? -v : v;
  }
  return __builtin_bit_cast(float, sign | ((e + 112u) << 23) | (m << 13));
}
constexpr ushort float_to_half_bits(float f) {
  if (__builtin_is_constant_evaluated()) return float_to_half_bits_soft(f);
  ushort r = 0;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
constexpr ushort double_to_half_bits(double d) {
  if (__builtin_is_constant_evaluated()) return float_to_half_bits_soft(static_cast<float>(d));
  ushort r = 0;
  asm("cvt.rn.f16.f64 %0, %1;" : "=h"(r) : "d"(d));
  return r;
}
constexpr float half_bits_to_float(ushort h) {
  if (__builtin_is_constant_evaluated()) return half_bits_to_float_soft(h);
  float r = 0.0f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(h));
  return r;
}
template <class T>
constexpr uint float_bits(T x) { return __builtin_bit_cast(uint, static_cast<float>(x)); }
}  // namespace msl_detail

struct half;
struct bfloat;

namespace msl_detail {
// What converts to half implicitly (as in MSL): arithmetic types and bfloat.
template <class S>
concept half_source = is_integral_v<S> || is_same_v<S, float> || is_same_v<S, double> || is_same_v<S, bfloat>;
// The other operand of a mixed half operation, and the result type: with a
// float or double the half converts up; with an integer the integer
// converts to half (C's usual arithmetic conversions, as in MSL).
template <class S>
concept half_operand = is_integral_v<S> || is_same_v<S, float> || is_same_v<S, double>;
template <class S>
using half_op_t = conditional_t<is_same_v<S, float> || is_same_v<S, double>, S, half>;
}  // namespace msl_detail

// ---------------------------------------------------------------------------
// half: IEEE binary16 storage. Arithmetic converts to float and rounds the
// result back to half, which is the correctly rounded half result for
// + - * / (float carries more than twice half's precision), so every
// operation rounds as Metal's does.
// ---------------------------------------------------------------------------
struct half {
  ushort bits_;
  half() = default;
  template <class S>
    requires msl_detail::half_source<S>
  constexpr half(S s)  // NOLINT: implicit, as in MSL
      : bits_(msl_detail::is_same_v<S, double> ? msl_detail::double_to_half_bits(static_cast<double>(s))
                                               : msl_detail::float_to_half_bits(static_cast<float>(s))) {}
  constexpr operator float() const { return msl_detail::half_bits_to_float(bits_); }
  static constexpr half from_bits(ushort b) {
    half h{};
    h.bits_ = b;
    return h;
  }
  // x op= s is x = half(x op s), with the operation's own type (below).
  template <class S> requires msl_detail::half_operand<S> || msl_detail::is_same_v<S, half>
  constexpr half& operator+=(S o) { return *this = half(*this + o); }
  template <class S> requires msl_detail::half_operand<S> || msl_detail::is_same_v<S, half>
  constexpr half& operator-=(S o) { return *this = half(*this - o); }
  template <class S> requires msl_detail::half_operand<S> || msl_detail::is_same_v<S, half>
  constexpr half& operator*=(S o) { return *this = half(*this * o); }
  template <class S> requires msl_detail::half_operand<S> || msl_detail::is_same_v<S, half>
  constexpr half& operator/=(S o) { return *this = half(*this / o); }
  constexpr half& operator++() { return *this += 1; }
  constexpr half& operator--() { return *this -= 1; }
  constexpr half operator++(int) { half o = *this; *this += 1; return o; }
  constexpr half operator--(int) { half o = *this; *this -= 1; return o; }
};
static_assert(sizeof(half) == 2, "half is IEEE binary16");

constexpr half operator-(half a) { return half::from_bits(static_cast<ushort>(a.bits_ ^ 0x8000u)); }
constexpr half operator+(half a) { return a; }

#define FOUNDRY_HALF_ARITH(op)                                                                   \
  constexpr half operator op(half a, half b) { return half(float(a) op float(b)); }              \
  template <class S> requires msl_detail::half_operand<S>                                        \
  constexpr msl_detail::half_op_t<S> operator op(half a, S b) {                                  \
    using R = msl_detail::half_op_t<S>;                                                          \
    if constexpr (msl_detail::is_same_v<R, half>) return a op half(b);                           \
    else return static_cast<R>(float(a)) op b;                                                   \
  }                                                                                              \
  template <class S> requires msl_detail::half_operand<S>                                        \
  constexpr msl_detail::half_op_t<S> operator op(S a, half b) {                                  \
    using R = msl_detail::half_op_t<S>;                                                          \
    if constexpr (msl_detail::is_same_v<R, half>) return half(a) op b;                           \
    else return a op static_cast<R>(float(b));                                                   \
  }
FOUNDRY_HALF_ARITH(+)
FOUNDRY_HALF_ARITH(-)
FOUNDRY_HALF_ARITH(*)
FOUNDRY_HALF_ARITH(/)
#undef FOUNDRY_HALF_ARITH
#define FOUNDRY_HALF_COMPARE(op)                                                                 \
  constexpr bool operator op(half a, half b) { return float(a) op float(b); }                    \
  template <class S> requires msl_detail::half_operand<S>                                        \
  constexpr bool operator op(half a, S b) {                                                      \
    using R = msl_detail::half_op_t<S>;                                                          \
    if constexpr (msl_detail::is_same_v<R, half>) return float(a) op float(half(b));             \
    else return static_cast<R>(float(a)) op b;                                                   \
  }                                                                                              \
  template <class S> requires msl_detail::half_operand<S>                                        \
  constexpr bool operator op(S a, half b) {                                                      \
    using R = msl_detail::half_op_t<S>;                                                          \
    if constexpr (msl_detail::is_same_v<R, half>) return float(half(a)) op float(b);             \
    else return a op static_cast<R>(float(b));                                                   \
  }
FOUNDRY_HALF_COMPARE(<)
FOUNDRY_HALF_COMPARE(>)
FOUNDRY_HALF_COMPARE(<=)
FOUNDRY_HALF_COMPARE(>=)
FOUNDRY_HALF_COMPARE(==)
FOUNDRY_HALF_COMPARE(!=)
#undef FOUNDRY_HALF_COMPARE

// bfloat: IEEE-754 binary32 truncated to its top 16 bits; a storage type
// that converts to float. Arithmetic runs in float and rounds (to nearest
// even) on store, as on the CPU backend.
struct bfloat {
  ushort bits_;
  bfloat() = default;
  constexpr bfloat(float f) : bits_(from_float(f)) {}  // NOLINT: implicit as in MSL
  constexpr bfloat(double d) : bfloat(static_cast<float>(d)) {}
  constexpr bfloat(half h) : bfloat(static_cast<float>(h)) {}
  constexpr bfloat(int i) : bfloat(static_cast<float>(i)) {}
  constexpr bfloat(uint i) : bfloat(static_cast<float>(i)) {}
  constexpr operator float() const { return __builtin_bit_cast(float, static_cast<uint>(bits_) << 16); }
  static constexpr ushort from_float(float f) {
    const uint u = __builtin_bit_cast(uint, f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<ushort>((u >> 16) | 0x40u);  // quiet NaN
    return static_cast<ushort>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  template <class U>
  constexpr bfloat& operator+=(U o) { return *this = bfloat(float(*this) + float(o)); }
  template <class U>
  constexpr bfloat& operator-=(U o) { return *this = bfloat(float(*this) - float(o)); }
  template <class U>
  constexpr bfloat& operator*=(U o) { return *this = bfloat(float(*this) * float(o)); }
  template <class U>
  constexpr bfloat& operator/=(U o) { return *this = bfloat(float(*this) / float(o)); }
};

namespace msl_detail {
template <class T>
concept is_fscalar = is_same_v<T, float> || is_same_v<T, double> || is_same_v<T, half> || is_same_v<T, bfloat>;
template <class T>
concept is_iscalar = is_integral_v<T> && !is_same_v<T, bool>;
template <class T>
concept is_scalar = is_fscalar<T> || is_iscalar<T> || is_same_v<T, bool>;
template <class T>
concept scalar_like = is_scalar<remove_cvref_t<T>>;
}  // namespace msl_detail

// ---------------------------------------------------------------------------
// Vectors: vec<T, N> with N in 2..4, Metal's size/alignment (a 3-vector
// occupies 4 elements), .x/.y/.z/.w, .r/.g/.b/.a, [i], readable swizzles and
// writable ones for distinct components.
// ---------------------------------------------------------------------------
template <class T, int N>
struct vec;
template <class T, int N>
struct packed_vec;

namespace msl_detail {
template <class T, int N>
constexpr size_t vec_align() { return sizeof(T) * (N == 3 ? 4 : N); }
// True when the lanes I... are distinct (a swizzle that can be assigned).
template <int... I>
constexpr bool distinct_lanes() {
  const int idx[] = {I...};
  for (int a = 0; a < int(sizeof...(I)); ++a)
    for (int b = a + 1; b < int(sizeof...(I)); ++b)
      if (idx[a] == idx[b]) return false;
  return true;
}
// The I-th of the lanes L... .
template <int... L>
constexpr int lane_at(int i) {
  const int idx[] = {L...};
  return idx[i];
}

// A swizzle view (`v.zyx`): overlays the vector's storage inside its union.
template <class T, int N, int... I>
struct swz {
  T elems_[N];
  enum : int { count = sizeof...(I) };
  enum : bool { writable = distinct_lanes<I...>() };
  using vec_type = vec<T, count>;
  operator vec_type() const { return vec_type(elems_[I]...); }
  T operator[](int i) const { return elems_[lane_at<I...>(i)]; }
  swz& operator=(const vec_type& v) {
    static_assert(writable, "a swizzle that repeats a component cannot be assigned");
    int k = 0;
    ((elems_[I] = v[k++]), ...);
    return *this;
  }
  // Reads first, so `a.xy = a.yx` works; needed because the implicit copy
  // assignment would copy the whole storage.
  swz& operator=(const swz& o) { return *this = vec_type(o); }
  template <class S>
    requires scalar_like<S>
  swz& operator=(S s) { return *this = vec_type(s); }
  template <class B> swz& operator+=(const B& b) { return *this = vec_type(*this) + b; }
  template <class B> swz& operator-=(const B& b) { return *this = vec_type(*this) - b; }
  template <class B> swz& operator*=(const B& b) { return *this = vec_type(*this) * b; }
  template <class B> swz& operator/=(const B& b) { return *this = vec_type(*this) / b; }
};

template <class X>
struct vt {
  enum : int { n = 0 };
  using elem = X;
};
template <class T, int N>
struct vt<vec<T, N>> {
  enum : int { n = N };
  using elem = T;
};
template <class T, int N>
struct vt<packed_vec<T, N>> {
  enum : int { n = N };
  using elem = T;
};
template <class T, int N, int... I>
struct vt<swz<T, N, I...>> {
  enum : int { n = int(sizeof...(I)) };
  using elem = T;
};
template <class X>
constexpr int vn_f() { return vt<msl_detail::remove_cvref_t<X>>::n; }
template <class X>
using elem_t = typename vt<msl_detail::remove_cvref_t<X>>::elem;
template <class X>
concept vecish = (vn_f<X>() > 0);
template <class X>
concept operand = vecish<X> || scalar_like<X>;
template <class X>
constexpr int ncomp_f() { return vn_f<X>() > 0 ? vn_f<X>() : 1; }

template <class X>
constexpr auto vget(const X& x, int i) {
  if constexpr (vn_f<X>() == 0) {
    (void)i;
    return x;
  } else {
    return x[i];
  }
}

template <class T, class X>
constexpr void put(T* dst, int& k, const X& x) {
  if constexpr (vn_f<X>() == 0) {
    dst[k++] = static_cast<T>(x);
  } else {
    static_assert(msl_detail::is_same_v<elem_t<X>, T>,
                  "vector constructor: components must have the vector's element type "
                  "(convert explicitly, e.g. float2(h2))");
    for (int i = 0; i < vn_f<X>(); ++i) dst[k++] = x[i];
  }
}
}  // namespace msl_detail

#define FOUNDRY_SWZ(name, ...) msl_detail::swz<T, N_, __VA_ARGS__> name;
#define FOUNDRY_SWIZZLES_2                                                                   \
  FOUNDRY_SWZ(xx, 0, 0) FOUNDRY_SWZ(xy, 0, 1) FOUNDRY_SWZ(yx, 1, 0) FOUNDRY_SWZ(yy, 1, 1)    \
  FOUNDRY_SWZ(xxx, 0, 0, 0) FOUNDRY_SWZ(yyy, 1, 1, 1) FOUNDRY_SWZ(xyx, 0, 1, 0)              \
  FOUNDRY_SWZ(yxy, 1, 0, 1) FOUNDRY_SWZ(xyxy, 0, 1, 0, 1) FOUNDRY_SWZ(yxyx, 1, 0, 1, 0)      \
  FOUNDRY_SWZ(xxyy, 0, 0, 1, 1) FOUNDRY_SWZ(xxxx, 0, 0, 0, 0) FOUNDRY_SWZ(yyyy, 1, 1, 1, 1)  \
  FOUNDRY_SWZ(rg, 0, 1)
#define FOUNDRY_SWIZZLES_3                                                                   \
  FOUNDRY_SWZ(xx, 0, 0) FOUNDRY_SWZ(xy, 0, 1) FOUNDRY_SWZ(xz, 0, 2) FOUNDRY_SWZ(yx, 1, 0)    \
  FOUNDRY_SWZ(yy, 1, 1) FOUNDRY_SWZ(yz, 1, 2) FOUNDRY_SWZ(zx, 2, 0) FOUNDRY_SWZ(zy, 2, 1)    \
  FOUNDRY_SWZ(zz, 2, 2) FOUNDRY_SWZ(xxx, 0, 0, 0) FOUNDRY_SWZ(xxy, 0, 0, 1)                  \
  FOUNDRY_SWZ(xxz, 0, 0, 2) FOUNDRY_SWZ(xyx, 0, 1, 0) FOUNDRY_SWZ(xyy, 0, 1, 1)              \
  FOUNDRY_SWZ(xyz, 0, 1, 2) FOUNDRY_SWZ(xzx, 0, 2, 0) FOUNDRY_SWZ(xzy, 0, 2, 1)              \
  FOUNDRY_SWZ(xzz, 0, 2, 2) FOUNDRY_SWZ(yxx, 1, 0, 0) FOUNDRY_SWZ(yxy, 1, 0, 1)              \
  FOUNDRY_SWZ(yxz, 1, 0, 2) FOUNDRY_SWZ(yyx, 1, 1, 0) FOUNDRY_SWZ(yyy, 1, 1, 1)              \
  FOUNDRY_SWZ(yyz, 1, 1, 2) FOUNDRY_SWZ(yzx, 1, 2, 0) FOUNDRY_SWZ(yzy, 1, 2, 1)              \
  FOUNDRY_SWZ(yzz, 1, 2, 2) FOUNDRY_SWZ(zxx, 2, 0, 0) FOUNDRY_SWZ(zxy, 2, 0, 1)              \
  FOUNDRY_SWZ(zxz, 2, 0, 2) FOUNDRY_SWZ(zyx, 2, 1, 0) FOUNDRY_SWZ(zyy, 2, 1, 1)              \
  FOUNDRY_SWZ(zyz, 2, 1, 2) FOUNDRY_SWZ(zzx, 2, 2, 0) FOUNDRY_SWZ(zzy, 2, 2, 1)              \
  FOUNDRY_SWZ(zzz, 2, 2, 2) FOUNDRY_SWZ(xyzx, 0, 1, 2, 0) FOUNDRY_SWZ(xxxx, 0, 0, 0, 0)      \
  FOUNDRY_SWZ(yyyy, 1, 1, 1, 1) FOUNDRY_SWZ(zzzz, 2, 2, 2, 2) FOUNDRY_SWZ(rg, 0, 1)          \
  FOUNDRY_SWZ(rgb, 0, 1, 2)
#define FOUNDRY_SWIZZLES_4                                                                   \
  FOUNDRY_SWZ(xx, 0, 0) FOUNDRY_SWZ(xy, 0, 1) FOUNDRY_SWZ(xz, 0, 2) FOUNDRY_SWZ(xw, 0, 3)    \
  FOUNDRY_SWZ(yx, 1, 0) FOUNDRY_SWZ(yy, 1, 1) FOUNDRY_SWZ(yz, 1, 2) FOUNDRY_SWZ(yw, 1, 3)    \
  FOUNDRY_SWZ(zx, 2, 0) FOUNDRY_SWZ(zy, 2, 1) FOUNDRY_SWZ(zz, 2, 2) FOUNDRY_SWZ(zw, 2, 3)    \
  FOUNDRY_SWZ(wx, 3, 0) FOUNDRY_SWZ(wy, 3, 1) FOUNDRY_SWZ(wz, 3, 2) FOUNDRY_SWZ(ww, 3, 3)    \
  FOUNDRY_SWZ(xxx, 0, 0, 0) FOUNDRY_SWZ(xxy, 0, 0, 1) FOUNDRY_SWZ(xxz, 0, 0, 2)              \
  FOUNDRY_SWZ(xxw, 0, 0, 3) FOUNDRY_SWZ(xyx, 0, 1, 0) FOUNDRY_SWZ(xyy, 0, 1, 1)              \
  FOUNDRY_SWZ(xyz, 0, 1, 2) FOUNDRY_SWZ(xyw, 0, 1, 3) FOUNDRY_SWZ(xzx, 0, 2, 0)              \
  FOUNDRY_SWZ(xzy, 0, 2, 1) FOUNDRY_SWZ(xzz, 0, 2, 2) FOUNDRY_SWZ(xzw, 0, 2, 3)              \
  FOUNDRY_SWZ(xwx, 0, 3, 0) FOUNDRY_SWZ(xwy, 0, 3, 1) FOUNDRY_SWZ(xwz, 0, 3, 2)              \
  FOUNDRY_SWZ(xww, 0, 3, 3) FOUNDRY_SWZ(yxx, 1, 0, 0) FOUNDRY_SWZ(yxy, 1, 0, 1)              \
  FOUNDRY_SWZ(yxz, 1, 0, 2) FOUNDRY_SWZ(yxw, 1, 0, 3) FOUNDRY_SWZ(yyx, 1, 1, 0)              \
  FOUNDRY_SWZ(yyy, 1, 1, 1) FOUNDRY_SWZ(yyz, 1, 1, 2) FOUNDRY_SWZ(yyw, 1, 1, 3)              \
  FOUNDRY_SWZ(yzx, 1, 2, 0) FOUNDRY_SWZ(yzy, 1, 2, 1) FOUNDRY_SWZ(yzz, 1, 2, 2)              \
  FOUNDRY_SWZ(yzw, 1, 2, 3) FOUNDRY_SWZ(ywx, 1, 3, 0) FOUNDRY_SWZ(ywy, 1, 3, 1)              \
  FOUNDRY_SWZ(ywz, 1, 3, 2) FOUNDRY_SWZ(yww, 1, 3, 3) FOUNDRY_SWZ(zxx, 2, 0, 0)              \
  FOUNDRY_SWZ(zxy, 2, 0, 1) FOUNDRY_SWZ(zxz, 2, 0, 2) FOUNDRY_SWZ(zxw, 2, 0, 3)              \
  FOUNDRY_SWZ(zyx, 2, 1, 0) FOUNDRY_SWZ(zyy, 2, 1, 1) FOUNDRY_SWZ(zyz, 2, 1, 2)              \
  FOUNDRY_SWZ(zyw, 2, 1, 3) FOUNDRY_SWZ(zzx, 2, 2, 0) FOUNDRY_SWZ(zzy, 2, 2, 1)              \
  FOUNDRY_SWZ(zzz, 2, 2, 2) FOUNDRY_SWZ(zzw, 2, 2, 3) FOUNDRY_SWZ(zwx, 2, 3, 0)              \
  FOUNDRY_SWZ(zwy, 2, 3, 1) FOUNDRY_SWZ(zwz, 2, 3, 2) FOUNDRY_SWZ(zww, 2, 3, 3)              \
  FOUNDRY_SWZ(wxx, 3, 0, 0) FOUNDRY_SWZ(wxy, 3, 0, 1) FOUNDRY_SWZ(wxz, 3, 0, 2)              \
  FOUNDRY_SWZ(wxw, 3, 0, 3) FOUNDRY_SWZ(wyx, 3, 1, 0) FOUNDRY_SWZ(wyy, 3, 1, 1)              \
  FOUNDRY_SWZ(wyz, 3, 1, 2) FOUNDRY_SWZ(wyw, 3, 1, 3) FOUNDRY_SWZ(wzx, 3, 2, 0)              \
  FOUNDRY_SWZ(wzy, 3, 2, 1) FOUNDRY_SWZ(wzz, 3, 2, 2) FOUNDRY_SWZ(wzw, 3, 2, 3)              \
  FOUNDRY_SWZ(wwx, 3, 3, 0) FOUNDRY_SWZ(wwy, 3, 3, 1) FOUNDRY_SWZ(wwz, 3, 3, 2)              \
  FOUNDRY_SWZ(www, 3, 3, 3) FOUNDRY_SWZ(xyzw, 0, 1, 2, 3) FOUNDRY_SWZ(wzyx, 3, 2, 1, 0)      \
  FOUNDRY_SWZ(xxxx, 0, 0, 0, 0) FOUNDRY_SWZ(yyyy, 1, 1, 1, 1) FOUNDRY_SWZ(zzzz, 2, 2, 2, 2)  \
  FOUNDRY_SWZ(wwww, 3, 3, 3, 3) FOUNDRY_SWZ(yzwx, 1, 2, 3, 0) FOUNDRY_SWZ(zwxy, 2, 3, 0, 1)  \
  FOUNDRY_SWZ(wxyz, 3, 0, 1, 2) FOUNDRY_SWZ(xzyw, 0, 2, 1, 3) FOUNDRY_SWZ(yxwz, 1, 0, 3, 2)  \
  FOUNDRY_SWZ(zyxw, 2, 1, 0, 3) FOUNDRY_SWZ(xyxy, 0, 1, 0, 1) FOUNDRY_SWZ(zwzw, 2, 3, 2, 3)  \
  FOUNDRY_SWZ(xxyy, 0, 0, 1, 1) FOUNDRY_SWZ(zzww, 2, 2, 3, 3) FOUNDRY_SWZ(rg, 0, 1)          \
  FOUNDRY_SWZ(ba, 2, 3) FOUNDRY_SWZ(rgb, 0, 1, 2) FOUNDRY_SWZ(rgba, 0, 1, 2, 3)              \
  FOUNDRY_SWZ(bgra, 2, 1, 0, 3)

// Members every vec<T, N> has. The copy assignment is user-provided because
// the swizzle members' assignments are (see swz); copying stays trivial.
#define FOUNDRY_VEC_COMMON(N_)                                                               \
  using value_type = T;                                                                      \
  vec() = default;                                                                           \
  vec(const vec&) = default;                                                                 \
  constexpr vec& operator=(const vec& o) {                                                   \
    for (int i = 0; i < N_; ++i) elems_[i] = o.elems_[i];                                    \
    return *this;                                                                            \
  }                                                                                          \
  /* Scalar broadcast: implicit, as in MSL (`float4 v = 0.0f;`). */                          \
  template <class S>                                                                         \
    requires msl_detail::scalar_like<S>                                                      \
  constexpr vec(S s) {                                                                       \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(s);                              \
  }                                                                                          \
  /* Component-wise: float4(a, b, c, d), float4(float2, float2), float4(float3, w) ... */   \
  template <class A, class B, class... R>                                                    \
    requires(msl_detail::ncomp_f<A>() + msl_detail::ncomp_f<B>() + (0 + ... + msl_detail::ncomp_f<R>()) == \
             N_) &&                                                                          \
            msl_detail::operand<A> && msl_detail::operand<B> && (msl_detail::operand<R> && ...) \
  constexpr vec(const A& a, const B& b, const R&... r) {                                     \
    int k = 0;                                                                               \
    msl_detail::put(elems_, k, a);                                                           \
    msl_detail::put(elems_, k, b);                                                           \
    (msl_detail::put(elems_, k, r), ...);                                                    \
  }                                                                                          \
  /* Conversion between element types: explicit, as in MSL (`float4(h4)`). */              \
  template <class V>                                                                         \
    requires(msl_detail::vn_f<V>() == N_ && !msl_detail::is_same_v<msl_detail::elem_t<V>, T>)           \
  explicit constexpr vec(const V& o) {                                                       \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(o[i]);                           \
  }                                                                                          \
  template <class I>                                                                         \
  constexpr T& operator[](I i) {                                                             \
    return elems_[i];                                                                        \
  }                                                                                          \
  template <class I>                                                                         \
  constexpr const T& operator[](I i) const {                                                 \
    return elems_[i];                                                                        \
  }                                                                                          \
  template <class B> vec& operator+=(const B& b) { return *this = *this + b; }               \
  template <class B> vec& operator-=(const B& b) { return *this = *this - b; }               \
  template <class B> vec& operator*=(const B& b) { return *this = *this * b; }               \
  template <class B> vec& operator/=(const B& b) { return *this = *this / b; }               \
  template <class B> vec& operator%=(const B& b) { return *this = *this % b; }               \
  template <class B> vec& operator&=(const B& b) { return *this = *this & b; }               \
  template <class B> vec& operator|=(const B& b) { return *this = *this | b; }               \
  template <class B> vec& operator^=(const B& b) { return *this = *this ^ b; }               \
  template <class B> vec& operator<<=(const B& b) { return *this = *this << b; }             \
  template <class B> vec& operator>>=(const B& b) { return *this = *this >> b; }

template <class T>
struct alignas(msl_detail::vec_align<T, 2>()) vec<T, 2> {
  enum : int { N_ = 2 };
  union {
    T elems_[2];
    struct { T x, y; };
    struct { T r, g; };
    FOUNDRY_SWIZZLES_2
  };
  FOUNDRY_VEC_COMMON(2)
};

template <class T>
struct alignas(msl_detail::vec_align<T, 3>()) vec<T, 3> {
  enum : int { N_ = 3 };
  union {
    T elems_[3];
    struct { T x, y, z; };
    struct { T r, g, b; };
    FOUNDRY_SWIZZLES_3
  };
  FOUNDRY_VEC_COMMON(3)
};

template <class T>
struct alignas(msl_detail::vec_align<T, 4>()) vec<T, 4> {
  enum : int { N_ = 4 };
  union {
    T elems_[4];
    struct { T x, y, z, w; };
    struct { T r, g, b, a; };
    FOUNDRY_SWIZZLES_4
  };
  FOUNDRY_VEC_COMMON(4)
};

#undef FOUNDRY_VEC_COMMON
#undef FOUNDRY_SWIZZLES_2
#undef FOUNDRY_SWIZZLES_3
#undef FOUNDRY_SWIZZLES_4
#undef FOUNDRY_SWZ

// Packed vectors (MSL packed_float3 ...): element alignment, no padding.
// They convert to and from vec and take part in all vector operators.
#define FOUNDRY_PACKED_COMMON(N_)                                                          \
  packed_vec() = default;                                                                 \
  template <class S>                                                                      \
    requires msl_detail::scalar_like<S>                                                   \
  constexpr packed_vec(S s) {                                                             \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(s);                           \
  }                                                                                       \
  template <class A, class B, class... R>                                                 \
  constexpr packed_vec(const A& a, const B& b, const R&... r)                             \
      : packed_vec(vec<T, N_>(a, b, r...)) {}                                             \
  template <class V>                                                                      \
    requires(msl_detail::vn_f<V>() == N_ && msl_detail::is_same_v<msl_detail::elem_t<V>, T>)         \
  constexpr packed_vec(const V& v) {                                                      \
    for (int i = 0; i < N_; ++i) elems_[i] = v[i];                                        \
  }                                                                                       \
  constexpr operator vec<T, N_>() const {                                                 \
    vec<T, N_> v;                                                                         \
    for (int i = 0; i < N_; ++i) v[i] = elems_[i];                                        \
    return v;                                                                             \
  }                                                                                       \
  template <class I>                                                                      \
  constexpr T& operator[](I i) {                                                          \
    return elems_[i];                                                                     \
  }                                                                                       \
  template <class I>                                                                      \
  constexpr const T& operator[](I i) const {                                              \
    return elems_[i];                                                                     \
  }
template <class T>
struct packed_vec<T, 2> {
  union {
    T elems_[2];
    struct { T x, y; };
  };
  FOUNDRY_PACKED_COMMON(2)
};
template <class T>
struct packed_vec<T, 3> {
  union {
    T elems_[3];
    struct { T x, y, z; };
  };
  FOUNDRY_PACKED_COMMON(3)
};
template <class T>
struct packed_vec<T, 4> {
  union {
    T elems_[4];
    struct { T x, y, z, w; };
  };
  FOUNDRY_PACKED_COMMON(4)
};
#undef FOUNDRY_PACKED_COMMON

#define FOUNDRY_VEC_ALIASES(T, name)                                                  \
  using name##2 = vec<T, 2>;                                                          \
  using name##3 = vec<T, 3>;                                                          \
  using name##4 = vec<T, 4>;                                                          \
  using packed_##name##2 = packed_vec<T, 2>;                                          \
  using packed_##name##3 = packed_vec<T, 3>;                                          \
  using packed_##name##4 = packed_vec<T, 4>;
FOUNDRY_VEC_ALIASES(float, float)
FOUNDRY_VEC_ALIASES(half, half)
FOUNDRY_VEC_ALIASES(bfloat, bfloat)
FOUNDRY_VEC_ALIASES(int, int)
FOUNDRY_VEC_ALIASES(uint, uint)
FOUNDRY_VEC_ALIASES(short, short)
FOUNDRY_VEC_ALIASES(ushort, ushort)
FOUNDRY_VEC_ALIASES(char, char)
FOUNDRY_VEC_ALIASES(uchar, uchar)
FOUNDRY_VEC_ALIASES(long, long)
FOUNDRY_VEC_ALIASES(ulong, ulong)
FOUNDRY_VEC_ALIASES(bool, bool)
#undef FOUNDRY_VEC_ALIASES

// ---------------------------------------------------------------------------
// Vector operators: element-wise; a scalar operand is converted to the
// vector's element type and broadcast. Two vector operands must have the
// same length and element type (MSL has no implicit vector conversions).
// ---------------------------------------------------------------------------
namespace msl_detail {
template <class A, class B>
concept vec_operands = (vecish<A> && operand<B>) || (scalar_like<A> && vecish<B>);

template <bool Compare, class Op, class A, class B>
constexpr auto vbin(const A& a, const B& b) {
  constexpr int n = vn_f<A>() > 0 ? vn_f<A>() : vn_f<B>();
  using T = msl_detail::conditional_t<(vn_f<A>() > 0), elem_t<A>, elem_t<B>>;
  if constexpr (vn_f<A>() > 0 && vn_f<B>() > 0) {
    static_assert(vn_f<A>() == vn_f<B>(), "vector operands of different lengths");
    static_assert(msl_detail::is_same_v<elem_t<A>, elem_t<B>>,
                  "vector operands of different element types (convert explicitly)");
  }
  using R = msl_detail::conditional_t<Compare, bool, T>;
  vec<R, n> r;
  for (int i = 0; i < n; ++i)
    r.elems_[i] = static_cast<R>(Op{}(static_cast<T>(vget(a, i)), static_cast<T>(vget(b, i))));
  return r;
}

template <class Op, class A>
constexpr auto vun(const A& a) {
  using T = elem_t<A>;
  using R = msl_detail::conditional_t<msl_detail::is_same_v<decltype(Op{}(T{})), bool>, bool, T>;
  vec<R, vn_f<A>()> r;
  for (int i = 0; i < vn_f<A>(); ++i) r.elems_[i] = static_cast<R>(Op{}(static_cast<T>(a[i])));
  return r;
}

#define FOUNDRY_OPFN(name, op) \
  struct name {                \
    template <class X, class Y> \
    constexpr auto operator()(X x, Y y) const { return x op y; } \
  };
FOUNDRY_OPFN(op_add, +)
FOUNDRY_OPFN(op_sub, -)
FOUNDRY_OPFN(op_mul, *)
FOUNDRY_OPFN(op_div, /)
FOUNDRY_OPFN(op_mod, %)
FOUNDRY_OPFN(op_and, &)
FOUNDRY_OPFN(op_or, |)
FOUNDRY_OPFN(op_xor, ^)
FOUNDRY_OPFN(op_shl, <<)
FOUNDRY_OPFN(op_shr, >>)
FOUNDRY_OPFN(op_lt, <)
FOUNDRY_OPFN(op_gt, >)
FOUNDRY_OPFN(op_le, <=)
FOUNDRY_OPFN(op_ge, >=)
FOUNDRY_OPFN(op_eq, ==)
FOUNDRY_OPFN(op_ne, !=)
FOUNDRY_OPFN(op_land, &&)
FOUNDRY_OPFN(op_lor, ||)
#undef FOUNDRY_OPFN
struct op_neg { template <class X> constexpr auto operator()(X x) const { return -x; } };
struct op_pos { template <class X> constexpr auto operator()(X x) const { return +x; } };
struct op_not { template <class X> constexpr auto operator()(X x) const { return ~x; } };
struct op_lnot { template <class X> constexpr bool operator()(X x) const { return !x; } };
}  // namespace msl_detail

#define FOUNDRY_VBINOP(op, fn, cmp)                                            \
  template <class A, class B>                                                  \
    requires msl_detail::vec_operands<A, B>                                    \
  constexpr auto operator op(const A& a, const B& b) {                         \
    return msl_detail::vbin<cmp, msl_detail::fn>(a, b);                        \
  }
FOUNDRY_VBINOP(+, op_add, false)
FOUNDRY_VBINOP(-, op_sub, false)
FOUNDRY_VBINOP(*, op_mul, false)
FOUNDRY_VBINOP(/, op_div, false)
FOUNDRY_VBINOP(%, op_mod, false)
FOUNDRY_VBINOP(&, op_and, false)
FOUNDRY_VBINOP(|, op_or, false)
FOUNDRY_VBINOP(^, op_xor, false)
FOUNDRY_VBINOP(<<, op_shl, false)
FOUNDRY_VBINOP(>>, op_shr, false)
FOUNDRY_VBINOP(<, op_lt, true)
FOUNDRY_VBINOP(>, op_gt, true)
FOUNDRY_VBINOP(<=, op_le, true)
FOUNDRY_VBINOP(>=, op_ge, true)
FOUNDRY_VBINOP(==, op_eq, true)
FOUNDRY_VBINOP(!=, op_ne, true)
FOUNDRY_VBINOP(&&, op_land, true)
FOUNDRY_VBINOP(||, op_lor, true)
#undef FOUNDRY_VBINOP

template <class A> requires msl_detail::vecish<A>
constexpr auto operator-(const A& a) { return msl_detail::vun<msl_detail::op_neg>(a); }
template <class A> requires msl_detail::vecish<A>
constexpr auto operator+(const A& a) { return msl_detail::vun<msl_detail::op_pos>(a); }
template <class A> requires msl_detail::vecish<A>
constexpr auto operator~(const A& a) { return msl_detail::vun<msl_detail::op_not>(a); }
template <class A> requires msl_detail::vecish<A>
constexpr auto operator!(const A& a) { return msl_detail::vun<msl_detail::op_lnot>(a); }

// ---------------------------------------------------------------------------
// as_type<T>(x): reinterpret the bits (sizes must match, as in MSL).
// ---------------------------------------------------------------------------
template <class To, class From>
inline To as_type(const From& from) {
  if constexpr (msl_detail::vn_f<From>() > 0 && !msl_detail::is_same_v<From, vec<msl_detail::elem_t<From>, msl_detail::vn_f<From>()>>) {
    // A swizzle or packed vector: reinterpret the vector it denotes.
    return as_type<To>(vec<msl_detail::elem_t<From>, msl_detail::vn_f<From>()>(from));
  } else {
    static_assert(sizeof(To) == sizeof(From), "as_type: source and destination sizes differ");
    To to;
    memcpy(static_cast<void*>(&to), static_cast<const void*>(&from), sizeof(To));
    return to;
  }
}

// ---------------------------------------------------------------------------
// Math. Every function takes scalars or vectors (element-wise; scalar
// arguments of a vector call are broadcast). half and bfloat compute in float
// and round the result. The functions are CUDA's libdevice ones (within a
// few ulp of the correctly rounded result, as MSL's default fast math).
// ---------------------------------------------------------------------------
namespace msl_detail {
template <class X>
concept fl = is_fscalar<elem_t<X>> && operand<X>;
template <class X>
concept in = is_iscalar<elem_t<X>> && operand<X>;
template <class X>
concept num = (is_fscalar<elem_t<X>> || is_iscalar<elem_t<X>>) && operand<X>;

template <class X, class F>
constexpr auto map1(const X& x, F f) {
  if constexpr (vn_f<X>() == 0) {
    return f(x);
  } else {
    using T = elem_t<X>;
    using R = decltype(f(T{}));
    vec<R, vn_f<X>()> r;
    for (int i = 0; i < vn_f<X>(); ++i) r.elems_[i] = f(static_cast<T>(x[i]));
    return r;
  }
}

// Element type of an n-ary call: the vectors' (which must agree), else the
// scalars' (which must agree: mixed scalar types are ambiguous in MSL too).
template <class... X>
struct common_elem;
template <class X>
struct common_elem<X> {
  using type = elem_t<X>;
  enum : int { n = vn_f<X>() };
};
template <class X, class Y, class... R>
struct common_elem<X, Y, R...> {
  using rest = common_elem<Y, R...>;
  enum : int { n = vn_f<X>() > int(rest::n) ? vn_f<X>() : int(rest::n) };
  static_assert(vn_f<X>() == 0 || rest::n == 0 || vn_f<X>() == rest::n, "vector arguments of different lengths");
  using type = msl_detail::conditional_t<(vn_f<X>() > 0 || rest::n == 0), elem_t<X>, typename rest::type>;
  static_assert(!(vn_f<X>() > 0 && rest::n > 0) || msl_detail::is_same_v<elem_t<X>, typename rest::type>,
                "vector arguments of different element types (convert explicitly)");
  static_assert(!(vn_f<X>() == 0 && rest::n == 0) || msl_detail::is_same_v<elem_t<X>, typename rest::type>,
                "scalar arguments of different types: call is ambiguous (convert explicitly)");
};

template <class F, class... X>
constexpr auto mapn(F f, const X&... x) {
  using C = common_elem<X...>;
  using T = typename C::type;
  if constexpr (C::n == 0) {
    return f(static_cast<T>(x)...);
  } else {
    using R = decltype(f(static_cast<T>(vget(x, 0))...));
    vec<R, C::n> r;
    for (int i = 0; i < C::n; ++i) r.elems_[i] = f(static_cast<T>(vget(x, i))...);
    return r;
  }
}

template <class T, class F, class D>
constexpr T via_float(T x, F f, D d) {
  if constexpr (msl_detail::is_same_v<T, double>) {
    return d(x);
  } else {
    return static_cast<T>(f(static_cast<float>(x)));
  }
}
}  // namespace msl_detail

#define FOUNDRY_MATH1(name, fb, db)                                                         \
  template <class X>                                                                        \
    requires msl_detail::fl<X>                                                              \
  inline auto name(const X& x) {                                                            \
    return msl_detail::map1(x, [](auto e) {                                                 \
      return msl_detail::via_float(                                                         \
          e, [](float v) { return fb(v); }, [](double v) { return db(v); });                \
    });                                                                                     \
  }
FOUNDRY_MATH1(exp, ::expf, ::exp)
FOUNDRY_MATH1(exp2, ::exp2f, ::exp2)
FOUNDRY_MATH1(log, ::logf, ::log)
FOUNDRY_MATH1(log2, ::log2f, ::log2)
FOUNDRY_MATH1(log10, ::log10f, ::log10)
FOUNDRY_MATH1(sqrt, ::sqrtf, ::sqrt)
FOUNDRY_MATH1(sin, ::sinf, ::sin)
FOUNDRY_MATH1(cos, ::cosf, ::cos)
FOUNDRY_MATH1(tan, ::tanf, ::tan)
FOUNDRY_MATH1(asin, ::asinf, ::asin)
FOUNDRY_MATH1(acos, ::acosf, ::acos)
FOUNDRY_MATH1(atan, ::atanf, ::atan)
FOUNDRY_MATH1(sinh, ::sinhf, ::sinh)
FOUNDRY_MATH1(cosh, ::coshf, ::cosh)
FOUNDRY_MATH1(tanh, ::tanhf, ::tanh)
FOUNDRY_MATH1(floor, ::floorf, ::floor)
FOUNDRY_MATH1(ceil, ::ceilf, ::ceil)
FOUNDRY_MATH1(round, ::roundf, ::round)
FOUNDRY_MATH1(rint, ::rintf, ::rint)
FOUNDRY_MATH1(trunc, ::truncf, ::trunc)
FOUNDRY_MATH1(fabs, ::fabsf, ::fabs)
FOUNDRY_MATH1(rsqrt, ::rsqrtf, ::rsqrt)
FOUNDRY_MATH1(exp10, ::exp10f, ::exp10)
#undef FOUNDRY_MATH1

#define FOUNDRY_MATH2(name, fb, db)                                                         \
  template <class X, class Y>                                                               \
    requires msl_detail::fl<X> && msl_detail::fl<Y>                                         \
  inline auto name(const X& x, const Y& y) {                                                \
    return msl_detail::mapn(                                                                \
        [](auto a, auto b) {                                                                \
          using T = decltype(a);                                                            \
          if constexpr (msl_detail::is_same_v<T, double>) {                                        \
            return db(a, b);                                                                \
          } else {                                                                          \
            return static_cast<T>(fb(static_cast<float>(a), static_cast<float>(b)));        \
          }                                                                                 \
        },                                                                                  \
        x, y);                                                                              \
  }
FOUNDRY_MATH2(pow, ::powf, ::pow)
FOUNDRY_MATH2(powr, ::powf, ::pow)
FOUNDRY_MATH2(atan2, ::atan2f, ::atan2)
FOUNDRY_MATH2(fmod, ::fmodf, ::fmod)
FOUNDRY_MATH2(fmin, ::fminf, ::fmin)
FOUNDRY_MATH2(fmax, ::fmaxf, ::fmax)
FOUNDRY_MATH2(copysign, ::copysignf, ::copysign)
#undef FOUNDRY_MATH2

// fract(x) = x - floor(x), clamped below 1 (MSL).
template <class X> requires msl_detail::fl<X>
inline auto fract(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const float f = static_cast<float>(e) - ::floorf(static_cast<float>(e));
    return static_cast<T>(f < 0x1.fffffep-1f ? f : 0x1.fffffep-1f);
  });
}

// min/max: integers compare; floats follow fmin/fmax (a NaN operand yields
// the other operand).
template <class X, class Y> requires msl_detail::num<X> && msl_detail::num<Y>
constexpr auto min(const X& x, const Y& y) {
  return msl_detail::mapn([](auto a, auto b) {
    using T = decltype(a);
    if constexpr (msl_detail::is_fscalar<T>) {
      if (a != a) return b;
      if (b != b) return a;
    }
    return b < a ? b : a;
  }, x, y);
}
template <class X, class Y> requires msl_detail::num<X> && msl_detail::num<Y>
constexpr auto max(const X& x, const Y& y) {
  return msl_detail::mapn([](auto a, auto b) {
    using T = decltype(a);
    if constexpr (msl_detail::is_fscalar<T>) {
      if (a != a) return b;
      if (b != b) return a;
    }
    return a < b ? b : a;
  }, x, y);
}
template <class X, class L, class H>
  requires msl_detail::num<X> && msl_detail::num<L> && msl_detail::num<H>
constexpr auto clamp(const X& x, const L& lo, const H& hi) {
  return min(max(x, lo), hi);
}
template <class X> requires msl_detail::num<X>
constexpr auto abs(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    if constexpr (msl_detail::is_same_v<T, double>) {
      return ::fabs(e);
    } else if constexpr (msl_detail::is_fscalar<T>) {
      return static_cast<T>(::fabsf(static_cast<float>(e)));
    } else {
      return static_cast<T>(e < 0 ? -e : e);
    }
  });
}
template <class X, class Y, class Z>
  requires msl_detail::fl<X> && msl_detail::fl<Y> && msl_detail::fl<Z>
inline auto fma(const X& x, const Y& y, const Z& z) {
  return msl_detail::mapn([](auto a, auto b, auto c) {
    using T = decltype(a);
    if constexpr (msl_detail::is_same_v<T, double>) {
      return ::fma(a, b, c);
    } else {
      return static_cast<T>(::fmaf(static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)));
    }
  }, x, y, z);
}
// mix(x, y, a) = x + (y - x) * a
template <class X, class Y, class A>
  requires msl_detail::fl<X> && msl_detail::fl<Y> && msl_detail::fl<A>
constexpr auto mix(const X& x, const Y& y, const A& a) {
  return msl_detail::mapn([](auto p, auto q, auto t) {
    using T = decltype(p);
    return static_cast<T>(static_cast<float>(p) + (static_cast<float>(q) - static_cast<float>(p)) * static_cast<float>(t));
  }, x, y, a);
}
template <class X> requires msl_detail::fl<X>
constexpr auto saturate(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const float f = static_cast<float>(e);
    return static_cast<T>(f != f ? 0.0f : (f < 0.0f ? 0.0f : (f > 1.0f ? 1.0f : f)));
  });
}
// sign: 1 for x > 0, -1 for x < 0, x itself for +-0, 0 for NaN (MSL).
template <class X> requires msl_detail::fl<X>
constexpr auto sign(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const float f = static_cast<float>(e);
    return static_cast<T>(f > 0.0f ? 1.0f : (f < 0.0f ? -1.0f : (f == 0.0f ? f : 0.0f)));
  });
}
template <class E, class X> requires msl_detail::fl<E> && msl_detail::fl<X>
constexpr auto step(const E& edge, const X& x) {
  return msl_detail::mapn([](auto e, auto v) {
    using T = decltype(e);
    return static_cast<T>(static_cast<float>(v) < static_cast<float>(e) ? 0.0f : 1.0f);
  }, edge, x);
}
template <class E0, class E1, class X>
  requires msl_detail::fl<E0> && msl_detail::fl<E1> && msl_detail::fl<X>
inline auto smoothstep(const E0& e0, const E1& e1, const X& x) {
  return msl_detail::mapn([](auto a, auto b, auto v) {
    using T = decltype(a);
    float t = (static_cast<float>(v) - static_cast<float>(a)) / (static_cast<float>(b) - static_cast<float>(a));
    t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    return static_cast<T>(t * t * (3.0f - 2.0f * t));
  }, e0, e1, x);
}

// Classification (bool or bool vector).
template <class X> requires msl_detail::fl<X>
constexpr auto isnan(const X& x) {
  return msl_detail::map1(x, [](auto e) { return static_cast<float>(e) != static_cast<float>(e); });
}
template <class X> requires msl_detail::fl<X>
constexpr auto isinf(const X& x) {
  return msl_detail::map1(x, [](auto e) { return (msl_detail::float_bits(e) & 0x7fffffffu) == 0x7f800000u; });
}
template <class X> requires msl_detail::fl<X>
constexpr auto isfinite(const X& x) {
  return msl_detail::map1(x, [](auto e) { return (msl_detail::float_bits(e) & 0x7f800000u) != 0x7f800000u; });
}
template <class X> requires msl_detail::fl<X>
constexpr auto signbit(const X& x) {
  return msl_detail::map1(x, [](auto e) { return (msl_detail::float_bits(e) >> 31) != 0u; });
}

// Integer bit functions (count within the operand's own width).
template <class X> requires msl_detail::in<X>
constexpr auto popcount(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    return static_cast<T>(__popcll(static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e))));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto clz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : __clzll(static_cast<long long>(u)) - int(64 - sizeof(T) * 8));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto ctz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : (__ffsll(static_cast<long long>(u)) - 1));
  });
}

// Geometric functions (float vectors).
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
constexpr auto dot(const X& x, const Y& y) {
  using T = msl_detail::elem_t<X>;
  static_assert(msl_detail::vn_f<X>() > 0 && msl_detail::vn_f<X>() == msl_detail::vn_f<Y>(), "dot takes two vectors of one length");
  float s = 0.0f;
  for (int i = 0; i < msl_detail::vn_f<X>(); ++i) s += static_cast<float>(x[i]) * static_cast<float>(y[i]);
  return static_cast<T>(s);
}
template <class X> requires msl_detail::fl<X>
inline auto length_squared(const X& x) { return dot(x, x); }
template <class X> requires msl_detail::fl<X>
inline auto length(const X& x) {
  using T = msl_detail::elem_t<X>;
  return static_cast<T>(::sqrtf(static_cast<float>(dot(x, x))));
}
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
inline auto distance(const X& x, const Y& y) { return length(x - y); }
template <class X> requires msl_detail::fl<X>
inline auto normalize(const X& x) {
  using T = msl_detail::elem_t<X>;
  return x * static_cast<T>(1.0f / ::sqrtf(static_cast<float>(dot(x, x))));
}
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
constexpr auto cross(const X& a, const Y& b) {
  static_assert(msl_detail::vn_f<X>() == 3 && msl_detail::vn_f<Y>() == 3, "cross takes two 3-vectors");
  using V = vec<msl_detail::elem_t<X>, 3>;
  return V(a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]);
}

// Relational.
template <class X> requires(msl_detail::vecish<X> || msl_detail::is_same_v<X, bool>)
constexpr bool all(const X& x) {
  if constexpr (msl_detail::vn_f<X>() == 0) {
    return x;
  } else {
    for (int i = 0; i < msl_detail::vn_f<X>(); ++i)
      if (!x[i]) return false;
    return true;
  }
}
template <class X> requires(msl_detail::vecish<X> || msl_detail::is_same_v<X, bool>)
constexpr bool any(const X& x) {
  if constexpr (msl_detail::vn_f<X>() == 0) {
    return x;
  } else {
    for (int i = 0; i < msl_detail::vn_f<X>(); ++i)
      if (x[i]) return true;
    return false;
  }
}
// select(a, b, c): c ? b : a, element-wise for a bool-vector c.
template <class A, class B, class C>
  requires msl_detail::operand<A> && msl_detail::operand<B> && msl_detail::operand<C>
constexpr auto select(const A& a, const B& b, const C& c) {
  using C2 = msl_detail::common_elem<A, B>;
  using T = typename C2::type;
  constexpr int n = C2::n > msl_detail::vn_f<C>() ? C2::n : msl_detail::vn_f<C>();
  if constexpr (n == 0) {
    return static_cast<bool>(c) ? static_cast<T>(b) : static_cast<T>(a);
  } else {
    vec<T, n> r;
    for (int i = 0; i < n; ++i)
      r.elems_[i] = static_cast<bool>(msl_detail::vget(c, i)) ? static_cast<T>(msl_detail::vget(b, i))
                                                              : static_cast<T>(msl_detail::vget(a, i));
    return r;
  }
}


// precise:: and fast:: name the same functions: CUDA's accurate libdevice
// versions (within a few ulp, as docs/msl-subset.md allows for fast::).
#define FOUNDRY_MATH_NAMES                                                                   \
  using metal::exp; using metal::exp2; using metal::exp10; using metal::log; using metal::log2; \
  using metal::log10; using metal::sqrt; using metal::rsqrt; using metal::sin; using metal::cos; \
  using metal::tan; using metal::asin; using metal::acos; using metal::atan; using metal::atan2; \
  using metal::sinh; using metal::cosh; using metal::tanh; using metal::pow; using metal::powr; \
  using metal::fma; using metal::fmin; using metal::fmax; using metal::fmod; using metal::min; \
  using metal::max; using metal::clamp; using metal::abs; using metal::fabs; using metal::floor; \
  using metal::ceil; using metal::round; using metal::rint; using metal::trunc; using metal::fract; \
  using metal::copysign; using metal::dot; using metal::length; using metal::length_squared; \
  using metal::distance; using metal::normalize; using metal::cross; using metal::mix; \
  using metal::saturate; using metal::sign; using metal::step; using metal::smoothstep; \
  using metal::isnan; using metal::isinf; using metal::isfinite; using metal::signbit;
namespace precise { FOUNDRY_MATH_NAMES }
namespace fast { FOUNDRY_MATH_NAMES }
#undef FOUNDRY_MATH_NAMES

// ---------------------------------------------------------------------------
// numeric_limits (no <limits> under NVRTC).
// ---------------------------------------------------------------------------
template <class T>
struct numeric_limits {
  enum : bool { is_specialized = false };
};
#define FOUNDRY_INT_LIMITS(T, LO, HI, DIGITS, SIGNED)              \
  template <>                                                      \
  struct numeric_limits<T> {                                       \
    enum : bool { is_specialized = true, is_signed = SIGNED, is_integer = true, is_exact = true, \
                  has_infinity = false, has_quiet_NaN = false };                                \
    enum : int { digits = DIGITS };                                \
    static constexpr T min() { return LO; }                        \
    static constexpr T max() { return HI; }                        \
    static constexpr T lowest() { return LO; }                     \
    static constexpr T epsilon() { return 0; }                     \
  };
FOUNDRY_INT_LIMITS(bool, false, true, 1, false)
FOUNDRY_INT_LIMITS(char, char(-128), char(127), 7, true)
FOUNDRY_INT_LIMITS(signed char, (signed char)(-128), (signed char)(127), 7, true)
FOUNDRY_INT_LIMITS(unsigned char, (unsigned char)(0), (unsigned char)(255), 8, false)
FOUNDRY_INT_LIMITS(short, short(-32768), short(32767), 15, true)
FOUNDRY_INT_LIMITS(unsigned short, (unsigned short)(0), (unsigned short)(65535), 16, false)
FOUNDRY_INT_LIMITS(int, -2147483647 - 1, 2147483647, 31, true)
FOUNDRY_INT_LIMITS(unsigned int, 0u, 4294967295u, 32, false)
FOUNDRY_INT_LIMITS(long, -9223372036854775807L - 1, 9223372036854775807L, 63, true)
FOUNDRY_INT_LIMITS(unsigned long, 0ul, 18446744073709551615ul, 64, false)
FOUNDRY_INT_LIMITS(long long, -9223372036854775807LL - 1, 9223372036854775807LL, 63, true)
FOUNDRY_INT_LIMITS(unsigned long long, 0ull, 18446744073709551615ull, 64, false)
#undef FOUNDRY_INT_LIMITS
#define FOUNDRY_FLOAT_LIMITS(T, DIGITS, MIN, MAX, EPS, INF, QNAN, DENORM)  \
  template <>                                                              \
  struct numeric_limits<T> {                                               \
    enum : bool { is_specialized = true, is_signed = true, is_integer = false, is_exact = false, \
                  has_infinity = true, has_quiet_NaN = true };                                   \
    enum : int { digits = DIGITS };                                        \
    static constexpr T min() { return MIN; }                               \
    static constexpr T max() { return MAX; }                               \
    static constexpr T lowest() { return -(MAX); }                         \
    static constexpr T epsilon() { return EPS; }                           \
    static constexpr T infinity() { return INF; }                          \
    static constexpr T quiet_NaN() { return QNAN; }                        \
    static constexpr T denorm_min() { return DENORM; }                     \
  };
FOUNDRY_FLOAT_LIMITS(float, 24, 1.17549435e-38f, 3.40282347e+38f, 1.19209290e-07f,
                     __builtin_bit_cast(float, 0x7f800000u), __builtin_bit_cast(float, 0x7fc00000u),
                     __builtin_bit_cast(float, 1u))
FOUNDRY_FLOAT_LIMITS(double, 53, 2.2250738585072014e-308, 1.7976931348623157e+308, 2.2204460492503131e-16,
                     __builtin_bit_cast(double, 0x7ff0000000000000ul),
                     __builtin_bit_cast(double, 0x7ff8000000000000ul), __builtin_bit_cast(double, 1ul))
FOUNDRY_FLOAT_LIMITS(half, 11, half::from_bits(0x0400u), half::from_bits(0x7bffu), half::from_bits(0x1400u),
                     half::from_bits(0x7c00u), half::from_bits(0x7e00u), half::from_bits(0x0001u))
#undef FOUNDRY_FLOAT_LIMITS

// ---------------------------------------------------------------------------
// Atomics: atomic<T> is T's storage; the functions are the MSL free
// functions, on CUDA's atomic instructions (device or shared memory through
// generic pointers). Read-modify-writes CUDA has no instruction for (float
// min/max, 1- and 2-byte types) are compare-and-swap loops. memory_order
// relaxed is what MSL offers; a stronger order adds __threadfence().
// ---------------------------------------------------------------------------
enum memory_order {
  memory_order_relaxed = 0,
  memory_order_acquire = 2,
  memory_order_release = 3,
  memory_order_acq_rel = 4,
  memory_order_seq_cst = 5,
};

template <class T>
struct atomic {
  using value_type = T;
  T value_;
};
using atomic_int = atomic<int>;
using atomic_uint = atomic<uint>;
using atomic_float = atomic<float>;
using atomic_bool = atomic<bool>;
using atomic_ulong = atomic<ulong>;
using atomic_long = atomic<long>;

namespace msl_detail {
template <class A>
struct atomic_value;
template <class T>
struct atomic_value<atomic<T>> {
  using type = T;
};
template <class A>
concept atomic_obj = requires { typename atomic_value<remove_cv_t<A>>::type; };
template <class A>
using atomic_t = typename atomic_value<remove_cv_t<A>>::type;

template <class A>
inline atomic_t<A>* atomic_ptr(A* a) {
  return const_cast<atomic_t<A>*>(&a->value_);
}
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
enum class mem_flags : uint {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16,
};
constexpr mem_flags operator|(mem_flags a, mem_flags b) {
  return static_cast<mem_flags>(static_cast<uint>(a) | static_cast<uint>(b));
}
constexpr mem_flags operator&(mem_flags a, mem_flags b) {
  return static_cast<mem_flags>(static_cast<uint>(a) & static_cast<uint>(b));
}

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

// Result of simd_ballot / simd_active_threads_mask. Test it with `if (v)`
// (any lane), v.all(), v.any(), or take the 64-bit mask with (ulong)v.
struct simd_vote {
  using vote_t = ulong;
  vote_t votes_ = 0;
  vote_t active_ = 0;
  constexpr simd_vote() = default;
  explicit constexpr simd_vote(vote_t v, vote_t active = ~vote_t(0)) : votes_(v), active_(active) {}
  explicit constexpr operator vote_t() const { return votes_; }
  explicit constexpr operator bool() const { return votes_ != 0; }
  constexpr bool all() const { return (votes_ & active_) == active_; }
  constexpr bool any() const { return votes_ != 0; }
};

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
}  // namespace foundry_cuda_builtin

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

// Constants MSL provides (its <metal_math> and <metal_limits>) and the
// <float.h>/<limits.h> names kernel code may use.
#ifndef INFINITY
#define INFINITY (__builtin_bit_cast(float, 0x7f800000u))
#endif
#ifndef NAN
#define NAN (__builtin_bit_cast(float, 0x7fc00000u))
#endif
#ifndef HUGE_VALF
#define HUGE_VALF INFINITY
#endif
#ifndef FLT_MAX
#define FLT_MAX 3.40282347e+38f
#define FLT_MIN 1.17549435e-38f
#define FLT_EPSILON 1.19209290e-07f
#define FLT_MANT_DIG 24
#endif
#ifndef DBL_MAX
#define DBL_MAX 1.7976931348623157e+308
#define DBL_MIN 2.2250738585072014e-308
#define DBL_EPSILON 2.2204460492503131e-16
#endif
#ifndef MAXFLOAT
#define MAXFLOAT FLT_MAX
#endif
#ifndef CHAR_BIT
#define CHAR_BIT 8
#define SCHAR_MIN (-128)
#define SCHAR_MAX 127
#define UCHAR_MAX 255
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#define SHRT_MIN (-32768)
#define SHRT_MAX 32767
#define USHRT_MAX 65535
#define INT_MIN (-2147483647 - 1)
#define INT_MAX 2147483647
#define UINT_MAX 4294967295u
#define LONG_MIN (-9223372036854775807L - 1)
#define LONG_MAX 9223372036854775807L
#define ULONG_MAX 18446744073709551615ul
#endif
#define HALF_MAX (::metal::half::from_bits(0x7bffu))
#define HALF_MIN (::metal::half::from_bits(0x0400u))
#define HALF_EPSILON (::metal::half::from_bits(0x1400u))
#define M_E_F 2.71828182845904523536028747135266250f
#define M_LOG2E_F 1.44269504088896340735992468100189214f
#define M_LOG10E_F 0.434294481903251827651128918916605082f
#define M_LN2_F 0.693147180559945309417232121458176568f
#define M_LN10_F 2.30258509299404568401799145468436421f
#define M_PI_F 3.14159265358979323846264338327950288f
#define M_PI_2_F 1.57079632679489661923132169163975144f
#define M_PI_4_F 0.785398163397448309615660845819875721f
#define M_1_PI_F 0.318309886183790671537767526745028724f
#define M_2_PI_F 0.636619772367581343075535053490057448f
#define M_2_SQRTPI_F 1.12837916709551257389615890312154517f
#define M_SQRT2_F 1.41421356237309504880168872420969808f
#define M_SQRT1_2_F 0.707106781186547524400844362104849039f

// --- SIMD-group matrices ---
// simdgroup_matrix<T, 8, 8> (T = float or half) and its functions, as in the
// Metal Shading Language specification ("SIMD-group matrix functions"), on
// a warp. Layout (docs/msl-subset.md): lane l holds the two elements of row
// l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 (e[0], e[1]), which is the
// layout of the accumulator and of the A operand of the tensor-core
// instruction mma.sync.m16n8k8 restricted to its first 8 rows. So a
// multiply with half operands runs on tensor cores (sm_75 and newer):
// A and C go in as they are (rows 8..15 zero), B is gathered into the
// instruction's column layout with two shuffles. Float operands (full fp32
// products, as on Metal; the tensor cores' tf32 would round them) and older
// architectures use shuffles and FMAs: 8 steps of 3 shuffles. Every lane of
// the warp must call these functions (the subset's rule for SIMD-group
// functions); load/store origins are (x = column, y = row) in memory, a
// transposed load/store swaps rows and columns of the 8x8 matrix.
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
using simdgroup_float8x8 = simdgroup_matrix<float, 8, 8>;
using simdgroup_half8x8 = simdgroup_matrix<half, 8, 8>;

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
// B = b, C = [c; 0]; B's fragment holds B(2q, g) and B(2q + 1, g) (q = lane
// % 4, g = lane / 4), i.e. the lanes 8q + g/2 and 8q + 4 + g/2, element g % 2.
inline void sgm_mma_f16(float& d0, float& d1, const simdgroup_matrix<half, 8, 8>& a,
                        const simdgroup_matrix<half, 8, 8>& b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  const uint g = sgm_row(), q = lane_id() & 3u;
  const unsigned int bw = sgm_pack(b.e[0], b.e[1]);
  const unsigned int w0 = __shfl_sync(warp_mask, bw, int(8u * q + (g >> 1)));
  const unsigned int w1 = __shfl_sync(warp_mask, bw, int(8u * q + 4u + (g >> 1)));
  const unsigned int sh = (g & 1u) * 16u;
  const unsigned int b01 = ((w0 >> sh) & 0xffffu) | (((w1 >> sh) & 0xffffu) << 16);
  const unsigned int a01 = sgm_pack(a.e[0], a.e[1]), a23 = 0u;
  float d2 = 0.0f, d3 = 0.0f;
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(a01), "r"(a23), "r"(b01));
#else
  sgm_fma(d0, d1, a, b);
#endif
}
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
  return m;
}
template <class T, int Cols, int Rows>
inline simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(T value) {
  return make_filled_simdgroup_matrix<T>(value);
}

// d(r, c) = src[(origin.y + r) * elements_per_row + origin.x + c], or with
// transpose_matrix d(r, c) = src[(origin.y + c) * elements_per_row + origin.x + r].
template <class T, class U>
  requires msl_detail::is_same_v<U, T> || msl_detail::is_same_v<U, const T>
inline void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, U* src, ulong elements_per_row = 8,
                           ulong2 matrix_origin = ulong2(0, 0), bool transpose_matrix = false) {
  const ulong r = msl_detail::sgm_row(), c = msl_detail::sgm_col();
  const U* base = src + ulong(matrix_origin.y) * elements_per_row + ulong(matrix_origin.x);
  for (ulong j = 0; j < 2; ++j)
    d.e[j] = transpose_matrix ? base[(c + j) * elements_per_row + r] : base[r * elements_per_row + c + j];
}
// dst[(origin.y + r) * elements_per_row + origin.x + c] = a(r, c), or with
// transpose_matrix dst[(origin.y + c) * elements_per_row + origin.x + r] = a(r, c).
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
}
// d = a * b.
template <class TD, class TA, class TB>
inline void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                               const simdgroup_matrix<TB, 8, 8>& b) {
  float d0 = 0.0f, d1 = 0.0f;
  msl_detail::sgm_product(d0, d1, a, b);
  d.e[0] = TD(d0);
  d.e[1] = TD(d1);
}

}  // namespace metal

// Address spaces: CUDA's generic addressing reaches device, shared and
// local memory through one pointer type. `constant` data is read-only, so it
// maps to const. These come last (see the top).
#define device
#define thread
#define threadgroup
#define constant const
#ifndef ALWAYS_INLINE
#define ALWAYS_INLINE inline __attribute__((always_inline))
#endif
#ifndef METAL_FUNC
#define METAL_FUNC inline __attribute__((always_inline))
#endif

#endif  // FOUNDRY_CUDA_MSL_PRELUDE_H
