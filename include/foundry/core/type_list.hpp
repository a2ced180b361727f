#pragma once
/// @file type_list.hpp
/// A minimal compile-time list of types and the few operations the composer
/// needs (concatenation, membership, flattening). Kept local because the
/// composer needs only these four operations and Boost.MP11 would add a
/// dependency for users of the header-only target for very little.

#include <cstddef>
#include <type_traits>

namespace foundry {

/// An ordered list of types; carries no values.
template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

namespace detail {
template <class... Ls>
struct concat;
template <>
struct concat<> {
  using type = type_list<>;
};
template <class... As>
struct concat<type_list<As...>> {
  using type = type_list<As...>;
};
template <class... As, class... Bs, class... Rest>
struct concat<type_list<As...>, type_list<Bs...>, Rest...> {
  using type = typename concat<type_list<As..., Bs...>, Rest...>::type;
};
}  // namespace detail

/// Concatenation of several `type_list`s.
template <class... Ls>
using concat_t = typename detail::concat<Ls...>::type;

/// True when `T` is one of `Ts`.
template <class T, class L>
inline constexpr bool contains_v = false;
template <class T, class... Ts>
inline constexpr bool contains_v<T, type_list<Ts...>> = (std::is_same_v<T, Ts> || ...);

namespace detail {
template <class Acc, class L>
struct unique;
template <class Acc>
struct unique<Acc, type_list<>> {
  using type = Acc;
};
template <class... As, class T, class... Ts>
struct unique<type_list<As...>, type_list<T, Ts...>> {
  using type = typename unique<
      std::conditional_t<contains_v<T, type_list<As...>>, type_list<As...>, type_list<As..., T>>,
      type_list<Ts...>>::type;
};
}  // namespace detail

/// `L` with later duplicates removed (first occurrence keeps its place).
template <class L>
using unique_t = typename detail::unique<type_list<>, L>::type;

/// Calls `f.template operator()<T>()` for each `T` of the list, in order.
template <class... Ts, class F>
constexpr void for_each_type(type_list<Ts...>, F&& f) {
  (f.template operator()<Ts>(), ...);
}

}  // namespace foundry
