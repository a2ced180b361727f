// expect: fused_kernel residual_scale: stage scale_rows and stage add_residual declare argument x differently: input<float, min_elements<size_arg<n>>> vs input<float>
// max-lines: 10
// Two stages declare argument `x` with the same element type but different
// options (a size check in the main stage, none in the epilogue): one name,
// one buffer, one declaration. The message shows what differs.
#include <cstdint>
#include <string_view>

#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = 2 * x[row], one thread per row.
struct scale_rows {
  static constexpr fd::fixed_string name = "scale_rows";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments =
      fd::type_list<fd::arg<"x", fd::input<float, fd::min_elements<fd::size_arg<"n">>>>,
                    fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "$row = $thread_position_in_grid.x;\n"
      "$row_active = $row < $n;\n"
      "$writer = $row_active;\n"
      "$value = $row_active ? 2.0f * $x[$row] : 0.0f;";
};

// Epilogue: value += x[row], declaring x without the size check.
struct add_residual {
  static constexpr fd::fixed_string name = "add_residual";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float>>>;
  using consumes = fd::type_list<fd::port<"row", std::uint32_t>, fd::port<"row_active", bool>>;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "if ($row_active) $value += $x[$row];";
};

using residual_scale = fd::fused_kernel<"residual_scale", fd::per_element<fd::size_arg<"n">>,
                                        scale_rows, add_residual, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void residual_scale_arguments() { [[maybe_unused]] residual_scale::arguments args; }
