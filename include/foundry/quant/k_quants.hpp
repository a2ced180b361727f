// K-quant block formats (Q4_K, Q5_K, Q6_K): block layouts, reference
// dequantizers and a deterministic quantizer.
//
// This header is part of foundry/quant/ggml_blocks.hpp, which includes it
// after its own block formats so that the run-time dispatch
// (quant::dequantize_row, quant::quantize_row) covers the K-quants.
// Including it on its own includes ggml_blocks.hpp. Classic include guards
// (not `#pragma once`) make both orders work.
#ifndef FOUNDRY_QUANT_GGML_BLOCKS_CORE
#include <foundry/quant/ggml_blocks.hpp>
#elif !defined(FOUNDRY_QUANT_K_QUANTS_HPP)
#define FOUNDRY_QUANT_K_QUANTS_HPP

/// @file k_quants.hpp
/// K-quants: 256-weight super-blocks (ggml's QK_K) made of sub-blocks, each
/// sub-block with its own scale (and, for Q4_K/Q5_K, min), the sub-block
/// scales themselves quantized against a half super-block scale.
///
/// Sources: ggml `ggml/src/ggml-common.h` (`block_q4_K`, `block_q5_K`,
/// `block_q6_K`), `ggml/src/ggml-quants.c` (`dequantize_row_q4_K`,
/// `dequantize_row_q5_K`, `dequantize_row_q6_K`, `get_scale_min_k4`), the
/// GGUF specification `docs/gguf.md` (type ids 12, 13, 14), and the numpy
/// dequantizers of the ggml project's `gguf` Python package (`gguf.quants`),
/// against which tests/unit/k_quants_test.cpp checks these dequantizers bit
/// for bit (fixture tests/fixtures/k_quants_blocks.txt).
///
/// | type | bytes | layout                                                   | sub-blocks |
/// |------|-------|----------------------------------------------------------|------------|
/// | Q4_K | 144   | half d; half dmin; uint8 scales[12]; uint8 qs[128]       | 8 × 32     |
/// | Q5_K | 176   | half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128] | 8 × 32 |
/// | Q6_K | 210   | uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d     | 16 × 16    |
///
/// Q4_K and Q5_K: sub-block s (weights 32s..32s+31) has a 6-bit scale sc_s
/// and a 6-bit min m_s packed into `scales[12]` (`get_scale_min_k4`): for
/// s < 4, sc_s = scales[s] & 63 and m_s = scales[s+4] & 63; for s ≥ 4,
/// sc_s = (scales[s+4] & 15) | (scales[s−4] >> 6) << 4 and
/// m_s = (scales[s+4] >> 4) | (scales[s] >> 6) << 4. With d1 = d·sc_s and
/// m1 = dmin·m_s (float products), weight l of the sub-block is
/// `w = d1·q − m1`. The 4-bit part of q is a nibble of qs: sub-blocks 2i and
/// 2i+1 share qs[32i..32i+32), 2i in the low nibbles, 2i+1 in the high ones.
/// Q5_K adds bit s of qh[l] as bit 4 of q (0..31).
///
/// Q6_K: sub-block s (weights 16s..16s+15) has an int8 scale scales[s];
/// weight e is `w = (d·scales[s])·(q − 32)`, q (0..63) assembled from ql
/// and qh: in each 128-weight half h, for l < 32 and g < 4, weight
/// 128h + 32g + l takes its low 4 bits from ql[64h + l + 32·(g & 1)]
/// (low nibble for g < 2, high nibble for g ≥ 2) and its top 2 bits from
/// bits 2g, 2g+1 of qh[32h + l].
///
/// The dequantizers perform the float operations of ggml's in the same
/// order, so they reproduce ggml (and `gguf.quants`) bit for bit.

#include <algorithm>

