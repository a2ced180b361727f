#pragma once
/// @file tile.hpp
/// Tile shape of a GEMM main stage (kernels/gemm/gemm.hpp), checked at
/// compile time.
///
/// A threadgroup computes a `BM × BN` block of C[M, N] (BM rows of the
/// activations, BN output features), stepping through K in slices of `BK`.
/// Its `SimdgroupsM × SimdgroupsN` SIMD-groups split the block into a grid of
/// `(BM / SimdgroupsM) × (BN / SimdgroupsN)` sub-blocks, each a grid of 8×8
/// SIMD-group matrices (`simdgroup_float8x8`). `Threads` (threads per
/// threadgroup) must be 32 · SimdgroupsM · SimdgroupsN.

#include <cstdint>

namespace foundry::kernels {

/// GEMM tile shape (see the file comment). Units: elements (BM, BN, BK),
/// SIMD-groups, threads.
template <unsigned BM, unsigned BN, unsigned BK, unsigned SimdgroupsM, unsigned SimdgroupsN, unsigned Threads>
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
  /// 8×8 matrices per SIMD-group along M and N.
  static constexpr unsigned frags_m = BM / (8u * SimdgroupsM), frags_n = BN / (8u * SimdgroupsN);
  /// Weights one loader thread dequantizes at a time (adjacent along K; a
  /// divisor of every block size: 32 for Q8_0/Q4_0/Q4_1, 256 for K-quants).
  static constexpr unsigned run = 16;
  /// Floats of the tile arena with `weight_sets` weight matrices computed
  /// side by side (2 for gate/up): during the K loop an A slice BM×BK and
  /// per set a W slice BK×BN; after it, per set the C block BM×BN (the
  /// blocks reuse the slices' memory).
  static constexpr std::uint64_t arena_floats(unsigned weight_sets) {
    const std::uint64_t slices = std::uint64_t(BM) * BK + std::uint64_t(weight_sets) * BK * BN;
    const std::uint64_t blocks = std::uint64_t(weight_sets) * BM * BN;
    return slices > blocks ? slices : blocks;
  }
  /// Threadgroup memory in bytes: the arena plus, with `rms`, BM floats of
  /// per-row 1/rms.
  static constexpr std::uint64_t threadgroup_bytes(unsigned weight_sets, bool rms) {
    return 4ull * (arena_floats(weight_sets) + (rms ? BM : 0u));
  }
};

/// The library's default tile: 32×32 outputs, K slices of 64, one
/// SIMD-group of 4×4 matrices, 32 threads; 16 KiB of threadgroup memory with
/// one weight matrix, 24 KiB with two (gate/up), plus 128 bytes with
/// RMSNorm. One SIMD-group with many matrices, because on the CPU backend a
/// SIMD-group's matrices are worked by one lane and barriers cost a fiber
/// switch per thread: 16 products per 8 matrix loads and 32 switches per
/// barrier (2×2 SIMD-groups of 2×2 matrices: 4 products per 4 loads, 128
/// switches). GPUs may prefer more SIMD-groups per threadgroup: pass a tile.
using gemm_tile_default = gemm_tile<32, 32, 64, 1, 1, 32>;

}  // namespace foundry::kernels
