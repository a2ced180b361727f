#pragma once
/// @file epilogues.hpp
/// Epilogue stages: post-processing of a main stage's per-row result.
///
/// Row convention (every row-producing main stage follows it): the main
/// stage produces
///   `value`      (float) the row's result, valid in every thread of the row;
///   `row`        (uint)  the output row index;
///   `row_active` (bool)  `row` is inside the output (guards reads and writes);
///   `writer`     (bool)  this thread stores the row (one thread per row).
/// Epilogues update `value` in place; `store` writes it. Port and argument
/// names are template parameters so two chains can coexist in one kernel.
/// `store_indexed` and `add_residual` address the output through an index
/// port instead of `row` (`out_index` = b·n + row of a batched GEMV), with
/// the buffer's minimum size as a size source (sizes.hpp).
///
/// Every epilogue here is generic: it depends on the DSL only, never on a
/// kernel family; family-specific epilogues (e.g. `qkv_store`) stay with
/// their family under kernels/.

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/activations.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::epi {

/// `$value = $value + $bias[$row]` (bias: `input<float>`, one per row; with
/// `Optional`, an `optional_input<float>` skipped when absent).
template <fixed_string Bias = "bias", fixed_string Value = "value", bool Optional = false>
struct bias_add {
  static constexpr fixed_string name = "bias_add";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<Bias, std::conditional_t<Optional, optional_input<float>, input<float>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row_active", bool>>;
  using updates = type_list<port<Value, float>>;
  static constexpr ct_string emit() {
    const ct_string b = "$" + ct_string(Bias.view()), v = "$" + ct_string(Value.view());
    ct_string guard = "$row_active";
    if (Optional) guard = "$has_" + ct_string(Bias.view()) + " && $row_active";
    return "if (" + guard + ") " + v + " += " + b + "[$row];";
  }
};

/// `$value = Act::apply($value)`.
template <class Act, fixed_string Value = "value", class T = float>
struct activation {
  static constexpr fixed_string name = "activation";
  static constexpr stage_role role = stage_role::epilogue;
  using updates = type_list<port<Value, T>>;
  using helpers = type_list<typename Act::piece>;
  static constexpr ct_string emit() {
    const ct_string v = "$" + ct_string(Value.view());
    return v + " = " + ct_string(Act::metal_name) + "::apply(" + v + ");";
  }
};

/// SwiGLU (Shazeer, 2020): `out = SiLU(gate) · up`, computed by the writer
/// lane (row convention: the lane that stores the row); the other lanes get
/// 0. On a GPU that costs the same; on the CPU, where lane loops run the 32
/// lanes of a SIMD-group one after another (dsl/lane_loop.hpp), it saves 31
/// exponentials per row.
template <fixed_string Gate = "gate", fixed_string Up = "up", fixed_string Out = "value">
struct swiglu {
  static constexpr fixed_string name = "swiglu";
  static constexpr stage_role role = stage_role::epilogue;
  using consumes = type_list<port<Gate, float>, port<Up, float>, port<"writer", bool>>;
  using produces = type_list<port<Out, float>>;
  using helpers = type_list<act::silu::piece>;
  /// Writes no memory (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    return "$" + ct_string(Out.view()) + " = $writer ? ActSiLU::apply($" + ct_string(Gate.view()) + ") * $" +
           ct_string(Up.view()) + " : 0.0f;";
  }
};

/// Scaled residual add: `y = Act(alpha·value + bias) + beta·residual`, with
/// `alpha`, `beta` scalars (float) and `bias`, `residual` optional buffers
/// (one float per row; an absent one contributes 0).
template <class Act = act::identity, fixed_string Value = "value">
struct scaled_residual {
  static constexpr fixed_string name = "scaled_residual";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<"alpha", scalar<float>>, arg<"beta", scalar<float>>,
                              arg<"bias", optional_input<float>>, arg<"residual", optional_input<float>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"row_active", bool>>;
  using updates = type_list<port<Value, float>>;
  using helpers = type_list<typename Act::piece>;
  static constexpr ct_string emit() {
    const ct_string v = "$" + ct_string(Value.view());
    return "float t = $alpha * " + v + ";\n"
           "if ($has_bias && $row_active) t += $bias[$row];\n"
           "t = " + ct_string(Act::metal_name) + "::apply(t);\n"
           "if ($has_residual && $row_active) t += $beta * $residual[$row];\n" +
           v + " = t;";
  }
};

