#pragma once
// Golden-file comparison for emitted source, whitespace-insensitive.
//
// Set FOUNDRY_UPDATE_GOLDEN=1 to rewrite the golden files from the current
// output (then review the diff before committing).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace foundry::test {

/// `s` with every run of whitespace replaced by one space, trimmed.
inline std::string squash_whitespace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

/// Compares `actual` with tests/golden/<name>, whitespace-insensitively.
inline void expect_golden(const std::string& name, std::string_view actual) {
  const std::string path = std::string(FOUNDRY_SOURCE_DIR) + "/tests/golden/" + name;
  if (const char* u = std::getenv("FOUNDRY_UPDATE_GOLDEN"); u && std::string_view(u) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with FOUNDRY_UPDATE_GOLDEN=1)";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(squash_whitespace(ss.str()), squash_whitespace(actual))
      << "emitted source differs from " << path << "\n--- actual ---\n" << actual;
}

}  // namespace foundry::test
