// expect: struct LaunchParams: field n is at byte 8 in C[+][+] but at byte 0 in Metal
// A host-only (undescribed) field placed before the described fields shifts
// them away from their Metal offsets: emitting the definition must not compile.
#include <cstdint>

#include <foundry/metal/struct.hpp>

namespace app {
struct LaunchParams {
  const void* host_cookie;  // host-only, but declared first
  std::uint32_t n;
  float scale;
};
FOUNDRY_METAL_STRUCT(LaunchParams, (n, scale));
}  // namespace app

const auto text = foundry::metal::struct_definition<app::LaunchParams>();
