#pragma once
/// @file ggml_blocks.hpp
/// ggml tensor types as stored in GGUF files, and host reference quantizers
/// and dequantizers for the block formats Foundry reads.
///
/// Sources: the ggml project, `ggml/include/ggml.h` (`enum ggml_type`),
/// `ggml/src/ggml.c` (`type_traits`: block size and bytes per block),
/// `ggml/src/ggml-common.h` (block layouts), `ggml/src/ggml-quants.c`
/// (`quantize_row_*_ref`, `dequantize_row_*`), `ggml/src/ggml-impl.h`
/// (fp32 <-> bf16), and the GGUF specification `docs/gguf.md`; the sizes
/// below were also checked against `GGML_QUANT_SIZES` of the ggml project's
/// `gguf` Python package, which agrees except for Q8_1: it still says 40 bytes,
/// the layout from before ggml stored Q8_1's d and s as half (now 36 bytes,
/// `static_assert(sizeof(block_q8_1) == 2*sizeof(ggml_half) + QK8_1)`). Q8_1
/// is an activation format that model files do not hold.
///
/// A tensor of type T with ne[0] elements per row stores each row as
/// ne[0] / block_size(T) consecutive blocks of type_size(T) bytes; ne[0] must
/// be a multiple of the block size. Everything is little-endian.
///
/// Block formats with reference code here (w is the reconstructed weight,
/// q the stored code, `half` is IEEE binary16 rounded to nearest even):
///
/// | type | weights/block | bytes | layout                     | w_j                   |
/// |------|---------------|-------|----------------------------|-----------------------|
/// | F32  | 1             | 4     | float                      | x                     |
/// | F16  | 1             | 2     | half                       | x                     |
/// | BF16 | 1             | 2     | upper 16 bits of a float   | x                     |
/// | Q8_0 | 32            | 34    | half d; int8 qs[32]        | d * qs[j]             |
/// | Q4_0 | 32            | 18    | half d; uint8 qs[16]       | d * (q_j - 8)         |
/// | Q4_1 | 32            | 20    | half d; half m; uint8 qs[16] | d * q_j + m         |
///
/// For Q4_0 and Q4_1, q_j (0..15) is the low nibble of qs[j] for j < 16 and
/// the high nibble of qs[j - 16] for j >= 16: the first half of the block in
/// the low nibbles, the second half in the high nibbles.
///
/// The quantizers are ggml's reference ("_ref") quantizers, operation for
/// operation, so they produce the same bytes as ggml for finite input (ggml's
/// own code has undefined behaviour on NaN and overflowing codes; here every
/// float-to-integer conversion is clamped first, so any input is safe).
/// They are deterministic round-to-nearest quantizers, not the
/// importance-weighted ones llama.cpp uses for K-quants.
///
/// The K-quants Q4_K, Q5_K and Q6_K (256-weight super-blocks) are defined in
/// foundry/quant/k_quants.hpp, which this header includes. Other ggml types
/// (Q2_K, Q3_K, I-quants, ...) are listed in the type table so GGUF files
/// holding them can be read and sized, but have no reference quantizer or
/// dequantizer here; `has_reference_codec()` says which do.

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <foundry/core/errors.hpp>
#include <foundry/metal/half.hpp>

namespace foundry {

/// A quantization or dequantization request the reference code cannot serve:
/// a type without a reference codec, or a length that is not a whole number
/// of blocks.
class quant_error : public error {
 public:
  using error::error;
};

}  // namespace foundry

namespace foundry::quant {

// ---------------------------------------------------------------- types --

/// ggml tensor type ids as stored in GGUF tensor infos (`enum ggml_type` in
/// ggml.h). Ids 4, 5 (Q4_2, Q4_3), 31-33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) and
/// 36-38 (IQ4_NL_4_4, ...) were removed from ggml and are not valid in files.
enum class ggml_type : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
  nvfp4 = 40,
  q1_0 = 41,
};

