// expect: fused_kernel normed_scale: stage apply_inv_rms consumes port inv_rms but no earlier stage produces it
// max-lines: 10
// An epilogue consumes port `inv_rms`, but the prologue that would produce it
// (an RMSNorm reduction) is missing from the composition.
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

// Epilogue: value *= inv_rms (produced by an RMSNorm prologue).
struct apply_inv_rms {
  static constexpr fd::fixed_string name = "apply_inv_rms";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using consumes = fd::type_list<fd::port<"inv_rms", float>>;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "$value *= $inv_rms;";
};

using normed_scale = fd::fused_kernel<"normed_scale", fd::per_element<fd::size_arg<"n">>,
                                      scale_rows, apply_inv_rms, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void normed_scale_arguments() { [[maybe_unused]] normed_scale::arguments args; }
