// expect: fused_kernel sum30: stage sum_inputs adds 31 buffer arguments, the most of any stage, and the kernel needs 32; Metal allows at most 31
// max-lines: 10
// A main stage summing 30 input buffers: with `n` it adds 31 arguments, and
// the store's `y` takes the kernel to 32 [[buffer(i)]] slots. The main stage
// is blamed (it adds the most), not the store that crosses the limit.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = x0[row] + x1[row] + ... + x29[row].
struct sum_inputs {
  static constexpr fd::fixed_string name = "sum_inputs";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments =
      fd::type_list<fd::arg<"x0", fd::input<float>>, fd::arg<"x1", fd::input<float>>,
                    fd::arg<"x2", fd::input<float>>, fd::arg<"x3", fd::input<float>>,
                    fd::arg<"x4", fd::input<float>>, fd::arg<"x5", fd::input<float>>,
                    fd::arg<"x6", fd::input<float>>, fd::arg<"x7", fd::input<float>>,
                    fd::arg<"x8", fd::input<float>>, fd::arg<"x9", fd::input<float>>,
                    fd::arg<"x10", fd::input<float>>, fd::arg<"x11", fd::input<float>>,
                    fd::arg<"x12", fd::input<float>>, fd::arg<"x13", fd::input<float>>,
                    fd::arg<"x14", fd::input<float>>, fd::arg<"x15", fd::input<float>>,
                    fd::arg<"x16", fd::input<float>>, fd::arg<"x17", fd::input<float>>,
                    fd::arg<"x18", fd::input<float>>, fd::arg<"x19", fd::input<float>>,
                    fd::arg<"x20", fd::input<float>>, fd::arg<"x21", fd::input<float>>,
                    fd::arg<"x22", fd::input<float>>, fd::arg<"x23", fd::input<float>>,
                    fd::arg<"x24", fd::input<float>>, fd::arg<"x25", fd::input<float>>,
                    fd::arg<"x26", fd::input<float>>, fd::arg<"x27", fd::input<float>>,
                    fd::arg<"x28", fd::input<float>>, fd::arg<"x29", fd::input<float>>,
                    fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr fd::ct_string emit() {
    fd::ct_string sum = "0.0f";
    for (unsigned i = 0; i < 30; ++i) sum += " + $x" + fd::to_text(i) + "[$row]";
    return "$row = $thread_position_in_grid.x;\n"
           "$row_active = $row < $n;\n"
           "$writer = $row_active;\n"
           "$value = $row_active ? " +
           sum + " : 0.0f;";
  }
};

using sum30 =
    fd::fused_kernel<"sum30", fd::per_element<fd::size_arg<"n">>, sum_inputs, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void sum30_arguments() { [[maybe_unused]] sum30::arguments args; }