/// Storage facts of one ggml type.
struct ggml_type_traits {
  ggml_type type;
  std::string_view name;     ///< as ggml spells it: "Q4_1", "BF16"
  std::uint32_t block_size;  ///< weights per block
  std::uint32_t type_size;   ///< bytes per block
};

/// Every ggml type a GGUF file may hold, with its block geometry
/// (ggml.c `type_traits`; QK_K = 256).
inline constexpr std::array<ggml_type_traits, 34> ggml_types{{
    {ggml_type::f32, "F32", 1, 4},
    {ggml_type::f16, "F16", 1, 2},
    {ggml_type::q4_0, "Q4_0", 32, 18},
    {ggml_type::q4_1, "Q4_1", 32, 20},
    {ggml_type::q5_0, "Q5_0", 32, 22},
    {ggml_type::q5_1, "Q5_1", 32, 24},
    {ggml_type::q8_0, "Q8_0", 32, 34},
    {ggml_type::q8_1, "Q8_1", 32, 36},
    {ggml_type::q2_k, "Q2_K", 256, 84},
    {ggml_type::q3_k, "Q3_K", 256, 110},
    {ggml_type::q4_k, "Q4_K", 256, 144},
    {ggml_type::q5_k, "Q5_K", 256, 176},
    {ggml_type::q6_k, "Q6_K", 256, 210},
    {ggml_type::q8_k, "Q8_K", 256, 292},
    {ggml_type::iq2_xxs, "IQ2_XXS", 256, 66},
    {ggml_type::iq2_xs, "IQ2_XS", 256, 74},
    {ggml_type::iq3_xxs, "IQ3_XXS", 256, 98},
    {ggml_type::iq1_s, "IQ1_S", 256, 50},
    {ggml_type::iq4_nl, "IQ4_NL", 32, 18},
    {ggml_type::iq3_s, "IQ3_S", 256, 110},
    {ggml_type::iq2_s, "IQ2_S", 256, 82},
    {ggml_type::iq4_xs, "IQ4_XS", 256, 136},
    {ggml_type::i8, "I8", 1, 1},
    {ggml_type::i16, "I16", 1, 2},
    {ggml_type::i32, "I32", 1, 4},
    {ggml_type::i64, "I64", 1, 8},
    {ggml_type::f64, "F64", 1, 8},
    {ggml_type::iq1_m, "IQ1_M", 256, 56},
    {ggml_type::bf16, "BF16", 1, 2},
    {ggml_type::tq1_0, "TQ1_0", 256, 54},
    {ggml_type::tq2_0, "TQ2_0", 256, 66},
    {ggml_type::mxfp4, "MXFP4", 32, 17},
    {ggml_type::nvfp4, "NVFP4", 64, 36},
    {ggml_type::q1_0, "Q1_0", 128, 18},
}};

namespace detail {

/// Index of type id `id` in ggml_types, or ggml_types.size() when unknown.
/// (An index rather than a pointer keeps constant evaluation free of pointer
/// comparisons, which GCC's UBSan null checks cannot constant-fold.)
constexpr std::size_t ggml_type_index(std::uint32_t id) noexcept {
  std::size_t i = 0;
  while (i < ggml_types.size() && static_cast<std::uint32_t>(ggml_types[i].type) != id) ++i;
  return i;
}

}  // namespace detail

/// The traits of type id `id`, or nullptr when ggml has no such type.
constexpr const ggml_type_traits* find_ggml_type(std::uint32_t id) noexcept {
  const std::size_t i = detail::ggml_type_index(id);
  return i < ggml_types.size() ? &ggml_types[i] : nullptr;
}

/// ggml's name of `t` ("Q4_1"), or "unknown" for a value outside the table.
constexpr std::string_view to_string(ggml_type t) noexcept {
  const std::size_t i = detail::ggml_type_index(static_cast<std::uint32_t>(t));
  return i < ggml_types.size() ? ggml_types[i].name : std::string_view{"unknown"};
}

