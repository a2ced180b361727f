#pragma once
/// @file metal.hpp
/// The Metal backend, where it is built; everywhere else a `make_backend`
/// that throws `backend_unavailable`, so a program can offer
/// `--backend metal` on every platform:
///
///   #include <foundry/backends/metal/metal.hpp>
///   std::unique_ptr<foundry::backend> be = foundry::metal_backend::make_backend();
///
/// The backend (backend.hpp, on metal-cpp) is compiled when
/// `FOUNDRY_HAVE_METAL` is defined — linking the CMake target
/// `foundry::metal` defines it — on an Apple platform. (The Linux syntax
/// check of tests/metal_syntax also defines `FOUNDRY_METAL_SYNTAX_CHECK` to
/// compile it against stand-in Apple headers; such a build cannot run.)

#include <memory>

#include "foundry/backends/metal/options.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/runtime/backend.hpp"

#if defined(FOUNDRY_HAVE_METAL) && (defined(__APPLE__) || defined(FOUNDRY_METAL_SYNTAX_CHECK))
#define FOUNDRY_METAL_BACKEND_BUILT 1
#include "foundry/backends/metal/backend.hpp"
#else
#define FOUNDRY_METAL_BACKEND_BUILT 0

namespace foundry::metal_backend {

/// The Metal backend is not part of this build: always throws
/// `backend_unavailable` saying why.
[[noreturn]] inline std::unique_ptr<foundry::backend> make_backend(backend_options = {}) {
#if defined(__APPLE__)
  throw backend_unavailable(
      "Metal backend: not built (link the CMake target foundry::metal, which defines FOUNDRY_HAVE_METAL)");
#else
  throw backend_unavailable("Metal backend: not built (needs macOS)");
#endif
}

}  // namespace foundry::metal_backend

#endif
