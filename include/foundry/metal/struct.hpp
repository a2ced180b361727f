#pragma once
/// @file struct.hpp
/// Describing a C++ parameter struct once, and emitting its Metal `struct`.
///
///   namespace app {
///   struct GemvParams {
///     std::uint32_t n;
///     std::uint32_t k;
///     foundry::metal::float3 scale;
///     float w[4];
///     const void* host_cookie;  // host-only: not described, must come last
///   };
///   FOUNDRY_METAL_STRUCT(GemvParams, (n, k, scale, w));
///   }  // namespace app
///
///   foundry::metal::struct_definition_text<app::GemvParams> ==
///     "struct GemvParams {\n  uint n;\n  uint k;\n  float3 scale;\n  float w[4];\n};\n"
///   foundry::metal::metal_size<app::GemvParams> == 48  // bytes to bind to the GPU
///
/// The Metal layout rules and the compile-time layout check are in
/// layout.hpp; naming (and its `struct_traits` overrides) in type_name.hpp.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/describe/class.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_error.hpp"
#include "foundry/metal/layout.hpp"
#include "foundry/metal/type_name.hpp"

// ----------------------------------------------------------- description --

/// Describes struct `Type` for Metal. Use at namespace scope, in the
/// namespace of `Type`, after its definition, followed by a semicolon:
///
///   FOUNDRY_METAL_STRUCT(Params, (field_a, field_b, ...));
///
/// `Members` lists the public data members that Metal sees, in declaration
/// order; members not listed are host-only and must be declared after all
/// listed ones (checked by check_layout). The macro expands to
/// BOOST_DESCRIBE_STRUCT(Type, (), Members) (so Boost.Describe-based code
/// sees the fields too) plus two hooks found by argument-dependent lookup:
/// `foundry_metal_struct_name(Type*)` (the Metal name, `#Type`) and
/// `foundry_metal_struct_offsets(Type*)` (offsetof of each listed field).
/// Up to 256 fields.
///
/// Errors: a non-standard-layout `Type` fails a static_assert right here;
/// the rest is checked when the struct is used (layout, struct_definition).
/// Override the Metal struct or field names with foundry::metal::struct_traits.
#define FOUNDRY_METAL_STRUCT(Type, Members)                                                     \
  BOOST_DESCRIBE_STRUCT(Type, (), Members)                                                      \
  template <class FoundryMetalT>                                                                \
  requires ::std::is_same_v<FoundryMetalT, Type>                                                \
  constexpr ::std::string_view foundry_metal_struct_name(FoundryMetalT*) noexcept {             \
    return #Type;                                                                               \
  }                                                                                             \
  template <class FoundryMetalT>                                                                \
  requires ::std::is_same_v<FoundryMetalT, Type>                                                \
  constexpr auto foundry_metal_struct_offsets(FoundryMetalT*) noexcept {                        \
    return ::foundry::metal::detail::offset_array(                                              \
        FOUNDRY_METAL_DETAIL_FOR_EACH_IN(FOUNDRY_METAL_DETAIL_OFFSETOF, FoundryMetalT,          \
                                         FOUNDRY_METAL_DETAIL_UNPACK Members)::std::size_t{0}); \
  }                                                                                             \
  static_assert(::std::is_standard_layout_v<Type>,                                              \
                "FOUNDRY_METAL_STRUCT(" #Type                                                   \
                "): the struct must be standard-layout "                                        \
                "(public data members only, no virtual functions)")

// Preprocessor iteration (C++20 __VA_OPT__ recursion, 256 steps).
#define FOUNDRY_METAL_DETAIL_UNPACK(...) __VA_ARGS__
#define FOUNDRY_METAL_DETAIL_OFFSETOF(T, member) offsetof(T, member),
#define FOUNDRY_METAL_DETAIL_PARENS ()
#define FOUNDRY_METAL_DETAIL_EXPAND(...)                     \
  FOUNDRY_METAL_DETAIL_EXPAND3(FOUNDRY_METAL_DETAIL_EXPAND3( \
      FOUNDRY_METAL_DETAIL_EXPAND3(FOUNDRY_METAL_DETAIL_EXPAND3(__VA_ARGS__))))
#define FOUNDRY_METAL_DETAIL_EXPAND3(...)                    \
  FOUNDRY_METAL_DETAIL_EXPAND2(FOUNDRY_METAL_DETAIL_EXPAND2( \
      FOUNDRY_METAL_DETAIL_EXPAND2(FOUNDRY_METAL_DETAIL_EXPAND2(__VA_ARGS__))))