namespace foundry::quant {

/// Weights per K-quant super-block (ggml `QK_K`).
inline constexpr std::size_t qk_k = 256;

/// Q4_K super-block (ggml-common.h `block_q4_K`, 144 bytes).
struct block_q4_k {
  half d;                            ///< super-block scale of the sub-block scales
  half dmin;                         ///< super-block scale of the sub-block mins
  std::array<std::uint8_t, 12> scales;  ///< 8 six-bit scales and 8 six-bit mins, packed
  std::array<std::uint8_t, 128> qs;  ///< 4-bit codes (see the file comment)
};

/// Q5_K super-block (ggml-common.h `block_q5_K`, 176 bytes).
struct block_q5_k {
  half d;                            ///< super-block scale of the sub-block scales
  half dmin;                         ///< super-block scale of the sub-block mins
  std::array<std::uint8_t, 12> scales;  ///< packed as in Q4_K
  std::array<std::uint8_t, 32> qh;   ///< bit s of qh[l]: bit 4 of weight l of sub-block s
  std::array<std::uint8_t, 128> qs;  ///< low 4 bits, as Q4_K's qs
};

/// Q6_K super-block (ggml-common.h `block_q6_K`, 210 bytes).
struct block_q6_k {
  std::array<std::uint8_t, 128> ql;  ///< low 4 bits of the codes
  std::array<std::uint8_t, 64> qh;   ///< top 2 bits of the codes
  std::array<std::int8_t, 16> scales;  ///< sub-block scales
  half d;                            ///< super-block scale
};

static_assert(sizeof(block_q4_k) == 144 && alignof(block_q4_k) == 2);
static_assert(sizeof(block_q5_k) == 176 && alignof(block_q5_k) == 2);
static_assert(sizeof(block_q6_k) == 210 && alignof(block_q6_k) == 2);
static_assert(std::is_trivially_copyable_v<block_q4_k> && std::is_trivially_copyable_v<block_q5_k> &&
              std::is_trivially_copyable_v<block_q6_k>);

namespace detail {

/// Sub-block s's 6-bit scale and min from Q4_K/Q5_K `scales[12]`
/// (ggml-quants.c `get_scale_min_k4`).
constexpr void get_scale_min_k4(std::size_t s, const std::array<std::uint8_t, 12>& q, int& sc,
                                int& m) noexcept {
  if (s < 4) {
    sc = q[s] & 63;
    m = q[s + 4] & 63;
  } else {
    sc = (q[s + 4] & 0x0f) | ((q[s - 4] >> 6) << 4);
    m = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
  }
}

/// The inverse of get_scale_min_k4: packs 8 scales and 8 mins (each 0..63).
constexpr std::array<std::uint8_t, 12> pack_scale_min_k4(const int* sc, const int* m) noexcept {
  std::array<std::uint8_t, 12> q{};
  for (std::size_t s = 0; s < 4; ++s) {
    q[s] = static_cast<std::uint8_t>(sc[s] | ((sc[s + 4] >> 4) << 6));
    q[s + 4] = static_cast<std::uint8_t>(m[s] | ((m[s + 4] >> 4) << 6));
    q[s + 8] = static_cast<std::uint8_t>((sc[s + 4] & 0x0f) | ((m[s + 4] & 0x0f) << 4));
  }
  return q;
}

/// Deterministic search for an affine fit x ≈ s·q − m of `n` weights with
/// integer codes q in [0, nmax], s ≥ 0, m ≥ 0 (a least-squares scale/min
/// search, in the spirit of ggml's `make_qkx2_quants` but not the same
/// arithmetic): 21 candidate grids, codes q = round((x − lo)·(nmax + t/10) /
/// (hi − lo)) for t = −10..10 with lo = min(0, min x) and hi = max x, each
/// refitted by least squares (s, −m) = argmin Σ (x − s·q + m)² with m ≥ 0
/// enforced by refitting s alone; the candidate of least squared error
/// wins (the first on ties).
inline void fit_affine(const float* x, std::size_t n, int nmax, float& scale, float& min) noexcept {
  float lo = 0.0f, hi = x[0];
  for (std::size_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  scale = 0.0f;
  min = -lo;
  if (!(hi > lo)) return;  // constant (or NaN) sub-block: w = −min
  double best = std::numeric_limits<double>::infinity();
  for (int t = -10; t <= 10; ++t) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / (hi - lo);
    double sq = 0, sq2 = 0, sx = 0, sqx = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double q = round_clamped((x[i] - lo) * iscale, 0, nmax);
      sq += q;
      sq2 += q * q;
      sx += x[i];
      sqx += q * x[i];
    }
    const double dn = static_cast<double>(n);
    const double det = dn * sq2 - sq * sq;
    if (det <= 0) continue;
    double s = (dn * sqx - sq * sx) / det;
    double off = (sx - s * sq) / dn;  // x ≈ s·q + off
    if (off > 0) {  // a positive offset is not representable (m ≥ 0)
      off = 0;
      s = sqx / sq2;
    }
    if (s <= 0) continue;
    double err = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double q = round_clamped((x[i] - lo) * iscale, 0, nmax);
      const double e = x[i] - (s * q + off);
      err += e * e;
    }
    if (err < best) {
      best = err;
      scale = static_cast<float>(s);
      min = static_cast<float>(-off);
    }
  }
  if (scale == 0.0f) scale = (hi - lo) / static_cast<float>(nmax);
}

