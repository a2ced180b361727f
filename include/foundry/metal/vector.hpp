#pragma once
/// @file vector.hpp
/// Host-side Metal scalar set and vector types with Metal's size/alignment.
///
/// Source: Metal Shading Language Specification, section 2 "Data Types",
/// tables "Size and alignment of scalar data types" and "Size and alignment
/// of vector data types". In bytes:
///
///   type         size  align        type          size  align
///   bool2          2     2          short2/ushort2   4     4
///   bool3/bool4    4     4          short3/4         8     8
///   char2/uchar2   2     2          int2/uint2       8     8
///   char3/4        4     4          int3/4          16    16
///   half2/bfloat2  4     4          long2/ulong2    16    16
///   half3/4        8     8          long3/4         32    32
///   float2         8     8          float3/float4   16    16
///
/// i.e. a 2-vector is 2*sizeof(T) bytes and a 3- or 4-vector is 4*sizeof(T)
/// bytes, aligned to its size. A `float3` therefore occupies 16 bytes (12 of
/// data and 4 of padding), which is the classic host/GPU mismatch that
/// `foundry::metal::vec` reproduces with `alignas` so host structs match.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "foundry/metal/half.hpp"

namespace foundry::metal {

namespace detail {
template <class T>
struct is_metal_scalar : std::false_type {};
// Metal scalars (MSL spec, "Scalar data types"). Integers are accepted for
// every standard integer type of 8/16/32/64 bits; their Metal spelling is
// chosen by size and signedness (see type_name.hpp).
template <>
struct is_metal_scalar<bool> : std::true_type {};
template <>
struct is_metal_scalar<char> : std::true_type {};
template <>
struct is_metal_scalar<signed char> : std::true_type {};
template <>
struct is_metal_scalar<unsigned char> : std::true_type {};
template <>
struct is_metal_scalar<short> : std::true_type {};
template <>
struct is_metal_scalar<unsigned short> : std::true_type {};
template <>
struct is_metal_scalar<int> : std::true_type {};
template <>
struct is_metal_scalar<unsigned int> : std::true_type {};
template <>
struct is_metal_scalar<long> : std::true_type {};
template <>
struct is_metal_scalar<unsigned long> : std::true_type {};
template <>
struct is_metal_scalar<long long> : std::true_type {};
template <>
struct is_metal_scalar<unsigned long long> : std::true_type {};
template <>
struct is_metal_scalar<foundry::half> : std::true_type {};
template <>
struct is_metal_scalar<foundry::bfloat> : std::true_type {};
template <>
struct is_metal_scalar<float> : std::true_type {};
}  // namespace detail

/// True for host types that are Metal scalars: `bool`, the standard integer
/// types (`char`, `signed char`/`int8_t`, `unsigned char`/`uint8_t`, ...,
/// `long long`), `foundry::half`, `foundry::bfloat` and `float`; cv-qualifiers
/// are ignored. `double` is not one: Metal has no 64-bit floating point.
template <class T>
inline constexpr bool is_metal_scalar_v = detail::is_metal_scalar<std::remove_cv_t<T>>::value;

/// Host stand-in for a Metal vector `T2`/`T3`/`T4` (e.g. `float3`).
///
/// Only `N` = 2, 3, 4 and cv-unqualified Metal scalars `T` are valid
/// (anything else fails a static_assert). Size and alignment follow the MSL
/// table above: `vec<T, 2>` is 2*sizeof(T) bytes, `vec<T, 3>` and
/// `vec<T, 4>` are 4*sizeof(T) bytes, each aligned to its size. The types are
/// aggregates with public members `x, y[, z[, w]]`: `float3 v{1.f, 2.f, 3.f}`.
template <class T, int N>
struct vec {
  static_assert(is_metal_scalar_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                "foundry::metal::vec<T, N>: T must be a cv-unqualified Metal scalar type "
                "(bool, char, uchar, short, ushort, int, uint, long, ulong, half, bfloat, float)");
  static_assert(N >= 2 && N <= 4,
                "foundry::metal::vec<T, N>: Metal vectors have 2, 3 or 4 components");
};

namespace detail {
template <class T>
concept vector_element = is_metal_scalar_v<T> && std::is_same_v<T, std::remove_cv_t<T>>;
}

template <class T>
requires detail::vector_element<T>
struct alignas(2 * sizeof(T)) vec<T, 2> {
  using value_type = T;
  static constexpr int component_count = 2;
  T x, y;

  /// Component `i` (0 = x, 1 = y); `i` must be in [0, 2).
  constexpr T& operator[](int i) noexcept { return i == 0 ? x : y; }
  constexpr const T& operator[](int i) const noexcept { return i == 0 ? x : y; }
  friend constexpr bool operator==(const vec&, const vec&) = default;
};

template <class T>
requires detail::vector_element<T>
struct alignas(4 * sizeof(T)) vec<T, 3> {
  using value_type = T;
  static constexpr int component_count = 3;
  T x, y, z;  // followed by sizeof(T) bytes of padding, as in Metal

  /// Component `i` (0 = x, 1 = y, 2 = z); `i` must be in [0, 3).
  constexpr T& operator[](int i) noexcept { return i == 0 ? x : i == 1 ? y : z; }
  constexpr const T& operator[](int i) const noexcept { return i == 0 ? x : i == 1 ? y : z; }
  friend constexpr bool operator==(const vec&, const vec&) = default;  // padding not compared
};

template <class T>
requires detail::vector_element<T>
struct alignas(4 * sizeof(T)) vec<T, 4> {
  using value_type = T;
  static constexpr int component_count = 4;
  T x, y, z, w;

