#pragma once
/// @file argument_access.hpp
/// `argument<"name">(args)`: the handle of a named argument, whether the
/// argument value is a fused kernel's `argument_values` or a standalone
/// kernel's described struct. Used by dispatch rules and size sources.

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>
#include <cstddef>
#include <string_view>

#include "foundry/core/fixed_string.hpp"

namespace foundry {

namespace detail {
template <class... Ds>
constexpr std::size_t member_index(std::string_view name, boost::mp11::mp_list<Ds...>) {
  constexpr std::string_view names[] = {std::string_view(Ds::name)..., std::string_view{}};
  std::size_t i = 0;
  while (i < sizeof...(Ds) && names[i] != name) ++i;
  return i;
}
}  // namespace detail

/// The handle of argument `Name` in `args` (a compile-time error if there is
/// none).
template <fixed_string Name, class A>
constexpr const auto& argument(const A& args) {
  if constexpr (requires { args.template get<Name>(); }) {
    return args.template get<Name>();
  } else {
    using members = boost::mp11::mp_rename<boost::describe::describe_members<A, boost::describe::mod_public>,
                                           boost::mp11::mp_list>;
    constexpr std::size_t i = detail::member_index(Name.view(), members{});
    static_assert(i < boost::mp11::mp_size<members>::value, "foundry: the arguments have no member of this name");
    return args.*boost::mp11::mp_at_c<members, i>::pointer;
  }
}

}  // namespace foundry
