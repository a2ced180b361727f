// foundry/backends/common/msl_core.h - the part of the Metal Shading
// Language compatibility layer that every non-Metal target shares: scalar
// traits, `half` (as a storage type) and `bfloat`, vectors with swizzles,
// vector operators, `as_type`, math, integer bit functions, geometric and
// relational functions, `numeric_limits`, and the constants of <metal_math>.
// It is the portable subset of docs/msl-subset.md minus what each target
// implements its own way (address spaces, atomics, barriers, SIMD-group
// functions, thread-position builtins), which stays in the target's prelude:
// backends/cpu/msl_prelude.h and backends/cuda/msl_prelude.h.
//
// It is included by those preludes only (never by host code), after they
// define what it needs, and inlined into the emitted translation unit by
// the backends (so it needs no include path at run time). It includes no
// header: NVRTC has no host standard library, so the type traits it needs
// are its own (metal::msl_detail). Traits are concepts and constexpr
// functions, never variables, because NVRTC emits every instantiated
// namespace-scope variable into the module.
//
// The including prelude provides, before the #include:
//   uint, ushort, uchar, ulong, size_t    the scalar names
//   FOUNDRY_MSL_NATIVE_HALF               defined when `half` is already a
//                                         native binary16 type (`_Float16`);
//                                         else metal::half is the storage
//                                         struct below
//   FOUNDRY_MSL_F(name), FOUNDRY_MSL_D(name)
//                                         the float / double function `name`
//                                         (exp, log, sqrt, ...) of the target
//   FOUNDRY_MSL_RSQRTF(x), FOUNDRY_MSL_RSQRT(x), FOUNDRY_MSL_EXP10F(x),
//   FOUNDRY_MSL_EXP10(x)                  the functions libm lacks
//   FOUNDRY_MSL_POPCOUNT64(u), FOUNDRY_MSL_CLZ64(u), FOUNDRY_MSL_CTZ64(u)
//                                         bit counts of a nonzero 64-bit u
//   FOUNDRY_MSL_MEMCPY(dst, src, bytes)
//   FOUNDRY_MSL_VEC_TARGET_MEMBERS(N)     extra members of vec<T, N> (the CPU
//                                         converts its builtins' struct)
// and, after it, the definitions of metal::msl_target::float_to_half_bits,
// double_to_half_bits and half_bits_to_float (round to nearest even; the
// constant-expression path uses the software functions below).

#ifndef FOUNDRY_MSL_CORE_H
#define FOUNDRY_MSL_CORE_H

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

// IEEE binary16 <-> binary32 in software, round to nearest even: what
// constant expressions use, and the run-time path of targets without a
// conversion instruction. NaN stays NaN (quiet, with the payload's top bits);
// overflow gives infinity.
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
// double -> float with round-to-odd (truncate, then set the last bit if
// anything was lost): rounding that to half is then the correctly rounded
// double -> half, because float carries at least p + 2 bits for half's
// p = 11 (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums:
// proved algorithms using rounding to odd", IEEE TC 2008).
constexpr float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  const double back = static_cast<double>(f);
  if (back == d || d != d || back - back != 0.0) return f;  // exact, NaN, or beyond float's range
  uint u = __builtin_bit_cast(uint, f);
  if ((back > d) == (d > 0.0)) --u;  // rounded away from zero: step back towards it
  return __builtin_bit_cast(float, u | 1u);
}
}  // namespace msl_detail

// The target's run-time conversions (defined by each prelude after this
// header: a conversion instruction, or the software functions above).
namespace msl_target {
inline ushort float_to_half_bits(float f);
inline ushort double_to_half_bits(double d);
inline float half_bits_to_float(ushort h);
}  // namespace msl_target

namespace msl_detail {
constexpr ushort float_to_half_bits(float f) {
  if (__builtin_is_constant_evaluated()) return float_to_half_bits_soft(f);
  return msl_target::float_to_half_bits(f);
}
constexpr ushort double_to_half_bits(double d) {
  if (__builtin_is_constant_evaluated()) return float_to_half_bits_soft(round_to_odd_float(d));
  return msl_target::double_to_half_bits(d);
}
constexpr float half_bits_to_float(ushort h) {
  if (__builtin_is_constant_evaluated()) return half_bits_to_float_soft(h);
  return msl_target::half_bits_to_float(h);
}
template <class T>
constexpr uint float_bits(T x) { return __builtin_bit_cast(uint, static_cast<float>(x)); }
}  // namespace msl_detail