/// Quantizes the 8 sub-block scales and mins of a Q4_K/Q5_K super-block:
/// d = half(max scale / 63), dmin = half(max min / 63), sc_s =
/// round(scale_s / d), m_s = round(min_s / dmin), clamped to 0..63.
inline void quantize_scales_k4(const float* scale, const float* min, half& d, half& dmin, int* sc,
                               int* m) noexcept {
  float max_scale = 0.0f, max_min = 0.0f;
  for (std::size_t s = 0; s < 8; ++s) {
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, min[s]);
  }
  d = half(max_scale / 63.0f);
  dmin = half(max_min / 63.0f);
  const float fd = d, fm = dmin;
  for (std::size_t s = 0; s < 8; ++s) {
    sc[s] = fd > 0.0f ? round_clamped(scale[s] / fd, 0, 63) : 0;
    m[s] = fm > 0.0f ? round_clamped(min[s] / fm, 0, 63) : 0;
  }
}

/// The codes of a Q4_K/Q5_K super-block for its final (quantized) sub-block
/// scales: q = round((x + m1) / d1) clamped to [0, nmax], 0 where d1 = 0.
inline void affine_codes_k4(const float* x, half d, half dmin, const int* sc, const int* m, int nmax,
                            int* q) noexcept {
  for (std::size_t s = 0; s < 8; ++s) {
    const float d1 = static_cast<float>(d) * static_cast<float>(sc[s]);
    const float m1 = static_cast<float>(dmin) * static_cast<float>(m[s]);
    for (std::size_t l = 0; l < 32; ++l)
      q[32 * s + l] = d1 > 0.0f ? round_clamped((x[32 * s + l] + m1) / d1, 0, nmax) : 0;
  }
}

/// Scales, mins and codes of one Q4_K/Q5_K super-block (`nmax` 15 or 31).
inline void quantize_k4(const float* x, int nmax, half& d, half& dmin, std::array<std::uint8_t, 12>& packed,
                        int* q) noexcept {
  float scale[8], min[8];
  for (std::size_t s = 0; s < 8; ++s) fit_affine(x + 32 * s, 32, nmax, scale[s], min[s]);
  int sc[8], m[8];
  quantize_scales_k4(scale, min, d, dmin, sc, m);
  packed = pack_scale_min_k4(sc, m);
  affine_codes_k4(x, d, dmin, sc, m, nmax, q);
}

}  // namespace detail

/// Q4_K: 256 weights in 8 sub-blocks of 32, 4-bit codes, 6-bit sub-block
/// scales and mins (file comment). Dequantization is ggml-quants.c
/// `dequantize_row_q4_K`: w = (d·sc)·q − (dmin·m).
///
/// Quantizer (deterministic, not ggml's): per sub-block an affine
/// least-squares fit (detail::fit_affine, nmax 15), then d = half(max
/// scale / 63), dmin = half(max min / 63), sub-block scales and mins
/// rounded to 6 bits, and the codes recomputed for the rounded scales:
/// q = clamp(round((x + dmin·m) / (d·sc)), 0, 15).
struct q4_k {
  static constexpr ggml_type type = ggml_type::q4_k;
  static constexpr std::size_t block_size = qk_k;
  static constexpr std::size_t type_size = 144;
  static constexpr std::string_view name = "Q4_K";
  static constexpr std::size_t sub_block_size = 32;
  using block = block_q4_k;

  /// The effective scale d·sc of sub-block s (0..7), as ggml computes it.
  static constexpr float sub_scale(const block& b, std::size_t s) noexcept {
    int sc = 0, m = 0;
    detail::get_scale_min_k4(s, b.scales, sc, m);
    return static_cast<float>(b.d) * static_cast<float>(sc);
  }
  /// The effective min dmin·m of sub-block s, subtracted: w = d1·q − m1.
  static constexpr float sub_min(const block& b, std::size_t s) noexcept {
    int sc = 0, m = 0;
    detail::get_scale_min_k4(s, b.scales, sc, m);
    return static_cast<float>(b.dmin) * static_cast<float>(m);
  }
  /// The code (0..15) of weight j (0..255).
  static constexpr int code(const block& b, std::size_t j) noexcept {
    const std::size_t s = j / 32;
    const std::uint8_t byte = b.qs[32 * (s / 2) + j % 32];
    return s % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
  }
  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return sub_scale(b, j / 32) * static_cast<float>(code(b, j)) - sub_min(b, j / 32);
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t j = 0; j < block_size; ++j) out[j] = dequantize(b, j);
  }
  static block quantize_block(const float* x) noexcept {
    block b{};
    int q[256];
    detail::quantize_k4(x, 15, b.d, b.dmin, b.scales, q);
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t l = 0; l < 32; ++l)
        b.qs[32 * i + l] = static_cast<std::uint8_t>(q[64 * i + l] | (q[64 * i + 32 + l] << 4));
    return b;
  }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      dequantize_block(detail::load_block<block>(blocks, i), out + i * block_size);
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      detail::store_block(blocks, i, quantize_block(in + i * block_size));
  }
};

