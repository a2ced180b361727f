// expect: struct Stats: field mean has type double, which has no Metal equivalent
// Metal has no 64-bit floating point: a described double field is rejected
// with a message naming the struct and the field.
#include <cstdint>

#include <foundry/metal/struct.hpp>

namespace app {
struct Stats {
  std::uint32_t count;
  double mean;
};
FOUNDRY_METAL_STRUCT(Stats, (count, mean));
}  // namespace app

constexpr std::size_t bytes = foundry::metal::metal_size<app::Stats>;