#if !defined(FOUNDRY_MSL_NATIVE_HALF)
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

#else
struct bfloat;
#endif  // FOUNDRY_MSL_NATIVE_HALF

namespace msl_detail {
// The half with bit pattern b (either representation of half).
constexpr half half_from_bits(ushort b) { return __builtin_bit_cast(half, b); }
}  // namespace msl_detail

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
  FOUNDRY_MSL_VEC_TARGET_MEMBERS(N_)                                                         \
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
    FOUNDRY_MSL_MEMCPY(static_cast<void*>(&to), static_cast<const void*>(&from), sizeof(To));
    return to;
  }
}

// ---------------------------------------------------------------------------
// Math. Every function takes scalars or vectors (element-wise; scalar
// arguments of a vector call are broadcast). half and bfloat compute in float
// and round the result. The scalar functions are the target's (FOUNDRY_MSL_F
// and FOUNDRY_MSL_D): the CPU's are correctly rounded libm results, CUDA's
// libdevice ones within a few ulp, as MSL's default fast math allows.
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
FOUNDRY_MATH1(exp, FOUNDRY_MSL_F(exp), FOUNDRY_MSL_D(exp))
FOUNDRY_MATH1(exp2, FOUNDRY_MSL_F(exp2), FOUNDRY_MSL_D(exp2))
FOUNDRY_MATH1(log, FOUNDRY_MSL_F(log), FOUNDRY_MSL_D(log))
FOUNDRY_MATH1(log2, FOUNDRY_MSL_F(log2), FOUNDRY_MSL_D(log2))
FOUNDRY_MATH1(log10, FOUNDRY_MSL_F(log10), FOUNDRY_MSL_D(log10))
FOUNDRY_MATH1(sqrt, FOUNDRY_MSL_F(sqrt), FOUNDRY_MSL_D(sqrt))
FOUNDRY_MATH1(sin, FOUNDRY_MSL_F(sin), FOUNDRY_MSL_D(sin))
FOUNDRY_MATH1(cos, FOUNDRY_MSL_F(cos), FOUNDRY_MSL_D(cos))
FOUNDRY_MATH1(tan, FOUNDRY_MSL_F(tan), FOUNDRY_MSL_D(tan))
FOUNDRY_MATH1(asin, FOUNDRY_MSL_F(asin), FOUNDRY_MSL_D(asin))
FOUNDRY_MATH1(acos, FOUNDRY_MSL_F(acos), FOUNDRY_MSL_D(acos))
FOUNDRY_MATH1(atan, FOUNDRY_MSL_F(atan), FOUNDRY_MSL_D(atan))
FOUNDRY_MATH1(sinh, FOUNDRY_MSL_F(sinh), FOUNDRY_MSL_D(sinh))
FOUNDRY_MATH1(cosh, FOUNDRY_MSL_F(cosh), FOUNDRY_MSL_D(cosh))
FOUNDRY_MATH1(tanh, FOUNDRY_MSL_F(tanh), FOUNDRY_MSL_D(tanh))
FOUNDRY_MATH1(floor, FOUNDRY_MSL_F(floor), FOUNDRY_MSL_D(floor))
FOUNDRY_MATH1(ceil, FOUNDRY_MSL_F(ceil), FOUNDRY_MSL_D(ceil))
FOUNDRY_MATH1(round, FOUNDRY_MSL_F(round), FOUNDRY_MSL_D(round))
FOUNDRY_MATH1(rint, FOUNDRY_MSL_F(rint), FOUNDRY_MSL_D(rint))
FOUNDRY_MATH1(trunc, FOUNDRY_MSL_F(trunc), FOUNDRY_MSL_D(trunc))
FOUNDRY_MATH1(fabs, FOUNDRY_MSL_F(fabs), FOUNDRY_MSL_D(fabs))
FOUNDRY_MATH1(rsqrt, FOUNDRY_MSL_RSQRTF, FOUNDRY_MSL_RSQRT)
FOUNDRY_MATH1(exp10, FOUNDRY_MSL_EXP10F, FOUNDRY_MSL_EXP10)
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
FOUNDRY_MATH2(pow, FOUNDRY_MSL_F(pow), FOUNDRY_MSL_D(pow))
FOUNDRY_MATH2(powr, FOUNDRY_MSL_F(pow), FOUNDRY_MSL_D(pow))
FOUNDRY_MATH2(atan2, FOUNDRY_MSL_F(atan2), FOUNDRY_MSL_D(atan2))
FOUNDRY_MATH2(fmod, FOUNDRY_MSL_F(fmod), FOUNDRY_MSL_D(fmod))
FOUNDRY_MATH2(fmin, FOUNDRY_MSL_F(fmin), FOUNDRY_MSL_D(fmin))
FOUNDRY_MATH2(fmax, FOUNDRY_MSL_F(fmax), FOUNDRY_MSL_D(fmax))
FOUNDRY_MATH2(copysign, FOUNDRY_MSL_F(copysign), FOUNDRY_MSL_D(copysign))
#undef FOUNDRY_MATH2