/// Weights per block of `t` (0 for a value outside the table).
constexpr std::uint32_t block_size(ggml_type t) noexcept {
  const std::size_t i = detail::ggml_type_index(static_cast<std::uint32_t>(t));
  return i < ggml_types.size() ? ggml_types[i].block_size : 0;
}

/// Bytes per block of `t` (0 for a value outside the table).
constexpr std::uint32_t type_size(ggml_type t) noexcept {
  const std::size_t i = detail::ggml_type_index(static_cast<std::uint32_t>(t));
  return i < ggml_types.size() ? ggml_types[i].type_size : 0;
}

/// Bytes that `n` consecutive weights of type `t` take, or nullopt when `n`
/// is not a whole number of blocks, `t` is unknown, or the size overflows.
constexpr std::optional<std::uint64_t> row_bytes(ggml_type t, std::uint64_t n) noexcept {
  const std::uint64_t block = block_size(t);
  const std::uint64_t bytes = type_size(t);
  if (block == 0 || n % block != 0) return std::nullopt;
  const std::uint64_t blocks = n / block;
  if (blocks > std::numeric_limits<std::uint64_t>::max() / bytes) return std::nullopt;
  return blocks * bytes;
}

// ------------------------------------------------------------- blocks --

/// Q8_0 block (ggml-common.h `block_q8_0`): 32 weights w_j = d * qs[j].
struct block_q8_0 {
  half d;                          ///< scale
  std::array<std::int8_t, 32> qs;  ///< codes
};

/// Q4_0 block (ggml-common.h `block_q4_0`): 32 weights w_j = d * (q_j - 8),
/// q_j the low nibble of qs[j] (j < 16) or the high nibble of qs[j - 16].
struct block_q4_0 {
  half d;                           ///< scale
  std::array<std::uint8_t, 16> qs;  ///< nibbles
};

/// Q4_1 block (ggml-common.h `block_q4_1`): 32 weights w_j = d * q_j + m,
/// nibbles as in Q4_0.
struct block_q4_1 {
  half d;                           ///< scale
  half m;                           ///< minimum
  std::array<std::uint8_t, 16> qs;  ///< nibbles
};

static_assert(sizeof(block_q8_0) == 34 && alignof(block_q8_0) == 2);
static_assert(sizeof(block_q4_0) == 18 && alignof(block_q4_0) == 2);
static_assert(sizeof(block_q4_1) == 20 && alignof(block_q4_1) == 2);
static_assert(std::is_trivially_copyable_v<block_q8_0> && std::is_standard_layout_v<block_q8_0>);
static_assert(std::is_trivially_copyable_v<block_q4_0> && std::is_standard_layout_v<block_q4_0>);
static_assert(std::is_trivially_copyable_v<block_q4_1> && std::is_standard_layout_v<block_q4_1>);
static_assert(sizeof(half) == 2 && sizeof(bfloat) == 2 && sizeof(float) == 4);
static_assert(std::endian::native == std::endian::little,
              "ggml block formats are little-endian; big-endian hosts are not supported");

namespace detail {

/// Throws unless `n` is a whole number of `block` weights.
inline void check_whole_blocks(std::string_view type, std::size_t block, std::size_t n) {
  if (n % block != 0)
    throw quant_error(std::string(type) + ": a row of " + std::to_string(n) +
                      " weights is not a whole number of " + std::to_string(block) +
                      "-weight blocks");
}

/// ggml's `(int8_t)(v)` for v in range, i.e. truncation toward zero, then
/// clamped to [lo, hi]; NaN gives lo. Never undefined.
inline int trunc_clamped(float v, int lo, int hi) noexcept {
  if (!(v > static_cast<float>(lo))) return lo;  // also NaN
  if (!(v < static_cast<float>(hi))) return hi;
  return static_cast<int>(v);  // in (lo, hi): truncates toward zero
}

/// ggml's `roundf(v)` (halfway cases away from zero) converted to an integer
/// in [lo, hi]; NaN gives 0. Never undefined.
inline int round_clamped(float v, int lo, int hi) noexcept {
  if (std::isnan(v)) return 0;
  const float r = std::round(v);
  if (r <= static_cast<float>(lo)) return lo;
  if (r >= static_cast<float>(hi)) return hi;
  return static_cast<int>(r);
}

template <class Block>
Block load_block(const void* blocks, std::size_t i) noexcept {
  Block b;
  std::memcpy(&b, static_cast<const unsigned char*>(blocks) + i * sizeof(Block), sizeof(Block));
  return b;
}

template <class Block>
void store_block(void* blocks, std::size_t i, const Block& b) noexcept {
  std::memcpy(static_cast<unsigned char*>(blocks) + i * sizeof(Block), &b, sizeof(Block));
}

}  // namespace detail