/// SIMD-group reduction of a port in place (see `simd_reduce_ladder`).
template <reduce_op Op, unsigned Lanes, fixed_string Value = "value", class T = float>
struct simd_reduce {
  static constexpr fixed_string name = "simd_reduce";
  static constexpr stage_role role = stage_role::epilogue;
  using updates = type_list<port<Value, T>>;
  static constexpr ct_string emit() {
    return simd_reduce_ladder(Op, "$" + ct_string(Value.view()), Lanes);
  }
};

/// `if ($writer) $y[$row] = $value;` (y: `output<float>`; with `Rows` a size
/// source, y must hold at least that many elements).
template <fixed_string Out = "y", fixed_string Value = "value", class Rows = void>
struct store {
  static constexpr fixed_string name = "store";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<Out, std::conditional_t<std::is_void_v<Rows>, output<float>,
                                                         output<float, min_elements<Rows>>>>>;
  using consumes = type_list<port<"row", std::uint32_t>, port<"writer", bool>, port<Value, float>>;
  /// Stores only for the writer (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    return "if ($writer) $" + ct_string(Out.view()) + "[$row] = $" + ct_string(Value.view()) + ";";
  }
};

/// Epilogue: `if ($writer) $Out[$Index] = $Value;`: the store of a batched
/// GEMV (`Index` = `out_index`, the element b·n + row of a [batch, n]
/// output). `Size`, a size source, is the minimum number of elements of
/// `Out` (e.g. `sizes::product<size_arg<"batch">, size_arg<"n">>`).
template <fixed_string Out = "y", fixed_string Value = "value", fixed_string Index = "out_index",
          class Size = sizes::product<size_arg<"batch">, size_arg<"n">>>
struct store_indexed {
  static constexpr fixed_string name = "store_indexed";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<Out, output<float, min_elements<Size>>>>;
  using consumes = type_list<port<Index, std::uint32_t>, port<"writer", bool>, port<Value, float>>;
  /// Stores only for the writer (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    return "if ($writer) $" + ct_string(Out.view()) + "[$" + ct_string(Index.view()) + "] = $" +
           ct_string(Value.view()) + ";";
  }
};

/// Epilogue: residual add, `$Value += $Residual[$Index]` (residual:
/// `input<float>` of at least `Size` elements, one per output element; with
/// `Index` = `row` for a single vector, `out_index` for a batched GEMV). The
/// transformer's `h + W·x` after the attention output and FFN down
/// projections. The residual buffer may also be the output buffer (an
/// in-place add): each element is read by its own row's threads and stored
/// only by that row's writer.
template <fixed_string Residual = "residual", fixed_string Value = "value", fixed_string Index = "row",
          class Size = size_arg<"n">>
struct add_residual {
  static constexpr fixed_string name = "add_residual";
  static constexpr stage_role role = stage_role::epilogue;
  using arguments = type_list<arg<Residual, input<float, min_elements<Size>>>>;
  using consumes = type_list<port<Index, std::uint32_t>, port<"row_active", bool>>;
  using updates = type_list<port<Value, float>>;
  /// Reads only; writes no memory (stage_traits::stores_only_for_writer).
  static constexpr bool stores_only_for_writer = true;
  static constexpr ct_string emit() {
    return "if ($row_active) $" + ct_string(Value.view()) + " += $" + ct_string(Residual.view()) + "[$" +
           ct_string(Index.view()) + "];";
  }
};

}  // namespace foundry::epi
