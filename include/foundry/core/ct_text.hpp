#pragma once
/// @file ct_text.hpp
/// Building text in constant expressions and freezing it into static storage.
///
/// Small texts (struct definitions, signatures, a fused body) are built with
/// C++20 constexpr `ct_string` and then copied once into a static array
/// whose size is known at compile time (`frozen_text<Gen>`), so the result is
/// usable both in `static_assert`s and at run time without being rebuilt.
/// Constant evaluation is slow (tens of microseconds per produced byte with
/// g++ 12), so large helper sources never go through here: they stay as
/// `std::string_view` pieces joined at run time.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/fixed_string.hpp"

namespace foundry {

/// Decimal text of an unsigned integer, usable in constant expressions.
constexpr ct_string to_text(unsigned long long v) {
  char buf[24]{};
  std::size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  ct_string s(n, '0');
  for (std::size_t i = 0; i < n; ++i) s[i] = buf[n - 1 - i];
  return s;
}

/// Text produced by `Gen::text()` (a constexpr function returning
/// `ct_string`), evaluated at compile time and stored once per `Gen`.
/// The array holds the characters followed by a NUL.
template <class Gen>
struct frozen_text {
 private:
  static constexpr std::size_t n = Gen::text().size();
  static constexpr std::array<char, n + 1> make() {
    std::array<char, n + 1> a{};
    const ct_string s = Gen::text();
    for (std::size_t i = 0; i < n; ++i) a[i] = s[i];
    return a;
  }

 public:
  static constexpr std::array<char, n + 1> storage = make();
  /// The frozen text (length in characters, without the NUL).
  static constexpr std::string_view view() noexcept { return {storage.data(), n}; }
  /// The same text as a `fixed_string`, for use as a template argument
  /// (formatted `static_assert` messages).
  static constexpr fixed_string<n> fixed() noexcept { return fixed_string<n>(view()); }
};

/// True when `c` may appear in an identifier (after the first character).
constexpr bool is_ident_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// Number of '\n' in `s`.
constexpr std::size_t count_lines(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

}  // namespace foundry
