// foundry/backends/cpu/msl_prelude.h - the Metal Shading Language
// compatibility layer of the CPU backend.
//
// Emitted MSL (a body function plus an `extern "C"` CPU entry, see abi.h) is
// compiled by the host C++ compiler with this header prepended. It defines
// the portable MSL subset documented in docs/msl-subset.md: address-space
// qualifiers, scalar and vector types, `metal::` math, atomics, SIMD-group
// functions and barriers. Kernel code calls these unqualified, as in MSL.
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
//  * The JIT reads this file and abi.h as text (see jit.hpp) and inlines
//    abi.h in place of its #include, so a JIT translation unit needs no
//    include path. It must therefore stay self-contained.
//  * Barriers and SIMD-group functions call into the host scheduler through
//    the table that `foundry_cpu_module_init` stores (abi.h).

#ifndef FOUNDRY_CPU_MSL_PRELUDE_H
#define FOUNDRY_CPU_MSL_PRELUDE_H

#include "abi.h"

#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

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
typedef _Float16 half;
static_assert(sizeof(ulong) == 8, "MSL ulong is 64-bit");
static_assert(sizeof(half) == 2, "half is IEEE binary16");

namespace metal {

// bfloat: IEEE-754 binary32 truncated to its top 16 bits. Neither compiler
// does arithmetic on __bf16 yet, so this is a storage type that converts to
// float; arithmetic runs in float and rounds (to nearest even) on store.
struct bfloat {
  uint16_t bits_;
  bfloat() = default;
  constexpr bfloat(float f) : bits_(from_float(f)) {}  // NOLINT: implicit as in MSL
  constexpr bfloat(double d) : bfloat(static_cast<float>(d)) {}
  constexpr bfloat(half h) : bfloat(static_cast<float>(h)) {}
  constexpr bfloat(int i) : bfloat(static_cast<float>(i)) {}
  constexpr bfloat(uint i) : bfloat(static_cast<float>(i)) {}
  constexpr operator float() const { return __builtin_bit_cast(float, static_cast<uint32_t>(bits_) << 16); }
  static constexpr uint16_t from_float(float f) {
    const uint32_t u = __builtin_bit_cast(uint32_t, f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  template <class U>
  bfloat& operator+=(U o) { return *this = bfloat(float(*this) + float(o)); }
  template <class U>
  bfloat& operator-=(U o) { return *this = bfloat(float(*this) - float(o)); }
  template <class U>
  bfloat& operator*=(U o) { return *this = bfloat(float(*this) * float(o)); }
  template <class U>
  bfloat& operator/=(U o) { return *this = bfloat(float(*this) / float(o)); }
};

namespace msl_detail {
template <class T> inline constexpr bool is_fscalar = false;
template <> inline constexpr bool is_fscalar<float> = true;
template <> inline constexpr bool is_fscalar<double> = true;
template <> inline constexpr bool is_fscalar<half> = true;
template <> inline constexpr bool is_fscalar<bfloat> = true;
template <class T>
inline constexpr bool is_iscalar = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <class T>
inline constexpr bool is_scalar = is_fscalar<T> || is_iscalar<T> || std::is_same_v<T, bool>;
template <class T>
concept scalar_like = is_scalar<std::remove_cvref_t<T>>;
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
inline constexpr size_t vec_align = sizeof(T) * (N == 3 ? 4 : N);

// A swizzle view (`v.zyx`): overlays the vector's storage inside its union.
template <class T, int N, int... I>
struct swz {
  T elems_[N];
  static constexpr int count = sizeof...(I);
  static constexpr int idx[count] = {I...};
  static constexpr bool writable = [] {
    for (int a = 0; a < count; ++a)
      for (int b = a + 1; b < count; ++b)
        if (idx[a] == idx[b]) return false;
    return true;
  }();
  using vec_type = vec<T, count>;
  operator vec_type() const { return vec_type(elems_[I]...); }
  T operator[](int i) const { return elems_[idx[i]]; }
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
  static constexpr int n = 0;
  using elem = X;
};
template <class T, int N>
struct vt<vec<T, N>> {
  static constexpr int n = N;
  using elem = T;
};
template <class T, int N>
struct vt<packed_vec<T, N>> {
  static constexpr int n = N;
  using elem = T;
};
template <class T, int N, int... I>
struct vt<swz<T, N, I...>> {
  static constexpr int n = sizeof...(I);
  using elem = T;
};
template <class X>
inline constexpr int vn = vt<std::remove_cvref_t<X>>::n;
template <class X>
using elem_t = typename vt<std::remove_cvref_t<X>>::elem;
template <class X>
concept vecish = (vn<X> > 0);
template <class X>
concept operand = vecish<X> || scalar_like<X>;
template <class X>
inline constexpr int ncomp = vn<X> > 0 ? vn<X> : 1;

template <class X>
constexpr auto vget(const X& x, int i) {
  if constexpr (vn<X> == 0) {
    (void)i;
    return x;
  } else {
    return x[i];
  }
}

template <class T, class X>
constexpr void put(T* dst, int& k, const X& x) {
  if constexpr (vn<X> == 0) {
    dst[k++] = static_cast<T>(x);
  } else {
    static_assert(std::is_same_v<elem_t<X>, T>,
                  "vector constructor: components must have the vector's element type "
                  "(convert explicitly, e.g. float2(h2))");
    for (int i = 0; i < vn<X>; ++i) dst[k++] = x[i];
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
    requires(msl_detail::ncomp<A> + msl_detail::ncomp<B> + (0 + ... + msl_detail::ncomp<R>) == \
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
    requires(msl_detail::vn<V> == N_ && !std::is_same_v<msl_detail::elem_t<V>, T>)           \
  explicit constexpr vec(const V& o) {                                                       \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(o[i]);                           \
  }                                                                                          \
  /* From a precomputed builtin (abi.h): `uint3 gid = T->thread_position_in_grid;`. */      \
  constexpr vec(const foundry_cpu_uint3& u)                                                  \
    requires(N_ <= 3 && msl_detail::is_iscalar<T>)                                           \
  {                                                                                          \
    const uint32_t c[3] = {u.x, u.y, u.z};                                                   \
    for (int i = 0; i < N_; ++i) elems_[i] = static_cast<T>(c[i]);                           \
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
struct alignas(msl_detail::vec_align<T, 2>) vec<T, 2> {
  static constexpr int N_ = 2;
  union {
    T elems_[2];
    struct { T x, y; };
    struct { T r, g; };
    FOUNDRY_SWIZZLES_2
  };
  FOUNDRY_VEC_COMMON(2)
};

template <class T>
struct alignas(msl_detail::vec_align<T, 3>) vec<T, 3> {
  static constexpr int N_ = 3;
  union {
    T elems_[3];
    struct { T x, y, z; };
    struct { T r, g, b; };
    FOUNDRY_SWIZZLES_3
  };
  FOUNDRY_VEC_COMMON(3)
};

template <class T>
struct alignas(msl_detail::vec_align<T, 4>) vec<T, 4> {
  static constexpr int N_ = 4;
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
    requires(msl_detail::vn<V> == N_ && std::is_same_v<msl_detail::elem_t<V>, T>)         \
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
  constexpr int n = vn<A> > 0 ? vn<A> : vn<B>;
  using T = std::conditional_t<(vn<A> > 0), elem_t<A>, elem_t<B>>;
  if constexpr (vn<A> > 0 && vn<B> > 0) {
    static_assert(vn<A> == vn<B>, "vector operands of different lengths");
    static_assert(std::is_same_v<elem_t<A>, elem_t<B>>,
                  "vector operands of different element types (convert explicitly)");
  }
  using R = std::conditional_t<Compare, bool, T>;
  vec<R, n> r;
  for (int i = 0; i < n; ++i)
    r.elems_[i] = static_cast<R>(Op{}(static_cast<T>(vget(a, i)), static_cast<T>(vget(b, i))));
  return r;
}

template <class Op, class A>
constexpr auto vun(const A& a) {
  using T = elem_t<A>;
  using R = std::conditional_t<std::is_same_v<decltype(Op{}(T{})), bool>, bool, T>;
  vec<R, vn<A>> r;
  for (int i = 0; i < vn<A>; ++i) r.elems_[i] = static_cast<R>(Op{}(static_cast<T>(a[i])));
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
  if constexpr (msl_detail::vn<From> > 0 && !std::is_same_v<From, vec<msl_detail::elem_t<From>, msl_detail::vn<From>>>) {
    // A swizzle or packed vector: reinterpret the vector it denotes.
    return as_type<To>(vec<msl_detail::elem_t<From>, msl_detail::vn<From>>(from));
  } else {
    static_assert(sizeof(To) == sizeof(From), "as_type: source and destination sizes differ");
    To to;
    __builtin_memcpy(static_cast<void*>(&to), static_cast<const void*>(&from), sizeof(To));
    return to;
  }
}

// ---------------------------------------------------------------------------
// Math. Every function takes scalars or vectors (element-wise; scalar
// arguments of a vector call are broadcast). half and bfloat compute in float
// and round the result. CPU results are correctly rounded libm results: MSL's
// default fast-math may differ by a few ulp.
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
  if constexpr (vn<X> == 0) {
    return f(x);
  } else {
    using T = elem_t<X>;
    using R = decltype(f(T{}));
    vec<R, vn<X>> r;
    for (int i = 0; i < vn<X>; ++i) r.elems_[i] = f(static_cast<T>(x[i]));
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
  static constexpr int n = vn<X>;
};
template <class X, class Y, class... R>
struct common_elem<X, Y, R...> {
  using rest = common_elem<Y, R...>;
  static constexpr int n = vn<X> > rest::n ? vn<X> : rest::n;
  static_assert(vn<X> == 0 || rest::n == 0 || vn<X> == rest::n, "vector arguments of different lengths");
  using type = std::conditional_t<(vn<X> > 0 || rest::n == 0), elem_t<X>, typename rest::type>;
  static_assert(!(vn<X> > 0 && rest::n > 0) || std::is_same_v<elem_t<X>, typename rest::type>,
                "vector arguments of different element types (convert explicitly)");
  static_assert(!(vn<X> == 0 && rest::n == 0) || std::is_same_v<elem_t<X>, typename rest::type>,
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
  if constexpr (std::is_same_v<T, double>) {
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
FOUNDRY_MATH1(exp, __builtin_expf, __builtin_exp)
FOUNDRY_MATH1(exp2, __builtin_exp2f, __builtin_exp2)
FOUNDRY_MATH1(log, __builtin_logf, __builtin_log)
FOUNDRY_MATH1(log2, __builtin_log2f, __builtin_log2)
FOUNDRY_MATH1(log10, __builtin_log10f, __builtin_log10)
FOUNDRY_MATH1(sqrt, __builtin_sqrtf, __builtin_sqrt)
FOUNDRY_MATH1(sin, __builtin_sinf, __builtin_sin)
FOUNDRY_MATH1(cos, __builtin_cosf, __builtin_cos)
FOUNDRY_MATH1(tan, __builtin_tanf, __builtin_tan)
FOUNDRY_MATH1(asin, __builtin_asinf, __builtin_asin)
FOUNDRY_MATH1(acos, __builtin_acosf, __builtin_acos)
FOUNDRY_MATH1(atan, __builtin_atanf, __builtin_atan)
FOUNDRY_MATH1(sinh, __builtin_sinhf, __builtin_sinh)
FOUNDRY_MATH1(cosh, __builtin_coshf, __builtin_cosh)
FOUNDRY_MATH1(tanh, __builtin_tanhf, __builtin_tanh)
FOUNDRY_MATH1(floor, __builtin_floorf, __builtin_floor)
FOUNDRY_MATH1(ceil, __builtin_ceilf, __builtin_ceil)
FOUNDRY_MATH1(round, __builtin_roundf, __builtin_round)
FOUNDRY_MATH1(rint, __builtin_rintf, __builtin_rint)
FOUNDRY_MATH1(trunc, __builtin_truncf, __builtin_trunc)
FOUNDRY_MATH1(fabs, __builtin_fabsf, __builtin_fabs)
FOUNDRY_MATH1(rsqrt, 1.0f / __builtin_sqrtf, 1.0 / __builtin_sqrt)
FOUNDRY_MATH1(exp10, [](float q) { return __builtin_powf(10.0f, q); }, [](double q) { return __builtin_pow(10.0, q); })
#undef FOUNDRY_MATH1

#define FOUNDRY_MATH2(name, fb, db)                                                         \
  template <class X, class Y>                                                               \
    requires msl_detail::fl<X> && msl_detail::fl<Y>                                         \
  inline auto name(const X& x, const Y& y) {                                                \
    return msl_detail::mapn(                                                                \
        [](auto a, auto b) {                                                                \
          using T = decltype(a);                                                            \
          if constexpr (std::is_same_v<T, double>) {                                        \
            return db(a, b);                                                                \
          } else {                                                                          \
            return static_cast<T>(fb(static_cast<float>(a), static_cast<float>(b)));        \
          }                                                                                 \
        },                                                                                  \
        x, y);                                                                              \
  }
FOUNDRY_MATH2(pow, __builtin_powf, __builtin_pow)
FOUNDRY_MATH2(powr, __builtin_powf, __builtin_pow)
FOUNDRY_MATH2(atan2, __builtin_atan2f, __builtin_atan2)
FOUNDRY_MATH2(fmod, __builtin_fmodf, __builtin_fmod)
FOUNDRY_MATH2(fmin, __builtin_fminf, __builtin_fmin)
FOUNDRY_MATH2(fmax, __builtin_fmaxf, __builtin_fmax)
FOUNDRY_MATH2(copysign, __builtin_copysignf, __builtin_copysign)
#undef FOUNDRY_MATH2

// fract(x) = x - floor(x), clamped below 1 (MSL).
template <class X> requires msl_detail::fl<X>
inline auto fract(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const float f = static_cast<float>(e) - __builtin_floorf(static_cast<float>(e));
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
    if constexpr (std::is_same_v<T, double>) {
      return __builtin_fabs(e);
    } else if constexpr (msl_detail::is_fscalar<T>) {
      return static_cast<T>(__builtin_fabsf(static_cast<float>(e)));
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
    if constexpr (std::is_same_v<T, double>) {
      return __builtin_fma(a, b, c);
    } else {
      return static_cast<T>(__builtin_fmaf(static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)));
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
  return msl_detail::map1(x, [](auto e) { return __builtin_isinf(static_cast<float>(e)) != 0; });
}
template <class X> requires msl_detail::fl<X>
constexpr auto isfinite(const X& x) {
  return msl_detail::map1(x, [](auto e) { return __builtin_isfinite(static_cast<float>(e)) != 0; });
}
template <class X> requires msl_detail::fl<X>
constexpr auto signbit(const X& x) {
  return msl_detail::map1(x, [](auto e) { return __builtin_signbit(static_cast<float>(e)) != 0; });
}

// Integer bit functions (count within the operand's own width).
template <class X> requires msl_detail::in<X>
constexpr auto popcount(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    return static_cast<T>(__builtin_popcountll(static_cast<unsigned long long>(static_cast<std::make_unsigned_t<T>>(e))));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto clz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<std::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : __builtin_clzll(u) - int(64 - sizeof(T) * 8));
  });
}
template <class X> requires msl_detail::in<X>
constexpr auto ctz(const X& x) {
  return msl_detail::map1(x, [](auto e) {
    using T = decltype(e);
    const auto u = static_cast<unsigned long long>(static_cast<std::make_unsigned_t<T>>(e));
    return static_cast<T>(u == 0 ? int(sizeof(T) * 8) : __builtin_ctzll(u));
  });
}

// Geometric functions (float vectors).
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
constexpr auto dot(const X& x, const Y& y) {
  using T = msl_detail::elem_t<X>;
  static_assert(msl_detail::vn<X> > 0 && msl_detail::vn<X> == msl_detail::vn<Y>, "dot takes two vectors of one length");
  float s = 0.0f;
  for (int i = 0; i < msl_detail::vn<X>; ++i) s += static_cast<float>(x[i]) * static_cast<float>(y[i]);
  return static_cast<T>(s);
}
template <class X> requires msl_detail::fl<X>
inline auto length_squared(const X& x) { return dot(x, x); }
template <class X> requires msl_detail::fl<X>
inline auto length(const X& x) {
  using T = msl_detail::elem_t<X>;
  return static_cast<T>(__builtin_sqrtf(static_cast<float>(dot(x, x))));
}
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
inline auto distance(const X& x, const Y& y) { return length(x - y); }
template <class X> requires msl_detail::fl<X>
inline auto normalize(const X& x) {
  using T = msl_detail::elem_t<X>;
  return x * static_cast<T>(1.0f / __builtin_sqrtf(static_cast<float>(dot(x, x))));
}
template <class X, class Y> requires msl_detail::fl<X> && msl_detail::fl<Y>
constexpr auto cross(const X& a, const Y& b) {
  static_assert(msl_detail::vn<X> == 3 && msl_detail::vn<Y> == 3, "cross takes two 3-vectors");
  using V = vec<msl_detail::elem_t<X>, 3>;
  return V(a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]);
}

// Relational.
template <class X> requires(msl_detail::vecish<X> || std::is_same_v<X, bool>)
constexpr bool all(const X& x) {
  if constexpr (msl_detail::vn<X> == 0) {
    return x;
  } else {
    for (int i = 0; i < msl_detail::vn<X>; ++i)
      if (!x[i]) return false;
    return true;
  }
}
template <class X> requires(msl_detail::vecish<X> || std::is_same_v<X, bool>)
constexpr bool any(const X& x) {
  if constexpr (msl_detail::vn<X> == 0) {
    return x;
  } else {
    for (int i = 0; i < msl_detail::vn<X>; ++i)
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
  constexpr int n = C2::n > msl_detail::vn<C> ? C2::n : msl_detail::vn<C>;
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

// The CPU computes every function the same way in both namespaces.
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

// numeric_limits: std's for the standard types, hand-written for half.
template <class T>
struct numeric_limits : std::numeric_limits<T> {};
template <>
struct numeric_limits<half> {
  static constexpr bool is_specialized = true;
  static constexpr half min() { return static_cast<half>(6.103515625e-05f); }
  static constexpr half max() { return static_cast<half>(65504.0f); }
  static constexpr half lowest() { return static_cast<half>(-65504.0f); }
  static constexpr half epsilon() { return static_cast<half>(0.0009765625f); }
  static constexpr half infinity() { return static_cast<half>(__builtin_inff()); }
  static constexpr half quiet_NaN() { return static_cast<half>(__builtin_nanf("")); }
  static constexpr int digits = 11;
};

// ---------------------------------------------------------------------------
// Atomics: atomic<T> is T's storage; the functions are the MSL free
// functions. On the CPU every order is honoured as given (relaxed is what
// MSL offers; it is also what the CPU implements for it).
// ---------------------------------------------------------------------------
enum memory_order {
  memory_order_relaxed = __ATOMIC_RELAXED,
  memory_order_acquire = __ATOMIC_ACQUIRE,
  memory_order_release = __ATOMIC_RELEASE,
  memory_order_acq_rel = __ATOMIC_ACQ_REL,
  memory_order_seq_cst = __ATOMIC_SEQ_CST,
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
concept atomic_obj = requires { typename atomic_value<std::remove_cv_t<A>>::type; };
template <class A>
using atomic_t = typename atomic_value<std::remove_cv_t<A>>::type;

template <class A>
inline atomic_t<A>* atomic_ptr(A* a) {
  return const_cast<atomic_t<A>*>(&a->value_);
}
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
using simd_t = std::conditional_t<(vn<T> > 0), vec<elem_t<T>, (vn<T> > 0 ? vn<T> : 1)>, std::remove_cvref_t<T>>;
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

// Constants MSL provides (its <metal_math> and <metal_limits>).
#ifndef INFINITY
#define INFINITY (__builtin_inff())
#endif
#ifndef NAN
#define NAN (__builtin_nanf(""))
#endif
#ifndef MAXFLOAT
#define MAXFLOAT FLT_MAX
#endif
#ifndef HUGE_VALF
#define HUGE_VALF (__builtin_huge_valf())
#endif
#define HALF_MAX (static_cast<half>(65504.0f))
#define HALF_MIN (static_cast<half>(6.103515625e-05f))
#define HALF_EPSILON (static_cast<half>(0.0009765625f))
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
// Metal Shading Language specification (section "SIMD-group matrix
// functions"). Representation on the CPU: lane 0 of the SIMD-group holds
// the whole 8x8 matrix and does all of the work; every other lane's
// functions return at once. Why: the threads of a threadgroup run one after
// another on one OS thread, so spreading the 512 multiply-adds of an 8x8x8
// product over 32 fibers buys no parallelism and costs a fiber switch per
// lane (a collective); giving every lane the whole matrix costs 32 times the
// arithmetic. One owner does the minimum work with no switch at all, in
// vector registers (8 floats per row). What kernels may rely on is the MSL
// contract only: every lane of the SIMD-group calls the functions with the
// same arguments, and memory written by simdgroup_store is read by other
// threads only after a barrier (docs/msl-subset.md). Element (row r,
// column c) of a matrix is e[r * 8 + c]; `load`/`store` origins are
// (x = column, y = row) in the memory matrix, a transposed load/store swaps
// rows and columns of the 8x8 matrix against memory.
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
using simdgroup_float8x8 = simdgroup_matrix<float, 8, 8>;
using simdgroup_half8x8 = simdgroup_matrix<half, 8, 8>;

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

template <class T>
inline simdgroup_matrix<T, 8, 8> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, 8, 8> m;
  if (msl_detail::sgm_owner(m))
    for (int i = 0; i < 64; ++i) m.e[i] = value;
  return m;
}
template <class T, int Cols, int Rows>
inline simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(T value) {
  return make_filled_simdgroup_matrix<T>(value);
}

// d(r, c) = src[(origin.y + r) * elements_per_row + origin.x + c], or with
// transpose_matrix d(r, c) = src[(origin.y + c) * elements_per_row + origin.x + r].
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
// dst[(origin.y + r) * elements_per_row + origin.x + c] = a(r, c), or with
// transpose_matrix dst[(origin.y + c) * elements_per_row + origin.x + r] = a(r, c).
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
#pragma GCC visibility pop

// Address spaces: one flat address space on the CPU. `constant` data is
// read-only, so it maps to const. These must come last (see the top).
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

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif  // FOUNDRY_CPU_MSL_PRELUDE_H
