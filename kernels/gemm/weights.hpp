#pragma once
/// @file weights.hpp
/// The weight side of a GEMM: weight matrices, sets of them computed into
/// one accumulator, and the weight-tile loader that dequantizes a slice
/// into threadgroup memory through the policy contract (policy.hpp), so
/// every policy, present or added later (Q4_K...), loads without code of
/// its own here.
///
/// A weight matrix W [rows, K] is row-major in its policy's planes (data
/// plane `Name`, scale plane `Name_scales` for policies with a scale), as
/// `policies::repack<P>(gguf, rows, K, layout::row_major)` makes them; row n
/// is output feature n. A set concatenates matrices along the output
/// features (Wq, Wk, Wv: one accumulator over q_rows + 2·kv_rows features)
/// and produces one port per element.

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "kernels/gemm/tile.hpp"

namespace foundry::kernels {

/// Weight matrix W [rows, K] in policy `P`, arguments `Name` and, with a
/// scale plane, `Name_scales`. `RowsExpr` is its row count as a Metal
/// expression over scalar arguments (`"$n"`, `"$n_kv * $head_dim"`),
/// `RowsSize` the same as a size source (for the buffers' minimum sizes).
/// K is the GEMM's scalar argument `k`; it must be a multiple of
/// `P::weights_per_block` (GGUF rows always are).
template <weight_policy P, fixed_string Name, fixed_string RowsExpr, class RowsSize>
struct gemm_weight {
  using policy = P;
  static constexpr fixed_string name = Name;
  static constexpr std::string_view rows_expr = RowsExpr.view();
  using rows_size = RowsSize;
  using arguments = concat_t<
      type_list<arg<Name, input<std::byte, min_elements<data_plane_size<P, RowsSize, size_arg<"k">>>>>>,
      std::conditional_t<P::has_scale,
                         type_list<arg<Name + fixed_string("_scales"),
                                       input<std::byte, min_elements<scale_plane_size<P, RowsSize, size_arg<"k">>>>>>,
                         type_list<>>>;
};

/// Size source: the sum of size sources.
template <class... S>
struct gemm_rows_sum {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return (std::uint64_t{0} + ... + S::get(a));
  }
};

/// Weight matrices concatenated along the output features, computed into
/// one accumulator whose elements become port `Port` (float). `Scalars`: a
/// type_list of the scalar arguments the row expressions use.
template <fixed_string Port, class Scalars, class... Weights>
struct gemm_weight_set {
  static_assert(sizeof...(Weights) > 0, "gemm_weight_set: at least one weight matrix");
  static constexpr fixed_string port = Port;
  using weights = type_list<Weights...>;
  using scalars = Scalars;
  using rows_size = gemm_rows_sum<typename Weights::rows_size...>;
  using arguments = concat_t<typename Weights::arguments..., Scalars>;
  using policies = type_list<typename Weights::policy...>;
  /// Output features (Metal expression).
  static constexpr ct_string rows() {
    ct_string r;
    ((r += (r.empty() ? "(" : " + (") + ct_string(Weights::rows_expr) + ")"), ...);
    return "(" + r + ")";
  }
};

