// foundry::metal::vec and the Metal vector aliases: size and alignment per the
// MSL specification ("Size and alignment of vector data types"), member
// layout, traits, and Metal type names of scalars and vectors.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <foundry/metal/layout.hpp>
#include <foundry/metal/type_name.hpp>
#include <foundry/metal/vector.hpp>

namespace {

namespace metal = foundry::metal;
using foundry::bfloat;
using foundry::half;

// One row of the MSL vector table: host alias, Metal name, size, alignment.
template <class V>
constexpr bool row(std::string_view name, std::size_t size, std::size_t align) {
  return sizeof(V) == size && alignof(V) == align && metal::type_name<V>() == name &&
         metal::metal_size<V> == size && metal::metal_alignment<V> == align &&
         metal::is_metal_vector_v<V> && std::is_trivially_copyable_v<V> &&
         std::is_standard_layout_v<V> && std::is_aggregate_v<V>;
}

// MSL specification, Table "Size and alignment of vector data types" (bytes).
static_assert(row<metal::bool2>("bool2", 2, 2));
static_assert(row<metal::bool3>("bool3", 4, 4));
static_assert(row<metal::bool4>("bool4", 4, 4));
static_assert(row<metal::char2>("char2", 2, 2));
static_assert(row<metal::char3>("char3", 4, 4));
static_assert(row<metal::char4>("char4", 4, 4));
static_assert(row<metal::uchar2>("uchar2", 2, 2));
static_assert(row<metal::uchar3>("uchar3", 4, 4));
static_assert(row<metal::uchar4>("uchar4", 4, 4));
static_assert(row<metal::short2>("short2", 4, 4));
static_assert(row<metal::short3>("short3", 8, 8));
static_assert(row<metal::short4>("short4", 8, 8));
static_assert(row<metal::ushort2>("ushort2", 4, 4));
static_assert(row<metal::ushort3>("ushort3", 8, 8));
static_assert(row<metal::ushort4>("ushort4", 8, 8));
static_assert(row<metal::int2>("int2", 8, 8));
static_assert(row<metal::int3>("int3", 16, 16));
static_assert(row<metal::int4>("int4", 16, 16));
static_assert(row<metal::uint2>("uint2", 8, 8));
static_assert(row<metal::uint3>("uint3", 16, 16));
static_assert(row<metal::uint4>("uint4", 16, 16));
static_assert(row<metal::long2>("long2", 16, 16));
static_assert(row<metal::long3>("long3", 32, 32));
static_assert(row<metal::long4>("long4", 32, 32));
static_assert(row<metal::ulong2>("ulong2", 16, 16));
static_assert(row<metal::ulong3>("ulong3", 32, 32));
static_assert(row<metal::ulong4>("ulong4", 32, 32));
static_assert(row<metal::half2>("half2", 4, 4));
static_assert(row<metal::half3>("half3", 8, 8));
static_assert(row<metal::half4>("half4", 8, 8));
static_assert(row<metal::bfloat2>("bfloat2", 4, 4));
static_assert(row<metal::bfloat3>("bfloat3", 8, 8));
static_assert(row<metal::bfloat4>("bfloat4", 8, 8));
static_assert(row<metal::float2>("float2", 8, 8));
static_assert(row<metal::float3>("float3", 16, 16));
static_assert(row<metal::float4>("float4", 16, 16));

// Vectors of other spellings of the same integer types share the Metal name.
static_assert(metal::type_name<metal::vec<char, 3>>() == "char3");
static_assert(metal::type_name<metal::vec<signed char, 2>>() == "char2");
static_assert(metal::type_name<metal::vec<unsigned long long, 4>>() == "ulong4");
static_assert(metal::type_name<metal::vec<long long, 2>>() == "long2");
static_assert(metal::type_name<const metal::float4>() == "float4");

// MSL specification, Table "Size and alignment of scalar data types" (bytes).
template <class T>
constexpr bool scalar_row(std::string_view name, std::size_t size) {
  return metal::type_name<T>() == name && metal::metal_size<T> == size &&
         metal::metal_alignment<T> == size && sizeof(T) == size && metal::is_metal_scalar_v<T> &&
         !metal::is_metal_vector_v<T>;
}
static_assert(scalar_row<bool>("bool", 1));
static_assert(scalar_row<char>("char", 1));
static_assert(scalar_row<std::int8_t>("char", 1));
static_assert(scalar_row<std::uint8_t>("uchar", 1));
static_assert(scalar_row<std::int16_t>("short", 2));
static_assert(scalar_row<std::uint16_t>("ushort", 2));
static_assert(scalar_row<std::int32_t>("int", 4));
static_assert(scalar_row<std::uint32_t>("uint", 4));
static_assert(scalar_row<std::int64_t>("long", 8));
static_assert(scalar_row<std::uint64_t>("ulong", 8));
static_assert(scalar_row<long long>("long", 8));
static_assert(scalar_row<unsigned long long>("ulong", 8));
static_assert(scalar_row<half>("half", 2));
static_assert(scalar_row<bfloat>("bfloat", 2));
static_assert(scalar_row<float>("float", 4));
static_assert(metal::type_name<const volatile unsigned>() == "uint");

// Not Metal scalars.
static_assert(!metal::is_metal_scalar_v<double>);
static_assert(!metal::is_metal_scalar_v<long double>);
static_assert(!metal::is_metal_scalar_v<wchar_t>);
static_assert(!metal::is_metal_scalar_v<char8_t>);
static_assert(!metal::is_metal_scalar_v<char16_t>);
static_assert(!metal::is_metal_scalar_v<char32_t>);
static_assert(!metal::is_metal_scalar_v<float*>);
static_assert(!metal::is_metal_scalar_v<metal::float2>);
static_assert(metal::is_metal_scalar_v<const float>);
static_assert(!metal::is_metal_vector_v<float>);
static_assert(!metal::is_metal_vector_v<float[4]>);
static_assert(metal::is_metal_vector_v<const metal::int3>);

// Component layout: a 3-vector is x, y, z followed by one element of padding.
static_assert(offsetof(metal::float3, x) == 0 && offsetof(metal::float3, y) == 4 &&
              offsetof(metal::float3, z) == 8);
static_assert(offsetof(metal::half4, w) == 6);
static_assert(offsetof(metal::long3, z) == 16);
static_assert(metal::float3::component_count == 3);
static_assert(std::is_same_v<metal::half2::value_type, half>);

// Arrays use the padded stride: float3[2] is 32 bytes in Metal and in C++.
static_assert(metal::metal_size<metal::float3[2]> == 32 && sizeof(metal::float3[2]) == 32);
static_assert(metal::metal_alignment<metal::float3[2]> == 16);
static_assert(metal::metal_size<metal::half3[3]> == 24 && sizeof(metal::half3[3]) == 24);

// Constant evaluation.
constexpr metal::float3 kV{1.0f, 2.0f, 3.0f};
static_assert(kV[0] == 1.0f && kV[1] == 2.0f && kV[2] == 3.0f);
static_assert(kV == metal::float3{1.0f, 2.0f, 3.0f});
static_assert(kV != metal::float3{1.0f, 2.0f, 4.0f});

TEST(MetalVector, ComponentsAndIndexing) {
  metal::int4 v{1, 2, 3, 4};
  EXPECT_EQ(v.x, 1);
  EXPECT_EQ(v.w, 4);
  v[2] = 30;
  EXPECT_EQ(v.z, 30);
  const metal::int4& cv = v;
  EXPECT_EQ(cv[3], 4);

  metal::half2 h{half(1.5f), half(-2.0f)};
  EXPECT_EQ(float(h.x), 1.5f);
  EXPECT_EQ(float(h[1]), -2.0f);

  metal::uchar3 c{1, 2, 255};
  EXPECT_EQ(c.z, 255);
  EXPECT_EQ(sizeof(c), 4u);
}

TEST(MetalVector, Equality) {
  EXPECT_EQ((metal::uint2{1u, 2u}), (metal::uint2{1u, 2u}));
  EXPECT_NE((metal::uint2{1u, 2u}), (metal::uint2{2u, 1u}));
  EXPECT_EQ((metal::bool3{true, false, true}), (metal::bool3{true, false, true}));
  // Component-wise IEEE comparison for half vectors (NaN != NaN).
  const half nan = half::from_bits(0x7e00);
  EXPECT_NE((metal::half2{nan, half(0.0f)}), (metal::half2{nan, half(0.0f)}));
}

TEST(MetalVector, ArraysHaveMetalStride) {
  metal::float3 a[3]{};
  const auto* base = reinterpret_cast<const unsigned char*>(&a[0]);
  EXPECT_EQ(reinterpret_cast<const unsigned char*>(&a[1]) - base, 16);
  EXPECT_EQ(reinterpret_cast<const unsigned char*>(&a[2].z) - base, 40);
}

TEST(MetalVector, TypeNamesAtRunTime) {
  EXPECT_EQ(metal::type_name<metal::float3>(), "float3");
  EXPECT_EQ(metal::type_name<metal::ushort4>(), "ushort4");
  EXPECT_EQ(metal::type_name<half>(), "half");
  EXPECT_EQ(metal::type_name<std::uint64_t>(), "ulong");
}

}  // namespace