#define FOUNDRY_METAL_DETAIL_EXPAND2(...)                    \
  FOUNDRY_METAL_DETAIL_EXPAND1(FOUNDRY_METAL_DETAIL_EXPAND1( \
      FOUNDRY_METAL_DETAIL_EXPAND1(FOUNDRY_METAL_DETAIL_EXPAND1(__VA_ARGS__))))
#define FOUNDRY_METAL_DETAIL_EXPAND1(...) __VA_ARGS__
#define FOUNDRY_METAL_DETAIL_FOR_EACH_IN(macro, arg, ...) \
  FOUNDRY_METAL_DETAIL_FOR_EACH(macro, arg, __VA_ARGS__)
#define FOUNDRY_METAL_DETAIL_FOR_EACH(macro, arg, ...) \
  __VA_OPT__(                                          \
      FOUNDRY_METAL_DETAIL_EXPAND(FOUNDRY_METAL_DETAIL_FOR_EACH_STEP(macro, arg, __VA_ARGS__)))
#define FOUNDRY_METAL_DETAIL_FOR_EACH_STEP(macro, arg, first, ...) \
  macro(arg, first) __VA_OPT__(                                    \
      FOUNDRY_METAL_DETAIL_FOR_EACH_AGAIN FOUNDRY_METAL_DETAIL_PARENS(macro, arg, __VA_ARGS__))
#define FOUNDRY_METAL_DETAIL_FOR_EACH_AGAIN() FOUNDRY_METAL_DETAIL_FOR_EACH_STEP

