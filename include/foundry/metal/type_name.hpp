#pragma once
/// @file type_name.hpp
/// The Metal spelling of host types: `type_name<T>()`.
///
///   host type                                     Metal name
///   bool                                          bool
///   char (plain)                                  char
///   signed char / int8_t,  unsigned char / uint8_t  char, uchar
///   16/32/64-bit signed / unsigned integers       short/ushort, int/uint, long/ulong
///   foundry::half, foundry::bfloat, float         half, bfloat, float
///   foundry::metal::vec<T, N>                     <name of T><N>, e.g. float3
///   struct described with FOUNDRY_METAL_STRUCT   its Metal struct name
///
/// Integers are named by size and signedness (Metal: char 8, short 16,
/// int 32, long 64 bits; MSL specification, "Scalar data types"), so
/// `long long` and `long` both map to `long` on LP64 hosts. Plain `char`
/// maps to Metal `char`, which is signed. `double` has no Metal equivalent.
///
/// This header also holds the naming customization point for described
/// structs, `struct_traits<T>` (Metal struct name and field names).

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_error.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/vector.hpp"

namespace foundry::metal {

/// Customization of the Metal names of a struct described with
/// FOUNDRY_METAL_STRUCT. Specialize it (in namespace `foundry::metal` or at
/// global scope as `foundry::metal::struct_traits<T>`, before first use)
/// with either or both of:
///
///   static constexpr std::string_view name = "MetalName";
///       replaces the struct name recorded by the macro;
///   static constexpr std::string_view field_name(std::string_view cxx_name);
///       maps each described C++ field name to its Metal field name.
///
/// Names must be valid identifiers and field names unique; check_layout
/// reports violations at compile time. The primary template is empty (keep
/// the C++ names).
template <class T>
struct struct_traits {};

namespace detail {

/// Probe whose __PRETTY_FUNCTION__ embeds the spelling of `T`.
template <class T>
constexpr auto spelling_probe() noexcept {
  return std::string_view(__PRETTY_FUNCTION__);
}

/// Best-effort compiler spelling of `T` ("double", "app::Params"), for
/// diagnostics only. gcc writes "... [with T = X]", clang "... [T = X]".
template <class T>
constexpr std::string_view type_spelling() noexcept {
  const std::string_view p = spelling_probe<T>();
  const std::size_t key = p.find("T = ");
  const std::size_t end = p.rfind(']');
  if (key == std::string_view::npos || end == std::string_view::npos || end < key + 4)
    return "(unknown type)";
  return p.substr(key + 4, end - key - 4);
}

/// Appends `s`, replacing single quotes (g++ escapes them in diagnostics).
constexpr void append_text(ct_string& out, std::string_view s) {
  for (char c : s) out += (c == '\'' ? '`' : c);
}

/// Appends the decimal digits of `n`.
constexpr void append_number(ct_string& out, std::size_t n) {
  char digits[24]{};
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (count > 0) out += digits[--count];
}

/// Turns the ct_string returned by a captureless lambda into a
/// fixed_string at compile time (for ct_check messages).
template <class Builder>
consteval auto make_fixed(Builder build) {
  constexpr std::size_t n = build().size();
  const ct_string s = build();
  fixed_string<n> r;
  std::copy_n(s.data(), n, r.data);
  return r;
}

template <class T>
concept has_struct_hook = requires {
  { foundry_metal_struct_name(static_cast<T*>(nullptr)) } -> std::convertible_to<std::string_view>;
};

/// The part of `name` after its last "::".
constexpr std::string_view unqualified(std::string_view name) noexcept {
  const std::size_t colon = name.rfind("::");
  return colon == std::string_view::npos ? name : name.substr(colon + 2);
}

}  // namespace detail

/// True for class types described with FOUNDRY_METAL_STRUCT (struct.hpp);
/// cv-qualifiers ignored.
template <class T>
inline constexpr bool is_metal_struct_v =
    std::is_class_v<std::remove_cv_t<T>> && detail::has_struct_hook<std::remove_cv_t<T>>;

namespace detail {

template <class T>
constexpr std::string_view scalar_name() noexcept {
  if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else if constexpr (std::is_same_v<T, char>)
    return "char";
  else if constexpr (std::is_same_v<T, foundry::half>)
    return "half";
  else if constexpr (std::is_same_v<T, foundry::bfloat>)
    return "bfloat";
  else if constexpr (std::is_same_v<T, float>)
    return "float";
  else if constexpr (std::is_signed_v<T>) {
    if constexpr (sizeof(T) == 1)
      return "char";
    else if constexpr (sizeof(T) == 2)
      return "short";
    else if constexpr (sizeof(T) == 4)
      return "int";
    else
      return "long";
  } else {
    if constexpr (sizeof(T) == 1)
      return "uchar";
    else if constexpr (sizeof(T) == 2)
      return "ushort";
    else if constexpr (sizeof(T) == 4)
      return "uint";
    else
      return "ulong";
  }
}

template <class V>
inline constexpr auto vector_name_chars = [] {
  const std::string_view scalar = scalar_name<typename V::value_type>();
  std::array<char, 8> chars{};
  std::copy_n(scalar.data(), scalar.size(), chars.data());
  chars[scalar.size()] = static_cast<char>('0' + V::component_count);
  return chars;
}();

template <class V>
inline constexpr std::string_view vector_name{vector_name_chars<V>.data(),
                                              scalar_name<typename V::value_type>().size() + 1};

/// Why host type `T` (cv-unqualified) has no Metal equivalent, in words.
template <class T>
constexpr std::string_view unsupported_reason() noexcept {
  if constexpr (std::is_floating_point_v<T>)
    return "Metal has no double-precision floating point (use float, half or bfloat)";
  else if constexpr (std::is_pointer_v<T> || std::is_member_pointer_v<T>)
    return "pointers cannot be passed in Metal parameter structs";
  else if constexpr (std::is_reference_v<T>)
    return "references cannot be passed to Metal";
  else if constexpr (std::is_enum_v<T>)
    return "enums are not supported (use their underlying integer type)";
  else if constexpr (std::is_array_v<T>)
    return "arrays have no Metal type name of their own (declare them as fields of a "
           "FOUNDRY_METAL_STRUCT struct)";
  else if constexpr (std::is_integral_v<T>)
    return "character types other than char are not Metal scalars (use uint8_t, uint16_t or "
           "uint32_t)";
  else if constexpr (std::is_class_v<T>)
    return "it is a class type not described for Metal (add FOUNDRY_METAL_STRUCT(Type, "
           "(fields...)) after its "
           "definition, in its namespace)";
  else
    return "it is not a Metal scalar, vector or described struct";
}

template <class T>
inline constexpr auto unsupported_type_message = make_fixed([] {
  ct_string s = "foundry::metal::type_name: ";
  append_text(s, type_spelling<T>());
  s += " has no Metal equivalent: ";
  append_text(s, unsupported_reason<T>());
  return s;
});

}  // namespace detail

/// The Metal name of a described struct: `struct_traits<T>::name` when
/// provided, otherwise the (unqualified) name recorded by
/// FOUNDRY_METAL_STRUCT. Requires `is_metal_struct_v<T>`.
template <class T>
requires is_metal_struct_v<T>
constexpr std::string_view struct_name() noexcept {
  using U = std::remove_cv_t<T>;
  if constexpr (requires { std::string_view(struct_traits<U>::name); })
    return std::string_view(struct_traits<U>::name);
  else
    return detail::unqualified(foundry_metal_struct_name(static_cast<U*>(nullptr)));
}

/// The Metal name of the field of described struct `T` whose C++ name is
/// `cxx_name`: `struct_traits<T>::field_name(cxx_name)` when provided,
/// otherwise `cxx_name`.
template <class T>
requires is_metal_struct_v<T>
constexpr std::string_view field_name(std::string_view cxx_name) noexcept {
  using U = std::remove_cv_t<T>;
  if constexpr (requires { std::string_view(struct_traits<U>::field_name(cxx_name)); })
    return std::string_view(struct_traits<U>::field_name(cxx_name));
  else
    return cxx_name;
}

/// The Metal spelling of host type `T` (cv-qualifiers ignored), e.g.
/// "uint", "half4", "GemvParams"; see the table at the top of this file.
/// The view refers to static storage.
///
/// Errors: any other `T` fails to compile with a diagnostic
/// "foundry::metal::type_name: <T> has no Metal equivalent: <reason>"
/// (e.g. for `double`: "Metal has no double-precision floating point").
template <class T>
constexpr std::string_view type_name() noexcept {
  using U = std::remove_cv_t<T>;
  if constexpr (is_metal_scalar_v<U>) {
    return detail::scalar_name<U>();
  } else if constexpr (is_metal_vector_v<U>) {
    return detail::vector_name<U>;
  } else if constexpr (is_metal_struct_v<U>) {
    return struct_name<U>();
  } else {
    constexpr bool supported = foundry::detail::always_false<T>;
    static_assert(ct_check<supported>.template emit<detail::unsupported_type_message<U>>());
    return {};
  }
}

}  // namespace foundry::metal