namespace detail {

/// Statements filling `w_[0..R)` with the dequantized weights k_..k_+R of
/// row `nl_` of `W` (k_ < $k; weights at or past $k stay 0).
template <class W, unsigned R>
constexpr ct_string gemm_load_run() {
  using P = typename W::policy;
  const ct_string Pn(P::metal_name), wpb = to_text(P::weights_per_block), Rs = to_text(R);
  const ct_string name(W::name.view());
  ct_string s = "const uint blocks_ = $k / " + wpb + "u;\n"
                  "const device uchar* wd_ = $" + name + " + (ulong)nl_ * blocks_ * " + to_text(P::block_bytes) + "u;\n";
  if (P::has_scale)
    s += "const device uchar* ws_ = $" + name + "_scales + (ulong)nl_ * blocks_ * " + to_text(P::scale_bytes) + "u;\n";
  // value = d·q (+ m) per element of block k / weights_per_block.
  auto scaled = [&](const ct_string& q, const ct_string& kk) {
    if (!P::has_scale) return q;
    ct_string e = Pn + "::load_scale(ws_, (" + kk + ") / " + wpb + "u) * " + q;
    if (P::has_affine) e += " + " + Pn + "::load_affine(ws_, (" + kk + ") / " + wpb + "u)";
    return e;
  };
  if (P::weights_per_block % R == 0) {
    // A run never leaves its block: one scale (and min) per run. K is a
    // multiple of the block, so a run is wholly inside K or wholly past it.
    s += Pn + "::load_weights<" + Rs + ">(wd_, k_, w_);\n";
    if (P::has_scale) {
      s += "const float d_ = " + Pn + "::load_scale(ws_, k_ / " + wpb + "u);\n";
      if (P::has_affine) s += "const float m_ = " + Pn + "::load_affine(ws_, k_ / " + wpb + "u);\n";
      s += "for (int i_ = 0; i_ < " + Rs + "; ++i_) w_[i_] = d_ * w_[i_]";
      if (P::has_affine) s += " + m_";
      s += ";\n";
    }
  } else {
    // Blocks shorter than a run (F16, F32: one weight): any K, so the last
    // run may be partial.
    s += "if (k_ + " + Rs + "u <= $k) {\n"
         "  " + Pn + "::load_weights<" + Rs + ">(wd_, k_, w_);\n";
    if (P::has_scale) s += "  for (uint i_ = 0; i_ < " + Rs + "u; ++i_) w_[i_] = " + scaled("w_[i_]", "k_ + i_") + ";\n";
    s += "} else {\n"
         "  for (uint i_ = 0; k_ + i_ < $k; ++i_) {\n"
         "    float q_[1];\n"
         "    " + Pn + "::load_weights<1>(wd_, k_ + i_, q_);\n"
         "    w_[i_] = " + scaled("q_[0]", "k_ + i_") + ";\n"
         "  }\n"
         "}\n";
  }
  return s;
}

/// Routes feature `n_` of a set to its matrix (row `nl_` of it) and loads.
template <unsigned R, class W, class... Rest>
constexpr ct_string gemm_route(type_list<W, Rest...>) {
  if constexpr (sizeof...(Rest) == 0) {
    return gemm_load_run<W, R>();
  } else {
    const ct_string rows = "(" + ct_string(W::rows_expr) + ")";
    ct_string inner = gemm_route<R>(type_list<Rest...>{});
    ct_string indented;
    for (std::size_t i = 0; i < inner.size(); ++i) {
      if (i == 0 || inner[i - 1] == '\n') indented += "  ";
      indented += inner[i];
    }
    ct_string first = gemm_load_run<W, R>();
    ct_string first_ind;
    for (std::size_t i = 0; i < first.size(); ++i) {
      if (i == 0 || first[i - 1] == '\n') first_ind += "  ";
      first_ind += first[i];
    }
    return "if (nl_ < " + rows + ") {\n" + first_ind + "} else {\n  nl_ -= " + rows + ";\n" + indented + "}\n";
  }
}

}  // namespace detail

/// The weight-tile loader: statements that dequantize the slice of set
/// `Set` for features n0_..n0_+BN and K elements k0_..k0_+BK into
/// threadgroup memory at `gemm_operands_view<Tile>() + offset` (elements of
/// the tile's operand type: float, or half), stored K-major
/// (element (k, n) at k·BN + n: each 8×8 B matrix is then 8 contiguous
/// rows). Threads take runs of `Tile::run` weights along K; weights past N
/// or K are 0 (they meet zero activations or unstored outputs).
template <class Tile, class Set>
constexpr ct_string gemm_weight_tile_loader(unsigned offset) {
  constexpr unsigned R = Tile::run, BN = Tile::bn, BK = Tile::bk;
  ct_string s = "for (uint run_ = tid_; run_ < " + to_text(BN * BK / R) + "u; run_ += " + to_text(Tile::threads) + "u) {\n";
  s += "  const uint r_ = run_ / " + to_text(BK / R) + "u, c_ = (run_ % " + to_text(BK / R) + "u) * " + to_text(R) + "u;\n";
  s += "  const uint n_ = n0_ + r_, k_ = k0_ + c_;\n";
  s += "  float w_[" + to_text(R) + "];\n";
  s += "  for (int i_ = 0; i_ < " + to_text(R) + "; ++i_) w_[i_] = 0.0f;\n";
  s += "  if (n_ < " + Set::rows() + " && k_ < $k) {\n";
  s += "    uint nl_ = n_;\n";
  const ct_string r = detail::gemm_route<R>(typename Set::weights{});
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (i == 0 || r[i - 1] == '\n') s += "    ";
    s += r[i];
  }
  s += "  }\n";
  s += "  for (uint i_ = 0; i_ < " + to_text(R) + "u; ++i_) " + ct_string(gemm_operands_view<Tile>()) + "[" +
       to_text(offset) + "u + (c_ + i_) * " + to_text(BN) + "u + r_] = " + gemm_operand_cast<Tile>("w_[i_]") + ";\n";
  s += "}\n";
  return s;
}

}  // namespace foundry::kernels
