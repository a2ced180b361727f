#pragma once
/// @file gemv_canonical.hpp
/// GEMV main stage over weights in the canonical (K-blocked, row-interleaved)
/// layout.
///
/// Layout. With wpb = the policy's `weights_per_block`, an [N, K] matrix is
/// stored as K/wpb k-blocks, each holding block kb of every row in row order:
/// logical element (n, k) is element `(k % wpb) + wpb·(n + (k / wpb)·N)` of
/// the matrix, so block (n, kb) sits at data-plane byte `(kb·N + n)·block_bytes`
/// and its scale at scale-plane byte `(kb·N + n)·scale_bytes` (scales
/// [K/wpb][N]). Within a block the policy's own order holds (policy.hpp). For
/// F16/F32 (wpb = 1) this is the column-major (transposed) matrix.
/// `kernels/policies/repack.hpp` produces it from GGUF rows.
///
/// Work split. The same dispatch as the row-major GEMV,
/// `simdgroup_per_row<size_arg<"n">, RowsPerThreadgroup[, Batch]>`: a
/// threadgroup of 32·RowsPerThreadgroup threads computes RowsPerThreadgroup
/// rows, 32 threads per row, but arranged so that neighbouring lanes read
/// neighbouring bytes. Inside a SIMD-group, `LanesPerRow` (L) adjacent lanes
/// share a row and G = 32 / L adjacent rows are covered; the S = G
/// SIMD-groups of a row group split the row's k-blocks among themselves.
/// Per step, lane j of row slot g in split s reads run c = j + L·s + 32·i of
/// `Chunk` elements: for Q8_0/Q4 (Chunk 8, L 4) the SIMD-group reads
/// G consecutive blocks of one k-block, G·block_bytes contiguous bytes
/// (256 for Q8_0, 128 for Q4). The L lanes of a row are summed with
/// `simd_shuffle_xor`, the S splits through threadgroup memory
/// (`gemv_partial`, RowsPerThreadgroup·S floats) after a barrier that every
/// thread reaches (inactive rows add zeros). Every thread of a row then holds
/// the row's `value`; the writer is lane j = 0 of split 0.
///
/// Requires k to be a multiple of `weights_per_block` and of `Chunk`; for
/// block formats `Chunk` must divide `weights_per_block`, for F16/F32 it is 1
/// (a column's elements are not adjacent in memory). Ports, arguments and the
/// batched form are those of `gemv_row_major` (gemv.hpp).
///
/// The loaders are called with a block's own data and scale pointers and an
/// index inside the block, i.e. on a one-block row, which the loading
/// contract covers (a row of wpb elements starts at `r·block_bytes`).

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/gemv/gemv.hpp"

namespace foundry::kernels {

/// Default run length of a canonical-GEMV lane: 8 for block formats, 1 for
/// F16/F32 (whose canonical layout is column-major).
template <weight_policy P>
inline constexpr unsigned gemv_canonical_default_chunk = P::weights_per_block == 1 ? 1u : 8u;

/// The canonical-layout GEMV main stage (see the file comment).
/// `RowsPerThreadgroup` must be a multiple of 32 / `LanesPerRow`.
template <hook Hook, unsigned RowsPerThreadgroup = 8, bool Batched = false, unsigned LanesPerRow = 4,
          unsigned Chunk = gemv_canonical_default_chunk<typename Hook::policy>>
struct gemv_canonical {
  using policy = typename Hook::policy;
  static constexpr unsigned lanes_per_row = LanesPerRow;
  /// Rows covered by one SIMD-group, and SIMD-groups sharing one row.
  static constexpr unsigned rows_per_simdgroup = 32 / LanesPerRow;
  static constexpr unsigned splits = rows_per_simdgroup;
  static constexpr unsigned rows_per_threadgroup = RowsPerThreadgroup;
  static_assert(LanesPerRow == 1 || LanesPerRow == 2 || LanesPerRow == 4 || LanesPerRow == 8 ||
                    LanesPerRow == 16 || LanesPerRow == 32,
                "gemv_canonical: LanesPerRow must be a power of two from 1 to 32");
  static_assert(RowsPerThreadgroup > 0 && RowsPerThreadgroup % rows_per_simdgroup == 0,
                "gemv_canonical: RowsPerThreadgroup must be a multiple of 32 / LanesPerRow");
  static_assert(Chunk >= 1 && policy::weights_per_block % Chunk == 0,
                "gemv_canonical: a lane's run of Chunk elements must stay inside one block "
                "(Chunk is 1 for F16/F32)");
  static_assert(!Batched || supports_batched_input<Hook>,
                "gemv_canonical: this hook reads the input itself and cannot be batched");

