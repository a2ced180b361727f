#pragma once
/// @file gemv_multi_row.hpp
/// GEMV main stage, row-major weights, several rows per SIMD-group, the
/// weights read in 16-byte loads.
///
/// Computes, for each output row r < n (and batch item b < batch):
///   value = Σ_k W[r, k] · x[b, k]
/// with W an [n, k] matrix in the hook's policy (data plane `w`, scale plane
/// `w_scales`, policy.hpp) and x float. The same arguments, ports and
/// epilogues as `gemv_row_major` (gemv.hpp); a different work split, made
/// for GPUs where a decode GEMV is bound by memory bandwidth:
///
/// - A SIMD-group computes `RowsPerSimdgroup` (R) adjacent rows, row0 =
///   (threadgroup_position_in_grid.x · SimdgroupsPerThreadgroup +
///   simdgroup_index_in_threadgroup) · R. Lane l reads 16-byte run
///   c = l, l + 32, ... of each of the R rows (one `uint4` load per row and
///   run: V = the policy's `vector_load_weights` weights, 8 for F16, 16 for
///   Q8_0, 32 for Q4_0/Q4_1) and the V elements of x under it once, for all
///   R rows: x is loaded once per R rows, the R loads of a run are in flight
///   together, and 32 lanes read 512 contiguous bytes of a row per step.
/// - One reduction point sums the R partial sums of the SIMD-group as one
///   vector (`simd_sum` of a float2/float4), after which every lane holds
///   all R totals; lane l reports row row0 + l % R, and lanes 0..R−1 are
///   the writers. Rows past n are clamped to n − 1 for the loads (never
///   written).
/// - The input is read with the hook's `load_input4` (16-byte loads of x)
///   where it has one (`plain_input`), else element by element.
///
/// Dispatch: `simdgroup_per_row<sizes::ceil_quotient<size_arg<"n">, R>,
/// SimdgroupsPerThreadgroup[, Batch]>` (`dispatch_for`): ceil(n / R)
/// SIMD-groups, SimdgroupsPerThreadgroup · 32 threads per threadgroup.
///
/// Requires: the policy's vector loads (`vector_load_weights`, Metal
/// `dot_vector`, dsl/policy.hpp: F16, F32, Q8_0, Q4_0, Q4_1) and k a
/// multiple of `weights_per_block` (every GGUF row). For F16/F32 rows whose
/// k is not a multiple of V (the rows are then not 16-byte aligned) the
/// stage takes an element-by-element loop instead (a uniform branch on k),
/// so any k works. x (and `xq`) are read in 16-byte loads: bind them at a
/// buffer's start or at a byte offset that is a multiple of 16 (a misaligned
/// vector load faults on GPUs). Not for hooks that fold RMSNorm into the
/// loads (`rmsnorm_folded_input`).
///
/// On the CPU (lane loops, dsl/lane_loop.hpp) lane r < R computes row
/// row0 + r alone with the host run loop of row_dot.hpp (and the 8-bit
/// integer dot products under `cpu_q8_activations`), as the row-major
/// stage's lane 0 does, where the policy has such a loop; the other lanes
/// add nothing.
///
/// 8-bit activations (`Q8Activations`, Q8_0/Q4_0/Q4_1: `has_vector_i8`):
/// x comes quantized per block of 32 (kernels/gemv/q8_activations.hpp: the
/// arguments `xq`, int8 [k] in the policy's code order, and `xq_scales`,
/// float [2·k/32], (d_x, Σc) per block, in place of `x`), and each run adds
/// d_w·d_x·Σ(q + o)·c (+ m_w·d_x·Σc for Q4_1) with integer dot products
/// (`dot_vector_i8`: dp4a on CUDA), llama.cpp's rule for these formats
/// (its Q8_1 activations). The result differs from the float form by the
/// rounding of x (|x − d·c| <= d/2 per element). Every target runs the same
/// loop (no host run loop); not batched.

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/common/rmsnorm_input.hpp"
#include "kernels/common/row_dot.hpp"
#include "kernels/gemv/gemv.hpp"

