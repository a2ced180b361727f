// The Metal backend's compiler-message mapping (diagnostics.hpp), checked on
// every platform: the first error of a Metal compiler log is located in the
// emitted source, named by the stage that emitted its line, and quoted.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <foundry/backends/metal/diagnostics.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

namespace {

namespace fd = foundry;
namespace mb = foundry::metal_backend;

// The first alias of the kernel library.
template <class K, class... Rest>
K first_of(fd::type_list<K, Rest...>);
using first_alias = decltype(first_of(fd::kernels::library{}));

TEST(MetalDiagnostics, ParsesLocatedLinesAndSkipsTheRest) {
  const std::string log =
      "program_source:12:5: warning: unused variable 'tmp' [-Wunused-variable]\n"
      "    float tmp = 0.0f;\n"
      "          ^\n"
      "program_source:41:17: error: use of undeclared identifier 'acc2'\r\n"
      "program_source:abc:1: error: not a location\n"
      "program_source:7: error: no column\n"
      "program_source:3:1: remark: not a severity we report\n"
      "program_source:50:2: note: to match this '('\n"
      "2 errors generated.\n";
  const auto ds = mb::parse_diagnostics(log);
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds[0].line, 12);
  EXPECT_EQ(ds[0].column, 5);
  EXPECT_EQ(ds[0].severity, "warning");
  EXPECT_EQ(ds[1].line, 41);
  EXPECT_EQ(ds[1].column, 17);
  EXPECT_EQ(ds[1].severity, "error");
  EXPECT_EQ(ds[1].message, "use of undeclared identifier 'acc2'");
  EXPECT_EQ(ds[2].severity, "note");
}

TEST(MetalDiagnostics, FindsTheLocationInsideNSErrorDescriptions) {
  // NSError's `description` wraps the log; `localizedDescription` is the log itself.
  const auto ds = mb::parse_diagnostics(
      "Error Domain=MTLLibraryErrorDomain Code=3 \"program_source:15:68: error: 'x' attribute cannot be applied\"");
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].line, 15);
  EXPECT_EQ(ds[0].column, 68);
}

TEST(MetalDiagnostics, ErrorNamesTheStageAndQuotesTheEmittedLine) {
  using K = first_alias;
  const fd::kernel_source& src = fd::kernel_source_of<K, fd::metal_backend::metal_entry>();
  // The first line that a stage emitted.
  const int lines = static_cast<int>(std::count(src.text.begin(), src.text.end(), '\n'));
  int line = 0;
  for (int l = 1; l <= lines && line == 0; ++l)
    if (src.origin_of(l).rfind("stage ", 0) == 0 && !src.line_text(l).empty()) line = l;
  ASSERT_GT(line, 0) << "no stage region in the emitted source of " << K::name.view();
  const std::string origin = src.origin_of(line);
  const std::string text(src.line_text(line));
  const std::string log = "program_source:" + std::to_string(line - 1) + ":1: warning: something harmless\n" +
                          "program_source:" + std::to_string(line) + ":3: error: use of undeclared identifier 'acc2'\n" +
                          text + "\n  ^\n1 error generated.\n";
  const mb::compile_error e = mb::make_compile_error(K::name.view(), src, log);
  const std::string what = e.what();
  EXPECT_EQ(e.line(), line);
  EXPECT_EQ(e.where().column, 3);
  EXPECT_EQ(e.origin(), origin);
  EXPECT_EQ(e.where().text, text);
  EXPECT_EQ(e.where().message, "use of undeclared identifier 'acc2'");
  EXPECT_EQ(e.log(), log);
  EXPECT_NE(what.find("compiling '" + std::string(K::name.view()) + "' failed"), std::string::npos) << what;
  // The stage and the line within its body first, the emitted line second.
  ASSERT_EQ(origin.rfind("stage ", 0), 0u) << origin;
  EXPECT_EQ(e.stage(), origin.substr(6));
  EXPECT_GE(e.where().origin_line, 1);
  EXPECT_LT(e.where().origin_line, line);
  EXPECT_NE(what.find("\n" + origin + ", line " + std::to_string(e.where().origin_line) +
                      ": error: use of undeclared identifier 'acc2'"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find(std::to_string(e.where().origin_line) + " | " + text), std::string::npos) << what;
  EXPECT_NE(what.find("generated source: " + std::string(K::name.view()) + ".metal:" + std::to_string(line) + ":3"),
            std::string::npos)
      << what;
  EXPECT_EQ(what.find("stage stage"), std::string::npos) << what;
  // It is a foundry::compile_error, so callers catch it like the CPU backend's.
  const fd::compile_error& base = e;
  EXPECT_EQ(std::string(base.what()), what);
}

TEST(MetalDiagnostics, ErrorWithoutALocationQuotesTheLog) {
  fd::kernel_source src;
  src.text = "kernel void k() {}\n";
  const mb::compile_error e = mb::make_compile_error("k", src, "Compiler encountered an internal error\nmore");
  EXPECT_EQ(e.line(), 0);
  EXPECT_EQ(e.origin(), "");
  EXPECT_NE(std::string(e.what()).find("compiling 'k' failed: Compiler encountered an internal error"),
            std::string::npos)
      << e.what();
}

TEST(MetalDiagnostics, LinesOutsideAnyRegionHaveNoOrigin) {
  fd::kernel_source src;
  src.text = "line one\nline two\n";
  src.regions.push_back({1, 1, "preamble"});
  const mb::compile_error e = mb::make_compile_error("k", src, "program_source:2:1: error: oops\n");
  EXPECT_EQ(e.origin(), "");
  EXPECT_EQ(e.where().text, "line two");
  const std::string what = e.what();
  EXPECT_NE(what.find("\nk.metal:2:1: error: oops"), std::string::npos) << what;
  const mb::compile_error e1 = mb::make_compile_error("k", src, "program_source:1:6: error: oops\n");
  EXPECT_EQ(e1.origin(), "preamble");
  EXPECT_NE(std::string(e1.what()).find("\nk.metal:1:6 (preamble): error: oops"), std::string::npos) << e1.what();
  EXPECT_EQ(e1.where().origin_line, 0);  // only stages and helpers have lines of their own
}

}  // namespace
