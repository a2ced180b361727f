#pragma once
/// @file tile.hpp
/// Tile shape of a GEMM main stage (kernels/gemm/gemm.hpp), checked at
/// compile time.
///
/// A threadgroup computes a `BM × BN` block of C[M, N] (BM rows of the
/// activations, BN output features), stepping through K in slices of `BK`.
/// Its `SimdgroupsM × SimdgroupsN` SIMD-groups split the block into a grid of
/// `(BM / SimdgroupsM) × (BN / SimdgroupsN)` sub-blocks, each a grid of 8×8
/// SIMD-group matrices. `Threads` (threads per threadgroup) must be
/// 32 · SimdgroupsM · SimdgroupsN.
///
/// `Operands` is the element type of the A and W slices in threadgroup
/// memory and of the SIMD-group matrices multiplied (the accumulators are
/// float either way): `gemm_operands::f32` keeps full float products, as on
/// the CPU; `gemm_operands::f16` rounds activations and dequantized weights
/// to half (relative error ≤ 2^-11 per operand, IEEE 754 binary16) and lets
/// the CUDA backend run the products on tensor cores (`mma.sync` with half
/// inputs and float accumulators, docs/msl-subset.md) where float operands
/// take shuffles and FMAs. llama.cpp's Metal matrix-matrix kernels multiply
/// half tiles the same way (ggml-metal, kernel_mul_mm).

#include <cstddef>
#include <cstdint>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/fixed_string.hpp"

