// expect: fused_kernel gemv_tiled: threadgroup memory is 33792 bytes
// max-lines: 10
// A GEMV main stage that stages x (up to 8192 floats, 32 KiB) in threadgroup
// memory plus 256 floats of partial sums: 33 KiB, over the 32 KiB limit.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: value = sum_k w[row, k] * x[k], one threadgroup of 256 threads
// per row, x cached in threadgroup memory, tree reduction of the partials.
struct gemv_tiled {
  static constexpr fd::fixed_string name = "gemv_tiled";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"w", fd::input<float>>, fd::arg<"x", fd::input<float>>,
                                  fd::arg<"n", fd::scalar<std::uint32_t>>,
                                  fd::arg<"k", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  using threadgroup =
      fd::type_list<fd::tg_array<"x_tile", float, 8192>, fd::tg_array<"partial", float, 256>>;
  static constexpr std::string_view body =
      "const uint t = $thread_index_in_threadgroup;\n"
      "$row = $threadgroup_position_in_grid.x;\n"
      "$row_active = $row < $n;\n"
      "$writer = $row_active && t == 0u;\n"
      "for (uint i = t; i < $k; i += 256u) $x_tile[i] = $x[i];\n"
      "threadgroup_barrier(mem_flags::mem_threadgroup);\n"
      "float acc = 0.0f;\n"
      "if ($row_active)\n"
      "  for (uint i = t; i < $k; i += 256u) acc += $w[(ulong)$row * $k + i] * $x_tile[i];\n"
      "$partial[t] = acc;\n"
      "threadgroup_barrier(mem_flags::mem_threadgroup);\n"
      "for (uint s = 128u; s > 0u; s /= 2u) {\n"
      "  if (t < s) $partial[t] += $partial[t + s];\n"
      "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
      "}\n"
      "$value = $partial[0];";
};

using gemv_tiled_kernel = fd::fused_kernel<"gemv_tiled", fd::per_row<fd::size_arg<"n">, 256>,
                                           gemv_tiled, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void gemv_tiled_arguments() { [[maybe_unused]] gemv_tiled_kernel::arguments args; }
