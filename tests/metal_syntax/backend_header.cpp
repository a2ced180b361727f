// Syntax check (a): the whole Metal backend header against metal-cpp, as a
// macOS build would compile it. Every member function is defined in the
// class, so all of them are checked; the function below also exercises the
// public extras and the portable pieces. Compiled with -fsyntax-only only
// (see CMakeLists.txt): nothing here is linked or run.
#include <foundry/backends/metal/metal.hpp>

#include <memory>
#include <string>

static_assert(FOUNDRY_METAL_BACKEND_BUILT, "the syntax check must compile the real Metal backend");

void foundry_metal_syntax_backend_header() {
  foundry::metal_backend::backend_options o;
  o.language = foundry::metal_backend::msl_version(3, 1);
  o.math = foundry::metal_backend::math_mode::fast;
  o.dispatch_encoding = foundry::metal_backend::encoding::serial;
  o.max_dispatches_per_command_buffer = 64;
  o.binary_archive = "pipelines.metalar";
  o.precompiled.push_back({"kernels.metallib", "kernels-src"});
  foundry::metal_backend::backend be(o);
  foundry::buffer_info b = be.allocate(256, foundry::dtype::f32);
  float x[4] = {1, 2, 3, 4};
  be.upload(b, 0, x, sizeof x);
  be.download(b, 0, x, sizeof x);
  [[maybe_unused]] void* host = be.host_address(b);
  be.synchronize();
  be.save_binary_archive();
  [[maybe_unused]] MTL::Device* device = be.device();
  [[maybe_unused]] const std::string name = be.device_name();
  [[maybe_unused]] const foundry::metal_backend::backend_stats& s = be.stats();
  [[maybe_unused]] const std::string& archive = be.binary_archive_status();
  be.release(b);
  std::unique_ptr<foundry::backend> any = foundry::metal_backend::make_backend();
  [[maybe_unused]] const foundry::entry_writer& entry = any->entry_points();
}