// ------------------------------------------------------------ formats --
//
// One struct per format, usable as a template argument:
//   type, block_size, type_size, name   the ggml facts
//   block                               the storage of one block
//   dequantize(b, j)                    weight j of one block (constexpr)
//   dequantize_block(b, out)            all weights of one block
//   quantize_block(in) -> block         ggml's reference quantizer
//   dequantize_row(blocks, out, n)      n weights (n a multiple of block_size)
//   quantize_row(in, blocks, n)
// Row functions take unaligned `void*` storage (each block is copied in and
// out with memcpy), read n / block_size blocks and write n floats or the
// reverse, and throw quant_error when n is not a multiple of block_size.

/// F32: plain IEEE binary32.
struct f32 {
  static constexpr ggml_type type = ggml_type::f32;
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t type_size = 4;
  static constexpr std::string_view name = "F32";
  using block = float;

  static constexpr float dequantize(block b, std::size_t = 0) noexcept { return b; }
  static constexpr void dequantize_block(block b, float* out) noexcept { *out = b; }
  static constexpr block quantize_block(const float* in) noexcept { return *in; }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    if (n != 0) std::memcpy(out, blocks, n * sizeof(float));
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    if (n != 0) std::memcpy(blocks, in, n * sizeof(float));
  }
};

/// F16: IEEE binary16; quantizing rounds to nearest even (ggml
/// `GGML_FP32_TO_FP16`, the F16C `vcvtps2ph` rounding), infinities beyond
/// 65504.
struct f16 {
  static constexpr ggml_type type = ggml_type::f16;
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t type_size = 2;
  static constexpr std::string_view name = "F16";
  using block = half;

  static constexpr float dequantize(block b, std::size_t = 0) noexcept { return b; }
  static constexpr void dequantize_block(block b, float* out) noexcept { *out = b; }
  static constexpr block quantize_block(const float* in) noexcept { return half(*in); }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_block<block>(blocks, i);
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) detail::store_block(blocks, i, half(in[i]));
  }
};

/// BF16: the upper 16 bits of a binary32. Quantizing is ggml-impl.h
/// `ggml_compute_fp32_to_bf16`: round to nearest even
/// (`(u + 0x7fff + ((u >> 16) & 1)) >> 16`), NaN quieted
/// (`(u >> 16) | 0x40`), subnormals kept.
struct bf16 {
  static constexpr ggml_type type = ggml_type::bf16;
  static constexpr std::size_t block_size = 1;
  static constexpr std::size_t type_size = 2;
  static constexpr std::string_view name = "BF16";
  using block = bfloat;

  static constexpr float dequantize(block b, std::size_t = 0) noexcept { return b; }
  static constexpr void dequantize_block(block b, float* out) noexcept { *out = b; }
  static constexpr block quantize_block(const float* in) noexcept { return bfloat(*in); }

  static void dequantize_row(const void* blocks, float* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_block<block>(blocks, i);
  }
  static void quantize_row(const float* in, void* blocks, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) detail::store_block(blocks, i, bfloat(in[i]));
  }
};

