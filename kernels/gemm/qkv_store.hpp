#pragma once
/// @file qkv_store.hpp
/// Epilogue of the batched Q/K/V GEMM: stores element (m, n) of the
/// concatenated [M, q_rows + 2·kv_rows] result into q [M, q_rows],
/// k [M, kv_rows] or v [M, kv_rows] (row-major, token m at row m), with
/// q_rows = n_heads·head_dim and kv_rows = n_kv·head_dim (feature n < q_rows
/// is q, then k, then v; the order of Wq, Wk, Wv in the weight set).

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/dsl/sizes.hpp"
#include "kernels/qkv/qkv.hpp"

namespace foundry::kernels {

/// Epilogue: adds the bias of the element's part to `value` (the batched
/// twin of `qkv_bias_add`, qkv.hpp): feature n < q_rows adds `bq[n]`, then
/// `bk[n − q_rows]`, then `bv[n − q_rows − kv_rows]`; each bias an optional
/// float buffer (absent: nothing added; Qwen2-style models have them).
/// Needs ports `row` (feature n), `row_active`; scalar arguments n_heads,
/// n_kv, head_dim.
struct gemm_qkv_bias_add {
  static constexpr fixed_string name = "gemm_qkv_bias_add";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<"bq", optional_input<float, min_elements<qkv_q_rows>>>,
                              arg<"bk", optional_input<float, min_elements<qkv_kv_rows>>>,
                              arg<"bv", optional_input<float, min_elements<qkv_kv_rows>>>,
                              arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                              arg<"head_dim", scalar<std::uint32_t>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row_active", bool>>;
  using updates = type_list<port<"value", float>>;
  static constexpr std::string_view body =
      "if ($row_active) {\n"
      "  const uint qr_ = $n_heads * $head_dim, kvr_ = $n_kv * $head_dim;\n"
      "  if ($row < qr_) {\n"
      "    if ($has_bq) $value += $bq[$row];\n"
      "  } else if ($row < qr_ + kvr_) {\n"
      "    if ($has_bk) $value += $bk[$row - qr_];\n"
      "  } else if ($has_bv) {\n"
      "    $value += $bv[$row - qr_ - kvr_];\n"
      "  }\n"
      "}";
};

/// Store of `value` into q, k or v (see the file comment); needs ports
/// `row`, `batch_index`, `writer`; scalar arguments n_heads, n_kv, head_dim
/// (shared with the main stage's weight set).
struct gemm_qkv_store {
  static constexpr fixed_string name = "gemm_qkv_store";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments =
      type_list<arg<"q", output<float, min_elements<sizes::product<size_arg<"batch">, qkv_q_rows>>>>,
                arg<"k_out", output<float, min_elements<sizes::product<size_arg<"batch">, qkv_kv_rows>>>>,
                arg<"v_out", output<float, min_elements<sizes::product<size_arg<"batch">, qkv_kv_rows>>>>,
                arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                arg<"head_dim", scalar<std::uint32_t>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"batch_index", std::uint32_t>, port<"writer", bool>,
                             port<"value", float>>;
  static constexpr std::string_view body =
      "if ($writer) {\n"
      "  const uint qr_ = $n_heads * $head_dim, kvr_ = $n_kv * $head_dim;\n"
      "  if ($row < qr_) $q[(ulong)$batch_index * qr_ + $row] = $value;\n"
      "  else if ($row < qr_ + kvr_) $k_out[(ulong)$batch_index * kvr_ + $row - qr_] = $value;\n"
      "  else $v_out[(ulong)$batch_index * kvr_ + $row - qr_ - kvr_] = $value;\n"
      "}";
};

}  // namespace foundry::kernels
