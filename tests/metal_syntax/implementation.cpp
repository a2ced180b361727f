// Syntax check: the translation unit that defines metal-cpp's selector and
// class tables (what the static library of foundry::metal compiles on macOS).
#include <foundry/backends/metal/implementation.hpp>