namespace foundry::kernels {

/// Element type of a GEMM tile's operands (see the file comment).
enum class gemm_operands { f32, f16 };

namespace detail {
/// Decimal digits of `v`.
constexpr std::size_t decimal_digits(unsigned v) {
  std::size_t n = 1;
  for (; v >= 10u; v /= 10u) ++n;
  return n;
}
/// `V` in decimal, as a fixed_string (for kernel names).
template <unsigned V>
constexpr fixed_string<decimal_digits(V)> fixed_decimal() {
  fixed_string<decimal_digits(V)> s;
  unsigned v = V;
  for (std::size_t i = decimal_digits(V); i-- > 0; v /= 10u) s.data[i] = char('0' + v % 10u);
  return s;
}
}  // namespace detail

/// GEMM tile shape (see the file comment). Units: elements (BM, BN, BK),
/// SIMD-groups, threads.
template <unsigned BM, unsigned BN, unsigned BK, unsigned SimdgroupsM, unsigned SimdgroupsN, unsigned Threads,
          gemm_operands Operands = gemm_operands::f32>
struct gemm_tile {
  static_assert(SimdgroupsM > 0 && SimdgroupsN > 0, "gemm_tile: at least one SIMD-group per dimension");
  static_assert(Threads == 32u * SimdgroupsM * SimdgroupsN,
                "gemm_tile: Threads must be 32 x SimdgroupsM x SimdgroupsN (one SIMD-group per sub-block)");
  static_assert(BM % (8u * SimdgroupsM) == 0,
                "gemm_tile: BM must be a multiple of 8 x SimdgroupsM (whole 8x8 matrices per SIMD-group)");
  static_assert(BN % (8u * SimdgroupsN) == 0,
                "gemm_tile: BN must be a multiple of 8 x SimdgroupsN (whole 8x8 matrices per SIMD-group)");
  static_assert(BK % 16u == 0, "gemm_tile: BK must be a multiple of 16 (the weight loader's run)");
  static constexpr unsigned bm = BM, bn = BN, bk = BK;
  static constexpr unsigned simdgroups_m = SimdgroupsM, simdgroups_n = SimdgroupsN;
  static constexpr unsigned simdgroups = SimdgroupsM * SimdgroupsN;
  static constexpr unsigned threads = Threads;
  static constexpr gemm_operands operands = Operands;
  /// Metal name of the operand type ("float" or "half") and its size in bytes.
  static constexpr const char* operand_name = Operands == gemm_operands::f16 ? "half" : "float";
  static constexpr unsigned operand_bytes = Operands == gemm_operands::f16 ? 2u : 4u;
  /// Appended to the names of kernels built on this tile: empty for the
  /// default tile, else `_<BM>x<BN>x<BK>_<SimdgroupsM>x<SimdgroupsN>` and
  /// `_f16` for half operands (two tiles give two kernels of two names).
  static constexpr auto name_suffix = [] {
    if constexpr (BM == 32 && BN == 32 && BK == 64 && SimdgroupsM == 1 && SimdgroupsN == 1 &&
                  Operands == gemm_operands::f32) {
      return fixed_string("");
    } else {
      const auto dims = fixed_string("_") + detail::fixed_decimal<BM>() + fixed_string("x") +
                        detail::fixed_decimal<BN>() + fixed_string("x") + detail::fixed_decimal<BK>() +
                        fixed_string("_") + detail::fixed_decimal<SimdgroupsM>() + fixed_string("x") +
                        detail::fixed_decimal<SimdgroupsN>();
      if constexpr (Operands == gemm_operands::f16)
        return dims + fixed_string("_f16");
      else
        return dims;
    }
  }();
  /// 8×8 matrices per SIMD-group along M and N.
  static constexpr unsigned frags_m = BM / (8u * SimdgroupsM), frags_n = BN / (8u * SimdgroupsN);
  /// Weights one loader thread dequantizes at a time (adjacent along K; a
  /// divisor of every block size: 32 for Q8_0/Q4_0/Q4_1, 256 for K-quants).
  static constexpr unsigned run = 16;
  /// Floats of the tile arena with `weight_sets` weight matrices computed
  /// side by side (2 for gate/up): during the K loop an A slice BM×BK and
  /// per set a W slice BK×BN of operands; after it, per set the float C
  /// block BM×BN (the blocks reuse the slices' memory).
  static constexpr std::uint64_t arena_floats(unsigned weight_sets) {
    const std::uint64_t slices =
        ((std::uint64_t(BM) * BK + std::uint64_t(weight_sets) * BK * BN) * operand_bytes + 3u) / 4u;
    const std::uint64_t blocks = std::uint64_t(weight_sets) * BM * BN;
    return slices > blocks ? slices : blocks;
  }
  /// Threadgroup memory in bytes: the arena plus, with `rms`, BM floats of
  /// per-row 1/rms.
  static constexpr std::uint64_t threadgroup_bytes(unsigned weight_sets, bool rms) {
    return 4ull * (arena_floats(weight_sets) + (rms ? BM : 0u));
  }
};

/// Name of the pointer through which the GEMM stage and its weight loaders
/// write and read the A and W slices of tile `T`: the float arena itself,
/// or `ops_`, the half view of it the stage declares for half operands.
template <class T>
constexpr const char* gemm_operands_view() {
  return T::operands == gemm_operands::f16 ? "ops_" : "$gemm_arena";
}

/// `value` (a float expression) converted to tile `T`'s operand type:
/// unchanged for float, `half(value)` for half.
template <class T>
constexpr ct_string gemm_operand_cast(const ct_string& value) {
  if (T::operands == gemm_operands::f16) return "half(" + value + ")";
  return value;
}

/// The library's default tile: 32×32 outputs, K slices of 64, one
/// SIMD-group of 4×4 matrices, 32 threads; 16 KiB of threadgroup memory with
/// one weight matrix, 24 KiB with two (gate/up), plus 128 bytes with
/// RMSNorm. One SIMD-group with many matrices, because on the CPU backend a
/// SIMD-group's matrices are worked by one lane and barriers cost a fiber
/// switch per thread: 16 products per 8 matrix loads and 32 switches per
/// barrier (2×2 SIMD-groups of 2×2 matrices: 4 products per 4 loads, 128
/// switches). GPUs may prefer more SIMD-groups per threadgroup: pass a tile.
using gemm_tile_default = gemm_tile<32, 32, 64, 1, 1, 32>;

/// The library's tile for GPUs: 64×64 outputs in K slices of 32, 2×2
/// SIMD-groups of 4×4 half-operand matrices, 128 threads; 8 KiB of
/// threadgroup memory for the slices, 16 KiB for the C block of one weight
/// matrix. Four SIMD-groups share each slice load (the default tile's one
/// SIMD-group leaves a GPU core waiting on its loads), and half operands
/// run on tensor cores on the CUDA backend.
using gemm_tile_gpu = gemm_tile<64, 64, 32, 2, 2, 128, gemm_operands::f16>;

/// The GPU tile for two weight matrices side by side (gate/up): 64×32
/// outputs, so the two float C blocks fit 16 KiB (plus 256 bytes with
/// RMSNorm) within Metal's 32 KiB of threadgroup memory.
using gemm_tile_gpu_pair = gemm_tile<64, 32, 32, 2, 2, 128, gemm_operands::f16>;

}  // namespace foundry::kernels
