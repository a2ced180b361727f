#pragma once
/// @file ct_error.hpp
/// Compile-time errors whose message is built at compile time.
///
/// C++20's `static_assert` accepts only a string literal, so a message that
/// names the offending stage or argument cannot be written with it. The
/// technique (also used by intel/cpp-std-extensions): the message becomes a
/// template argument of a function whose constraint is false, so every
/// compiler prints the message in its "constraints not satisfied" note.
///
/// Usage, inside a constant expression:
///   static_assert(foundry::ct_check<ok>.template emit<msg>());
/// where `msg` is a `fixed_string` (built with `+` or `ct_format`).

#include <cstddef>

#include "foundry/core/fixed_string.hpp"

namespace foundry {

namespace detail {
template <fixed_string Message>
struct foundry_error {};  // The name shows up in diagnostics next to the text.

template <class>
inline constexpr bool always_false = false;
}  // namespace detail

/// `ct_check<true>.emit<M>()` is `true`; `ct_check<false>.emit<M>()` does not
/// compile and the diagnostic contains `M`.
template <bool Ok>
struct ct_check_t {
  template <fixed_string Message>
  static constexpr bool emit() noexcept {
    return true;
  }
};

template <>
struct ct_check_t<false> {
  template <fixed_string Message>
    requires detail::always_false<detail::foundry_error<Message>>
  static constexpr bool emit() noexcept {
    return false;
  }
};

template <bool Ok>
inline constexpr ct_check_t<Ok> ct_check{};

}  // namespace foundry