namespace foundry::kernels {

namespace detail {
/// Arguments of the GEMV with 8-bit activations: `w`, `w_scales`, `xq`
/// (int8 [k]), `xq_scales` (float [2·k/32]), `n`, `k`.
template <weight_policy P>
using gemv_q8_activation_arguments =
    type_list<arg<"w", input<std::byte, min_elements<data_plane_size<P, size_arg<"n">, size_arg<"k">>>>>,
              arg<"w_scales", input<std::byte, min_elements<scale_plane_size<P, size_arg<"n">, size_arg<"k">>>>>,
              arg<"xq", input<std::int8_t, min_elements<size_arg<"k">>>>,
              arg<"xq_scales", input<float, min_elements<sizes::quotient<size_arg<"k">, 16>>>>,
              arg<"n", scalar<std::uint32_t>>, arg<"k", scalar<std::uint32_t>>>;
}  // namespace detail

/// Whether hook `H` loads 4 input elements at once (`load_input4`).
template <class H>
inline constexpr bool hook_loads_float4 = requires { H::load_input4("x", "k"); };

/// Whether hook `H` supplies the input vector itself (`static constexpr bool
/// reads_own_input = true`, e.g. `flash_merged_input`): the main stage then
/// has no `x` argument.
template <class H>
inline constexpr bool hook_reads_own_input = requires { requires bool(H::reads_own_input); };

/// The multi-row GEMV main stage (see the file comment). `RowsPerSimdgroup`
/// is 1, 2 or 4; `SimdgroupsPerThreadgroup` 1 to 32.
template <hook Hook, unsigned RowsPerSimdgroup = 2, unsigned SimdgroupsPerThreadgroup = 4, bool Batched = false,
          bool Q8Activations = false>
struct gemv_multi_row {
  using policy = typename Hook::policy;
  static_assert(!Q8Activations || (has_vector_i8<policy> && policy::weights_per_block == 32),
                "gemv_multi_row: 8-bit activations need a policy with integer dot products (dot_vector_i8, "
                "dsl/policy.hpp) and blocks of 32 weights");
  static_assert(!Q8Activations || (!Batched && std::is_same_v<Hook, plain_input<policy>>),
                "gemv_multi_row: 8-bit activations are read as they are (plain_input) and not batched");
  static_assert(has_vector_loads<policy>,
                "gemv_multi_row: the weight policy has no vector loads (vector_load_weights and the Metal "
                "dot_vector, dsl/policy.hpp)");
  static_assert(RowsPerSimdgroup == 1 || RowsPerSimdgroup == 2 || RowsPerSimdgroup == 4,
                "gemv_multi_row: RowsPerSimdgroup must be 1, 2 or 4 (one float, float2 or float4 reduction)");
  static_assert(SimdgroupsPerThreadgroup >= 1 && SimdgroupsPerThreadgroup <= 32,
                "gemv_multi_row: SimdgroupsPerThreadgroup must be 1 to 32 (at most 1024 threads)");
  static_assert(!folded_rms_hook<Hook>,
                "gemv_multi_row: a hook folding RMSNorm into the loads is not supported (use rmsnorm_input)");
  static_assert(!Batched || supports_batched_input<Hook>,
                "gemv_multi_row: this hook reads the input itself and cannot be batched");
  static constexpr unsigned vector_weights = policy::vector_load_weights;
  static_assert(policy::weights_per_block % vector_weights == 0 || vector_weights % policy::weights_per_block == 0,
                "gemv_multi_row: a 16-byte load must hold whole blocks or lie inside one");

