// expect: fused_kernel scale_to_half: stage store_half expects port value as half but stage scale_rows produces float
// max-lines: 10
// An epilogue consumes port `value` as half while the main stage produces it
// as float.
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

// Epilogue: stores value into a half buffer.
struct store_half {
  static constexpr fd::fixed_string name = "store_half";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using arguments = fd::type_list<fd::arg<"y", fd::output<fd::half>>>;
  using consumes = fd::type_list<fd::port<"row", std::uint32_t>, fd::port<"writer", bool>,
                                 fd::port<"value", fd::half>>;
  static constexpr std::string_view body = "if ($writer) $y[$row] = $value;";
};

using scale_to_half =
    fd::fused_kernel<"scale_to_half", fd::per_element<fd::size_arg<"n">>, scale_rows, store_half>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void scale_to_half_arguments() { [[maybe_unused]] scale_to_half::arguments args; }
