#pragma once
/// @file arg_list.hpp
/// A kernel's argument list: buffer-index allocation, the binding plan, the
/// `[[buffer(i)]]` parameter text, and the values bound at run time.
///
/// An argument list is a `type_list<arg<"name", Handle>...>` in declaration
/// order. Indices: arguments with `at<i>` take `i`; the others take the
/// lowest free indices in declaration order. An `optional_input` is followed
/// by its generated `<name>_present` flag (`scalar<uint32_t>`).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arguments.hpp"

namespace foundry {

namespace detail {
inline constexpr fixed_string present_suffix = "_present";

template <class A>
struct expand_one {
  using type = type_list<A>;
};
template <class A>
  requires(A::handle::optional)
struct expand_one<A> {
  using type = type_list<A, arg<A::name + present_suffix, scalar<std::uint32_t>>>;
};
template <class L>
struct expand_optionals;
template <class... As>
struct expand_optionals<type_list<As...>> {
  using type = concat_t<typename expand_one<As>::type...>;
};
}  // namespace detail

namespace detail {
template <class L>
struct params_structs;
template <class... As>
struct params_structs<type_list<As...>> {
  template <class H>
  struct one {
    using type = type_list<>;
  };
  template <class P, class... O>
  struct one<params<P, O...>> {
    using type = type_list<P>;
  };
  using type = concat_t<typename one<typename As::handle>::type...>;
};

}  // namespace detail

/// The described structs passed as `params<P>` in argument list `L`.
template <class L>
using params_structs_t = typename detail::params_structs<L>::type;

/// The argument list `L` with each optional buffer's presence flag inserted.
template <class L>
using expand_optionals_t = typename detail::expand_optionals<L>::type;

/// Compile-time facts about an (already expanded) argument list.
template <class L>
struct arg_table;

template <class... As>
struct arg_table<type_list<As...>> {
  static constexpr std::size_t size = sizeof...(As);
  static constexpr std::array<std::string_view, size> names = {As::name.view()...};

  /// Empty when the list is valid, else a message naming the conflict.
  static constexpr ct_string error() {
    constexpr int fixed[] = {As::handle::fixed_index..., -1};
    for (std::size_t i = 0; i < size; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (names[i] == names[j])
          return "argument " + ct_string(names[i]) + " is declared twice";
        if (fixed[i] >= 0 && fixed[i] == fixed[j])
          return "arguments " + ct_string(names[j]) + " and " + ct_string(names[i]) +
                 " both ask for buffer index " + to_text(static_cast<unsigned>(fixed[i]));
      }
      if (fixed[i] >= static_cast<int>(max_buffer_arguments))
        return "argument " + ct_string(names[i]) + " asks for buffer index " +
               to_text(static_cast<unsigned>(fixed[i])) + " but Metal allows 0 to 30";
    }
    if (size > max_buffer_arguments)
      return "the kernel has " + to_text(size) +
             " buffer arguments but Metal allows at most 31 ([[buffer(0)]] to [[buffer(30)]])";
    return {};
  }

  /// Buffer index per argument, in declaration order.
  static constexpr std::array<std::uint32_t, size> indices = [] {
    std::array<std::uint32_t, size> out{};
    constexpr int fixed[] = {As::handle::fixed_index..., -1};
    bool used[64]{};
    for (std::size_t i = 0; i < size; ++i)
      if (fixed[i] >= 0 && fixed[i] < 64) used[fixed[i]] = true;
    std::uint32_t next = 0;
    for (std::size_t i = 0; i < size; ++i) {
      if (fixed[i] >= 0) {
        out[i] = static_cast<std::uint32_t>(fixed[i]);
        continue;
      }
      while (next < 64 && used[next]) ++next;
      out[i] = next;
      if (next < 64) used[next] = true;
    }
    return out;
  }();

  /// Position (in declaration order) of the argument named `name`, or -1.
  static constexpr int position(std::string_view name) {
    for (std::size_t i = 0; i < size; ++i)
      if (names[i] == name) return static_cast<int>(i);
    return -1;
  }

  /// The binding plan, one row per argument, in declaration order.
  static constexpr std::array<binding, size> plan = [] {
    std::array<binding, size> out{};
    std::size_t i = 0;
    ((out[i] = binding{As::name.view(), indices[i], As::handle::kind, As::handle::mode,
                       As::handle::element_bytes, As::handle::element_dtype,
                       As::handle::metal_element(), As::handle::optional, -1},
      ++i),
     ...);
    for (auto& b : out) {
      if (!b.optional) continue;
      const ct_string flag = ct_string(b.name) + "_present";
      for (std::size_t k = 0; k < size; ++k)
        if (names[k] == flag) b.presence_index = static_cast<int>(indices[k]);
    }
    return out;
  }();

  /// Metal parameter declaration of argument `i`, without the attribute:
  /// `const device float* x`, `constant uint& n`, `constant Params* p`.
  static constexpr ct_string parameter(std::size_t i) {
    const binding& b = plan[i];
    ct_string t(b.metal_type);
    ct_string name(b.name);
    if (b.kind == arg_kind::buffer)
      return (b.mode == access::read ? "const device " : "device ") + t + "* " + name;
    constexpr bool is_struct[] = {detail::is_params<typename As::handle>..., false};
    return "constant " + t + (is_struct[i] ? "* " : "& ") + name;
  }
};

/// Run-time values of an argument list: one handle per argument, addressed
/// by name at compile time (`values.template get<"x">() = buffer;`).
template <class L>
class argument_values;

template <class... As>
class argument_values<type_list<As...>> {
 public:
  using list = type_list<As...>;
  using table = arg_table<list>;

  /// The handle of argument `Name`; a name the kernel does not declare is a
  /// compile-time error.
  template <fixed_string Name>
  constexpr auto& get() noexcept {
    constexpr int pos = table::position(Name.view());
    static_assert(pos >= 0, "foundry: the kernel has no argument of this name");
    return std::get<static_cast<std::size_t>(pos)>(values_);
  }
  template <fixed_string Name>
  constexpr const auto& get() const noexcept {
    constexpr int pos = table::position(Name.view());
    static_assert(pos >= 0, "foundry: the kernel has no argument of this name");
    return std::get<static_cast<std::size_t>(pos)>(values_);
  }
  /// Sets argument `Name` and returns `*this`, for chaining.
  template <fixed_string Name, class V>
  constexpr argument_values& set(V&& v) {
    get<Name>() = std::forward<V>(v);
    return *this;
  }

  /// Calls `f(const binding&, const Handle&)` for every argument in
  /// declaration order.
  template <class F>
  constexpr void for_each(F&& f) const {
    std::apply([&](const auto&... h) {
      std::size_t i = 0;
      ((f(table::plan[i], h), ++i), ...);
    }, values_);
  }

 private:
  std::tuple<typename As::handle...> values_{};
};

}  // namespace foundry