  static constexpr fixed_string name = "gemv_multi_row";
  static constexpr stage_role role = stage_role::main;
  using hook = Hook;
  static constexpr unsigned rows_per_simdgroup = RowsPerSimdgroup;
  static constexpr unsigned rows_per_threadgroup = RowsPerSimdgroup * SimdgroupsPerThreadgroup;
  /// SIMD-groups of the grid: one per `RowsPerSimdgroup` rows.
  using simdgroups = sizes::ceil_quotient<size_arg<"n">, RowsPerSimdgroup>;
  /// The dispatch this stage expects (`Batch` a size source of the items).
  template <class Batch = size_const<1>>
  using dispatch_for = simdgroup_per_row<simdgroups, SimdgroupsPerThreadgroup, Batch>;
  /// The dispatch rule this stage needs (checked by the composer).
  template <class Dispatch>
  static constexpr bool accepts_dispatch = is_simdgroup_per_row_of<Dispatch, simdgroups, SimdgroupsPerThreadgroup>;
  static constexpr ct_string required_dispatch() {
    return "simdgroup_per_row<sizes::ceil_quotient<size_arg<n>, " + to_text(RowsPerSimdgroup) + ">, " +
           to_text(SimdgroupsPerThreadgroup) + "> (one SIMD-group per " + to_text(RowsPerSimdgroup) + " rows)";
  }
  /// As `gemv_row_major`: `w`, `w_scales` (scaled policies), `x` (not for
  /// hooks that read their own input, `hook_reads_own_input`), `n`, `k`,
  /// `batch` (batched only).
  using arguments =
      std::conditional_t<Q8Activations, detail::gemv_q8_activation_arguments<policy>,
                         detail::gemv_arguments<policy, Batched, !hook_reads_own_input<Hook>>>;
  using produces = detail::gemv_ports<Batched>;

  static constexpr ct_string emit() {
    if constexpr (Q8Activations) return emit_q8();
    else return emit_float();
  }
  /// Prefetch (dsl/stage.hpp): thread 0 of each threadgroup asks for the
  /// weight bytes of its rows (of the first batch item's threadgroups only).
  static constexpr ct_string prefetch() { return gemv_rows_prefetch<policy>(rows_per_threadgroup, Batched); }

 private:
  /// The rows of the SIMD-group, the ports, the accumulators.
  static constexpr ct_string head() {
    const ct_string Rs = to_text(RowsPerSimdgroup);
    return "const uint lane = $thread_index_in_simdgroup;\n"
           "const uint row0 = ($threadgroup_position_in_grid.x * " + to_text(SimdgroupsPerThreadgroup) +
           "u + $simdgroup_index_in_threadgroup) * " + Rs + "u;\n"
           "$row = row0 + lane % " + Rs + "u;\n"
           "$row_active = $row < $n;\n"
           "$writer = $row_active && lane < " + Rs + "u;\n" +
           ct_string(Batched ? detail::gemv_batch_lines : "") +
           "float acc[" + Rs + "];\n"
           "for (uint r = 0u; r < " + Rs + "u; ++r) acc[r] = 0.0f;\n";
  }
  /// One reduction point for the R rows; lane l reports row row0 + l % R.
  static constexpr ct_string tail() {
    constexpr unsigned R = RowsPerSimdgroup;
    const ct_string Rs = to_text(R);
    if constexpr (R == 1) {
      return simd_reduction(reduce_op::add, "float", "total", "acc[0]") + "$value = total;\n";
    } else {
      ct_string v = "float" + Rs + "(acc[0]";
      for (unsigned r = 1; r < R; ++r) v += ", acc[" + to_text(r) + "]";
      return simd_reduction(reduce_op::add, "float" + Rs, "total", v + ")") +
             "$value = total[$thread_index_in_simdgroup % " + Rs + "u];\n";
    }
  }
  /// Row `row`'s data and scale pointers `wd`, `ws`.
  static constexpr ct_string row_pointers(const ct_string& row) {
    const ct_string wpb = to_text(policy::weights_per_block) + "u";
    ct_string s = "const device uchar* wd = $w + (ulong)" + row + " * (ulong)($k / " + wpb + ") * " +
                  to_text(policy::block_bytes) + "u;\n";
    if (policy::has_scale)
      s += "const device uchar* ws = " + row_scales_expr<policy>("$w_scales", row, "($k / " + wpb + ")") + ";\n";
    else
      s += "const device uchar* ws = $w;  // no scale plane\n";
    return s;
  }

