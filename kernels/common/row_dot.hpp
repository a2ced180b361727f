#pragma once
/// @file row_dot.hpp
/// Emits the per-lane part of dot products of weight rows with one input
/// vector, for main stages that give each output row one SIMD-group (the
/// fused QKV and gate/up projections; shared, so it lives in kernels/common).
///
/// For row r of a row-major [rows, K] matrix W in weight policy P (data
/// plane `w`, scale plane `w_scales`, layout of policy.hpp), lane l of the
/// SIMD-group adds to its accumulator
///   Σ_{runs c} d_b · Σ_{i<C} q[c+i]·x̂[c+i]  (+ m_b · Σ_{i<C} x̂[c+i] for affine P)
/// over the runs of C adjacent elements c = C·l, C·l + 32·C, ...
/// (b = c / weights_per_block; C = `row_dot_chunk<P>`: 8 for block formats,
/// so a run stays inside its block and a Q4 lane reads one 32-bit word, 4
/// for F16/F32), then, for F16/F32 only, the tail elements
/// K − K mod C + l, + 32, ... one at a time. A `simd_sum` of the
/// accumulators after the emitted block gives the row's dot product. x̂[i] is
/// the hook's `load_input(x, i)` (RMSNorm-normalised for `rmsnorm_input`).
/// Several matrices of one policy (gate and up) share the loads of x̂.
/// K must be a multiple of P::weights_per_block (any K for F16/F32).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/policy.hpp"
#include "kernels/common/rmsnorm_input.hpp"