/// Q5_K: as Q4_K with 5-bit codes, bit 4 of weight l of sub-block s in bit
/// s of qh[l]. Dequantization is ggml-quants.c `dequantize_row_q5_K`;
/// the quantizer is Q4_K's with nmax 31.
struct q5_k {
  static constexpr ggml_type type = ggml_type::q5_k;
  static constexpr std::size_t block_size = qk_k;
  static constexpr std::size_t type_size = 176;
  static constexpr std::string_view name = "Q5_K";
  static constexpr std::size_t sub_block_size = 32;
  using block = block_q5_k;

  static constexpr float sub_scale(const block& b, std::size_t s) noexcept {
    int sc = 0, m = 0;
    detail::get_scale_min_k4(s, b.scales, sc, m);
    return static_cast<float>(b.d) * static_cast<float>(sc);
  }
  static constexpr float sub_min(const block& b, std::size_t s) noexcept {
    int sc = 0, m = 0;
    detail::get_scale_min_k4(s, b.scales, sc, m);
    return static_cast<float>(b.dmin) * static_cast<float>(m);
  }
  /// The code (0..31) of weight j (0..255).
  static constexpr int code(const block& b, std::size_t j) noexcept {
    const std::size_t s = j / 32, l = j % 32;
    const std::uint8_t byte = b.qs[32 * (s / 2) + l];
    const int lo = s % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
    return lo | (((b.qh[l] >> s) & 1) << 4);
  }
  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return sub_scale(b, j / 32) * static_cast<float>(code(b, j)) - sub_min(b, j / 32);
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t j = 0; j < block_size; ++j) out[j] = dequantize(b, j);
  }
  static block quantize_block(const float* x) noexcept {
    block b{};
    int q[256];
    detail::quantize_k4(x, 31, b.d, b.dmin, b.scales, q);
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t l = 0; l < 32; ++l)
        b.qs[32 * i + l] = static_cast<std::uint8_t>((q[64 * i + l] & 15) | ((q[64 * i + 32 + l] & 15) << 4));
    for (std::size_t l = 0; l < 32; ++l) {
      unsigned h = 0;
      for (std::size_t s = 0; s < 8; ++s) h |= static_cast<unsigned>(q[32 * s + l] >> 4) << s;
      b.qh[l] = static_cast<std::uint8_t>(h);
    }
    return b;
  }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      dequantize_block(detail::load_block<block>(blocks, i), out + i * block_size);
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      detail::store_block(blocks, i, quantize_block(in + i * block_size));
  }
};

/// Q6_K: 256 weights in 16 sub-blocks of 16, 6-bit codes with offset 32,
/// int8 sub-block scales (file comment). Dequantization is ggml-quants.c
/// `dequantize_row_q6_K`: w = (d·scales[s])·(q − 32).
///
/// Quantizer (deterministic, not ggml's): per sub-block a signed scale by
/// least squares over 21 grids (codes c = round(x·(32 + t/10)/(−x_amax))
/// clamped to [−32, 31] for t = −10..10, x_amax the weight of largest
/// magnitude, first on ties; s = Σc·x / Σc²; least squared error wins);
/// then d = half(max |s| / 127), scales[s] = round(s / d) clamped to
/// [−127, 127], codes recomputed for the rounded scales:
/// q − 32 = clamp(round(x / (d·scales[s])), −32, 31).
struct q6_k {
  static constexpr ggml_type type = ggml_type::q6_k;
  static constexpr std::size_t block_size = qk_k;
  static constexpr std::size_t type_size = 210;
  static constexpr std::string_view name = "Q6_K";
  static constexpr std::size_t sub_block_size = 16;
  using block = block_q6_k;

