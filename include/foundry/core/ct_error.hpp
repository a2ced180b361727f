#pragma once
/// @file ct_error.hpp
/// Compile-time errors whose message is built at compile time and shows up
/// in the FIRST line of the compiler's diagnostic.
///
/// C++20's `static_assert` accepts only a string literal, so a message that
/// names the offending kernel, stage or argument cannot be written with it.
/// Instead the message becomes a template argument of a type,
/// `foundry::ct_error<...>`, that the failing check names in its first
/// line. What each compiler prints first (measured with g++ 12 and clang 16):
///
/// - g++ prints a class-type template argument in full, so
///   `ct_error<fixed_string>` is left incomplete and
///   `static_assert(ct_error<M>::ok)` fails with
///   `error: incomplete type 'foundry::ct_error<foundry::fixed_string<59>{"fused_kernel x: ..."}>'
///   used in nested name specifier`.
/// - clang prints at most 36 characters of a string inside a template
///   argument (then `[...]`), so there the message is cut into pieces of at
///   most 36 characters at spaces (padded with spaces), one template argument
///   each, and the same `static_assert` fails with
///   `error: static assertion failed due to requirement
///   'ct_error<foundry::error_piece{"fused_kernel x: stage a and stage "},
///   foundry::error_piece{"b both produce port value           "}>::ok'`.
///
/// Usage, at class scope or in a function:
///   static_assert(foundry::ct_error<msg>::ok);
/// where `msg` is a `fixed_string` that is empty when there is no error.

#include <cstddef>
#include <string_view>
#include <utility>

#include "foundry/core/fixed_string.hpp"

namespace foundry {

/// Longest string clang 16 prints in full inside a template argument.
inline constexpr std::size_t error_piece_chars = 36;

/// Up to `error_piece_chars` characters of a compile-time error message,
/// padded with spaces (see the file comment).
struct error_piece {
  char text[error_piece_chars + 1];
};

namespace detail {

/// `false`, dependent on `T` (for a `static_assert` in a discarded branch).
template <class>
inline constexpr bool always_false = false;

/// End (exclusive) of the piece of `m` that starts at `i`: the last space
/// within `error_piece_chars` characters, or a hard cut in a longer word.
constexpr std::size_t error_piece_end(std::string_view m, std::size_t i) noexcept {
  if (m.size() - i <= error_piece_chars) return m.size();
  const std::size_t space = m.rfind(' ', i + error_piece_chars - 1);
  return space != std::string_view::npos && space >= i ? space + 1 : i + error_piece_chars;
}

constexpr std::size_t error_piece_count(std::string_view m) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m.size(); i = error_piece_end(m, i)) ++n;
  return n;
}

constexpr error_piece error_piece_at(std::string_view m, std::size_t k) noexcept {
  std::size_t i = 0;
  for (; k > 0; --k) i = error_piece_end(m, i);
  const std::size_t e = error_piece_end(m, i);
  error_piece p{};
  for (std::size_t j = 0; j < error_piece_chars; ++j) p.text[j] = i + j < e ? m[i + j] : ' ';
  p.text[error_piece_chars] = '\0';
  return p;
}

}  // namespace detail

#if defined(__clang__)

namespace detail {
/// The type a failed check names on clang; `ok` is true only without pieces.
template <error_piece... Pieces>
struct ct_error {
  static constexpr bool ok = sizeof...(Pieces) == 0;
};
template <fixed_string Message, class Seq>
struct ct_error_of;
template <fixed_string Message, std::size_t... I>
struct ct_error_of<Message, std::index_sequence<I...>> {
  using type = ct_error<error_piece_at(Message.view(), I)...>;
};
}  // namespace detail

/// `ct_error<M>::ok` is true for an empty `M` and otherwise fails to compile
/// with `M` in the first line of the diagnostic.
template <fixed_string Message>
using ct_error = typename detail::ct_error_of<
    Message, std::make_index_sequence<detail::error_piece_count(Message.view())>>::type;

#else

/// `ct_error<M>::ok` is true for an empty `M` and otherwise fails to compile
/// with `M` in the first line of the diagnostic: the template is deliberately
/// incomplete for a non-empty message (see the file comment).
template <fixed_string Message>
struct ct_error;
template <>
struct ct_error<fixed_string<0>{}> {
  static constexpr bool ok = true;
};

#endif

/// `ct_check<true>.emit<M>()` is `true`; `ct_check<false>.emit<M>()` does not
/// compile and its first error line holds `M`.
template <bool Ok>
struct ct_check_t {
  template <fixed_string Message>
  static constexpr bool emit() noexcept {
    if constexpr (!Ok) static_assert(ct_error<Message>::ok);
    return true;
  }
};

template <bool Ok>
inline constexpr ct_check_t<Ok> ct_check{};

}  // namespace foundry
