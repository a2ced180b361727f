// expect: struct Batch: field items uses struct Item, whose C[+][+] size [(]16 bytes[)]
// A struct with host-only fields cannot be nested in another described
// struct (array strides and following offsets would differ from Metal).
#include <cstdint>

#include <foundry/metal/struct.hpp>

namespace app {
struct Item {
  float weight;
  const char* label;  // host-only
};
FOUNDRY_METAL_STRUCT(Item, (weight));

struct Batch {
  Item items[4];
};
FOUNDRY_METAL_STRUCT(Batch, (items));
}  // namespace app

static_assert(!foundry::metal::struct_definitions_text<app::Batch>.empty());