// fract(x) = x - floor(x), clamped below 1 (MSL).
template <class X> requires msl_detail::fl<X>
inline auto fract(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const float f = static_cast<float>(e) - FOUNDRY_MSL_F(floor)(static_cast<float>(e));
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
      return FOUNDRY_MSL_D(fabs)(e);
    } else if constexpr (msl_detail::is_fscalar<T>) {
      return static_cast<T>(FOUNDRY_MSL_F(fabs)(static_cast<float>(e)));
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
      return FOUNDRY_MSL_D(fma)(a, b, c);
    } else {
      return static_cast<T>(FOUNDRY_MSL_F(fma)(static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)));
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
    return static_cast<T>(FOUNDRY_MSL_POPCOUNT64(static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e))));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto clz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : FOUNDRY_MSL_CLZ64(u) - int(64 - sizeof(T) * 8));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto ctz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<msl_detail::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : FOUNDRY_MSL_CTZ64(u));
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
  return static_cast<T>(FOUNDRY_MSL_F(sqrt)(static_cast<float>(dot(x, x))));
}
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
inline auto distance(const X& x, const Y& y) { return length(x - y); }
template <class X> requires msl_detail::fl<X>
inline auto normalize(const X& x) {
  using T = msl_detail::elem_t<X>;
  return x * static_cast<T>(1.0f / FOUNDRY_MSL_F(sqrt)(static_cast<float>(dot(x, x))));
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


// precise:: and fast:: name the same functions: the target's accurate ones
// (the CPU's libm builtins; CUDA's libdevice, within a few ulp, as
// docs/msl-subset.md allows for fast::).
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
FOUNDRY_FLOAT_LIMITS(half, 11, msl_detail::half_from_bits(0x0400u), msl_detail::half_from_bits(0x7bffu), msl_detail::half_from_bits(0x1400u),
                     msl_detail::half_from_bits(0x7c00u), msl_detail::half_from_bits(0x7e00u), msl_detail::half_from_bits(0x0001u))
#undef FOUNDRY_FLOAT_LIMITS

// ---------------------------------------------------------------------------
// Types of the target-specific parts: atomics (memory_order values are the
// GCC/Clang __ATOMIC_* orders), barrier flags and SIMD-group votes. The
// functions on them are each prelude's own.
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
// The value an atomic object holds (MSL's functions take `device atomic<T>*`).
template <class A>
inline atomic_t<A>* atomic_ptr(A* a) {
  return const_cast<atomic_t<A>*>(&a->value_);
}
}  // namespace msl_detail

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

}  // namespace metal

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
#define HALF_MAX (::metal::msl_detail::half_from_bits(0x7bffu))
#define HALF_MIN (::metal::msl_detail::half_from_bits(0x0400u))
#define HALF_EPSILON (::metal::msl_detail::half_from_bits(0x1400u))
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

#endif  // FOUNDRY_MSL_CORE_H
