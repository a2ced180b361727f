// Metal sources embedded at build time (cmake/FoundryEmbed.cmake) must equal
// the files they were generated from, byte for byte.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <foundry/embedded/policies/f16.metal.hpp>
#include <foundry/embedded/test_fixture/large_fixture.metal.hpp>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Embed, F16MatchesSourceFile) {
  const std::string expected =
      read_file(std::string(FOUNDRY_SOURCE_DIR) + "/kernels/policies/f16.metal");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(foundry::embedded::policies::f16_metal, expected);
  EXPECT_EQ(foundry::embedded::policies::f16_metal_file, "kernels/policies/f16.metal");
}

TEST(Embed, EmbeddedTextIsConstexpr) {
  static_assert(!foundry::embedded::policies::f16_metal.empty());
  static_assert(foundry::embedded::policies::f16_metal.find("struct PolicyF16") !=
                std::string_view::npos);
  SUCCEED();
}

// The fixture is larger than one raw-literal chunk, has a line longer than a
// chunk, and contains quotes, backslashes, ';', '${...}' and near-terminators.
TEST(Embed, LargeFixtureSplitIntoChunksMatches) {
  const std::string expected = read_file(FOUNDRY_TEST_EMBED_FIXTURE);
  ASSERT_GT(expected.size(), 32000u);
  EXPECT_EQ(foundry::embedded::test_fixture::large_fixture_metal.size(), expected.size());
  EXPECT_TRUE(foundry::embedded::test_fixture::large_fixture_metal == expected);
}

}  // namespace
