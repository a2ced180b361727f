#pragma once
/// @file qkv_rope.hpp
/// Fused Q/K/V projection of one token with RoPE and the KV-cache append in
/// its epilogue (decode): the stages `qkv_pair_projection` (main),
/// `qkv_pair_bias_add` and `qkv_rope_kv_append` (epilogues).
///
/// For a hidden vector x [hidden], RMS-normalised by the input hook as in
/// `qkv_projection` (qkv.hpp), the kernel computes
///   q = RoPE(Wq·x̂ + bq, pos)                  → q [n_heads, head_dim]
///   k_cache[h, pos, :] = RoPE(Wk·x̂ + bk, pos)[h]   (h < n_kv)
///   v_cache[h, pos, :] = (Wv·x̂ + bv)[h]
/// which is `rmsnorm_qkv` followed by `rope_*_kv_append_f32`
/// (kernels/attention/kv_cache.hpp) in one dispatch: RoPE as rope.hpp
/// defines it (RoFormer eqs. 13-15; the `normal` or `neox` pairing), the
/// cache layout [n_kv, max_seq, head_dim] of kv_cache.hpp. k and v of the
/// token are never stored outside the caches.
///
/// Work split: RoPE rotates pairs of rows of a head, (e0, e1) = (2i, 2i+1)
/// or (i, i + head_dim/2), so one SIMD-group computes both rows of a pair:
/// its two dot products share each load of x̂, and one reduction point sums
/// them (with Σx² for the folded RMSNorm) as one vector. Pairs are numbered
/// as one range over q, k, v: pair g < q_rows/2 is pair g of q (head g /
/// (head_dim/2), pair index g % (head_dim/2)), the next kv_rows/2 those of
/// k, the rest those of v (v is paired the same way and not rotated).
/// `RowsPerThreadgroup` SIMD-groups (pairs) per threadgroup.
///
/// Requires: `head_dim` even (RoPE's pairs), `hidden` a multiple of the
/// three policies' weights_per_block, and `pos` < `max_seq` for the
/// caches to be written (nothing is appended otherwise; q is still
/// rotated). Weights as qkv.hpp describes them.

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/type_name.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "kernels/common/rmsnorm_input.hpp"
#include "kernels/common/row_dot.hpp"
#include "kernels/qkv/qkv.hpp"
#include "kernels/rope/rope.hpp"

namespace foundry::kernels {

/// Size source: RoPE pairs of rows over q, k and v, `(n_heads + 2·n_kv) ·
/// head_dim / 2` (the SIMD-groups of `qkv_pair_projection`).
struct qkv_pairs {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return qkv_rows::get(a) / 2;
  }
};

namespace detail {
/// The port carrying a pair's index within its head, named after the
/// pairing (`pair_norm`, `pair_neox`): an epilogue of the other pairing
/// consumes a port nothing produces, a compile-time error naming it.
template <rope_pairing Pairing>
inline constexpr fixed_string rope_pair_port = "pair_norm";
template <>
inline constexpr fixed_string rope_pair_port<rope_pairing::neox> = "pair_neox";

/// Statements of `qkv_pair_projection` (emit and prefetch) setting locals
/// `pair_part` (0 = q, 1 = k, 2 = v), `pair_active`, `pair_i` (the pair's
/// index within its head) and `pair_e0`, `pair_e1` (its two rows within
/// the part) for the SIMD-group's pair (see the file comment).
template <rope_pairing Pairing, unsigned RowsPerThreadgroup>
constexpr ct_string qkv_pair_rows() {
  ct_string s = "const uint half_dim = $head_dim / 2u;\n"
                "const uint q_pairs = $n_heads * half_dim;\n"
                "const uint kv_pairs = $n_kv * half_dim;\n"
                "const uint pair_g = $threadgroup_position_in_grid.x * ";
  s += to_text(RowsPerThreadgroup);
  s += "u + $simdgroup_index_in_threadgroup;\n"
       "const bool pair_active = pair_g < q_pairs + 2u * kv_pairs;\n"
       "const uint pair_part = pair_g < q_pairs ? 0u : (pair_g < q_pairs + kv_pairs ? 1u : 2u);\n"
       "const uint pair_u = pair_part == 0u ? pair_g : (pair_part == 1u ? pair_g - q_pairs : pair_g - q_pairs - kv_pairs);\n"
       "const uint pair_i = pair_u % half_dim;\n"
       "const uint pair_head_row = (pair_u / half_dim) * $head_dim;\n";
  s += Pairing == rope_pairing::neox
           ? "const uint pair_e0 = pair_head_row + pair_i, pair_e1 = pair_e0 + half_dim;\n"
           : "const uint pair_e0 = pair_head_row + 2u * pair_i, pair_e1 = pair_e0 + 1u;\n";
  return s;
}
}  // namespace detail

