#pragma once
/// @file aliases.hpp
/// Library GEMV kernels: y = act(W·x + bias), W [n, k] in a weight policy
/// (F16, F32, Q8_0, Q4_0, Q4_1), row-major (one SIMD-group per output row,
/// 4 rows per threadgroup, 128 threads) or canonical (gemv_canonical.hpp,
/// 8 rows per threadgroup, 256 threads), x float[k], y float[n]; batched
/// forms take x [batch, k] and write y [batch, n]; residual forms add a
/// residual vector.
///
/// Arguments (buffer indices in this order): `w` (data plane, bytes),
/// `w_scales` (scale plane, bytes; only for policies with a scale), `x`,
/// `n` (rows, uint), `k` (columns, uint, a multiple of the policy's
/// weights_per_block), `batch` (batched forms), then the epilogues'
/// (`bias`, `bias_present`; `residual`), `y`.

#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "kernels/gemv/gemv.hpp"
#include "kernels/gemv/gemv_canonical.hpp"
#include "kernels/gemv/gemv_multi_row.hpp"
#include "kernels/gemv/q8_activations.hpp"
#include "kernels/policies/f16.hpp"
#include "kernels/policies/f32.hpp"
#include "kernels/policies/policies.hpp"

namespace foundry::kernels {

/// Dispatch of the row-major GEMV family: `simdgroup_per_row` over `n`.
using gemv_dispatch = simdgroup_per_row<size_arg<"n">, 4>;

/// y = W·x, W in F16.
using gemv_f16 = fused_kernel<"gemv_f16", gemv_dispatch,
                              gemv_row_major<plain_input<policies::f16>>, epi::store<"y", "value", size_arg<"n">>>;
/// y = W·x, W in F32.
using gemv_f32 = fused_kernel<"gemv_f32", gemv_dispatch,
                              gemv_row_major<plain_input<policies::f32>>, epi::store<"y", "value", size_arg<"n">>>;
/// y = SiLU(W·x + bias), W in F16, bias optional (float[n]).
using gemv_f16_bias_silu =
    fused_kernel<"gemv_f16_bias_silu", gemv_dispatch, gemv_row_major<plain_input<policies::f16>>,
                 epi::bias_add<"bias", "value", true>, epi::activation<act::silu>, epi::store<"y", "value", size_arg<"n">>>;

// --- quantized policies, canonical layout, batches, residual ------------------
//
// Shapes and units of the aliases below (n rows, k columns, `batch` items):
//   w         data plane of W [n, k] (bytes; policies::repack produces it),
//             row-major or canonical as the alias name says
//   w_scales  scale plane (bytes; Q8_0, Q4_0, Q4_1 only)
//   x         float [k], or [batch, k] (item b starts at element b·k)
//   n, k      uint; k a multiple of the policy's weights_per_block (32 for
//             Q8_0/Q4_0/Q4_1)
//   batch     uint, number of items (batched aliases only; > 0)
//   residual  float [n], or [batch, n] (residual aliases only; may be y)
//   y         float [n], or [batch, n] (item b starts at element b·n)
// Arguments are bound in the order listed, those an alias lacks skipped.

namespace detail {
template <policies::layout L, hook H, bool Batched>
struct gemv_main_for {
  using type = gemv_row_major<H, 4, Batched>;
};
template <hook H, bool Batched>
struct gemv_main_for<policies::layout::canonical, H, Batched> {
  using type = gemv_canonical<H, 8, Batched>;
};
template <fixed_string Name, weight_policy P, policies::layout L, bool Batched, bool Residual, bool CpuQ8>
struct gemv_kernel_for {
  static_assert(!CpuQ8 || L == policies::layout::row_major,
                "gemv_kernel: 8-bit CPU activations (CpuQ8) need the row-major layout");
  using input = std::conditional_t<CpuQ8, cpu_q8_activations<plain_input<P>>, plain_input<P>>;
  using main = typename gemv_main_for<L, input, Batched>::type;
  using dispatch =
      typename main::template dispatch_for<std::conditional_t<Batched, size_arg<"batch">, size_const<1>>>;
  using rows = std::conditional_t<Batched, sizes::product<size_arg<"batch">, size_arg<"n">>, size_arg<"n">>;
  using store = std::conditional_t<Batched, epi::store_indexed<"y", "value", "out_index", rows>,
                                   epi::store<"y", "value", size_arg<"n">>>;
  using residual = std::conditional_t<Batched, epi::add_residual<"residual", "value", "out_index", rows>,
                                      epi::add_residual<"residual", "value", "row", size_arg<"n">>>;
  using type = std::conditional_t<Residual, fused_kernel<Name, dispatch, main, residual, store>,
                                  fused_kernel<Name, dispatch, main, store>>;
};
}  // namespace detail

/// A library GEMV: y = W·x (`Residual`: y = W·x + residual), W [n, k] in
/// policy `P` and layout `L` (row-major: `gemv_row_major`, 4 rows per
/// threadgroup; canonical: `gemv_canonical`, 8 rows per threadgroup), x, y
/// (and residual) single vectors or, with `Batched`, [batch, ·] matrices (one
/// threadgroup row of the grid per item). `CpuQ8` (row-major only): on the
/// CPU, x in 8-bit blocks and integer dot products for Q8_0/Q4_0/Q4_1
/// (`cpu_q8_activations`, kernels/common/row_dot.hpp; Metal and CUDA text
/// unchanged). Arguments as listed above.
template <fixed_string Name, weight_policy P, policies::layout L = policies::layout::row_major,
          bool Batched = false, bool Residual = false, bool CpuQ8 = false>
using gemv_kernel = typename detail::gemv_kernel_for<Name, P, L, Batched, Residual, CpuQ8>::type;

using policies::layout;

/// y = W·x, W row-major in Q8_0 (GGUF Q8_0 blocks split into planes).
using gemv_q8_0 = gemv_kernel<"gemv_q8_0", policies::q8_0>;
/// y = W·x, W row-major in Q4_0.
using gemv_q4_0 = gemv_kernel<"gemv_q4_0", policies::q4_0>;
/// y = W·x, W row-major in Q4_1.
using gemv_q4_1 = gemv_kernel<"gemv_q4_1", policies::q4_1>;

/// y = W·x, W in the canonical layout (gemv_canonical.hpp), F16.
using gemv_f16_canonical = gemv_kernel<"gemv_f16_canonical", policies::f16, layout::canonical>;
/// y = W·x, W canonical, Q8_0.
using gemv_q8_0_canonical = gemv_kernel<"gemv_q8_0_canonical", policies::q8_0, layout::canonical>;
/// y = W·x, W canonical, Q4_0.
using gemv_q4_0_canonical = gemv_kernel<"gemv_q4_0_canonical", policies::q4_0, layout::canonical>;
/// y = W·x, W canonical, Q4_1.
using gemv_q4_1_canonical = gemv_kernel<"gemv_q4_1_canonical", policies::q4_1, layout::canonical>;

/// Y = X·Wᵀ for `batch` input rows (x [batch, k] → y [batch, n]), W row-major, F16.
using gemv_f16_batched = gemv_kernel<"gemv_f16_batched", policies::f16, layout::row_major, true>;
/// Batched, W row-major, Q8_0.
using gemv_q8_0_batched = gemv_kernel<"gemv_q8_0_batched", policies::q8_0, layout::row_major, true>;
/// Batched, W row-major, Q4_0.
using gemv_q4_0_batched = gemv_kernel<"gemv_q4_0_batched", policies::q4_0, layout::row_major, true>;
/// Batched, W row-major, Q4_1.
using gemv_q4_1_batched = gemv_kernel<"gemv_q4_1_batched", policies::q4_1, layout::row_major, true>;

/// Batched, W canonical, F16.
using gemv_f16_canonical_batched = gemv_kernel<"gemv_f16_canonical_batched", policies::f16, layout::canonical, true>;
/// Batched, W canonical, Q8_0.
using gemv_q8_0_canonical_batched =
    gemv_kernel<"gemv_q8_0_canonical_batched", policies::q8_0, layout::canonical, true>;
/// Batched, W canonical, Q4_0.
using gemv_q4_0_canonical_batched =
    gemv_kernel<"gemv_q4_0_canonical_batched", policies::q4_0, layout::canonical, true>;
/// Batched, W canonical, Q4_1.
using gemv_q4_1_canonical_batched =
    gemv_kernel<"gemv_q4_1_canonical_batched", policies::q4_1, layout::canonical, true>;

/// y = W·x + residual (residual float[n], may be y itself), W row-major in
/// F16: the attention output and FFN down projections with their skip
/// connection (h ← h + W·x).
using gemv_f16_residual = gemv_kernel<"gemv_f16_residual", policies::f16, layout::row_major, false, true>;
/// y = W·x + residual, W row-major, Q8_0.
using gemv_q8_0_residual = gemv_kernel<"gemv_q8_0_residual", policies::q8_0, layout::row_major, false, true>;
/// y = W·x + residual, W row-major, Q4_0.
using gemv_q4_0_residual = gemv_kernel<"gemv_q4_0_residual", policies::q4_0, layout::row_major, false, true>;
/// y = W·x + residual, W row-major, Q4_1.
using gemv_q4_1_residual = gemv_kernel<"gemv_q4_1_residual", policies::q4_1, layout::row_major, false, true>;

/// y = W·x, W row-major in Q8_0; on the CPU with x in 8-bit blocks and
/// integer dot products (`cpu_q8_activations`: llama.cpp's CPU rule,
/// an error of ~1e-3 of Σ|w·x| per row from the rounding of x).
using gemv_q8_0_cpu_q8 = gemv_kernel<"gemv_q8_0_cpu_q8", policies::q8_0, layout::row_major, false, false, true>;
/// y = W·x + residual, W row-major, Q4_0, 8-bit CPU activations.
using gemv_q4_0_residual_cpu_q8 =
    gemv_kernel<"gemv_q4_0_residual_cpu_q8", policies::q4_0, layout::row_major, false, true, true>;
/// y = W·x + residual, W row-major, Q4_1, 8-bit CPU activations.
using gemv_q4_1_residual_cpu_q8 =
    gemv_kernel<"gemv_q4_1_residual_cpu_q8", policies::q4_1, layout::row_major, false, true, true>;
/// Batched (Y = X·Wᵀ), W row-major, Q4_1, 8-bit CPU activations (one
/// quantized x per batch item).
using gemv_q4_1_batched_cpu_q8 =
    gemv_kernel<"gemv_q4_1_batched_cpu_q8", policies::q4_1, layout::row_major, true, false, true>;

// --- several rows per SIMD-group, 16-byte loads (gemv_multi_row.hpp) --------
//
// The same arguments and results as the row-major aliases above (w,
// w_scales, x, n, k, then residual, y); the weights are read in 16-byte loads
// and each SIMD-group computes `gemv_multi_row_rows` rows, reading x once for
// them, `gemv_multi_row_simdgroups` SIMD-groups per threadgroup. The
// one-row-per-SIMD-group aliases stay for comparison (bench/cuda).

/// Rows per SIMD-group of the multi-row aliases.
inline constexpr unsigned gemv_multi_row_rows = 2;
/// SIMD-groups per threadgroup of the multi-row aliases.
inline constexpr unsigned gemv_multi_row_simdgroups = 4;

namespace detail {
template <fixed_string Name, weight_policy P, bool Residual, bool CpuQ8, bool Q8Activations = false,
          unsigned R = gemv_multi_row_rows, unsigned S = gemv_multi_row_simdgroups>
struct gemv_multi_row_kernel_for {
  using input = std::conditional_t<CpuQ8, cpu_q8_activations<plain_input<P>>, plain_input<P>>;
  using main = gemv_multi_row<input, R, S, false, Q8Activations>;
  using dispatch = typename main::template dispatch_for<>;
  using type = std::conditional_t<
      Residual,
      fused_kernel<Name, dispatch, main, epi::add_residual<"residual", "value", "row", size_arg<"n">>,
                   epi::store<"y", "value", size_arg<"n">>>,
      fused_kernel<Name, dispatch, main, epi::store<"y", "value", size_arg<"n">>>>;
};
}  // namespace detail

/// A multi-row library GEMV: y = W·x (`Residual`: y = W·x + residual), W
/// [n, k] row-major in policy `P` (F16, F32, Q8_0, Q4_0, Q4_1), x float[k],
/// y (and residual) float[n]; `gemv_multi_row` with `R` rows per SIMD-group
/// (1, 2, 4) and `S` SIMD-groups per threadgroup, by default those above.
/// The best R depends on the shape (bench/results/2026-12-06-h100-cuda.md,
/// measured on an H100): R = 1 on matrices of a few hundred KB (more
/// SIMD-groups in flight), R = 2 on large ones, R = 4 on a wide LM head.
/// `CpuQ8`: 8-bit activations on the CPU, as for `gemv_kernel`. Arguments
/// as listed above.
template <fixed_string Name, weight_policy P, bool Residual = false, bool CpuQ8 = false,
          unsigned R = gemv_multi_row_rows, unsigned S = gemv_multi_row_simdgroups>
using gemv_multi_row_kernel = typename detail::gemv_multi_row_kernel_for<Name, P, Residual, CpuQ8, false, R, S>::type;

/// y = W·x, W row-major in F16, several rows per SIMD-group.
using gemv_f16_multi_row = gemv_multi_row_kernel<"gemv_f16_multi_row", policies::f16>;
/// y = W·x, W row-major in Q8_0, several rows per SIMD-group.
using gemv_q8_0_multi_row = gemv_multi_row_kernel<"gemv_q8_0_multi_row", policies::q8_0>;
/// y = W·x, W row-major in Q4_0, several rows per SIMD-group.
using gemv_q4_0_multi_row = gemv_multi_row_kernel<"gemv_q4_0_multi_row", policies::q4_0>;
/// y = W·x, W row-major in Q4_1, several rows per SIMD-group.
using gemv_q4_1_multi_row = gemv_multi_row_kernel<"gemv_q4_1_multi_row", policies::q4_1>;
/// y = W·x + residual, W row-major in F16, several rows per SIMD-group.
using gemv_f16_residual_multi_row = gemv_multi_row_kernel<"gemv_f16_residual_multi_row", policies::f16, true>;
/// y = W·x + residual, W row-major in Q8_0, several rows per SIMD-group.
using gemv_q8_0_residual_multi_row = gemv_multi_row_kernel<"gemv_q8_0_residual_multi_row", policies::q8_0, true>;
/// y = W·x + residual, W row-major in Q4_0, several rows per SIMD-group.
using gemv_q4_0_residual_multi_row = gemv_multi_row_kernel<"gemv_q4_0_residual_multi_row", policies::q4_0, true>;
/// y = W·x + residual, W row-major in Q4_1, several rows per SIMD-group.
using gemv_q4_1_residual_multi_row = gemv_multi_row_kernel<"gemv_q4_1_residual_multi_row", policies::q4_1, true>;

// --- 8-bit activations (gemv_multi_row with Q8Activations) -------------------
//
// x comes as `xq` (int8 [k]) and `xq_scales` (float [2·k/32]) from
// `quantize_q8_activations` (Q8_0 weights) or
// `quantize_q8_activations_pair_split` (Q4_0, Q4_1; q8_activations.hpp), in
// place of `x`; otherwise the arguments of the multi-row aliases. Integer
// dot products (dp4a on CUDA); the error is the rounding of x to 8 bits,
// ~1e-3 of Σ|w·x| per row.

/// A multi-row GEMV with 8-bit activations: y = W·x̃ (`Residual`: + residual),
/// W [n, k] row-major in `P` (Q8_0, Q4_0, Q4_1), x̃ the 8-bit blocks of x.
template <fixed_string Name, weight_policy P, bool Residual = false>
using gemv_multi_row_q8_act_kernel =
    typename detail::gemv_multi_row_kernel_for<Name, P, Residual, false, true>::type;

/// y = W·x̃, W row-major in Q8_0, 8-bit activations (element order).
using gemv_q8_0_multi_row_q8_act = gemv_multi_row_q8_act_kernel<"gemv_q8_0_multi_row_q8_act", policies::q8_0>;
/// y = W·x̃, W row-major in Q4_0, 8-bit activations (pair-split order).
using gemv_q4_0_multi_row_q8_act = gemv_multi_row_q8_act_kernel<"gemv_q4_0_multi_row_q8_act", policies::q4_0>;
/// y = W·x̃, W row-major in Q4_1, 8-bit activations (pair-split order).
using gemv_q4_1_multi_row_q8_act = gemv_multi_row_q8_act_kernel<"gemv_q4_1_multi_row_q8_act", policies::q4_1>;
/// y = W·x̃ + residual, W row-major in Q4_1, 8-bit activations.
using gemv_q4_1_residual_multi_row_q8_act =
    gemv_multi_row_q8_act_kernel<"gemv_q4_1_residual_multi_row_q8_act", policies::q4_1, true>;

/// Y = X·Wᵀ + R (residual [batch, n], may be y), W row-major, F16.
using gemv_f16_residual_batched =
    gemv_kernel<"gemv_f16_residual_batched", policies::f16, layout::row_major, true, true>;
/// Batched with residual, W row-major, Q8_0.
using gemv_q8_0_residual_batched =
    gemv_kernel<"gemv_q8_0_residual_batched", policies::q8_0, layout::row_major, true, true>;
/// Batched with residual, W row-major, Q4_0.
using gemv_q4_0_residual_batched =
    gemv_kernel<"gemv_q4_0_residual_batched", policies::q4_0, layout::row_major, true, true>;
/// Batched with residual, W row-major, Q4_1.
using gemv_q4_1_residual_batched =
    gemv_kernel<"gemv_q4_1_residual_batched", policies::q4_1, layout::row_major, true, true>;

/// The library's GEMV kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using gemv_library = type_list<
    gemv_f16,
    gemv_f32,
    gemv_f16_bias_silu,
    gemv_q8_0,
    gemv_q4_0,
    gemv_q4_1,
    gemv_f16_canonical,
    gemv_q8_0_canonical,
    gemv_q4_0_canonical,
    gemv_q4_1_canonical,
    gemv_f16_batched,
    gemv_q8_0_batched,
    gemv_q4_0_batched,
    gemv_q4_1_batched,
    gemv_f16_canonical_batched,
    gemv_q8_0_canonical_batched,
    gemv_q4_0_canonical_batched,
    gemv_q4_1_canonical_batched,
    gemv_f16_residual,
    gemv_q8_0_residual,
    gemv_q4_0_residual,
    gemv_q4_1_residual,
    gemv_f16_residual_batched,
    gemv_q8_0_residual_batched,
    gemv_q4_0_residual_batched,
    gemv_q4_1_residual_batched,
    gemv_q8_0_cpu_q8,
    gemv_q4_0_residual_cpu_q8,
    gemv_q4_1_residual_cpu_q8,
    gemv_q4_1_batched_cpu_q8,
    gemv_f16_multi_row,
    gemv_q8_0_multi_row,
    gemv_q4_0_multi_row,
    gemv_q4_1_multi_row,
    gemv_f16_residual_multi_row,
    gemv_q8_0_residual_multi_row,
    gemv_q4_0_residual_multi_row,
    gemv_q4_1_residual_multi_row,
    quantize_q8_activations,
    quantize_q8_activations_pair_split,
    gemv_q8_0_multi_row_q8_act,
    gemv_q4_0_multi_row_q8_act,
    gemv_q4_1_multi_row_q8_act,
    gemv_q4_1_residual_multi_row_q8_act>;

}  // namespace foundry::kernels