namespace foundry::kernels {

/// One matrix of a `row_dot` call: the accumulator variable to add to, and
/// the resolved expressions of the matrix's data and scale planes (the
/// scale plane is ignored for policies without one).
struct row_dot_target {
  std::string_view acc;
  std::string_view data;
  std::string_view scales;
  /// The target's own row (a resolved expression); empty: `row_dot`'s row.
  /// Targets of different rows of one matrix share each load of x̂.
  std::string_view row = {};
};

/// One matrix of `host_run_loop`: its accumulator and the variables
/// holding the row's data and scale plane pointers.
struct run_target {
  std::string_view acc, wd, ws;
};

/// Whether the CPU runs policy `P`'s rows with `host_run_loop`: true unless
/// the policy declares `static constexpr bool host_elementwise_runs = false`
/// (where its per-run dot product measures faster on the host).
template <class P>
inline constexpr bool host_elementwise_runs = [] {
  if constexpr (requires { P::host_elementwise_runs; })
    return bool(P::host_elementwise_runs);
  else
    return true;
}();

/// Hooks that read the input vector only through `load_input` and so accept
/// a per-batch-item input pointer: `plain_input`, or any hook declaring
/// `static constexpr bool batched_input = true`. (A hook whose preamble reads
/// `$x` itself, such as `rmsnorm_input`, would see item 0 only.)
template <class H>
inline constexpr bool supports_batched_input = [] {
  if constexpr (requires { H::batched_input; })
    return bool(H::batched_input);
  else
    return std::is_same_v<H, plain_input<typename H::policy>>;
}();

/// Hook wrapper: `Hook` unchanged, except that on the CPU the row dot
/// products of the stages built on `row_dot` / `host_run_loop`
/// (`gemv_row_major`, `qkv_projection`, `gate_up_projection`) read x̂ as
/// 8-bit blocks of 32 and sum integer products, for the policies that have
/// such a dot product (`row_dot_q8`: Q8_0, Q4_0, Q4_1; the others keep
/// float). x̂ (the hook's input as the stage reads it, e.g. RMS-normalised)
/// is quantized as GGUF's Q8_0 does, `d = max|x̂|/127`, `c = round(x̂/d)`
/// per block, once per dispatch and worker thread (`foundry_q8_vector`,
/// backends/cpu/msl_prelude.h), and each block adds `d_w · d_x · Σ q·c`
/// (plus the affine term): llama.cpp's CPU backend computes these formats
/// the same way (its `vec_dot_type` Q8_0 / Q8_1). The result differs from
/// the float form by the rounding of x̂: |x̂ − d·c| <= d/2 per element,
/// an error of ~1e-3 of Σ|w·x̂| per dot product on random rows (measured
/// 1.2e-4 to 1.5e-3, tests/cpu/gemv_test.cpp; bound 1e-2 there). Metal and
/// CUDA forms are those of `Hook`. Requires x̂ to depend only on the dispatch and the input pointer (true of
/// every Foundry hook).
template <class Hook>
struct cpu_q8_activations : Hook {
  /// Marks the 8-bit CPU form for `row_dot` and `host_run_loop`.
  static constexpr bool cpu_q8 = true;
  /// Batched stages accept the wrapper where they accept `Hook`.
  static constexpr bool batched_input = supports_batched_input<Hook>;
};

/// Whether policy `P` has the CPU's integer row dot product with 8-bit
/// activations (`row_dot_q8`; it declares `host_q8_nibble_order`).
template <class P>
inline constexpr bool host_q8_policy = requires { P::host_q8_nibble_order; };

/// Whether the CPU form of a row in policy `P` read through hook `Hook`
/// uses 8-bit activations (`cpu_q8_activations`, a policy with `row_dot_q8`).
template <class P, class Hook>
inline constexpr bool host_q8_rows = [] {
  if constexpr (host_q8_policy<P> && requires { Hook::cpu_q8; })
    return bool(Hook::cpu_q8);
  else
    return false;
}();

/// What ends the GPU form after `host_run_loop`: `#endif`, or nothing when
/// the policy keeps one form everywhere.
template <class P, class Hook>
constexpr std::string_view host_run_loop_end() {
  return host_elementwise_runs<P> || host_q8_rows<P, Hook> ? "#endif\n" : "";
}

/// Whether the CPU form of a row of policy `P` read through `Hook` in runs of
/// `Chunk` leaves all the work to lane 0 of the SIMD-group (the other lanes
/// add nothing): the 8-bit form, or the host run loop with no per-element
/// tail (F16/F32 rows have one unless `Chunk` is 1). Main stages built on it
/// declare `cpu_lane0` (dsl/stage.hpp) so the CPU runs lane 0 alone.
template <class P, class Hook, unsigned Chunk>
inline constexpr bool host_rows_lane0 =
    host_q8_rows<P, Hook> || (host_elementwise_runs<P> && P::weights_per_block % Chunk == 0);

/// The CPU form of a row with 8-bit activations (see `cpu_q8_activations`),
/// as `#if FOUNDRY_TARGET_CPU` ... `#else`: lane 0 quantizes x̂ into its call
/// site's `foundry_q8_vector` when the dispatch has not done so on this
/// thread yet (`load` sets `xv[i]` for element `int(k0) + i` and, with
/// `squares`, adds its square to `sv[i]`; the sum of squares is kept with
/// x̂), then adds `P::row_dot_q8` of every target to its accumulator.
template <weight_policy P>
constexpr ct_string host_q8_row(std::span<const run_target> targets, std::string_view lane, std::string_view k,
                                const ct_string& load, std::string_view squares, std::string_view x) {
  const ct_string K(k);
  ct_string s = "#if FOUNDRY_TARGET_CPU\nif ((" + ct_string(lane) +
                ") == 0u) {\n"
                "  static thread_local foundry_q8_vector qx;  // x̂ in 8-bit blocks, once per dispatch and thread\n"
                "  if (!qx.current((const void*)(" + ct_string(x) + "), " + K + ", " +
                ct_string(P::host_q8_nibble_order ? "true" : "false") + ")) {\n"
                "    for (uint k0 = 0u; k0 < " + K + "; k0 += 32u) {\n"
                "      float xv[32], sv[32] = {};\n"
                "      for (int i = 0; i < 32; ++i) " + load + "\n";
  if (!squares.empty()) s += "      qx.squares += foundry_pairwise_sum<32>(sv);\n";
  s += "      qx.set_block(k0 / 32u, xv);\n"
       "    }\n"
       "  }\n";
  for (const run_target& t : targets)
    s += "  " + ct_string(t.acc) + " += " + ct_string(P::metal_name) + "::row_dot_q8(" + ct_string(t.wd) + ", " +
         ct_string(t.ws) + ", qx);\n";
  if (!squares.empty()) s += "  " + ct_string(squares) + " += qx.squares;\n";
  return s + "}\n#else\n";
}

/// The CPU form of a row's run loop, as `#if FOUNDRY_TARGET_CPU` ... `#else`
/// (the caller follows with its GPU loop and `host_run_loop_end`; empty for a
/// policy that keeps its dot product on the host). On the CPU the lanes
/// of a SIMD-group run one after another (lane loops, dsl/lane_loop.hpp), so
/// what matters is one lane's loop. Lane 0 takes the whole row, runs of
/// `chunk` elements one after the other, and the other lanes add nothing: a
/// decode row is short (576 elements for SmolLM2), and spread over 32 lanes
/// each lane would do two or three runs between its set-up and its share of
/// the reduction. Instead of a dot product per run (a horizontal sum of
/// `chunk` products, then scale and affine terms, every run), lane 0 keeps
/// `chunk` accumulators and adds the dequantised weight times x
/// element-wise, `av[i] += (d·q_i + m)·x_i` — a few vector instructions per
/// run — and sums them pairwise once per row. The reduction point after it
/// still sums all lanes (the others give 0). On GPUs the lanes share the
/// row and the per-run dot product is the established form (one accumulator
/// per lane, few registers), so they keep it. `lane`: the thread's index in
/// its SIMD-group; `k`: the row length (the host loop covers whole runs,
/// k − k mod chunk elements; the caller's tail loop the rest); `load`: a
/// statement setting `xv[i]` (and adding the square to `sv[i]` when
/// `squares` names the variable to add Σ sv to).
///
/// With `fenced` false the CPU block comes alone, without `#if
/// FOUNDRY_TARGET_CPU` and `#else` (for a caller that fences it itself).
template <weight_policy P, class Hook = plain_input<P>>
constexpr ct_string host_run_loop(std::span<const run_target> targets, unsigned chunk, std::string_view lane,
                                  std::string_view k, const ct_string& load, std::string_view squares,
                                  std::string_view x = {}, bool fenced = true) {
  constexpr std::string_view open = "#if FOUNDRY_TARGET_CPU\n", close = "#else\n";
  if constexpr (host_q8_rows<P, Hook>) {
    ct_string s = host_q8_row<P>(targets, lane, k, load, squares, x);
    if (!fenced) s = s.substr(open.size(), s.size() - open.size() - close.size());
    return s;
  }
  if (!host_elementwise_runs<P>) return {};
  const ct_string Pn(P::metal_name), C = to_text(chunk), wpb = to_text(P::weights_per_block) + "u";
  ct_string s = "{\n";
  if (fenced) s = ct_string(open) + s;
  for (std::size_t j = 0; j < targets.size(); ++j) s += "  float av" + to_text(j) + "[" + C + "] = {};\n";
  if (!squares.empty()) s += "  float sv[" + C + "] = {};\n";
  s += "  for (uint k0 = (" + ct_string(lane) + ") == 0u ? 0u : (" + ct_string(k) + "); k0 + " + C + "u <= " +
       ct_string(k) + "; k0 += " + C + "u) {\n"
       "    float xv[" + C + "];\n"
       "    for (int i = 0; i < " + C + "; ++i) " + load + "\n"
       "    const uint b = k0 / " + wpb + ";\n";
  for (std::size_t j = 0; j < targets.size(); ++j) {
    const run_target& t = targets[j];
    s += "    {\n      float q[" + C + "];\n      " + Pn + "::load_weights<" + C + ">(" + ct_string(t.wd) +
         ", k0, q);\n      const float d = " + Pn + "::load_scale(" + ct_string(t.ws) + ", b);\n";
    if (P::has_affine) s += "      const float m = " + Pn + "::load_affine(" + ct_string(t.ws) + ", b);\n";
    s += "      for (int i = 0; i < " + C + "; ++i) av" + to_text(j) + "[i] += (d * q[i]" +
         (P::has_affine ? " + m" : "") + ") * xv[i];\n    }\n";
  }
  s += "  }\n";
  for (std::size_t j = 0; j < targets.size(); ++j)
    s += "  " + ct_string(targets[j].acc) + " += foundry_pairwise_sum<" + C + ">(av" + to_text(j) + ");\n";
  if (!squares.empty()) s += "  " + ct_string(squares) + " += foundry_pairwise_sum<" + C + ">(sv);\n";
  s += "}\n";
  if (fenced) s += close;
  return s;
}

/// Statements of a stage's prefetch snippet (dsl/stage.hpp) asking for rows
/// [`row`, `row` + `rows`) of a row-major [`n`, `k`] matrix in `P` (data
/// plane `data`, scale plane `scales` where the policy has one) into L2:
/// one `foundry_prefetch_rows` (CUDA prelude) per plane, the rows being
/// contiguous in each; of a matrix whose plane is larger than the prelude's
/// FOUNDRY_PREFETCH_PLANE_BYTES only the first part of the range is asked
/// for. `row`, `rows`, `n`, `k` are resolved expressions (uint);
/// the caller keeps the rows inside the matrix and picks the thread that
/// asks. Built with `+=` only: this text is built in every composition
/// check, where each temporary string costs compile time.
template <weight_policy P>
constexpr ct_string rows_prefetch(std::string_view data, std::string_view scales, std::string_view row,
                                  std::string_view rows, std::string_view n, std::string_view k) {
  const ct_string per_block = to_text(P::weights_per_block);
  auto plane = [&](ct_string& s, std::string_view base, bool per_row_bytes, unsigned bytes) {
    s += "  foundry_prefetch_rows(";
    s += base;
    s += ", ";
    if (!per_row_bytes) {
      s += "(ulong)(";
      s += k;
      s += ") / ";
      s += per_block;
      s += "u * ";
    }
    s += to_text(bytes);
    s += "u, ";
    s += row;
    s += ", ";
    s += rows;
    s += ", ";
    s += n;
    s += ");\n";
  };
  ct_string s = "{\n";
  plane(s, data, false, P::block_bytes);
  if constexpr (P::has_scale) plane(s, scales, scale_granularity_of<P> == scale_granularity::row, P::scale_bytes);
  s += "}\n";
  return s;
}

/// The prefetch snippet (dsl/stage.hpp) of a GEMV stage over arguments `w`,
/// `w_scales`, `n`, `k` (gemv.hpp) whose threadgroup x computes rows
/// [x·`rows_per_threadgroup`, ...): thread 0 of each threadgroup asks for
/// those rows (`rows_prefetch`); `batched`: only the first batch item's
/// threadgroups (y = 0), the others read the same rows.
template <weight_policy P>
constexpr ct_string gemv_rows_prefetch(unsigned rows_per_threadgroup, bool batched) {
  const ct_string R = to_text(rows_per_threadgroup);
  ct_string s = "const uint row0 = $threadgroup_position_in_grid.x * ";
  s += R;
  s += batched ? "u;\nif ($threadgroup_position_in_grid.y == 0u && " : "u;\nif (";
  s += "$simdgroup_index_in_threadgroup == 0u && $thread_index_in_simdgroup == 0u && row0 < $n) ";
  s += rows_prefetch<P>("$w", "$w_scales", "row0", "min(" + R + "u, $n - row0)", "$n", "$k");
  return s;
}

/// Elements per lane run of `row_dot` for policy `P` (see the file comment).
template <weight_policy P>
inline constexpr unsigned row_dot_chunk = P::weights_per_block == 1 ? 4u : 8u;

/// Metal statements (a `{ }` block) adding the lane's share of
/// `W_t[row, :] · x̂` to `t.acc` for every target `t` (see the file comment).
/// `row`, `k`, `lane`, `x` are resolved expressions (row index, columns,
/// lane in the SIMD-group, input vector).
///
/// With a `folded_rms_hook` (`rmsnorm_folded_input`), x̂_i is x_i·gamma_i
/// (not yet scaled by inv_rms) and, when `squares` names a float variable,
/// the lane also adds its x_i² to it; the caller reduces both over the
/// SIMD-group and scales the dot products by inv_rms (`set_inv_rms`). Pass
/// `squares` to one `row_dot` per pass over x only. Other hooks give x̂_i as
/// `Hook::load_input(x, i)` and ignore `squares`.
template <weight_policy P, class Hook>
constexpr ct_string row_dot(std::initializer_list<row_dot_target> targets, std::string_view row,
                              std::string_view k, std::string_view lane, std::string_view x,
                              std::string_view squares = {}) {
  constexpr unsigned chunk = row_dot_chunk<P>;
  static_assert(P::weights_per_block == 1 || P::weights_per_block % chunk == 0,
                "foundry: row_dot reads runs of 8 weights inside one block");
  const ct_string Pn(P::metal_name);
  const ct_string K(k), L(lane), R(row), C = to_text(chunk);
  const ct_string wpb = to_text(P::weights_per_block) + "u";
  // Statement(s) setting `dst` to x̂ at index `idx` (and the square to
  // `square`, `= ` or `+= ` included, when the squares are summed).
  auto load = [&](const ct_string& dst, const ct_string& idx, const ct_string& square) {
    if constexpr (folded_rms_hook<Hook>) {
      ct_string t = "{ const float xr = " + Hook::load_raw(x, idx) + "; ";
      if (!squares.empty()) t += square + "xr * xr; ";
      return t + dst + " = " + Hook::scale_raw("xr", idx) + "; }";
    } else {
      return dst + " = " + Hook::load_input(x, idx) + ";";
    }
  };
  ct_string s = "{\n  const ulong blocks = (ulong)(" + K + " / " + wpb + ");\n";
  std::size_t i = 0;
  for (const row_dot_target& t : targets) {
    const ct_string id = to_text(i++);
    ct_string tr = R;
    if (!t.row.empty()) tr = ct_string(t.row);
    s += "  const device uchar* wd" + id + " = " + ct_string(t.data) + " + (ulong)(" + tr + ") * blocks * " +
         to_text(P::block_bytes) + "u;\n";
    if (P::has_scale)
      s += "  const device uchar* ws" + id + " = " + row_scales_expr<P>(t.scales, "(" + tr + ")", "blocks") + ";\n";
    else
      s += "  const device uchar* ws" + id + " = wd" + id + ";  // no scale plane\n";
  }
  auto accumulate = [&](const ct_string& n, const ct_string& kk) {
    ct_string a;
    std::size_t j = 0;
    for (const row_dot_target& t : targets) {
      const ct_string id = to_text(j++);
      a += "    " + ct_string(t.acc) + " += " + Pn + "::load_scale(ws" + id + ", b) * " + Pn + "::dot<" + n +
           ">(wd" + id + ", " + kk + ", xv)";
      if (P::has_affine) a += " + " + Pn + "::load_affine(ws" + id + ", b) * xs";
      a += ";\n";
    }
    return a;
  };
  // Sums over a run (its squares, Σx̂ for affine formats) are pairwise
  // (foundry_pairwise_sum): short dependency chains.
  const bool sum_squares = folded_rms_hook<Hook> && !squares.empty();
  {
    std::vector<ct_string> names;  // wd<i>, ws<i>: storage for the views below
    names.reserve(2 * targets.size());  // no reallocation: the views stay valid
    for (std::size_t t = 0; t < targets.size(); ++t) {
      names.push_back("wd" + to_text(t));
      names.push_back("ws" + to_text(t));
    }
    std::vector<run_target> rt;
    std::size_t t = 0;
    for (const row_dot_target& tg : targets) {
      rt.push_back({tg.acc, names[2 * t], names[2 * t + 1]});
      ++t;
    }
    const ct_string host_load = load("xv[i]", "int(k0) + i", "sv[i] += ");
    s += host_run_loop<P, Hook>(rt, chunk, L, K, host_load, sum_squares ? squares : "", x);
  }
  s += "  for (uint k0 = " + L + " * " + C + "u; k0 + " + C + "u <= " + K + "; k0 += " + to_text(32 * chunk) +
       "u) {\n"
       "    float xv[" + C + "];\n";
  if (sum_squares) s += "    float sq[" + C + "];\n";
  // Signed index: `int(k0) + i` cannot wrap, so a CPU compiler sees C adjacent
  // floats (one vector load) where `k0 + uint(i)` would make it gather.
  s += "    for (int i = 0; i < " + C + "; ++i) " + load("xv[i]", "int(k0) + i", "sq[i] = ") + "\n";
  if (sum_squares) s += "    " + ct_string(squares) + " += foundry_pairwise_sum<" + C + ">(sq);\n";
  s += "    const uint b = k0 / " + wpb + ";\n";
  if (P::has_affine) {
    s += "    float xt[" + C + "];\n"
         "    for (int i = 0; i < " + C + "; ++i) xt[i] = xv[i];\n"
         "    const float xs = foundry_pairwise_sum<" + C + ">(xt);\n";
  }
  s += accumulate(C, "k0");
  s += "  }\n" + ct_string(host_run_loop_end<P, Hook>());
  if (P::weights_per_block == 1) {  // F16/F32: K need not be a multiple of the run length
    s += "  for (uint k1 = (" + K + " / " + C + "u) * " + C + "u + " + L + "; k1 < " + K + "; k1 += 32u) {\n"
         "    float xv[1];\n"
         "    " + load("xv[0]", "k1", ct_string(squares) + " += ") + "\n"
         "    const uint b = k1;\n";
    if (P::has_affine) s += "    const float xs = xv[0];\n";
    s += accumulate("1", "k1");
    s += "  }\n";
  }
  s += "}\n";
  return s;
}

}  // namespace foundry::kernels