  static constexpr fixed_string name = "gemv_canonical";
  static constexpr stage_role role = stage_role::main;
  using hook = Hook;
  /// The dispatch this stage expects (`Batch` a size source of the items).
  template <class Batch = size_const<1>>
  using dispatch_for = simdgroup_per_row<size_arg<"n">, RowsPerThreadgroup, Batch>;
  /// The dispatch rule this stage needs (checked by the composer): one
  /// SIMD-group per row of `n`, RowsPerThreadgroup rows per threadgroup.
  template <class Dispatch>
  static constexpr bool accepts_dispatch = is_simdgroup_per_row_of<Dispatch, size_arg<"n">, RowsPerThreadgroup>;
  static constexpr ct_string required_dispatch() {
    return "simdgroup_per_row<size_arg<n>, " + to_text(RowsPerThreadgroup) + "> (one SIMD-group per row)";
  }
  /// As `gemv_row_major`: `w`, `w_scales` (scaled policies), `x`, `n`, `k`,
  /// `batch` (batched only); the planes hold the same bytes, reordered.
  using arguments = detail::gemv_arguments<policy, Batched>;
  using produces = detail::gemv_ports<Batched>;
  using threadgroup = type_list<tg_array<"gemv_partial", float, RowsPerThreadgroup * splits>>;

  static constexpr ct_string emit() {
    const ct_string P(policy::metal_name);
    const ct_string wpb = to_text(policy::weights_per_block);
    const ct_string C = to_text(Chunk), L = to_text(LanesPerRow), S = to_text(splits);
    const ct_string x = Batched ? "xb" : "$x";
    ct_string scales = "$w";  // unused without a scale plane
    if (policy::has_scale) scales = block_scales_expr<policy>("$w_scales", "blk", "$row");
    ct_string affine;
    if (policy::has_affine)
      affine = "    float xs = 0.0f;\n"
               "    for (int i = 0; i < " + C + "; ++i) xs += xv[i];\n"
               "    acc += " + P + "::load_affine(ws, 0u) * xs;\n";
    ct_string lane_sum;
    for (unsigned m = 1; m < LanesPerRow; m <<= 1) lane_sum += "acc += simd_shuffle_xor(acc, " + to_text(m) + "u);\n";
    ct_string split_sum = "$value = acc;\n";
    if (splits > 1)
      split_sum = "if (part == 0u) $gemv_partial[slot * " + S + "u + split] = acc;\n"
                  "threadgroup_barrier(mem_flags::mem_threadgroup);\n"
                  "float total = 0.0f;\n"
                  "for (uint s = 0u; s < " + S + "u; ++s) total += $gemv_partial[slot * " + S + "u + s];\n"
                  "$value = total;\n";
    return "const uint part = $thread_index_in_simdgroup % " + L + "u;\n"
           "const uint split = $simdgroup_index_in_threadgroup % " + S + "u;\n"
           "const uint slot = ($simdgroup_index_in_threadgroup / " + S + "u) * " + to_text(rows_per_simdgroup) +
           "u + $thread_index_in_simdgroup / " + L + "u;\n"
           "$row = $threadgroup_position_in_grid.x * " + to_text(RowsPerThreadgroup) + "u + slot;\n"
           "$row_active = $row < $n;\n"
           "$writer = $row_active && part == 0u && split == 0u;\n" +
           ct_string(Batched ? detail::gemv_batch_lines : "") +
           "float acc = 0.0f;\n"
           "if ($row_active) {\n"
           "  const uint runs = $k / " + C + "u;\n"
           "  for (uint c = part + " + L + "u * split; c < runs; c += 32u) {\n"
           "    const uint k0 = c * " + C + "u;\n"
           "    const ulong blk = (ulong)(k0 / " + wpb + "u) * $n + $row;\n"
           "    const device uchar* wd = $w + blk * " + to_text(policy::block_bytes) + "u;\n"
           "    const device uchar* ws = " + scales + ";\n"
           "    float xv[" + C + "];\n"
           "    for (int i = 0; i < " + C + "; ++i) xv[i] = " + Hook::load_input(x, "k0 + i") + ";\n"
           "    acc += " + P + "::load_scale(ws, 0u) * " + P + "::dot<" + C + ">(wd, k0 % " + wpb + "u, xv);\n" +
           affine +
           "  }\n"
           "}\n" +
           lane_sum + split_sum;
  }
};

}  // namespace foundry::kernels
