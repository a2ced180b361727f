// expect: fused_kernel scale_only: the kernel has no main stage
// max-lines: 10
// Every stage is a prologue or an epilogue: the stage that does the work was
// declared with the wrong role.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Meant as the main stage (value = 2 * x[row]), but declared as a prologue.
struct scale_rows {
  static constexpr fd::fixed_string name = "scale_rows";
  static constexpr fd::stage_role role = fd::stage_role::prologue;
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

using scale_only = fd::fused_kernel<"scale_only", fd::per_element<fd::size_arg<"n">>, scale_rows,
                                    fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void scale_only_arguments() { [[maybe_unused]] scale_only::arguments args; }