  /// 8-bit activations: codes and (d, Σc) of each run's block, integer dot
  /// products per row.
  static constexpr ct_string emit_q8() {
    constexpr unsigned V = vector_weights;
    const ct_string P(policy::metal_name), Rs = to_text(RowsPerSimdgroup), Vs = to_text(V);
    ct_string affine;
    if (policy::has_affine) affine = " + " + P + "::load_affine(ws, b) * (xd.x * xd.y)";
    // Σc of the run: the block's when the run is a whole block, else unused
    // (policies with shorter runs, Q8_0, have no offset).
    ct_string csum = "0";
    if (V == 32) csum = "int(xd.y)";
    return head() +
           "for (uint c = lane; c < $k / " + Vs + "u; c += 32u) {\n"
           "  const uint k0 = c * " + Vs + "u;\n"
           "  const uint b = k0 / 32u;  // the block of weights and of activations\n"
           "  const float2 xd = float2($xq_scales[2u * b], $xq_scales[2u * b + 1u]);  // d_x, Σc\n"
           "  uint cw[" + to_text(V / 4) + "];  // the run's activation codes, four per word\n"
           "  for (int i = 0; i < " + to_text(V / 16) + "; ++i) {\n"
           "    const uint4 t = ((const device uint4*)($xq + k0))[i];\n"
           "    cw[4 * i] = t.x; cw[4 * i + 1] = t.y; cw[4 * i + 2] = t.z; cw[4 * i + 3] = t.w;\n"
           "  }\n"
           "  for (uint r = 0u; r < " + Rs + "u; ++r) {\n"
           "    const uint rr = min(row0 + r, $n - 1u);  // rows past n: loads only, never written\n" +
           indent(row_pointers("rr"), "    ") +
           "    const uint4 v = ((const device uint4*)wd)[c];\n"
           "    acc[r] += " + P + "::load_scale(ws, b) * (xd.x * float(" + P + "::dot_vector_i8(v, cw, " + csum +
           ")))" + affine + ";\n"
           "  }\n"
           "}\n" +
           tail();
  }
  /// `text` with `by` before each of its lines.
  static constexpr ct_string indent(const ct_string& text, std::string_view by) {
    ct_string out;
    std::size_t at = 0;
    while (at < text.size()) {
      std::size_t nl = text.find('\n', at);
      if (nl == ct_string::npos) nl = text.size() - 1;
      out += ct_string(by) + text.substr(at, nl - at + 1);
      at = nl + 1;
    }
    return out;
  }

