#pragma once
/// @file half.hpp
/// Host types for Metal's 16-bit floating-point scalars `half` and `bfloat`.
///
/// `foundry::half` stores an IEEE 754-2008 binary16 value: 1 sign bit,
/// 5 exponent bits (bias 15), 10 fraction bits. Normal numbers span
/// 2^-14 .. 65504, subnormals go down to 2^-24, exponent 31 encodes
/// infinities (fraction 0) and NaNs (fraction != 0). This is Metal's `half`
/// (MSL specification, "Scalar data types": 2 bytes, 2-byte aligned).
///
/// `foundry::bfloat` stores a bfloat16 value: the upper 16 bits of an IEEE 754
/// binary32 `float` (1 sign bit, 8 exponent bits with bias 127, 7 fraction
/// bits), so it has the range of `float` with 8 significant bits. This is
/// Metal's `bfloat` (MSL 3.1+, 2 bytes, 2-byte aligned).
///
/// Both are 2-byte, trivially copyable, standard-layout types whose object
/// representation is exactly the 16-bit encoding, so arrays of them can be
/// copied to GPU buffers as they are. All conversions are `constexpr`
/// (through `std::bit_cast`):
///   * to `float`: exact (every binary16 / bfloat16 value is a `float`);
///   * from `float`: round to nearest, ties to even; overflow gives +-inf,
///     results below half the smallest subnormal give +-0, NaN stays NaN
///     (quieted, sign and leading payload bits kept).
/// Arithmetic is done in `float` and rounded once to the 16-bit format. For
/// + - * / that equals the correctly rounded 16-bit result, because `float`
/// carries at least 2p+2 significant bits for both formats (p = 11 for half,
/// p = 8 for bfloat), so the double rounding is innocuous.
///
/// Converting a `double` goes through `float` (the constructor takes a
/// `float`), which rounds twice; pass `float`s where that matters.

#include <bit>
#include <compare>
#include <cstdint>
#include <limits>

namespace foundry {

namespace detail {

/// RNE conversion of a binary32 value to binary16 bits.
constexpr std::uint16_t float_to_half_bits(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;

  if (abs >= 0x7f800000u) {  // inf or NaN
    if (abs == 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
    // NaN: keep the 9 leading payload bits, set the quiet bit (0x0200).
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x03ffu));
  }
  // 65520 = 65504 + half an ulp: ties to even go up to infinity from there.
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);

  if (abs < 0x38800000u) {  // below 2^-14: subnormal half, or zero
    // Anything below 2^-25 (half the smallest subnormal) rounds to zero; so
    // do float subnormals. Exactly 2^-25 is a tie and rounds to even (zero).
    if (abs < 0x33000000u) return sign;
    const std::uint32_t exponent = abs >> 23;  // 102 .. 112
    const std::uint32_t mantissa = (abs & 0x007fffffu) | 0x00800000u;
    // value = mantissa * 2^(exponent - 150); in units of 2^-24 that is
    // mantissa >> (126 - exponent).
    const std::uint32_t shift = 126u - exponent;  // 14 .. 24
    std::uint32_t q = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (q & 1u) != 0)) ++q;
    return static_cast<std::uint16_t>(sign | q);  // q == 0x400 is 2^-14: correct
  }

  // Normal: rebias the exponent (127 -> 15) and round away 13 fraction bits.
  std::uint32_t h = (abs >> 13) - (112u << 10);
  const std::uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // carry may bump the exponent
  return static_cast<std::uint16_t>(sign | h);
}

/// Exact conversion of binary16 bits to binary32.
constexpr float half_bits_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x03ffu;

  if (exponent == 0x1fu)  // inf / NaN (payload kept, quiet bit maps to quiet bit)
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: mantissa * 2^-24; normalize it for binary32.
    std::uint32_t e = 113;  // biased binary32 exponent of 2^-14
    while ((mantissa & 0x0400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    return std::bit_cast<float>(sign | (e << 23) | ((mantissa & 0x03ffu) << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/// RNE conversion of a binary32 value to bfloat16 bits.
constexpr std::uint16_t float_to_bfloat_bits(float value) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u)  // NaN: quiet it, keep sign and payload top
    return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);  // ties to even
  return static_cast<std::uint16_t>((x + rounding) >> 16);    // overflow gives inf
}

/// Exact conversion of bfloat16 bits to binary32.
constexpr float bfloat_bits_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

}  // namespace detail

