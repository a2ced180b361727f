// foundry::ct_string (std::string, or Foundry's own class on clang 16 with
// libstdc++ 12) builds text in constant expressions and converts at run time;
// ct_error splits messages into pieces clang prints in full.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include <foundry/core/ct_error.hpp>
#include <foundry/core/ct_string.hpp>
#include <foundry/core/ct_text.hpp>

namespace {

using foundry::ct_string;

// Every operation the builders use, evaluated at compile time.
constexpr bool operations_work() {
  ct_string a = "abc";
  ct_string b = a + "def" + ct_string(std::string_view("0123456789012345678901234567890123456789")) + 'x';
  if (b != "abcdef0123456789012345678901234567890123456789x" || b.size() != 47) return false;
  ct_string c = "q" + b.substr(0, 3);
  if (c != "qabc" || c.back() != 'c' || c.find('a') != 1 || c.find("bc") != 2) return false;
  c += std::string_view("zz");
  c.push_back('!');
  c.pop_back();
  if (c != "qabczz" || !c.starts_with("qa") || c.rfind('z') != 5) return false;
  c.resize(2);
  if (c != "qa") return false;
  ct_string d(3, '-');
  d = c;
  if (d != "qa") return false;
  d = std::move(b);
  if (d.size() != 47 || !b.empty()) return false;  // NOLINT: moved-from is empty by contract here
  const std::string_view v = d;
  return v.substr(0, 3) == "abc" && foundry::to_text(1234) == "1234" && foundry::to_text(0) == "0";
}
static_assert(operations_work());

// A growing string: many appends cross several reallocations.
constexpr std::size_t long_text_size() {
  ct_string s;
  for (int i = 0; i < 500; ++i) s += "piece ";
  return s.size();
}
static_assert(long_text_size() == 3000);

TEST(CtString, ConvertsAtRunTime) {
  const ct_string s = ct_string("kernel ") + ct_string(std::string_view("gemv_f16"));
  const std::string std_s(s);
  EXPECT_EQ(std_s, "kernel gemv_f16");
  EXPECT_EQ(std::string_view(s), "kernel gemv_f16");
}

// Message pieces: at most 36 characters, cut at spaces, padded with spaces.
TEST(CtError, PiecesCutAtSpaces) {
  constexpr std::string_view m = "fused_kernel indexed_scale: stage row_index and stage scale_rows both produce port row";
  static_assert(foundry::detail::error_piece_count(m) == 3);
  EXPECT_EQ(std::string_view(foundry::detail::error_piece_at(m, 0).text), "fused_kernel indexed_scale: stage   ");
  EXPECT_EQ(std::string_view(foundry::detail::error_piece_at(m, 1).text), "row_index and stage scale_rows both ");
  EXPECT_EQ(std::string_view(foundry::detail::error_piece_at(m, 2).text), "produce port row                    ");
  // A word longer than a piece is cut hard.
  constexpr std::string_view w = "0123456789012345678901234567890123456789";
  static_assert(foundry::detail::error_piece_count(w) == 2);
  static_assert(foundry::ct_error<foundry::fixed_string("")>::ok);
}

}  // namespace
