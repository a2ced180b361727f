// expect: fused_kernel block_sums: stage block_sum uses SIMD-group functions but the dispatch has 48 threads per threadgroup, not a multiple of 32
// max-lines: 10
// A stage reduces with simd_sum, but the dispatch runs 48 threads per
// threadgroup: the second SIMD-group of each threadgroup is incomplete.
#include <cstdint>
#include <string_view>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

// Main stage: the sum of each block of 32 consecutive elements of x.
struct block_sum {
  static constexpr fd::fixed_string name = "block_sum";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments =
      fd::type_list<fd::arg<"x", fd::input<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "const uint i = $thread_position_in_grid.x;\n"
      "$row = i / 32u;\n"
      "$writer = $thread_index_in_simdgroup == 0u && i < $n;\n"
      "$value = simd_sum(i < $n ? $x[i] : 0.0f);";
};

using block_sums = fd::fused_kernel<"block_sums", fd::per_element<fd::size_arg<"n">, 48>, block_sum,
                                    fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void block_sums_arguments() { [[maybe_unused]] block_sums::arguments args; }