  /// Component `i` (0 = x, 1 = y, 2 = z, 3 = w); `i` must be in [0, 4).
  constexpr T& operator[](int i) noexcept { return i == 0 ? x : i == 1 ? y : i == 2 ? z : w; }
  constexpr const T& operator[](int i) const noexcept {
    return i == 0 ? x : i == 1 ? y : i == 2 ? z : w;
  }
  friend constexpr bool operator==(const vec&, const vec&) = default;
};

namespace detail {
template <class T>
struct is_metal_vector : std::false_type {};
template <class T, int N>
requires(N >= 2 && N <= 4 && vector_element<T>) struct is_metal_vector<vec<T, N>> : std::true_type {
};
}  // namespace detail

/// True for `foundry::metal::vec<T, N>` (any valid T, N), cv-qualifiers ignored.
template <class T>
inline constexpr bool is_metal_vector_v = detail::is_metal_vector<std::remove_cv_t<T>>::value;

// Metal vector type names. `char` vectors hold signed 8-bit integers
// (Metal's `char` is signed), `long` vectors 64-bit integers.
using bool2 = vec<bool, 2>;
using bool3 = vec<bool, 3>;
using bool4 = vec<bool, 4>;
using char2 = vec<std::int8_t, 2>;
using char3 = vec<std::int8_t, 3>;
using char4 = vec<std::int8_t, 4>;
using uchar2 = vec<std::uint8_t, 2>;
using uchar3 = vec<std::uint8_t, 3>;
using uchar4 = vec<std::uint8_t, 4>;
using short2 = vec<std::int16_t, 2>;
using short3 = vec<std::int16_t, 3>;
using short4 = vec<std::int16_t, 4>;
using ushort2 = vec<std::uint16_t, 2>;
using ushort3 = vec<std::uint16_t, 3>;
using ushort4 = vec<std::uint16_t, 4>;
using int2 = vec<std::int32_t, 2>;
using int3 = vec<std::int32_t, 3>;
using int4 = vec<std::int32_t, 4>;
using uint2 = vec<std::uint32_t, 2>;
using uint3 = vec<std::uint32_t, 3>;
using uint4 = vec<std::uint32_t, 4>;
using long2 = vec<std::int64_t, 2>;
using long3 = vec<std::int64_t, 3>;
using long4 = vec<std::int64_t, 4>;
using ulong2 = vec<std::uint64_t, 2>;
using ulong3 = vec<std::uint64_t, 3>;
using ulong4 = vec<std::uint64_t, 4>;
using half2 = vec<foundry::half, 2>;
using half3 = vec<foundry::half, 3>;
using half4 = vec<foundry::half, 4>;
using bfloat2 = vec<foundry::bfloat, 2>;
using bfloat3 = vec<foundry::bfloat, 3>;
using bfloat4 = vec<foundry::bfloat, 4>;
using float2 = vec<float, 2>;
using float3 = vec<float, 3>;
using float4 = vec<float, 4>;

namespace detail {
template <class V>
constexpr bool has_size_align(std::size_t size, std::size_t align) {
  return sizeof(V) == size && alignof(V) == align && std::is_standard_layout_v<V> &&
         std::is_trivially_copyable_v<V>;
}
}  // namespace detail

// The MSL vector table, checked against the host types (bytes).
static_assert(detail::has_size_align<bool2>(2, 2) && detail::has_size_align<bool3>(4, 4) &&
              detail::has_size_align<bool4>(4, 4));
static_assert(detail::has_size_align<char2>(2, 2) && detail::has_size_align<char3>(4, 4) &&
              detail::has_size_align<char4>(4, 4));
static_assert(detail::has_size_align<uchar2>(2, 2) && detail::has_size_align<uchar3>(4, 4) &&
              detail::has_size_align<uchar4>(4, 4));
static_assert(detail::has_size_align<short2>(4, 4) && detail::has_size_align<short3>(8, 8) &&
              detail::has_size_align<short4>(8, 8));
static_assert(detail::has_size_align<ushort2>(4, 4) && detail::has_size_align<ushort3>(8, 8) &&
              detail::has_size_align<ushort4>(8, 8));
static_assert(detail::has_size_align<int2>(8, 8) && detail::has_size_align<int3>(16, 16) &&
              detail::has_size_align<int4>(16, 16));
static_assert(detail::has_size_align<uint2>(8, 8) && detail::has_size_align<uint3>(16, 16) &&
              detail::has_size_align<uint4>(16, 16));
static_assert(detail::has_size_align<long2>(16, 16) && detail::has_size_align<long3>(32, 32) &&
              detail::has_size_align<long4>(32, 32));
static_assert(detail::has_size_align<ulong2>(16, 16) && detail::has_size_align<ulong3>(32, 32) &&
              detail::has_size_align<ulong4>(32, 32));
static_assert(detail::has_size_align<half2>(4, 4) && detail::has_size_align<half3>(8, 8) &&
              detail::has_size_align<half4>(8, 8));
static_assert(detail::has_size_align<bfloat2>(4, 4) && detail::has_size_align<bfloat3>(8, 8) &&
              detail::has_size_align<bfloat4>(8, 8));
static_assert(detail::has_size_align<float2>(8, 8) && detail::has_size_align<float3>(16, 16) &&
              detail::has_size_align<float4>(16, 16));

}  // namespace foundry::metal
