// expect: fused_kernel pinned_scale: argument x of stage scale_rows and argument y of stage store_pinned both ask for buffer index 1
// max-lines: 10
// The main stage pins input `x` and a store epilogue pins output `y` to the
// same buffer index with at<1>.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = 2 * x[row], x pinned to [[buffer(1)]].
struct scale_rows {
  static constexpr fd::fixed_string name = "scale_rows";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float, fd::at<1>>>,
                                  fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "$row = $thread_position_in_grid.x;\n"
      "$row_active = $row < $n;\n"
      "$writer = $row_active;\n"
      "$value = $row_active ? 2.0f * $x[$row] : 0.0f;";
};

// Epilogue: y[row] = value, y pinned to [[buffer(1)]].
struct store_pinned {
  static constexpr fd::fixed_string name = "store_pinned";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using arguments = fd::type_list<fd::arg<"y", fd::output<float, fd::at<1>>>>;
  using consumes = fd::type_list<fd::port<"row", std::uint32_t>, fd::port<"writer", bool>,
                                 fd::port<"value", float>>;
  static constexpr std::string_view body = "if ($writer) $y[$row] = $value;";
};

using pinned_scale =
    fd::fused_kernel<"pinned_scale", fd::per_element<fd::size_arg<"n">>, scale_rows, store_pinned>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void pinned_scale_arguments() { [[maybe_unused]] pinned_scale::arguments args; }
