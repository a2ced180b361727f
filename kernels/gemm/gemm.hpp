#pragma once
/// @file gemm.hpp
/// GEMM main stage on SIMD-group matrices: C[M, N] = A[M, K] · W[N, K]ᵀ,
/// A the activations (M = scalar argument `batch` rows of K = `k` floats,
/// argument `x`), W one or more weight sets (weights.hpp), then the
/// ordinary epilogues once per output element.
///
/// Per threadgroup (tile.hpp): a BM × BN block of C, threadgroup
/// (x, y) = (feature block, row block). For each K slice of BK: every thread
/// helps load the A slice (the activation input, activations.hpp) and each
/// set's W slice (the weight-tile loader: dequantization through the policy
/// contract), a barrier, then each SIMD-group multiplies its 8×8 matrices
/// (`simdgroup_load`, `simdgroup_multiply_accumulate`), a barrier. The
/// accumulators are stored into threadgroup memory and the epilogues run
/// per element (`per_element_epilogues`, stage.hpp), each thread visiting
/// elements tid, tid + Threads, ... of the block.
///
/// The loaders are not composer stages of their own: they run inside the K
/// loop, which spans them and the multiply, while composer stages are
/// sequential blocks. They are template parameters instead (the input type,
/// the sets' policies), each emitting its statements.
///
/// Ports (the row convention of epilogues.hpp, in the batched GEMV's form):
///   `row`          uint  output feature n (bias index)
///   `batch_index`  uint  row m of C
///   `out_index`    uint  m·N + n, the element of a row-major [M, N] output
///   `row_active`   bool  m < M and n < N
///   `writer`       bool  = row_active (each element has one thread)
///   one float port per set (`value`, or `gate` and `up`).
/// So `epi::bias_add`, `epi::activation`, `epi::swiglu`, `store_indexed` and
/// `epi::add_residual` (dsl/epilogues.hpp) apply unchanged.
///
/// Any M, N, K: rows past M and features past N are computed on zeros and
/// never stored; a partial K slice is zero-filled (K must be a multiple of
/// the policies' weights_per_block, as GGUF rows are).

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/dsl/sizes.hpp"
#include "kernels/gemm/activations.hpp"
#include "kernels/gemm/tile.hpp"
#include "kernels/gemm/weights.hpp"

namespace foundry::kernels {

/// Dispatch of a GEMM: threadgroups (ceil(N / BN), ceil(batch / BM)) of
/// `Tile::threads` threads; `N` a size source of the output features.
template <class N, class Tile>
struct gemm_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = Tile::threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{foundry::detail::ceil_div_checked(N::get(a), Tile::bn), foundry::detail::ceil_div_checked(size_arg<"batch">::get(a), Tile::bm),
             1},
            {Tile::threads, 1, 1}};
  }
};

/// The GEMM main stage (see the file comment): input `Input`
/// (`gemm_input_plain` or `gemm_input_rmsnorm`), tile `Tile`, weight sets
/// `Sets...` (all with the same number of output features).
template <class Input, class Tile, class... Sets>
struct gemm_simdgroup_mma {
  static_assert(sizeof...(Sets) > 0, "gemm_simdgroup_mma: at least one weight set");
  static constexpr unsigned sets = sizeof...(Sets);
  static_assert(Tile::threadgroup_bytes(sets, Input::rms) <= 32768,
                "gemm_simdgroup_mma: the tile's threadgroup memory exceeds 32 KiB (reduce BM, BN or BK)");
  static constexpr fixed_string name = "gemm_simdgroup_mma";
  static constexpr stage_role role = stage_role::main;
  using tile = Tile;
  template <class S0, class...>
  struct first_of {
    using type = S0;
  };
  using first_set = typename first_of<Sets...>::type;
  /// The dispatch this stage expects.
  using dispatch = gemm_dispatch<typename first_set::rows_size, Tile>;

  using arguments = unique_t<concat_t<
      typename Sets::arguments...,
      type_list<arg<"x", input<float, min_elements<sizes::product<size_arg<"batch">, size_arg<"k">>>>>,
                arg<"k", scalar<std::uint32_t>>, arg<"batch", scalar<std::uint32_t>>>,
      typename Input::arguments>>;
  using policies = unique_t<concat_t<typename Sets::policies...>>;
  using produces = concat_t<type_list<port<"row", std::uint32_t>, port<"batch_index", std::uint32_t>,
                                      port<"out_index", std::uint32_t>, port<"row_active", bool>,
                                      port<"writer", bool>>,
                            type_list<port<Sets::port, float>...>>;
  using threadgroup = concat_t<type_list<tg_array<"gemm_arena", float, Tile::arena_floats(sets)>>,
                               std::conditional_t<Input::rms, type_list<tg_array<"gemm_inv_rms", float, Tile::bm>>,
                                                  type_list<>>>;

