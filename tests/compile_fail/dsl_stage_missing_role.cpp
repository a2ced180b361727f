// expect: fused_kernel scaled_rows: stage row_scale [(]stage 2 of 3[)] has no member role [(]static constexpr foundry::stage_role: prologue, main or epilogue[)]
// max-lines: 10
// An epilogue written without its `role` member: the composer names the
// stage and the missing member instead of failing a concept check.
#include <cstdint>
#include <string_view>

#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = 2 * x[row], one thread per row.
struct scale_rows {
  static constexpr fd::fixed_string name = "scale_rows";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments =
      fd::type_list<fd::arg<"x", fd::input<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "$row = $thread_position_in_grid.x;\n"
      "$row_active = $row < $n;\n"
      "$writer = $row_active;\n"
      "$value = $row_active ? 2.0f * $x[$row] : 0.0f;";
};

// Epilogue: value *= scale[row]; `role` is missing.
struct row_scale {
  static constexpr fd::fixed_string name = "row_scale";
  using arguments = fd::type_list<fd::arg<"scale", fd::input<float>>>;
  using consumes = fd::type_list<fd::port<"row", std::uint32_t>, fd::port<"row_active", bool>>;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "if ($row_active) $value *= $scale[$row];";
};

using scaled_rows = fd::fused_kernel<"scaled_rows", fd::per_element<fd::size_arg<"n">>, scale_rows,
                                     row_scale, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void scaled_rows_arguments() { [[maybe_unused]] scaled_rows::arguments args; }
