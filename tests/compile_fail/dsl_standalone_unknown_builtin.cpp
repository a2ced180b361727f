// expect: standalone_kernel block_sums: simd_lane_id is not a thread-position builtin
// max-lines: 10
// A standalone kernel lists Metal's attribute name `simd_lane_id` in uses<>;
// Foundry's builtin is `thread_index_in_simdgroup`.
#include <cstdint>
#include <string_view>

#include <boost/describe/class.hpp>
#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>

namespace fd = foundry;

struct block_sums_args {
  fd::input<float> x;
  fd::output<float> y;
  fd::scalar<std::uint32_t> n;
};
BOOST_DESCRIBE_STRUCT(block_sums_args, (), (x, y, n))

// y[b] = sum of x[32b .. 32b + 31].
inline constexpr std::string_view block_sums_text =
    R"(ALWAYS_INLINE void block_sums_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid, uint simd_lane_id) {
  const uint i = thread_position_in_grid.x;
  const float s = simd_sum(i < n ? x[i] : 0.0f);
  if (simd_lane_id == 0u && i < n) y[i / 32u] = s;
}
)";
using block_sums_piece = fd::source_piece<"block_sums", block_sums_text>;

using block_sums =
    fd::standalone_kernel<"block_sums", block_sums_args, fd::per_element<fd::size_arg<"n">>,
                          block_sums_piece, fd::uses<"thread_position_in_grid", "simd_lane_id">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void block_sums_arguments() { [[maybe_unused]] block_sums::arguments args; }