  static constexpr ct_string emit_float() {
    constexpr unsigned R = RowsPerSimdgroup, V = vector_weights;
    const ct_string P(policy::metal_name), Rs = to_text(R), Vs = to_text(V);
    const ct_string wpb = to_text(policy::weights_per_block) + "u";
    const ct_string x = Batched ? "xb" : "$x";
    // x̂ at `idx` into `dst`.
    auto load = [&](const ct_string& dst, const ct_string& idx) { return dst + " = " + Hook::load_input(x, idx) + ";"; };
    ct_string affine_term;
    if (policy::has_affine) affine_term = " + " + P + "::load_affine(ws, b) * xs";

    ct_string s = head();

    // CPU: lane r < R takes row row0 + r with the host run loop.
    constexpr unsigned C = row_dot_chunk<policy>;
    constexpr bool host_rows = host_q8_rows<policy, Hook> || host_elementwise_runs<policy>;
    if constexpr (host_rows) {
      const run_target host_targets[] = {{"a", "wd", "ws"}};
      s += "#if FOUNDRY_TARGET_CPU\n"
           "if (lane < " + Rs + "u && row0 + lane < $n) {\n" +
           indent(row_pointers("(row0 + lane)"), "  ") +
           "  float a = 0.0f;\n" +
           host_run_loop<policy, Hook>(host_targets, C, "0u", "$k", load("xv[i]", "int(k0) + i"), "", x, false);
      if (policy::weights_per_block == 1)  // F16/F32: the last k % C elements
        s += "  for (uint k1 = ($k / " + to_text(C) + "u) * " + to_text(C) + "u; k1 < $k; ++k1) {\n"
             "    float xv[1];\n"
             "    " + load("xv[0]", "k1") + "\n"
             "    a += " + P + "::dot<1>(wd, k1, xv);\n"
             "  }\n";
      s += "  acc[lane] = a;\n"
           "}\n"
           "#else\n";
    }

    // GPU (and the CPU for policies without a host run loop).
    ct_string xload;
    if constexpr (hook_loads_float4<Hook>) {
      xload = "    for (int i = 0; i < " + to_text(V / 4) + "; ++i) {\n"
              "      const float4 t = " + Hook::load_input4(x, "k0 + 4u * uint(i)") + ";\n"
              "      xv[4 * i] = t.x; xv[4 * i + 1] = t.y; xv[4 * i + 2] = t.z; xv[4 * i + 3] = t.w;\n"
              "    }\n";
    } else {
      xload = "    for (int i = 0; i < " + Vs + "; ++i) " + load("xv[i]", "k0 + uint(i)") + "\n";
    }
    // Σx̂ of the run, once for its R rows: `dot_vector` takes it (for the
    // codes' float trick, policy .metal files) and the affine term uses it.
    const ct_string xsum = "    float xs4[4] = {0.0f, 0.0f, 0.0f, 0.0f};\n"
                           "    for (int i = 0; i < " + Vs + "; ++i) xs4[i & 3] += xv[i];\n"
                           "    const float xs = (xs4[0] + xs4[1]) + (xs4[2] + xs4[3]);\n";
    ct_string vector_loop =
        "  for (uint c = lane; c < $k / " + Vs + "u; c += 32u) {\n"
        "    const uint k0 = c * " + Vs + "u;\n"
        "    float xv[" + Vs + "];\n" + xload + xsum +
        "    const uint b = k0 / " + wpb + ";\n"
        "    for (uint r = 0u; r < " + Rs + "u; ++r) {\n"
        "      const uint rr = min(row0 + r, $n - 1u);  // rows past n: loads only, never written\n" +
        indent(row_pointers("rr"), "      ") +
        "      const uint4 v = ((const device uint4*)wd)[c];\n"
        "      acc[r] += " + P + "::load_scale(ws, b) * " + P + "::dot_vector(v, xv, xs)" + affine_term + ";\n"
        "    }\n"
        "  }\n";
    if (policy::weights_per_block % V != 0) {
      // F16/F32: rows are 16-byte aligned only when k is a multiple of V.
      ct_string affine_one;
      if (policy::has_affine) affine_one = " + " + P + "::load_affine(ws, b) * xv[0]";
      vector_loop = "if ($k % " + Vs + "u == 0u) {\n" + vector_loop +
                    "} else {\n"
                    "  for (uint k0 = lane; k0 < $k; k0 += 32u) {\n"
                    "    float xv[1];\n"
                    "    " + load("xv[0]", "k0") + "\n"
                    "    const uint b = k0 / " + wpb + ";\n"
                    "    for (uint r = 0u; r < " + Rs + "u; ++r) {\n"
                    "      const uint rr = min(row0 + r, $n - 1u);\n" +
                    indent(row_pointers("rr"), "      ") +
                    "      acc[r] += " + P + "::load_scale(ws, b) * " + P + "::dot<1>(wd, k0, xv)" + affine_one + ";\n"
                    "    }\n"
                    "  }\n"
                    "}\n";
    } else {
      vector_loop = "{\n" + vector_loop + "}\n";
    }
    s += vector_loop;
    if constexpr (host_rows) s += "#endif\n";

    return s + tail();
  }
};

}  // namespace foundry::kernels
