// foundry::half (IEEE 754-2008 binary16) and foundry::bfloat (bfloat16):
// layout, exhaustive round trips, round-to-nearest-even, subnormals,
// infinities, NaNs, arithmetic and comparisons.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <foundry/metal/half.hpp>

namespace {

using foundry::bfloat;
using foundry::half;

// ------------------------------------------------------------ layout --

static_assert(sizeof(half) == 2 && alignof(half) == 2);
static_assert(sizeof(bfloat) == 2 && alignof(bfloat) == 2);
static_assert(std::is_trivially_copyable_v<half> && std::is_standard_layout_v<half>);
static_assert(std::is_trivially_copyable_v<bfloat> && std::is_standard_layout_v<bfloat>);
static_assert(std::is_trivially_default_constructible_v<half>);
static_assert(!std::is_convertible_v<float, half>, "narrowing must be explicit");
static_assert(std::is_convertible_v<half, float>, "widening is implicit");
static_assert(std::is_convertible_v<bfloat, float>);

// ---------------------------------------------------------- constexpr --

constexpr float pow2(int e) {
  float r = 1.0f;
  for (; e > 0; --e) r *= 2.0f;
  for (; e < 0; ++e) r *= 0.5f;
  return r;
}

static_assert(half(1.0f).bits() == 0x3c00);
static_assert(half(-2.0f).bits() == 0xc000);
static_assert(half(0.5f).bits() == 0x3800);
static_assert(half(65504.0f).bits() == 0x7bff);
static_assert(half(-0.0f).bits() == 0x8000);
static_assert(float(half::from_bits(0x3555)) == 0.333251953125f);
static_assert(half::from_bits(0x1234).bits() == 0x1234);
static_assert(bfloat(1.0f).bits() == 0x3f80);
static_assert(bfloat(-2.0f).bits() == 0xc000);
static_assert(float(bfloat::from_bits(0x4049)) == 3.140625f);

// Overflow: 65520 is the tie between 65504 (odd significand) and 2^16.
static_assert(half(65519.996f).bits() == 0x7bff);
static_assert(half(65520.0f).bits() == 0x7c00);
static_assert(half(1e9f).bits() == 0x7c00);
static_assert(half(-1e9f).bits() == 0xfc00);

// Ties to even in the normal range.
static_assert(half(1.0f + pow2(-11)).bits() == 0x3c00);      // tie, 0x3c00 even
static_assert(half(1.0f + 3 * pow2(-11)).bits() == 0x3c02);  // tie, 0x3c01 odd
static_assert(half(2.0f - pow2(-11)).bits() == 0x4000);      // tie carries into the exponent
static_assert(half(1.0f + pow2(-11) + pow2(-20)).bits() == 0x3c01);  // above the tie

// Subnormals: 2^-24 is the smallest; 2^-25 is a tie that rounds to zero.
static_assert(half(pow2(-24)).bits() == 0x0001);
static_assert(half(pow2(-25)).bits() == 0x0000);
static_assert(half(-pow2(-25)).bits() == 0x8000);
static_assert(half(pow2(-25) * 1.5f).bits() == 0x0001);
static_assert(half(pow2(-25) * 3.0f).bits() == 0x0002);       // 1.5 ulp: tie, to even 2
static_assert(half(pow2(-25) * 5.0f).bits() == 0x0002);       // 2.5 ulp: tie, to even 2
static_assert(half(pow2(-25) * 7.0f).bits() == 0x0004);       // 3.5 ulp: tie, to even 4
static_assert(half(pow2(-14) - pow2(-25)).bits() == 0x0400);  // tie to the smallest normal
static_assert(half(pow2(-14)).bits() == 0x0400);
static_assert(half(pow2(-30)).bits() == 0x0000);
static_assert(half(std::numeric_limits<float>::denorm_min()).bits() == 0x0000);
static_assert(float(half::from_bits(0x0001)) == pow2(-24));
static_assert(float(half::from_bits(0x03ff)) == pow2(-14) - pow2(-24));

// Infinities and NaNs.
static_assert(half(std::numeric_limits<float>::infinity()).bits() == 0x7c00);
static_assert(half(-std::numeric_limits<float>::infinity()).bits() == 0xfc00);
static_assert((half(std::numeric_limits<float>::quiet_NaN()).bits() & 0x7e00) == 0x7e00);
static_assert(bfloat(std::numeric_limits<float>::infinity()).bits() == 0x7f80);
static_assert((bfloat(std::numeric_limits<float>::quiet_NaN()).bits() & 0x7fc0) == 0x7fc0);
// A signaling NaN whose payload lives in the low bits must not turn into inf.
static_assert(bfloat(std::bit_cast<float>(0x7f800001u)).bits() == 0x7fc0);
static_assert(half(std::bit_cast<float>(0x7f800001u)).bits() == 0x7e00);

// bfloat rounding.
static_assert(bfloat(1.0f + pow2(-8)).bits() == 0x3f80);      // tie, even
static_assert(bfloat(1.0f + 3 * pow2(-8)).bits() == 0x3f82);  // tie, odd -> up
static_assert(bfloat(1.0f + pow2(-8) + pow2(-20)).bits() == 0x3f81);
static_assert(bfloat(std::numeric_limits<float>::max()).bits() == 0x7f80);         // rounds to inf
static_assert(bfloat(std::numeric_limits<float>::denorm_min()).bits() == 0x0000);  // below the tie
static_assert(bfloat(std::bit_cast<float>(0x00018000u)).bits() == 0x0002);         // subnormal tie

// Arithmetic and comparison in constant expressions.
static_assert(half(1.5f) + half(2.25f) == half(3.75f));
static_assert(half(3.0f) * half(0.5f) == half(1.5f));
static_assert(-half(2.0f) == half(-2.0f));
static_assert(half(1.0f) < half(2.0f));
static_assert(bfloat(1.5f) + bfloat(2.25f) == bfloat(3.75f));
static_assert(std::is_same_v<decltype(half() + half()), half>);
static_assert(std::is_same_v<decltype(half() + 1.0f), float>);
static_assert(std::is_same_v<decltype(half() * 2), float>);
static_assert(std::is_same_v<decltype(bfloat() - bfloat()), bfloat>);

// ------------------------------------------------------------ helpers --

bool half_is_nan(std::uint16_t b) {
  return (b & 0x7c00) == 0x7c00 && (b & 0x03ff) != 0;
}
bool bfloat_is_nan(std::uint16_t b) {
  return (b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0;
}

// -------------------------------------------------------------- tests --

TEST(MetalHalf, RoundTripsEveryBitPattern) {
  int nans = 0;
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float f = half::from_bits(bits);
    const std::uint16_t back = half(f).bits();
    if (half_is_nan(bits)) {
      ++nans;
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      ASSERT_TRUE(half_is_nan(back)) << std::hex << b;
      ASSERT_EQ(back & 0x8000, bits & 0x8000) << "sign of NaN " << std::hex << b;
      ASSERT_EQ(back, bits | 0x0200) << "NaN payload kept, quiet bit set: " << std::hex << b;
    } else {
      ASSERT_EQ(back, bits) << std::hex << b << " -> " << f;
    }
  }
  EXPECT_EQ(nans, 2 * 1023);
}

TEST(MetalHalf, WideningIsExact) {
  // Every finite half is m * 2^e with |m| < 2^11: check against ldexp.
  for (std::uint32_t b = 0; b < 0x7c00; ++b) {
    const int exponent = static_cast<int>(b >> 10);
    const int fraction = static_cast<int>(b & 0x3ff);
    const float expected = exponent == 0
                               ? std::ldexp(static_cast<float>(fraction), -24)
                               : std::ldexp(static_cast<float>(fraction + 1024), exponent - 25);
    ASSERT_EQ(float(half::from_bits(static_cast<std::uint16_t>(b))), expected) << std::hex << b;
    ASSERT_EQ(float(half::from_bits(static_cast<std::uint16_t>(b | 0x8000))), -expected)
        << std::hex << b;
  }
  EXPECT_EQ(float(half::from_bits(0x7c00)), std::numeric_limits<float>::infinity());
  EXPECT_EQ(float(half::from_bits(0xfc00)), -std::numeric_limits<float>::infinity());
}

TEST(MetalHalf, RoundsToNearestEvenAtEveryMidpoint) {
  // Between each pair of adjacent finite halves (and between 65504 and the
  // first value that rounds to infinity): the exact midpoint goes to the
  // even neighbour, one float ulp either side goes to the nearer one.
  for (std::uint32_t b = 0; b < 0x7c00; ++b) {
    const float lo = half::from_bits(static_cast<std::uint16_t>(b));
    const float hi =
        b + 1 < 0x7c00 ? float(half::from_bits(static_cast<std::uint16_t>(b + 1))) : 65536.0f;
    const float mid = (lo + hi) / 2;  // exact: halves have 11 significant bits
    const std::uint16_t even = static_cast<std::uint16_t>((b & 1) == 0 ? b : b + 1);
    ASSERT_EQ(half(mid).bits(), even) << std::hex << b;
    ASSERT_EQ(half(std::nextafter(mid, 0.0f)).bits(), b) << std::hex << b;
    ASSERT_EQ(half(std::nextafter(mid, hi)).bits(), b + 1) << std::hex << b;
    ASSERT_EQ(half(-mid).bits(), even | 0x8000) << std::hex << b;
    ASSERT_EQ(half(-std::nextafter(mid, 0.0f)).bits(), b | 0x8000) << std::hex << b;
  }
}

#if defined(__FLT16_MAX__)
TEST(MetalHalf, MatchesCompilerFloat16Conversion) {
  // The compiler's _Float16 conversion (round to nearest even) as reference,
  // over a pseudo-random sweep of float bit patterns.
  std::uint32_t state = 0x12345678u;
  for (int i = 0; i < 2'000'000; ++i) {
    state = state * 1664525u + 1013904223u;
    const float f = std::bit_cast<float>(state);
    if (std::isnan(f)) continue;
    const auto reference = std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(half(f).bits(), reference) << std::hex << state;
  }
}
#endif

TEST(MetalHalf, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(half(inf).bits(), 0x7c00);
  EXPECT_EQ(half(-inf).bits(), 0xfc00);
  EXPECT_TRUE(half_is_nan(half(std::numeric_limits<float>::quiet_NaN()).bits()));
  EXPECT_TRUE(half_is_nan(half(-std::numeric_limits<float>::quiet_NaN()).bits()));
  EXPECT_EQ(half(-std::numeric_limits<float>::quiet_NaN()).bits() & 0x8000, 0x8000);
  EXPECT_EQ(half(0.0f).bits(), 0x0000);
  EXPECT_EQ(half(-0.0f).bits(), 0x8000);
  EXPECT_TRUE(std::signbit(float(half::from_bits(0x8000))));
}

TEST(MetalHalf, ArithmeticAndComparison) {
  half a{1.5f};
  const half b{0.25f};
  a += b;
  EXPECT_EQ(float(a), 1.75f);
  a *= half(2.0f);
  EXPECT_EQ(float(a), 3.5f);
  a /= half(7.0f);
  EXPECT_EQ(float(a), 0.5f);
  a -= half(1.0f);
  EXPECT_EQ(float(a), -0.5f);
  // One rounding: 1 + 2^-11 is not representable and rounds to 1.
  EXPECT_EQ(half(1.0f) + half(std::ldexp(1.0f, -11)), half(1.0f));

  const half nan = std::numeric_limits<half>::quiet_NaN();
  EXPECT_FALSE(nan == nan);
  EXPECT_TRUE(nan != nan);
  EXPECT_EQ(nan <=> half(0.0f), std::partial_ordering::unordered);
  EXPECT_TRUE(half(0.0f) == half(-0.0f));
  EXPECT_TRUE(half(-1.0f) < half(0.0f));
  EXPECT_TRUE(half(2.0f) >= half(2.0f));
  EXPECT_TRUE(half(2.0f) == 2.0f);  // via float
}

TEST(MetalHalf, NumericLimits) {
  using L = std::numeric_limits<half>;
  EXPECT_EQ(float(L::max()), 65504.0f);
  EXPECT_EQ(float(L::lowest()), -65504.0f);
  EXPECT_EQ(float(L::min()), std::ldexp(1.0f, -14));
  EXPECT_EQ(float(L::denorm_min()), std::ldexp(1.0f, -24));
  EXPECT_EQ(float(L::epsilon()), std::ldexp(1.0f, -10));
  EXPECT_EQ(float(half(1.0f) + L::epsilon()), 1.0f + std::ldexp(1.0f, -10));
  EXPECT_TRUE(std::isinf(float(L::infinity())));
  EXPECT_TRUE(half_is_nan(L::quiet_NaN().bits()));
  EXPECT_TRUE(half_is_nan(L::signaling_NaN().bits()));
  EXPECT_EQ(L::digits, 11);

  using B = std::numeric_limits<bfloat>;
  EXPECT_EQ(float(B::max()), std::ldexp(255.0f, 120));
  EXPECT_EQ(float(B::min()), std::numeric_limits<float>::min());
  EXPECT_EQ(float(B::epsilon()), std::ldexp(1.0f, -7));
  EXPECT_EQ(float(B::denorm_min()), std::ldexp(1.0f, -133));
  EXPECT_TRUE(bfloat_is_nan(B::quiet_NaN().bits()));
  EXPECT_TRUE(bfloat_is_nan(B::signaling_NaN().bits()));
  EXPECT_EQ(B::digits, 8);
}

TEST(MetalBfloat, RoundTripsEveryBitPattern) {
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float f = bfloat::from_bits(bits);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(f), b << 16) << std::hex << b;  // exact widening
    const std::uint16_t back = bfloat(f).bits();
    if (bfloat_is_nan(bits)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      ASSERT_EQ(back, bits | 0x0040) << std::hex << b;  // quieted, payload and sign kept
    } else {
      ASSERT_EQ(back, bits) << std::hex << b;
    }
  }
}

