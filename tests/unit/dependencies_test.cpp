// The libraries foundry::foundry brings in link and work with the standard
// library of this build (libstdc++ or libc++): {fmt} header-only, xxHash,
// Boost.Context (its fcontext switch is plain C ABI), dlopen.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <xxhash.h>

#include <boost/context/fiber.hpp>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <foundry/foundry.hpp>

namespace {

TEST(Dependencies, FmtHeaderOnly) {
  EXPECT_EQ(fmt::format("{}-{:03}", std::string_view{"foundry"}, 7), "foundry-007");
}

TEST(Dependencies, XxHash) {
  constexpr std::string_view text = "foundry";
  const XXH64_hash_t a = XXH3_64bits(text.data(), text.size());
  const XXH64_hash_t b = XXH3_64bits(text.data(), text.size());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, XXH3_64bits("Foundry", 7));
}

TEST(Dependencies, BoostContextFiberSwitches) {
  namespace ctx = boost::context;
  std::string trace;
  ctx::fiber f{[&trace](ctx::fiber&& caller) {
    trace += "a";
    caller = std::move(caller).resume();
    trace += "c";
    return std::move(caller);
  }};
  f = std::move(f).resume();
  trace += "b";
  f = std::move(f).resume();
  EXPECT_EQ(trace, "abc");
  EXPECT_FALSE(static_cast<bool>(f));
  EXPECT_GT(ctx::stack_traits::default_size(), 0u);
}

TEST(Dependencies, Dlopen) {
  // The C library is always loaded; dlopen/dlsym must resolve from it.
  void* self = dlopen(nullptr, RTLD_NOW);
  ASSERT_NE(self, nullptr);
  EXPECT_NE(dlsym(self, "malloc"), nullptr);
  dlclose(self);
}

TEST(Dependencies, VersionMatchesMacros) {
  EXPECT_EQ(foundry::version_string, FOUNDRY_VERSION_STRING);
  EXPECT_EQ(FOUNDRY_VERSION,
            foundry::version_major * 10000 + foundry::version_minor * 100 + foundry::version_patch);
}

}  // namespace