/// Main stage: the Q/K/V projection two rows (a RoPE pair) per SIMD-group
/// (see the file comment). Arguments as `qkv_projection`'s: `wq`,
/// `wq_scales`, `wk`, `wk_scales`, `wv`, `wv_scales` (bytes), `x`
/// (float[hidden]), `hidden`, `n_heads`, `n_kv`, `head_dim` (uint), then the
/// hook's. Produces `value` and `value1` (rows `row` and `row1` of part
/// `part`: 0 = q, 1 = k, 2 = v; rows within the part), `pair_norm` or
/// `pair_neox` after the pairing (the pair's index within its head: an
/// epilogue of the other pairing does not compose), `row_active`, `writer` (lane 0 of an active
/// SIMD-group). Follow with `qkv_pair_bias_add` (optional) and
/// `qkv_rope_kv_append`.
template <weight_policy PQ, weight_policy PK, weight_policy PV, rope_pairing Pairing,
          hook Input = rmsnorm_hidden_input<PQ>, unsigned RowsPerThreadgroup = 4>
struct qkv_pair_projection {
  static constexpr fixed_string name = "qkv_pair_projection";
  static constexpr stage_role role = stage_role::main;
  using hook = Input;
  using policies = type_list<PQ, PK, PV>;
  static constexpr unsigned rows_per_threadgroup = RowsPerThreadgroup;
  /// As qkv_projection: on the CPU lane 0 computes both rows alone where
  /// the policies' CPU forms allow it.
  static constexpr bool cpu_lane0 = qkv_projection<PQ, PK, PV, Input>::cpu_lane0;
  /// The dispatch this stage expects: one SIMD-group per pair of rows.
  using dispatch = simdgroup_per_row<qkv_pairs, RowsPerThreadgroup>;
  using arguments = typename qkv_projection<PQ, PK, PV, Input>::arguments;
  using produces = type_list<port<"value", float>, port<"value1", float>, port<"row", std::uint32_t>,
                             port<"row1", std::uint32_t>, port<detail::rope_pair_port<Pairing>, std::uint32_t>,
                             port<"row_active", bool>,
                             port<"writer", bool>, port<"part", std::uint32_t>>;

  /// Prefetch (dsl/stage.hpp): lane 0 of each SIMD-group asks for the two
  /// rows of its pair.
  static constexpr ct_string prefetch() {
    ct_string s = detail::qkv_pair_rows<Pairing, RowsPerThreadgroup>();
    s += "const uint q_rows = $n_heads * $head_dim;\n"
         "const uint kv_rows = $n_kv * $head_dim;\n"
         "if ($thread_index_in_simdgroup == 0u && pair_active) {\n"
         "  if (pair_part == 0u) {\n";
    s += rows_prefetch<PQ>("$wq", "$wq_scales", "pair_e0", "1u", "q_rows", "$hidden");
    s += rows_prefetch<PQ>("$wq", "$wq_scales", "pair_e1", "1u", "q_rows", "$hidden");
    s += "  } else if (pair_part == 1u) {\n";
    s += rows_prefetch<PK>("$wk", "$wk_scales", "pair_e0", "1u", "kv_rows", "$hidden");
    s += rows_prefetch<PK>("$wk", "$wk_scales", "pair_e1", "1u", "kv_rows", "$hidden");
    s += "  } else {\n";
    s += rows_prefetch<PV>("$wv", "$wv_scales", "pair_e0", "1u", "kv_rows", "$hidden");
    s += rows_prefetch<PV>("$wv", "$wv_scales", "pair_e1", "1u", "kv_rows", "$hidden");
    s += "  }\n}\n";
    return s;
  }

  static constexpr ct_string emit() {
    constexpr std::string_view lane = "$thread_index_in_simdgroup";
    ct_string s = detail::qkv_pair_rows<Pairing, RowsPerThreadgroup>();
    s += "$row_active = pair_active;\n"
         "$part = pair_part;\n"
         "$";
    s += detail::rope_pair_port<Pairing>.view();
    s += " = pair_i;\n"
         "$row = pair_e0;\n"
         "$row1 = pair_e1;\n"
         "$writer = pair_active && $thread_index_in_simdgroup == 0u;\n"
         "float acc0 = 0.0f, acc1 = 0.0f, ss = 0.0f;  // ss: Σx² (folded RMSNorm only)\n";
    // Both rows in one pass over x̂ (row_dot's targets with their own rows).
    auto rows = [&]<weight_policy P>(std::string_view w, std::string_view scales) {
      return row_dot<P, Input>({{"acc0", w, scales, "pair_e0"}, {"acc1", w, scales, "pair_e1"}}, "pair_e0",
                               "$hidden", lane, "$x", "ss");
    };
    s += "if (pair_active && pair_part == 0u) ";
    s += rows.template operator()<PQ>("$wq", "$wq_scales");
    s += "else if (pair_active && pair_part == 1u) ";
    s += rows.template operator()<PK>("$wk", "$wk_scales");
    s += "else if (pair_active) ";
    s += rows.template operator()<PV>("$wv", "$wv_scales");
    if constexpr (folded_rms_hook<Input>) {
      s += simd_reduction(reduce_op::add, "float4", "total", "float4(acc0, acc1, ss, 0.0f)");
      s += Input::set_inv_rms("total.z");
      s += "$value = total.x * $inv_rms;\n$value1 = total.y * $inv_rms;\n";
    } else {
      s += simd_reduction(reduce_op::add, "float2", "total", "float2(acc0, acc1)");
      s += "$value = total.x;\n$value1 = total.y;\n";
    }
    return s;
  }
};

