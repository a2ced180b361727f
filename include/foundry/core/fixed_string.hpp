#pragma once
/// @file fixed_string.hpp
/// A string usable as a non-type template parameter (C++20 class NTTP).
///
/// Foundry names kernels, arguments and ports with string literals inside
/// template argument lists (`arg<"x", input<float>>`); the compiler needs a
/// structural type for that, which `std::string_view` is not. This is the
/// same idea CTRE and {fmt} use for their compile-time strings.

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace foundry {

/// A NUL-terminated character array of length `N` (without the NUL) that is
/// a structural type, so `template <fixed_string S>` works.
///
/// Construct it from a string literal: `fixed_string s = "rms_norm";`
/// (CTAD deduces `N` from the literal, which includes its NUL).
template <std::size_t N>
struct fixed_string {
  char data[N + 1]{};

  constexpr fixed_string() = default;
  // Implicit on purpose: string literals must convert in template arguments.
  constexpr fixed_string(const char (&s)[N + 1]) noexcept {  // NOLINT
    std::copy_n(s, N + 1, data);
  }
  constexpr explicit fixed_string(std::string_view s) noexcept {
    std::copy_n(s.data(), std::min(N, s.size()), data);
    // Written explicitly: clang prints a char array NTTP as text in
    // diagnostics only when its terminating NUL was stored.
    data[N] = '\0';
  }

  /// Length in characters, without the terminating NUL.
  static constexpr std::size_t size() noexcept { return N; }
  static constexpr bool empty() noexcept { return N == 0; }
  constexpr const char* c_str() const noexcept { return data; }
  constexpr std::string_view view() const noexcept { return {data, N}; }
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT
  constexpr char operator[](std::size_t i) const noexcept { return data[i]; }

  template <std::size_t M>
  constexpr bool operator==(const fixed_string<M>& o) const noexcept {
    return view() == o.view();
  }
};

template <std::size_t N>
fixed_string(const char (&)[N]) -> fixed_string<N - 1>;

/// Concatenation of two fixed strings (used to derive names at compile time).
template <std::size_t A, std::size_t B>
constexpr fixed_string<A + B> operator+(const fixed_string<A>& a, const fixed_string<B>& b) noexcept {
  fixed_string<A + B> r;
  std::copy_n(a.data, A, r.data);
  std::copy_n(b.data, B, r.data + A);
  r.data[A + B] = '\0';
  return r;
}

}  // namespace foundry