/// IEEE 754-2008 binary16 value (Metal `half`): 2 bytes, 2-byte aligned.
///
/// Construct from `float` explicitly (`half{0.5f}`, rounds to nearest even),
/// or from raw bits (`half::from_bits(0x3c00)`); converts implicitly and
/// exactly to `float`. `half op half` (+ - * /) yields `half`; mixing with
/// `float` or integers promotes to `float`, as in Metal. Comparisons follow
/// IEEE rules (NaN is unordered, +0 == -0). A default-constructed `half` is
/// uninitialized, like `float`; `half{}` is +0.
class half {
 public:
  constexpr half() noexcept = default;
  /// Rounds to nearest, ties to even; +-inf beyond 65504, NaN stays NaN.
  constexpr explicit half(float value) noexcept : bits_(detail::float_to_half_bits(value)) {}

  /// The value whose binary16 encoding is `bits`.
  static constexpr half from_bits(std::uint16_t bits) noexcept {
    half h;
    h.bits_ = bits;
    return h;
  }
  /// The binary16 encoding.
  constexpr std::uint16_t bits() const noexcept { return bits_; }

  /// Exact widening to `float`.
  constexpr operator float() const noexcept {  // NOLINT(google-explicit-constructor)
    return detail::half_bits_to_float(bits_);
  }

  constexpr half operator+() const noexcept { return *this; }
  /// Flips the sign bit (exact, also for zeros, infinities and NaNs).
  constexpr half operator-() const noexcept {
    return from_bits(static_cast<std::uint16_t>(bits_ ^ 0x8000u));
  }

  friend constexpr half operator+(half a, half b) noexcept { return half(float(a) + float(b)); }
  friend constexpr half operator-(half a, half b) noexcept { return half(float(a) - float(b)); }
  friend constexpr half operator*(half a, half b) noexcept { return half(float(a) * float(b)); }
  friend constexpr half operator/(half a, half b) noexcept { return half(float(a) / float(b)); }
  constexpr half& operator+=(half o) noexcept { return *this = *this + o; }
  constexpr half& operator-=(half o) noexcept { return *this = *this - o; }
  constexpr half& operator*=(half o) noexcept { return *this = *this * o; }
  constexpr half& operator/=(half o) noexcept { return *this = *this / o; }

  /// IEEE equality: NaN != NaN, +0 == -0.
  friend constexpr bool operator==(half a, half b) noexcept { return float(a) == float(b); }
  /// IEEE ordering (`unordered` when either is NaN).
  friend constexpr std::partial_ordering operator<=>(half a, half b) noexcept {
    return float(a) <=> float(b);
  }

 private:
  std::uint16_t bits_;
};

/// bfloat16 value (Metal `bfloat`): 2 bytes, 2-byte aligned; the upper half
/// of a binary32 `float` (8 exponent bits, 7 fraction bits).
///
/// Same interface and semantics as `foundry::half`: explicit rounding
/// construction from `float` (nearest, ties to even), exact implicit
/// conversion to `float`, `from_bits`/`bits()`, IEEE comparisons, and
/// `bfloat op bfloat` arithmetic rounded once from `float`.
class bfloat {
 public:
  constexpr bfloat() noexcept = default;
  /// Rounds to nearest, ties to even; overflow gives +-inf, NaN stays NaN.
  constexpr explicit bfloat(float value) noexcept : bits_(detail::float_to_bfloat_bits(value)) {}

  /// The value whose bfloat16 encoding is `bits`.
  static constexpr bfloat from_bits(std::uint16_t bits) noexcept {
    bfloat b;
    b.bits_ = bits;
    return b;
  }
  /// The bfloat16 encoding.
  constexpr std::uint16_t bits() const noexcept { return bits_; }

  /// Exact widening to `float`.
  constexpr operator float() const noexcept {  // NOLINT(google-explicit-constructor)
    return detail::bfloat_bits_to_float(bits_);
  }

  constexpr bfloat operator+() const noexcept { return *this; }
  /// Flips the sign bit (exact).
  constexpr bfloat operator-() const noexcept {
    return from_bits(static_cast<std::uint16_t>(bits_ ^ 0x8000u));
  }