/// Q8_0 (ggml-quants.c `quantize_row_q8_0_ref`, `dequantize_row_q8_0`):
///   amax = max_j |x_j|,  d = amax / 127,  id = d != 0 ? 1 / d : 0,
///   qs[j] = roundf(x_j * id)  (halfway away from zero),  stored d = half(d),
///   w_j = half(d) * qs[j].
/// The codes are computed with the unrounded d, so |x_j - w_j| <=
/// d / 2 + 127 * |d - half(d)| (plus float rounding).
struct q8_0 {
  static constexpr ggml_type type = ggml_type::q8_0;
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t type_size = 34;
  static constexpr std::string_view name = "Q8_0";
  using block = block_q8_0;

  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return static_cast<float>(b.qs[j]) * static_cast<float>(b.d);
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    const float d = b.d;
    for (std::size_t j = 0; j < block_size; ++j) out[j] = static_cast<float>(b.qs[j]) * d;
  }
  static block quantize_block(const float* x) noexcept {
    float amax = 0.0f;
    for (std::size_t j = 0; j < block_size; ++j) {
      const float a = std::fabs(x[j]);
      amax = amax > a ? amax : a;  // ggml's MAX(amax, fabsf(v))
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block b{};
    b.d = half(d);
    for (std::size_t j = 0; j < block_size; ++j)
      b.qs[j] = static_cast<std::int8_t>(detail::round_clamped(x[j] * id, -128, 127));
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

/// Q4_0 (ggml-quants.c `quantize_row_q4_0_ref`, `dequantize_row_q4_0`):
///   max = the x_j of largest |x_j| (the first one on ties),
///   d = max / -8,  id = d != 0 ? 1 / d : 0,
///   q_j = min(15, (int8_t)(x_j * id + 8.5f))  (truncation),  stored d = half(d),
///   w_j = half(d) * (q_j - 8).
/// The extreme value maps to code 0 (w = -8 d = max); values of the opposite
/// sign reach at most code 15 (w = 7 d), so |x_j - w_j| <= |d| / 2 except
/// when x_j * id > 7.5, where it is <= |d|, plus 8 * |d - half(d)|.
struct q4_0 {
  static constexpr ggml_type type = ggml_type::q4_0;
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t type_size = 18;
  static constexpr std::string_view name = "Q4_0";
  using block = block_q4_0;

  /// The 4-bit code of weight j (0..15).
  static constexpr int code(const block& b, std::size_t j) noexcept {
    return j < 16 ? (b.qs[j] & 0x0f) : (b.qs[j - 16] >> 4);
  }
  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return static_cast<float>(code(b, j) - 8) * static_cast<float>(b.d);
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    const float d = b.d;
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
      out[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
  static block quantize_block(const float* x) noexcept {
    float amax = 0.0f;
    float max = 0.0f;
    for (std::size_t j = 0; j < block_size; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block b{};
    b.d = half(d);
    for (std::size_t j = 0; j < 16; ++j) {
      const int q0 = detail::trunc_clamped(x[j] * id + 8.5f, 0, 15);
      const int q1 = detail::trunc_clamped(x[j + 16] * id + 8.5f, 0, 15);
      b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
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

/// Q4_1 (ggml-quants.c `quantize_row_q4_1_ref`, `dequantize_row_q4_1`):
///   min = min_j x_j,  max = max_j x_j,  d = (max - min) / 15,
///   id = d != 0 ? 1 / d : 0,
///   q_j = min(15, (int8_t)((x_j - min) * id + 0.5f)),
///   stored d = half(d), m = half(min),
///   w_j = half(d) * q_j + half(min).
/// So |x_j - w_j| <= d / 2 + 15 * |d - half(d)| + |min - half(min)| (plus
/// float rounding).
struct q4_1 {
  static constexpr ggml_type type = ggml_type::q4_1;
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t type_size = 20;
  static constexpr std::string_view name = "Q4_1";
  using block = block_q4_1;

  /// The 4-bit code of weight j (0..15).
  static constexpr int code(const block& b, std::size_t j) noexcept {
    return j < 16 ? (b.qs[j] & 0x0f) : (b.qs[j - 16] >> 4);
  }
  static constexpr float dequantize(const block& b, std::size_t j) noexcept {
    return static_cast<float>(code(b, j)) * static_cast<float>(b.d) + static_cast<float>(b.m);
  }
  static constexpr void dequantize_block(const block& b, float* out) noexcept {
    const float d = b.d;
    const float m = b.m;
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
      out[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
  static block quantize_block(const float* x) noexcept {
    float min = std::numeric_limits<float>::max();
    float max = -std::numeric_limits<float>::max();
    for (std::size_t j = 0; j < block_size; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block b{};
    b.d = half(d);
    b.m = half(min);
    for (std::size_t j = 0; j < 16; ++j) {
      const int q0 = detail::trunc_clamped((x[j] - min) * id + 0.5f, 0, 15);
      const int q1 = detail::trunc_clamped((x[j + 16] - min) * id + 0.5f, 0, 15);
      b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
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

static_assert(sizeof(f32::block) == f32::type_size && sizeof(f16::block) == f16::type_size &&
              sizeof(bf16::block) == bf16::type_size && sizeof(q8_0::block) == q8_0::type_size &&
              sizeof(q4_0::block) == q4_0::type_size && sizeof(q4_1::block) == q4_1::type_size);
static_assert(type_size(ggml_type::q8_0) == q8_0::type_size &&
              block_size(ggml_type::q8_0) == q8_0::block_size);
static_assert(type_size(ggml_type::q4_0) == q4_0::type_size &&
              block_size(ggml_type::q4_0) == q4_0::block_size);
static_assert(type_size(ggml_type::q4_1) == q4_1::type_size &&
              block_size(ggml_type::q4_1) == q4_1::block_size);
static_assert(type_size(ggml_type::bf16) == bf16::type_size);

}  // namespace foundry::quant

// The K-quant formats build on the blocks above (see k_quants.hpp).
#define FOUNDRY_QUANT_GGML_BLOCKS_CORE 1
#include <foundry/quant/k_quants.hpp>

namespace foundry::quant {

// ----------------------------------------------------- run-time dispatch --

/// Whether `t` has a reference quantizer and dequantizer here.
constexpr bool has_reference_codec(ggml_type t) noexcept {
  switch (t) {
    case ggml_type::f32:
    case ggml_type::f16:
    case ggml_type::bf16:
    case ggml_type::q8_0:
    case ggml_type::q4_0:
    case ggml_type::q4_1:
    case ggml_type::q4_k:
    case ggml_type::q5_k:
    case ggml_type::q6_k:
      return true;
    default:
      return false;
  }
}

namespace detail {

template <class F>
decltype(auto) visit_format(ggml_type t, F&& f) {
  switch (t) {
    case ggml_type::f32:
      return f(f32{});
    case ggml_type::f16:
      return f(f16{});
    case ggml_type::bf16:
      return f(bf16{});
    case ggml_type::q8_0:
      return f(q8_0{});
    case ggml_type::q4_0:
      return f(q4_0{});
    case ggml_type::q4_1:
      return f(q4_1{});
    case ggml_type::q4_k:
      return f(q4_k{});
    case ggml_type::q5_k:
      return f(q5_k{});
    case ggml_type::q6_k:
      return f(q6_k{});
    default:
      throw quant_error("ggml type " + std::string(to_string(t)) + " (id " +
                        std::to_string(static_cast<std::uint32_t>(t)) +
                        ") has no reference quantizer/dequantizer");
  }
}

}  // namespace detail

/// Dequantizes `n` weights of type `t` from `blocks` into `out`. Throws
/// quant_error for a type without a reference codec or a partial block.
inline void dequantize_row(ggml_type t, const void* blocks, float* out, std::size_t n) {
  detail::visit_format(t, [&](auto format) { decltype(format)::dequantize_row(blocks, out, n); });
}

/// Quantizes `n` floats from `in` into blocks of type `t` at `blocks`
/// (row_bytes(t, n) bytes). Throws like dequantize_row.
inline void quantize_row(ggml_type t, const float* in, void* blocks, std::size_t n) {
  detail::visit_format(t, [&](auto format) { decltype(format)::quantize_row(in, blocks, n); });
}

}  // namespace foundry::quant
