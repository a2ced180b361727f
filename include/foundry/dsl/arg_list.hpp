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

#include "foundry/core/ct_error.hpp"
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
  // Set at bind time from whether the buffer is bound; never by the caller.
  using type = type_list<A, arg<A::name + present_suffix, scalar<std::uint32_t, default_value<0u>>>>;
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
namespace detail {
/// "the kernel has no argument resdual (its arguments: x, residual, y, n)".
template <fixed_string Name, class Table>
struct unknown_argument_text {
  static constexpr ct_string text() {
    ct_string t = "argument_values::set/get: the kernel has no argument " + ct_string(Name.view()) +
                  " (its arguments:";
    for (std::size_t i = 0; i < Table::size; ++i) t += (i ? ", " : " ") + ct_string(Table::names[i]);
    return t + ")";
  }
};
/// What `get<Name>()` returns for a name the kernel lacks, after reporting
/// it: accepts and ignores any assignment, so the report is the only error.
struct unknown_argument {
  template <class V>
  constexpr const unknown_argument& operator=(V&&) const noexcept {
    return *this;
  }
};
inline constexpr unknown_argument unknown_argument_v{};

/// True for a temporary that owns a buffer (a `foundry::buffer` returned by
/// `upload`/`allocate`): binding it would leave the argument set pointing
/// at a buffer that is gone by the time of the dispatch.
template <class H, class V>
inline constexpr bool binds_temporary_buffer =
    H::kind == arg_kind::buffer && !std::is_lvalue_reference_v<V> &&
    !std::is_same_v<std::remove_cvref_t<V>, buffer_ref> && !std::is_same_v<std::remove_cvref_t<V>, H> &&
    std::is_constructible_v<buffer_ref, const std::remove_cvref_t<V>&>;
}  // namespace detail

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
  /// The error's first line names `Name` and lists the kernel's arguments;
  /// nothing else is reported for that call.
  template <fixed_string Name>
  constexpr auto& get() noexcept {
    constexpr int pos = table::position(Name.view());
    if constexpr (pos < 0) {
      static_assert(ct_error<frozen_text<detail::unknown_argument_text<Name, table>>::fixed()>::ok);
      return detail::unknown_argument_v;
    } else {
      return std::get<static_cast<std::size_t>(pos)>(values_);
    }
  }
  template <fixed_string Name>
  constexpr const auto& get() const noexcept {
    constexpr int pos = table::position(Name.view());
    if constexpr (pos < 0) {
      static_assert(ct_error<frozen_text<detail::unknown_argument_text<Name, table>>::fixed()>::ok);
      return detail::unknown_argument_v;
    } else {
      return std::get<static_cast<std::size_t>(pos)>(values_);
    }
  }
  /// Sets argument `Name` and returns `*this`, for chaining. The argument set
  /// keeps a reference to a bound buffer, so binding a temporary buffer
  /// (`set<"x">(ex.upload(v))`) does not compile: keep the buffer in a
  /// variable that outlives the dispatch.
  template <fixed_string Name, class V>
  constexpr argument_values& set(V&& v) {
    constexpr int pos = table::position(Name.view());
    if constexpr (pos >= 0) {
      using H = std::tuple_element_t<static_cast<std::size_t>(pos), std::tuple<typename As::handle...>>;
      if constexpr (detail::binds_temporary_buffer<H, V>)
        static_assert(ct_error<fixed_string("argument_values::set: argument ") + Name +
                               fixed_string(" would refer to a temporary buffer that is destroyed before "
                                            "the dispatch; keep the buffer in a variable")>::ok);
      else
        get<Name>() = std::forward<V>(v);
    } else {
      // Reported here rather than in get<>, one instantiation note shorter.
      static_assert(ct_error<frozen_text<detail::unknown_argument_text<Name, table>>::fixed()>::ok);
    }
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