  friend constexpr bfloat operator+(bfloat a, bfloat b) noexcept {
    return bfloat(float(a) + float(b));
  }
  friend constexpr bfloat operator-(bfloat a, bfloat b) noexcept {
    return bfloat(float(a) - float(b));
  }
  friend constexpr bfloat operator*(bfloat a, bfloat b) noexcept {
    return bfloat(float(a) * float(b));
  }
  friend constexpr bfloat operator/(bfloat a, bfloat b) noexcept {
    return bfloat(float(a) / float(b));
  }
  constexpr bfloat& operator+=(bfloat o) noexcept { return *this = *this + o; }
  constexpr bfloat& operator-=(bfloat o) noexcept { return *this = *this - o; }
  constexpr bfloat& operator*=(bfloat o) noexcept { return *this = *this * o; }
  constexpr bfloat& operator/=(bfloat o) noexcept { return *this = *this / o; }

  /// IEEE equality: NaN != NaN, +0 == -0.
  friend constexpr bool operator==(bfloat a, bfloat b) noexcept { return float(a) == float(b); }
  /// IEEE ordering (`unordered` when either is NaN).
  friend constexpr std::partial_ordering operator<=>(bfloat a, bfloat b) noexcept {
    return float(a) <=> float(b);
  }

 private:
  std::uint16_t bits_;
};

static_assert(sizeof(half) == 2 && alignof(half) == 2);
static_assert(sizeof(bfloat) == 2 && alignof(bfloat) == 2);

}  // namespace foundry

/// `std::numeric_limits` for the 16-bit formats (values per IEEE 754-2008
/// binary16 and bfloat16).
template <>
class std::numeric_limits<foundry::half> {
 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr bool is_iec559 = true;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;
  static constexpr std::float_round_style round_style = std::round_to_nearest;
  static constexpr int digits = 11;
  static constexpr int digits10 = 3;
  static constexpr int max_digits10 = 5;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -13;
  static constexpr int min_exponent10 = -4;
  static constexpr int max_exponent = 16;
  static constexpr int max_exponent10 = 4;
  /// 2^-14, the smallest positive normal value.
  static constexpr foundry::half min() noexcept { return foundry::half::from_bits(0x0400); }
  static constexpr foundry::half lowest() noexcept { return foundry::half::from_bits(0xfbff); }
  /// 65504.
  static constexpr foundry::half max() noexcept { return foundry::half::from_bits(0x7bff); }
  /// 2^-10.
  static constexpr foundry::half epsilon() noexcept { return foundry::half::from_bits(0x1400); }
  static constexpr foundry::half round_error() noexcept { return foundry::half::from_bits(0x3800); }
  static constexpr foundry::half infinity() noexcept { return foundry::half::from_bits(0x7c00); }
  static constexpr foundry::half quiet_NaN() noexcept { return foundry::half::from_bits(0x7e00); }
  static constexpr foundry::half signaling_NaN() noexcept {
    return foundry::half::from_bits(0x7d00);
  }
  /// 2^-24, the smallest positive subnormal value.
  static constexpr foundry::half denorm_min() noexcept { return foundry::half::from_bits(0x0001); }
};

template <>
class std::numeric_limits<foundry::bfloat> {
 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr bool is_iec559 = false;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;
  static constexpr std::float_round_style round_style = std::round_to_nearest;
  static constexpr int digits = 8;
  static constexpr int digits10 = 2;
  static constexpr int max_digits10 = 4;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -125;
  static constexpr int min_exponent10 = -37;
  static constexpr int max_exponent = 128;
  static constexpr int max_exponent10 = 38;
  /// 2^-126, the smallest positive normal value.
  static constexpr foundry::bfloat min() noexcept { return foundry::bfloat::from_bits(0x0080); }
  static constexpr foundry::bfloat lowest() noexcept { return foundry::bfloat::from_bits(0xff7f); }
  /// (2 - 2^-7) * 2^127.
  static constexpr foundry::bfloat max() noexcept { return foundry::bfloat::from_bits(0x7f7f); }
  /// 2^-7.
  static constexpr foundry::bfloat epsilon() noexcept { return foundry::bfloat::from_bits(0x3c00); }
  static constexpr foundry::bfloat round_error() noexcept {
    return foundry::bfloat::from_bits(0x3f00);
  }
  static constexpr foundry::bfloat infinity() noexcept {
    return foundry::bfloat::from_bits(0x7f80);
  }
  static constexpr foundry::bfloat quiet_NaN() noexcept {
    return foundry::bfloat::from_bits(0x7fc0);
  }
  static constexpr foundry::bfloat signaling_NaN() noexcept {
    return foundry::bfloat::from_bits(0x7fa0);
  }
  /// 2^-133, the smallest positive subnormal value.
  static constexpr foundry::bfloat denorm_min() noexcept {
    return foundry::bfloat::from_bits(0x0001);
  }
};