  /// The effective scale d·scales[s] of sub-block s (0..15).
  static constexpr float sub_scale(const block& b, std::size_t s) noexcept {
    return static_cast<float>(b.d) * static_cast<float>(b.scales[s]);
  }
  /// The signed code q − 32 (−32..31) of weight j (0..255).
  static constexpr int code(const block& b, std::size_t j) noexcept {
    const std::size_t h = j / 128, g = (j % 128) / 32, l = j % 32;
    const std::uint8_t lo_byte = b.ql[64 * h + l + 32 * (g & 1)];
    const int lo = g < 2 ? (lo_byte & 0x0f) : (lo_byte >> 4);
    const int hi = (b.qh[32 * h + l] >> (2 * g)) & 3;
    return (lo | (hi << 4)) - 32;
  }
  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return sub_scale(b, j / 16) * static_cast<float>(code(b, j));
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t j = 0; j < block_size; ++j) out[j] = dequantize(b, j);
  }
  static block quantize_block(const float* x) noexcept {
    float scale[16];
    for (std::size_t s = 0; s < 16; ++s) scale[s] = fit_signed(x + 16 * s);
    float max_abs = 0.0f;
    for (float s : scale) max_abs = std::max(max_abs, std::fabs(s));
    block b{};
    b.d = half(max_abs / 127.0f);
    const float fd = b.d;
    int c[256];
    for (std::size_t s = 0; s < 16; ++s) {
      b.scales[s] = static_cast<std::int8_t>(fd > 0.0f ? detail::round_clamped(scale[s] / fd, -127, 127) : 0);
      const float d1 = sub_scale(b, s);
      for (std::size_t l = 0; l < 16; ++l)
        c[16 * s + l] = (d1 != 0.0f ? detail::round_clamped(x[16 * s + l] / d1, -32, 31) : 0) + 32;
    }
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t l = 0; l < 32; ++l) {
        const int* q = c + 128 * h + l;  // q[32g] is code g of this l
        b.ql[64 * h + l] = static_cast<std::uint8_t>((q[0] & 15) | ((q[64] & 15) << 4));
        b.ql[64 * h + l + 32] = static_cast<std::uint8_t>((q[32] & 15) | ((q[96] & 15) << 4));
        b.qh[32 * h + l] =
            static_cast<std::uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
      }
    return b;
  }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      dequantize_block(detail::load_block<block>(blocks, i), out + i * block_size);
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    detail::check_whole_blocks(name, block_size, n);
    for (std::size_t i = 0; i < n / block_size; ++i)
      detail::store_block(blocks, i, quantize_block(in + i * block_size));
  }

 private:
  /// The signed least-squares scale of one 16-weight sub-block (see above).
  static float fit_signed(const float* x) noexcept {
    float amax = 0.0f, vmax = 0.0f;
    for (std::size_t i = 0; i < 16; ++i)
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        vmax = x[i];
      }
    if (!(amax > 0.0f)) return 0.0f;
    float best_scale = vmax / -32.0f;
    double best = std::numeric_limits<double>::infinity();
    for (int t = -10; t <= 10; ++t) {
      const float iscale = -(32.0f + 0.1f * static_cast<float>(t)) / vmax;
      double cx = 0, cc = 0;
      for (std::size_t i = 0; i < 16; ++i) {
        const double c = detail::round_clamped(x[i] * iscale, -32, 31);
        cx += c * x[i];
        cc += c * c;
      }
      if (cc <= 0) continue;
      const double s = cx / cc;
      double err = 0;
      for (std::size_t i = 0; i < 16; ++i) {
        const double e = x[i] - s * detail::round_clamped(x[i] * iscale, -32, 31);
        err += e * e;
      }
      if (err < best) {
        best = err;
        best_scale = static_cast<float>(s);
      }
    }
    return best_scale;
  }
};

static_assert(sizeof(q4_k::block) == q4_k::type_size && sizeof(q5_k::block) == q5_k::type_size &&
              sizeof(q6_k::block) == q6_k::type_size);
static_assert(type_size(ggml_type::q4_k) == q4_k::type_size && block_size(ggml_type::q4_k) == q4_k::block_size);
static_assert(type_size(ggml_type::q5_k) == q5_k::type_size && block_size(ggml_type::q5_k) == q5_k::block_size);
static_assert(type_size(ggml_type::q6_k) == q6_k::type_size && block_size(ggml_type::q6_k) == q6_k::block_size);

}  // namespace foundry::quant

#endif