  static constexpr ct_string emit() {
    constexpr unsigned BM = Tile::bm, BN = Tile::bn, BK = Tile::bk, FM = Tile::frags_m, FN = Tile::frags_n;
    const ct_string T = to_text(Tile::threads), sBM = to_text(BM), sBN = to_text(BN), sBK = to_text(BK);
    const ct_string N = first_set::rows();
    ct_string s =
        "const uint tid_ = $thread_index_in_threadgroup, lane_ = $thread_index_in_simdgroup;\n"
        "const uint sg_ = $simdgroup_index_in_threadgroup;\n"
        "const uint n0_ = $threadgroup_position_in_grid.x * " + sBN + "u;\n"
        "const uint m0_ = $threadgroup_position_in_grid.y * " + sBM + "u;\n"
        "(void)lane_;\n" +
        Input::template preamble<Tile>() +
        "const uint sm_ = sg_ / " + to_text(Tile::simdgroups_n) + "u, sn_ = sg_ % " + to_text(Tile::simdgroups_n) + "u;\n";
    // The slices: the float arena itself, or a view of it as half operands.
    const ct_string ops(gemm_operands_view<Tile>());
    const ct_string op(Tile::operand_name);
    if (Tile::operands == gemm_operands::f16)
      s += "threadgroup half* " + ops + " = (threadgroup half*)$gemm_arena;\n";
    s += "simdgroup_" + op + "8x8 fa_[" + to_text(FM) + "], fb_[" + to_text(FN) + "];\n";
    for (unsigned g = 0; g < sets; ++g)
      s += "simdgroup_float8x8 acc" + to_text(g) + "_[" + to_text(FM * FN) + "];\n"
           "for (int i_ = 0; i_ < " + to_text(FM * FN) + "; ++i_) acc" + to_text(g) +
           "_[i_] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);\n";
    s += "for (uint k0_ = 0; k0_ < $k; k0_ += " + sBK + "u) {\n"
         "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
         "  for (uint e_ = tid_; e_ < " + to_text(BM * BK) + "u; e_ += " + T + "u) {\n"
         "    const uint r_ = e_ / " + sBK + "u, m_ = m0_ + r_, k_ = k0_ + e_ % " + sBK + "u;\n"
         "    " + ops + "[e_] = " + gemm_operand_cast<Tile>("(m_ < $batch && k_ < $k) ? " +
                                                   Input::load("$x", "m_", "k_", "r_") + " : 0.0f") + ";\n"
         "  }\n";
    unsigned g = 0;
    (append_loader<Sets>(s, BM * BK + (g++) * BK * BN), ...);
    s += "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
         "  for (uint kk_ = 0; kk_ < " + sBK + "u; kk_ += 8u) {\n"
         "    for (uint i_ = 0; i_ < " + to_text(FM) + "u; ++i_)\n"
         "      simdgroup_load(fa_[i_], " + ops + " + (sm_ * " + to_text(FM * 8) + "u + i_ * 8u) * " + sBK +
         "u + kk_, " + sBK + ");\n";
    for (unsigned h = 0; h < sets; ++h) {
      const ct_string off = to_text(BM * BK + h * BK * BN), acc = "acc" + to_text(h) + "_";
      s += "    for (uint j_ = 0; j_ < " + to_text(FN) + "u; ++j_)\n"
           "      simdgroup_load(fb_[j_], " + ops + " + " + off + "u + kk_ * " + sBN + "u + sn_ * " + to_text(FN * 8) +
           "u + j_ * 8u, " + sBN + ");\n"
           "    for (uint i_ = 0; i_ < " + to_text(FM) + "u; ++i_)\n"
           "      for (uint j_ = 0; j_ < " + to_text(FN) + "u; ++j_)\n"
           "        simdgroup_multiply_accumulate(" + acc + "[i_ * " + to_text(FN) + "u + j_], fa_[i_], fb_[j_], " + acc +
           "[i_ * " + to_text(FN) + "u + j_]);\n";
    }
    s += "  }\n"
         "}\n"
         "threadgroup_barrier(mem_flags::mem_threadgroup);\n";
    for (unsigned h = 0; h < sets; ++h)
      s += "for (uint i_ = 0; i_ < " + to_text(FM) + "u; ++i_)\n"
           "  for (uint j_ = 0; j_ < " + to_text(FN) + "u; ++j_)\n"
           "    simdgroup_store(acc" + to_text(h) + "_[i_ * " + to_text(FN) + "u + j_], $gemm_arena + " +
           to_text(h * BM * BN) + "u + (sm_ * " + to_text(FM * 8) + "u + i_ * 8u) * " + sBN + "u + sn_ * " +
           to_text(FN * 8) + "u + j_ * 8u, " + sBN + ");\n";
    s += "threadgroup_barrier(mem_flags::mem_threadgroup);\n";
    // The per-element loop header (closed by the composer after the last stage).
    s += ct_string(per_element_epilogues) +
         "for (uint e_ = $thread_index_in_threadgroup; e_ < " + to_text(BM * BN) + "u; e_ += " + T + "u) {\n"
         "  const uint m_ = $threadgroup_position_in_grid.y * " + sBM + "u + e_ / " + sBN + "u;\n"
         "  const uint n_ = $threadgroup_position_in_grid.x * " + sBN + "u + e_ % " + sBN + "u;\n"
         "  $row = n_;\n"
         "  $batch_index = m_;\n"
         "  $row_active = m_ < $batch && n_ < " + N + ";\n"
         "  $writer = $row_active;\n"
         "  $out_index = m_ * " + N + " + n_;\n";
    unsigned h = 0;
    (append_port<Sets>(s, (h++) * BM * BN), ...);
    return s;
  }

 private:
  template <class Set>
  static constexpr void append_loader(ct_string& s, unsigned offset) {
    const ct_string t = gemm_weight_tile_loader<Tile, Set>(offset);
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (i == 0 || t[i - 1] == '\n') s += "  ";
      s += t[i];
    }
  }
  template <class Set>
  static constexpr void append_port(ct_string& s, unsigned offset) {
    s += "  $";
    s += Set::port.view();
    s += " = $gemm_arena[" + to_text(offset) + "u + e_];\n";
  }
};

}  // namespace foundry::kernels
