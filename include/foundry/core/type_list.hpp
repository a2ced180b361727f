#pragma once
/// @file type_list.hpp
/// `type_list`, Foundry's compile-time list of types, and the operations the
/// composer uses on it: concatenation, membership, de-duplication, visiting.
///
/// The algorithms are Boost.MP11's (the project prefers well-kept libraries
/// to own code). MP11 is no extra dependency: Boost.Describe, which
/// describes the parameter structs (metal/struct.hpp, runtime/bind.hpp), is
/// built on it and hands out `mp_list`s, so every translation unit that
/// includes Foundry parses MP11 anyway. MP11's algorithms accept any list
/// template, so `type_list` stays a class of its own: it carries `size`,
/// reads as `foundry::type_list<...>` in compile errors, and stages write
/// `using arguments = type_list<...>` without naming Boost.
///
/// Compile time: g++ 12 -fsyntax-only of tools/foundry-emit/main.cpp (all
/// 55 library aliases), one run each on a shared 2-core machine: own
/// recursive algorithms 30.4 s user, 3.86 GB; MP11 31.3 s user, 3.87 GB;
/// the difference is inside that machine's noise, and the composer's time
/// goes to constant evaluation of the emitted text, not to list algorithms.

#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>
#include <boost/mp11/set.hpp>
#include <cstddef>

namespace foundry {

/// An ordered list of types; carries no values.
template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

/// Concatenation of several `type_list`s (a `type_list`, also for none).
template <class... Ls>
using concat_t = boost::mp11::mp_append<type_list<>, Ls...>;

/// True when `T` is one of the types of list `L`.
template <class T, class L>
inline constexpr bool contains_v = boost::mp11::mp_contains<L, T>::value;

/// `L` with later duplicates removed (first occurrence keeps its place).
template <class L>
using unique_t = boost::mp11::mp_unique<L>;

/// Calls `f.template operator()<T>()` for each `T` of the list, in order
/// (a fold expression: unlike `mp_for_each` it needs no value of `T`).
template <class... Ts, class F>
constexpr void for_each_type(type_list<Ts...>, F&& f) {
  (f.template operator()<Ts>(), ...);
}

}  // namespace foundry
