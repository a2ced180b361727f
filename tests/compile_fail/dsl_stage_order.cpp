// expect: fused_kernel bias_then_scale: stage scale_rows \(main\) comes after stage bias_add \(epilogue\)
// max-lines: 10
// An epilogue is listed before the main stage.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
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

using bias_then_scale = fd::fused_kernel<"bias_then_scale", fd::per_element<fd::size_arg<"n">>,
                                         fd::epi::bias_add<"b">, scale_rows, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void bias_then_scale_arguments() { [[maybe_unused]] bias_then_scale::arguments args; }