namespace foundry::metal {

namespace detail {

/// The offsets passed by FOUNDRY_METAL_STRUCT, without its trailing 0.
template <class... Sizes>
constexpr auto offset_array(Sizes... sizes) noexcept {
  const std::size_t all[] = {static_cast<std::size_t>(sizes)...};
  std::array<std::size_t, sizeof...(Sizes) - 1> r{};
  for (std::size_t i = 0; i + 1 < sizeof...(Sizes); ++i) r[i] = all[i];
  return r;
}

// -------------------------------------------------------------- emission --

/// Appends "[N]" for each array extent of field type F.
template <class F>
constexpr void append_extents(ct_string& s) {
  for (std::size_t extent : array_traits<F>::extents) {
    s += '[';
    append_number(s, extent);
    s += ']';
  }
}

template <class T, std::size_t I>
constexpr void append_field(ct_string& s) {
  using F = field_type<T, I>;
  s += "  ";
  s += type_name<element_type<F>>();
  s += ' ';
  s += field_name<T>(field_cxx_name<T, I>);
  append_extents<F>(s);
  s += ";\n";
}

template <class T>
constexpr ct_string build_definition() {
  static_assert(check_layout<T>());
  ct_string s;
  if constexpr (diagnosis_of<T>::value.issue == layout_issue::none) {
    s.reserve(32 + 32 * field_count<T>);
    s += "struct ";
    s += struct_name<T>();
    s += " {\n";
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (append_field<T, I>(s), ...);
    }(std::make_index_sequence<field_count<T>>{});
    s += "};\n";
  }
  return s;
}

/// Turns `Builder::build()` (a constexpr ct_string) into static storage:
/// one evaluation for the size, one to fill a std::array of that size.
template <class Builder>
inline constexpr std::size_t text_size = Builder::build().size();

template <class Builder>
inline constexpr auto text_chars = [] {
  std::array<char, text_size<Builder> + 1> chars{};  // NUL-terminated
  const ct_string s = Builder::build();
  for (std::size_t i = 0; i < s.size(); ++i) chars[i] = s[i];
  return chars;
}();

template <class Builder>
inline constexpr std::string_view text_view{text_chars<Builder>.data(), text_size<Builder>};

template <class T>
struct definition_builder {
  static constexpr ct_string build() { return build_definition<T>(); }
};

// ------------------------------------------------------- nested structs --

template <class E>
using is_struct_q = boost::mp11::mp_bool<is_metal_struct_v<E>>;

template <class D>
using descriptor_element = element_type<descriptor_type<D>>;

/// Described structs used by the fields of T (directly or as array
/// elements), in field order, possibly repeated.
template <class T>
using struct_dependencies =
    boost::mp11::mp_copy_if<boost::mp11::mp_transform<descriptor_element, field_list<T>>,
                            is_struct_q>;

/// Depth-first post-order: dependencies of T, then T; each type once.
template <class Done, class T, bool Seen = boost::mp11::mp_contains<Done, T>::value>
struct topo_visit {
  using type = Done;
};

template <class Done, class T>
using topo_visit_t = typename topo_visit<Done, T>::type;

template <class Done, class T>
struct topo_visit<Done, T, false> {
  using type =
      boost::mp11::mp_push_back<boost::mp11::mp_fold<struct_dependencies<T>, Done, topo_visit_t>,
                                T>;
};

template <class... Ts>
using definition_order = boost::mp11::mp_fold<boost::mp11::mp_list<std::remove_cv_t<Ts>...>,
                                              boost::mp11::mp_list<>, topo_visit_t>;

template <class... Ts>
consteval std::array<std::size_t, 2> duplicate_struct_name(boost::mp11::mp_list<Ts...>) {
  const std::array<std::string_view, sizeof...(Ts)> names{struct_name<Ts>()...};
  for (std::size_t i = 0; i < sizeof...(Ts); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (names[i] == names[j]) return {j, i};
  return {0, 0};
}

template <class A, class B>
inline constexpr auto duplicate_struct_name_message = make_fixed([] {
  ct_string s = "foundry::metal::struct_definitions: ";
  append_text(s, type_spelling<A>());
  s += " and ";
  append_text(s, type_spelling<B>());
  s += " are both named ";
  append_text(s, struct_name<A>());
  s += " in Metal (rename one with foundry::metal::struct_traits)";
  return s;
});

template <class T>
inline constexpr auto not_a_struct_message = make_fixed([] {
  ct_string s = "foundry::metal::struct_definitions: ";
  append_text(s, type_spelling<T>());
  s += " is not a described Metal struct (describe it with FOUNDRY_METAL_STRUCT)";
  return s;
});

template <class... Ts>
consteval std::size_t first_non_struct() {
  const bool is_struct[] = {is_metal_struct_v<Ts>...};
  std::size_t i = 0;
  while (is_struct[i]) ++i;
  return i;
}

template <class... Ts>
consteval bool check_definitions() {
  if constexpr (!(is_metal_struct_v<Ts> && ...)) {
    using bad = boost::mp11::mp_at_c<boost::mp11::mp_list<std::remove_cv_t<Ts>...>,
                                     first_non_struct<Ts...>()>;
    return ct_check<is_metal_struct_v<bad>>.template emit<not_a_struct_message<bad>>();
  } else {
    using order = definition_order<Ts...>;
    constexpr auto dup = duplicate_struct_name(order{});
    if constexpr (dup[0] != dup[1]) {
      using A = boost::mp11::mp_at_c<order, dup[0]>;
      using B = boost::mp11::mp_at_c<order, dup[1]>;
      return ct_check<dup[0] == dup[1]>.template emit<duplicate_struct_name_message<A, B>>();
    } else {
      return true;
    }
  }
}

template <class... Ts>
struct definitions_builder {
  template <class... Us>
  static constexpr ct_string join(boost::mp11::mp_list<Us...>) {
    constexpr std::string_view texts[] = {std::string_view{}, text_view<definition_builder<Us>>...};
    std::size_t total = 0;
    for (std::string_view t : texts) total += t.size() + 1;
    ct_string s;
    s.reserve(total);
    for (std::size_t i = 1; i < std::size(texts); ++i) {
      if (i > 1) s += '\n';
      s += texts[i];
    }
    return s;
  }
  static constexpr ct_string build() {
    static_assert(check_definitions<Ts...>());
    if constexpr ((is_metal_struct_v<Ts> && ...))
      return join(definition_order<Ts...>{});
    else
      return ct_string();
  }
};

}  // namespace detail

/// The Metal definition of described struct `T`, as static text:
/// "struct <name> {\n" + "  <type> <field>[<extents>];\n" per described
/// field (description order) + "};\n". Usable in constant expressions.
///
/// Errors: `T` must pass check_layout<T>() (see layout.hpp); otherwise the
/// program does not compile and the diagnostic names the struct and field.
template <class T>
inline constexpr std::string_view struct_definition_text =
    detail::text_view<detail::definition_builder<std::remove_cv_t<T>>>;

/// `struct_definition_text<T>` as a ct_string (constexpr).
template <class T>
constexpr ct_string struct_definition() {
  return ct_string(struct_definition_text<T>);
}

/// Definitions of every described struct reachable from `Ts` (the structs
/// themselves, and structs used by their fields, transitively), each once,
/// dependencies before the structs that use them, otherwise in the order
/// given; separated by blank lines. Static text, usable in constant
/// expressions.
///
/// Errors: each `Ts` must be a described struct; all must pass
/// check_layout; two distinct structs must not share a Metal name.
template <class... Ts>
inline constexpr std::string_view struct_definitions_text =
    detail::text_view<detail::definitions_builder<Ts...>>;

/// `struct_definitions_text<Ts...>` as a ct_string (constexpr).
template <class... Ts>
constexpr ct_string struct_definitions() {
  return ct_string(struct_definitions_text<Ts...>);
}

}  // namespace foundry::metal