/// Epilogue: adds the biases of the pair's part to both rows, `value +=
/// b[row]`, `value1 += b[row1]` with b = `bq` (float[n_heads·head_dim]),
/// `bk` or `bv` (float[n_kv·head_dim]), each optional (an absent one adds
/// nothing), as `qkv_bias_add` does for one row.
struct qkv_pair_bias_add {
  static constexpr fixed_string name = "qkv_pair_bias_add";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = qkv_bias_add::arguments;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row1", std::uint32_t>, port<"row_active", bool>,
                             port<"part", std::uint32_t>>;
  using updates = type_list<port<"value", float>, port<"value1", float>>;
  /// Reads only; writes no memory (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr std::string_view body = R"(if ($row_active) {
  if ($part == 0u) {
    if ($has_bq) { $value += $bq[$row]; $value1 += $bq[$row1]; }
  } else if ($part == 1u) {
    if ($has_bk) { $value += $bk[$row]; $value1 += $bk[$row1]; }
  } else if ($has_bv) {
    $value += $bv[$row]; $value1 += $bv[$row1];
  }
})";
};

/// Epilogue: RoPE of the pair and the stores. The writer of a q pair
/// stores the rotated rows into `q` (float[n_heads·head_dim]); of a k pair
/// into `k_cache` at position `pos`; of a v pair the rows as they are into
/// `v_cache` (T [n_kv, max_seq, head_dim], kv_cache.hpp's layout; nothing
/// when pos ≥ max_seq). The angle is `foundry_rope_pair`'s (rope.metal).
/// Arguments: `q`, `k_cache`, `v_cache`, `head_dim`, `max_seq` (uint), `pos`
/// (uint) or `position` (uint buffer, element 0) per `Pos`, `freq_base`
/// (float).
template <rope_pairing Pairing, class T = float, position_source Pos = position_source::scalar_arg>
struct qkv_rope_kv_append {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>, "foundry: KV caches hold float or half");
  static constexpr fixed_string name = "qkv_rope_kv_append";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = concat_t<type_list<arg<"q", output<float, min_elements<qkv_q_rows>>>,
                                       arg<"k_cache", output<T, min_elements<kv_cache_elements>>>,
                                       arg<"v_cache", output<T, min_elements<kv_cache_elements>>>,
                                       arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>>,
                             detail::position_args<Pos>, type_list<arg<"freq_base", scalar<float>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row1", std::uint32_t>,
                             port<detail::rope_pair_port<Pairing>, std::uint32_t>,
                             port<"writer", bool>, port<"part", std::uint32_t>, port<"value", float>,
                             port<"value1", float>>;
  using helpers = type_list<rope_piece>;
  /// Stores only for the writer (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    const ct_string t(metal::type_name<T>());
    ct_string s = "if ($writer) {\n  const uint at = ";
    s += detail::position_expr<Pos>();
    s += ";\n"
         "  float r0 = $value, r1 = $value1;\n"
         "  if ($part != 2u) {  // q and k pairs are rotated\n"
         "    const RopePair p = foundry_rope_pair($";
    s += detail::rope_pair_port<Pairing>.view();
    s += ", $head_dim, at, $freq_base, ";
    s += rope_neox_flag(Pairing);
    s += ");\n"
         "    r0 = $value * p.c - $value1 * p.s;\n"
         "    r1 = $value * p.s + $value1 * p.c;\n"
         "  }\n"
         "  if ($part == 0u) {\n"
         "    $q[$row] = r0;\n"
         "    $q[$row1] = r1;\n"
         "  } else if (at < $max_seq) {  // row h·head_dim + d of k or v → cache element (h, at, d)\n"
         "    const ulong base = ((ulong)($row / $head_dim) * $max_seq + at) * $head_dim;\n"
         "    device ";
    s += t;
    s += "* cache = $part == 1u ? $k_cache : $v_cache;\n"
         "    cache[base + $row % $head_dim] = ";
    s += t;
    s += "(r0);\n    cache[base + $row1 % $head_dim] = ";
    s += t;
    s += "(r1);\n  }\n}";
    return s;
  }
};

}  // namespace foundry::kernels
