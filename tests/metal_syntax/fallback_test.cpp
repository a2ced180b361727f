// Where the Metal backend is not built (every non-Apple build, and Apple
// builds without foundry::metal), <foundry/backends/metal/metal.hpp> still
// compiles and make_backend() says why there is no Metal.
#include <gtest/gtest.h>

#include <string>

#include <foundry/backends/metal/metal.hpp>
#include <foundry/runtime/executor.hpp>

namespace {

TEST(MetalFallback, MakeBackendThrowsBackendUnavailable) {
#if FOUNDRY_METAL_BACKEND_BUILT
  GTEST_SKIP() << "the Metal backend is built here";
#else
  try {
    foundry::executor ex{foundry::metal_backend::make_backend()};
    FAIL() << "make_backend() returned";
  } catch (const foundry::backend_unavailable& e) {
    const std::string what = e.what();
#if defined(__APPLE__)
    EXPECT_NE(what.find("foundry::metal"), std::string::npos) << what;
#else
    EXPECT_EQ(what, "Metal backend: not built (needs macOS)");
#endif
  }
#endif
}

TEST(MetalFallback, OptionsArePortable) {
  foundry::metal_backend::backend_options o;
  EXPECT_EQ(o.language, 0u);  // the OS's newest MSL
  EXPECT_EQ(o.math, foundry::metal_backend::math_mode::safe);
  EXPECT_EQ(o.dispatch_encoding, foundry::metal_backend::encoding::concurrent_with_tracked_barriers);
  EXPECT_EQ(foundry::metal_backend::msl_version(3, 1), 0x30001u);  // MTLLanguageVersion3_1 = 196609
}

}  // namespace
