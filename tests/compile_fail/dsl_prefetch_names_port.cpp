// expect: fused_kernel doubled_rows: stage double_rows: prefetch[(][)] names port [$]row; a prefetch snippet runs before every stage
// max-lines: 10
// A prefetch snippet (run before the kernel waits for the kernel before it)
// uses the port `$row`, which no stage has set at that point.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = 2 * w[row], one thread per row.
struct double_rows {
  static constexpr fd::fixed_string name = "double_rows";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"w", fd::input<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "$row = $thread_position_in_grid.x;\n"
      "$row_active = $row < $n;\n"
      "$writer = $row_active;\n"
      "$value = $row_active ? 2.0f * $w[$row] : 0.0f;";
  static constexpr fd::ct_string prefetch() { return "foundry_prefetch_l2($w + $row, 4u);\n"; }
};

using doubled_rows = fd::fused_kernel<"doubled_rows", fd::per_element<fd::size_arg<"n">>, double_rows,
                                      fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void doubled_rows_arguments() { [[maybe_unused]] doubled_rows::arguments args; }
