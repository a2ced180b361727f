#pragma once
/// @file embedding.hpp
/// Token embedding lookup through a weight policy: `y[j] = E[token, j]`,
/// E the dequantized embedding table.
///
/// The table is the GGUF `token_embd` tensor, [n_vocab rows, hidden]
/// (GGUF ne = [hidden, n_vocab]), in policy `P`'s planes (policy.hpp) as
/// `policies::repack<P>` produces them: data plane `table`, scale plane
/// `table_scales` (only for policies with a scale), blocks in layout
/// `Layout` (policies.hpp): `row_major` (block (t, b) is block
/// t·(hidden/wpb) + b) or `canonical` (block b·n_vocab + t), so a table tied
/// with the output projection can be shared with a GEMV in either layout.
/// Element j of row t lies in block b = j / wpb; its value is `d·q` (`d·q +
/// m` for affine policies) with q = `P::load_weights<1>` at index j mod wpb
/// of that block's data (a block is read as a one-block row), d and m =
/// `P::load_scale` / `P::load_affine` of that block. `hidden` must be a
/// multiple of `P::weights_per_block` (wpb).
///
/// The token id is a scalar argument `token`, or (`token_from_buffer`) the
/// first element of a uint buffer `token_id`, so a greedy decode loop can
/// feed `argmax`'s output back without a host round trip. An id ≥ `n_vocab`
/// reads nothing and writes nothing (the host is expected to check ids).
///
/// The stage follows the row convention of epilogues.hpp with one "row" per
/// output element (one thread each), so epilogues (scaling, store) compose
/// with it: `value` = E[token, row], `row` = element index j.

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/policies/policies.hpp"

namespace foundry::kernels {

/// Where the embedding lookup takes the token id from.
enum class token_source {
  scalar_arg,  ///< scalar argument `token` (uint)
  buffer,      ///< `token_id[0]`, a uint buffer argument (e.g. argmax's `out_index`)
};

/// Embedding lookup main stage (see the file comment). Arguments: `table`
/// (data plane, bytes), `table_scales` (scale plane, bytes; only when
/// `P::has_scale`), `token` (uint) or `token_id` (uint buffer), `n_vocab`
/// (rows, uint), `hidden` (columns, uint). Produces `value`, `row`,
/// `row_active`, `writer`; one thread per output element.
template <weight_policy P, token_source Source = token_source::scalar_arg,
          policies::layout Layout = policies::layout::row_major>
struct embedding_lookup {
  using policy = P;
  static constexpr fixed_string name = "embedding_lookup";
  static constexpr stage_role role = stage_role::main;
  using rows = size_arg<"n_vocab">;
  using cols = size_arg<"hidden">;
  using policies = type_list<P>;
  using arguments = concat_t<
      type_list<arg<"table", input<std::byte, min_elements<data_plane_size<P, rows, cols>>>>>,
      std::conditional_t<P::has_scale,
                         type_list<arg<"table_scales", input<std::byte, min_elements<scale_plane_size<P, rows, cols>>>>>,
                         type_list<>>,
      std::conditional_t<Source == token_source::scalar_arg, type_list<arg<"token", scalar<std::uint32_t>>>,
                         type_list<arg<"token_id", input<std::uint32_t>>>>,
      type_list<arg<"n_vocab", scalar<std::uint32_t>>, arg<"hidden", scalar<std::uint32_t>>>>;
  using produces = type_list<port<"value", float>, port<"row", std::uint32_t>, port<"row_active", bool>,
                             port<"writer", bool>>;

  static constexpr ct_string emit() {
    const ct_string p(P::metal_name), wpb = to_text(P::weights_per_block);
    ct_string tok = "$token", block, scales = "$table";
    if (Source == token_source::buffer) tok = "$token_id[0]";
    if (Layout == foundry::policies::layout::row_major)
      block = "(ulong)tok * ($hidden / " + wpb + "u) + $row / " + wpb + "u";
    else
      block = "(ulong)($row / " + wpb + "u) * $n_vocab + tok";
    // The scales of block `bi` (row `tok`): the plane and the block index,
    // or for per-row scales the row's scales and block 0.
    ct_string sb = "b";
    if (P::has_scale) scales = "$table_scales";
    if (P::has_scale && scale_granularity_of<P> == scale_granularity::row) {
      scales = block_scales_expr<P>("$table_scales", "bi", "tok");
      sb = "0u";
    }
    return "const uint tok = " + tok + ";\n"
           "$row = $thread_position_in_grid.x;\n"
           "$row_active = $row < $hidden && tok < $n_vocab;\n"
           "$writer = $row_active;\n"
           "$value = 0.0f;\n"
           "if ($row_active) {\n"
           "  const ulong bi = " + block + ";\n"
           "  const uint b = uint(bi);\n"
           "  float q[1];\n"
           "  " + p + "::load_weights<1>($table + bi * " + to_text(P::block_bytes) + "u, $row % " + wpb + "u, q);\n"
           "  $value = " + p + "::load_scale(" + scales + ", " + sb + ") * q[0] + " + p + "::load_affine(" + scales + ", " + sb + ");\n"
           "}";
  }
};

/// Dispatch of the embedding kernels: one thread per output element.
using embedding_dispatch = per_element<size_arg<"hidden">, 64>;

/// `y = E[token]` with E in policy `P` (see the file comment). Arguments, in
/// buffer order: `table`, [`table_scales`], `token` | `token_id`, `n_vocab`,
/// `hidden`, `y` (float [hidden]).
template <fixed_string Name, weight_policy P, token_source Source = token_source::scalar_arg,
          policies::layout Layout = policies::layout::row_major>
using embedding_kernel = fused_kernel<Name, embedding_dispatch, embedding_lookup<P, Source, Layout>,
                                      epi::store<"y", "value", size_arg<"hidden">>>;

/// Embedding lookup, F32 table.
using embedding_f32 = embedding_kernel<"embedding_f32", policies::f32>;
/// Embedding lookup, F16 table.
using embedding_f16 = embedding_kernel<"embedding_f16", policies::f16>;
/// Embedding lookup, Q8_0 table (SmolLM2's token_embd), row-major blocks.
using embedding_q8_0 = embedding_kernel<"embedding_q8_0", policies::q8_0>;
/// As `embedding_q8_0`, token id read from `token_id[0]`.
using embedding_q8_0_token_buffer =
    embedding_kernel<"embedding_q8_0_token_buffer", policies::q8_0, token_source::buffer>;
/// As `embedding_q8_0` with the table's blocks in the canonical layout.
using embedding_q8_0_canonical = embedding_kernel<"embedding_q8_0_canonical", policies::q8_0, token_source::scalar_arg,
                                                  policies::layout::canonical>;
/// Embedding lookup, Q4_0 table, row-major blocks.
using embedding_q4_0 = embedding_kernel<"embedding_q4_0", policies::q4_0>;
/// Embedding lookup, Q4_1 table, row-major blocks.
using embedding_q4_1 = embedding_kernel<"embedding_q4_1", policies::q4_1>;

/// The library's embedding lookup kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using embedding_library = type_list<
    embedding_f32,
    embedding_f16,
    embedding_q8_0,
    embedding_q8_0_token_buffer,
    embedding_q8_0_canonical,
    embedding_q4_0,
    embedding_q4_1>;

}  // namespace foundry::kernels