TEST(MetalBfloat, RoundsToNearestEvenAtEveryMidpoint) {
  for (std::uint32_t b = 0; b < 0x7f80; ++b) {
    const std::uint32_t lo = b << 16;
    const std::uint32_t mid = lo | 0x8000u;  // exactly between b and b + 1
    const std::uint16_t even = static_cast<std::uint16_t>((b & 1) == 0 ? b : b + 1);
    ASSERT_EQ(bfloat(std::bit_cast<float>(mid)).bits(), even) << std::hex << b;
    ASSERT_EQ(bfloat(std::bit_cast<float>(mid - 1)).bits(), b) << std::hex << b;
    ASSERT_EQ(bfloat(std::bit_cast<float>(mid + 1)).bits(), b + 1) << std::hex << b;
    ASSERT_EQ(bfloat(std::bit_cast<float>(mid | 0x80000000u)).bits(), even | 0x8000)
        << std::hex << b;
  }
}

TEST(MetalBfloat, ArithmeticAndComparison) {
  bfloat a{3.0f};
  a *= bfloat(0.5f);
  EXPECT_EQ(float(a), 1.5f);
  EXPECT_EQ(bfloat(1.0f) + bfloat(std::ldexp(1.0f, -8)), bfloat(1.0f));  // tie to even
  const bfloat nan = std::numeric_limits<bfloat>::quiet_NaN();
  EXPECT_FALSE(nan == nan);
  EXPECT_TRUE(bfloat(-0.0f) == bfloat(0.0f));
  EXPECT_TRUE(bfloat(1.0f) > bfloat(-1.0f));
  EXPECT_EQ((-bfloat(1.0f)).bits(), 0xbf80);
}

}  // namespace
