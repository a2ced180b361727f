// Syntax check (b): every alias of the kernel library through the executor
// with the Metal backend — prepare (compile), pipeline lookup, binding and
// dispatch — instantiated for the Metal target. The executor is target
// independent; this checks that the Metal-specific paths (the Metal entry
// points of metal_entry (backends/metal/entry.hpp), the backend's compile and
// dispatch) compile for every alias. Compiled with -fsyntax-only only.
#include <foundry/backends/metal/metal.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

static_assert(FOUNDRY_METAL_BACKEND_BUILT, "the syntax check must compile the real Metal backend");

namespace {

template <class... Ks>
void every_alias(foundry::executor& ex, foundry::type_list<Ks...>) {
  ex.prepare<Ks...>();
  (
      [&] {
        [[maybe_unused]] const foundry::pipeline& p = ex.pipeline_for<Ks>();
        [[maybe_unused]] const foundry::kernel_source& src = foundry::kernel_source_of<Ks, foundry::metal_backend::metal_entry>();
        const typename Ks::arguments args{};
        ex.dispatch<Ks>(args);
      }(),
      ...);
}

}  // namespace

void foundry_metal_syntax_every_alias() {
  foundry::executor ex{foundry::metal_backend::make_backend()};
  every_alias(ex, foundry::kernels::library{});
  ex.synchronize();
}
