#pragma once
/// @file layout.hpp
/// Metal memory layout of host types, and its compile-time check against
/// the C++ layout of structs described with FOUNDRY_METAL_STRUCT.
///
/// Rules (MSL specification, section 2 "Data Types": tables "Size and
/// alignment of scalar data types" and "... of vector data types", and
/// "Alignment of structures"); all sizes and offsets are in bytes:
///   * scalar: size = alignment = sizeof (bool/char 1, short/half/bfloat 2,
///     int/float 4, long 8);
///   * vector TN: size = alignment = 2*sizeof(T) for N = 2, 4*sizeof(T) for
///     N = 3 and 4 (so float3 is 16 bytes);
///   * array T[N] / std::array<T, N>: size N * size(T), alignment of T;
///   * struct: fields in description order, each at the next multiple of its
///     alignment; alignment = max field alignment; size = end of last field
///     rounded up to the alignment.
///
/// A described struct may end with host-only fields (not listed in the
/// description): the Metal struct is then a prefix of the C++ object, and
/// the bytes to bind to the GPU are the first `metal_size<T>` (<= sizeof(T))
/// bytes of the object. A host-only field may start inside the Metal
/// struct's tail padding (e.g. a pointer at byte 24 of a struct whose Metal
/// size is 32 because of a float3): those bytes are copied too, and Metal
/// ignores them as padding.
/// `check_layout<T>()` proves at compile time that every described field
/// sits at the same offset in C++ and in Metal.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_error.hpp"
#include "foundry/metal/type_name.hpp"
#include "foundry/metal/vector.hpp"

namespace foundry::metal {

namespace detail {

// ---------------------------------------------------------------- fields --

/// Boost.Describe descriptors of the described (public, non-static) fields.
template <class T>
using field_list = boost::describe::describe_members<T, boost::describe::mod_public>;

template <class T>
inline constexpr std::size_t field_count = boost::mp11::mp_size<field_list<T>>::value;

template <class P>
struct member_pointer_type;
template <class C, class M>
struct member_pointer_type<M C::*> {
  using type = M;
};

template <class D>
using descriptor_type =
    std::remove_cv_t<typename member_pointer_type<std::remove_cv_t<decltype(D::pointer)>>::type>;

/// C++ type of field `I` of `T` (cv-qualifiers removed).
template <class T, std::size_t I>
using field_type = descriptor_type<boost::mp11::mp_at_c<field_list<T>, I>>;

/// C++ name of field `I` of `T`.
template <class T, std::size_t I>
inline constexpr std::string_view field_cxx_name = boost::mp11::mp_at_c<field_list<T>, I>::name;

// ---------------------------------------------------------------- arrays --

/// Peels T[N] and std::array<T, N> (nested, in any mix).
template <class F>
struct array_traits {
  using element = std::remove_cv_t<F>;
  static constexpr bool non_empty = true;
  static constexpr std::size_t rank = 0;
  static constexpr std::array<std::size_t, 0> extents{};
};

template <class E, std::size_t N, std::size_t Rank, std::array<std::size_t, Rank> Inner>
constexpr std::array<std::size_t, Rank + 1> prepend_extent() {
  std::array<std::size_t, Rank + 1> r{};
  r[0] = N;
  for (std::size_t i = 0; i < Rank; ++i) r[i + 1] = Inner[i];
  return r;
}

template <class E, std::size_t N>
struct array_traits<E[N]> {
  using inner = array_traits<std::remove_cv_t<E>>;
  using element = typename inner::element;
  static constexpr bool non_empty = N > 0 && inner::non_empty;
  static constexpr std::size_t rank = inner::rank + 1;
  static constexpr std::array<std::size_t, rank> extents =
      prepend_extent<E, N, inner::rank, inner::extents>();
};

template <class E, std::size_t N>
struct array_traits<std::array<E, N>> : array_traits<E[(N > 0 ? N : 1)]> {
  static constexpr bool non_empty = N > 0 && array_traits<E[1]>::non_empty;
};

/// Innermost element type of a (possibly nested) array field; the type itself otherwise.
template <class F>
using element_type = typename array_traits<std::remove_cv_t<F>>::element;

/// True for the types a described field may have: Metal scalars, vectors,
/// described structs, and non-empty (nested) arrays of these.
template <class F>
inline constexpr bool is_field_type_v = array_traits<std::remove_cv_t<F>>::non_empty &&
                                        (is_metal_scalar_v<element_type<F>> ||
                                         is_metal_vector_v<element_type<F>> ||
                                         is_metal_struct_v<element_type<F>>);

// ------------------------------------------------------------ raw layout --

template <class T>
struct struct_layout;

/// Metal size/alignment without any checking; unsupported types yield 0/1
/// so that callers can report the problem once, elsewhere.
template <class T>
struct metal_layout {
  static constexpr std::size_t size = 0;
  static constexpr std::size_t alignment = 1;
};

template <class T>
requires is_metal_scalar_v<T>
struct metal_layout<T> {
  static constexpr std::size_t size = sizeof(T);
  static constexpr std::size_t alignment = sizeof(T);
};

template <class T>
requires is_metal_vector_v<T>
struct metal_layout<T> {
  static constexpr std::size_t size =
      (T::component_count == 2 ? 2 : 4) * sizeof(typename T::value_type);
  static constexpr std::size_t alignment = size;
};

template <class E, std::size_t N>
struct metal_layout<E[N]> {
  static constexpr std::size_t size = N * metal_layout<std::remove_cv_t<E>>::size;
  static constexpr std::size_t alignment = metal_layout<std::remove_cv_t<E>>::alignment;
};

template <class E, std::size_t N>
struct metal_layout<std::array<E, N>> : metal_layout<E[(N > 0 ? N : 1)]> {};

template <class T>
requires is_metal_struct_v<T>
struct metal_layout<T> {
  static constexpr std::size_t size = struct_layout<T>::size;
  static constexpr std::size_t alignment = struct_layout<T>::alignment;
};

constexpr std::size_t align_up(std::size_t n, std::size_t alignment) noexcept {
  return (n + alignment - 1) / alignment * alignment;
}

template <class T>
struct struct_layout_result {
  std::array<std::size_t, field_count<T>> offsets{};
  std::size_t size = 0;
  std::size_t alignment = 1;
};

template <class T>
consteval struct_layout_result<T> compute_struct_layout() {
  constexpr std::size_t n = field_count<T>;
  constexpr auto sizes = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::size_t, n>{metal_layout<field_type<T, I>>::size...};
  }(std::make_index_sequence<n>{});
  constexpr auto alignments = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::size_t, n>{metal_layout<field_type<T, I>>::alignment...};
  }(std::make_index_sequence<n>{});
  struct_layout_result<T> r;
  std::size_t end = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r.offsets[i] = align_up(end, alignments[i]);
    end = r.offsets[i] + sizes[i];
    r.alignment = alignments[i] > r.alignment ? alignments[i] : r.alignment;
  }
  r.size = align_up(end, r.alignment);
  return r;
}

/// Metal layout of a described struct (unchecked).
template <class T>
struct struct_layout {
  static constexpr struct_layout_result<T> result = compute_struct_layout<T>();
  static constexpr std::size_t size = result.size;
  static constexpr std::size_t alignment = result.alignment;
};

/// C++ offsets of the described fields (offsetof, recorded by FOUNDRY_METAL_STRUCT).
template <class T>
consteval std::array<std::size_t, field_count<T>> host_offsets() {
  if constexpr (std::is_standard_layout_v<T>)
    return foundry_metal_struct_offsets(static_cast<T*>(nullptr));
  else
    return {};
}

// ------------------------------------------------------------ diagnosis --

enum class layout_issue {
  none,
  not_described,
  not_standard_layout,
  no_fields,
  bad_field_type,
  bad_nested_struct,
  nested_host_fields,
  offset_mismatch,
  too_large,
  bad_struct_name,
  bad_field_name,
  duplicate_field_name,
};

struct layout_diagnosis {
  layout_issue issue = layout_issue::none;
  std::size_t field = 0;  // index of the offending field
  std::size_t other = 0;  // second field (duplicate names)
};

constexpr bool is_identifier(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(letter || (digit && i > 0))) return false;
  }
  return true;
}

/// Identifiers usable as Metal struct or field names: valid, not reserved
/// ("__" prefix), and not one of Metal's own keywords beyond C++
/// (address spaces and function qualifiers, MSL spec sections 4 and 5).
constexpr bool is_metal_name(std::string_view s) noexcept {
  constexpr std::string_view keywords[] = {
      "device",   "constant",    "thread", "threadgroup", "threadgroup_imageblock",
      "ray_data", "object_data", "kernel", "vertex",      "fragment"};
  if (!is_identifier(s) || s.starts_with("__")) return false;
  for (std::string_view k : keywords)
    if (s == k) return false;
  return true;
}

template <class T>
struct diagnosis_of;

/// Whether a field of type F is fine as far as nested structs go.
template <class F>
consteval bool nested_struct_ok() {
  using E = element_type<F>;
  if constexpr (is_metal_struct_v<E>)
    return diagnosis_of<E>::value.issue == layout_issue::none;
  else
    return true;
}

/// Whether a nested struct used by a field of type F has no host-only fields.
template <class F>
consteval bool nested_size_ok() {
  using E = element_type<F>;
  if constexpr (is_metal_struct_v<E>)
    return sizeof(E) == struct_layout<E>::size;
  else
    return true;
}

template <class T>
consteval layout_diagnosis diagnose_layout() {
  using enum layout_issue;
  if constexpr (!is_metal_struct_v<T>) {
    return {not_described};
  } else if constexpr (!std::is_standard_layout_v<T>) {
    return {not_standard_layout};
  } else {
    constexpr std::size_t n = field_count<T>;
    if (n == 0) return {no_fields};
    using indices = std::make_index_sequence<n>;

    constexpr auto types_ok = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<bool, n>{is_field_type_v<field_type<T, I>>...};
    }(indices{});
    for (std::size_t i = 0; i < n; ++i)
      if (!types_ok[i]) return {bad_field_type, i};

    constexpr auto nested_ok = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<bool, n>{nested_struct_ok<field_type<T, I>>()...};
    }(indices{});
    for (std::size_t i = 0; i < n; ++i)
      if (!nested_ok[i]) return {bad_nested_struct, i};

    constexpr auto sizes_ok = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<bool, n>{nested_size_ok<field_type<T, I>>()...};
    }(indices{});
    for (std::size_t i = 0; i < n; ++i)
      if (!sizes_ok[i]) return {nested_host_fields, i};

    constexpr auto cxx = host_offsets<T>();
    for (std::size_t i = 0; i < n; ++i)
      if (cxx[i] != struct_layout<T>::result.offsets[i]) return {offset_mismatch, i};
    if (struct_layout<T>::size > sizeof(T)) return {too_large};

    if (!is_metal_name(struct_name<T>())) return {bad_struct_name};
    constexpr auto names = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<std::string_view, n>{field_name<T>(field_cxx_name<T, I>)...};
    }(indices{});
    for (std::size_t i = 0; i < n; ++i) {
      if (!is_metal_name(names[i])) return {bad_field_name, i};
      for (std::size_t j = 0; j < i; ++j)
        if (names[i] == names[j]) return {duplicate_field_name, j, i};
    }
    return {};
  }
}

/// Memoized diagnosis (one constant evaluation per struct).
template <class T>
struct diagnosis_of {
  static constexpr layout_diagnosis value = diagnose_layout<T>();
};

// ------------------------------------------------------------- messages --

/// "struct Name: " prefix shared by the messages below.
template <class T>
constexpr void append_struct_prefix(ct_string& s) {
  s += "foundry::metal: struct ";
  append_text(s, unqualified(foundry_metal_struct_name(static_cast<T*>(nullptr))));
  s += ": ";
}

template <class T>
inline constexpr auto not_described_message = make_fixed([] {
  ct_string s = "foundry::metal: ";
  append_text(s, type_spelling<T>());
  s += " is not a described Metal struct: add FOUNDRY_METAL_STRUCT(Type, (fields...)) after its "
       "definition, in its namespace";
  return s;
});

template <class T>
inline constexpr auto not_standard_layout_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "the C++ struct is not standard-layout, so its field offsets are not defined "
       "(use only public data members, no virtual functions, no base classes with data)";
  return s;
});

template <class T>
inline constexpr auto no_fields_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "no fields are described; a Metal struct needs at least one";
  return s;
});

template <class T, std::size_t I>
inline constexpr auto bad_field_type_message = make_fixed([] {
  using F = field_type<T, I>;
  using E = element_type<F>;
  ct_string s;
  append_struct_prefix<T>(s);
  s += "field ";
  append_text(s, field_cxx_name<T, I>);
  s += " has type ";
  append_text(s, type_spelling<F>());
  s += ", which has no Metal equivalent: ";
  if constexpr (!array_traits<F>::non_empty)
    s += "Metal arrays cannot be empty";
  else
    append_text(s, unsupported_reason<E>());
  return s;
});

template <class T, std::size_t I>
inline constexpr auto nested_host_fields_message = make_fixed([] {
  using E = element_type<field_type<T, I>>;
  ct_string s;
  append_struct_prefix<T>(s);
  s += "field ";
  append_text(s, field_cxx_name<T, I>);
  s += " uses struct ";
  append_text(s, struct_name<E>());
  s += ", whose C++ size (";
  append_number(s, sizeof(E));
  s += " bytes) differs from its Metal size (";
  append_number(s, struct_layout<E>::size);
  s += " bytes); structs used inside other structs must not have host-only fields";
  return s;
});

template <class T, std::size_t I>
inline constexpr auto offset_mismatch_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "field ";
  append_text(s, field_cxx_name<T, I>);
  s += " is at byte ";
  append_number(s, host_offsets<T>()[I]);
  s += " in C++ but at byte ";
  append_number(s, struct_layout<T>::result.offsets[I]);
  s += " in Metal; host-only fields must come after all described fields, "
       "and fields must be described in declaration order";
  return s;
});

template <class T>
inline constexpr auto too_large_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "the Metal size (";
  append_number(s, struct_layout<T>::size);
  s += " bytes) exceeds the C++ size (";
  append_number(s, sizeof(T));
  s += " bytes)";
  return s;
});

template <class T>
inline constexpr auto bad_struct_name_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "the Metal struct name ";
  append_text(s, struct_name<T>());
  s += " is not a valid Metal identifier (or is reserved)";
  return s;
});

template <class T, std::size_t I>
inline constexpr auto bad_field_name_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "field ";
  append_text(s, field_cxx_name<T, I>);
  s += " maps to the Metal name ";
  append_text(s, field_name<T>(field_cxx_name<T, I>));
  s += ", which is not a valid Metal identifier (or is reserved)";
  return s;
});

template <class T, std::size_t I, std::size_t J>
inline constexpr auto duplicate_field_name_message = make_fixed([] {
  ct_string s;
  append_struct_prefix<T>(s);
  s += "fields ";
  append_text(s, field_cxx_name<T, I>);
  s += " and ";
  append_text(s, field_cxx_name<T, J>);
  s += " both map to the Metal name ";
  append_text(s, field_name<T>(field_cxx_name<T, J>));
  return s;
});

}  // namespace detail

/// Compile-time proof that described struct `T` can be shared with Metal:
/// returns true, or fails to compile with a diagnostic that names the
/// struct and the offending field. Use as `static_assert(check_layout<T>())`.
///
/// Checks, in order (first failure reported):
///   * T is described with FOUNDRY_METAL_STRUCT and is standard-layout;
///   * at least one field is described;
///   * every described field has a Metal type (scalar, vector, described
///     struct, non-empty arrays of these; e.g. no double, no pointers);
///   * nested described structs pass these checks themselves, and have no
///     host-only fields (their C++ size equals their Metal size);
///   * each described field's C++ offset equals its Metal offset (so
///     host-only fields come last and the description follows declaration
///     order), and metal_size<T> <= sizeof(T);
///   * Metal struct and field names are identifiers, not Metal keywords,
///     and field names are unique (after struct_traits overrides).
template <class T>
consteval bool check_layout() {
  using U = std::remove_cv_t<T>;
  using enum detail::layout_issue;
  constexpr detail::layout_diagnosis d = detail::diagnosis_of<U>::value;
  constexpr bool ok = d.issue == none;
  if constexpr (ok) {
    return true;
  } else if constexpr (d.issue == not_described) {
    return ct_check<ok>.template emit<detail::not_described_message<U>>();
  } else if constexpr (d.issue == not_standard_layout) {
    return ct_check<ok>.template emit<detail::not_standard_layout_message<U>>();
  } else if constexpr (d.issue == no_fields) {
    return ct_check<ok>.template emit<detail::no_fields_message<U>>();
  } else if constexpr (d.issue == bad_field_type) {
    return ct_check<ok>.template emit<detail::bad_field_type_message<U, d.field>>();
  } else if constexpr (d.issue == bad_nested_struct) {
    return check_layout<detail::element_type<detail::field_type<U, d.field>>>();
  } else if constexpr (d.issue == nested_host_fields) {
    return ct_check<ok>.template emit<detail::nested_host_fields_message<U, d.field>>();
  } else if constexpr (d.issue == offset_mismatch) {
    return ct_check<ok>.template emit<detail::offset_mismatch_message<U, d.field>>();
  } else if constexpr (d.issue == too_large) {
    return ct_check<ok>.template emit<detail::too_large_message<U>>();
  } else if constexpr (d.issue == bad_struct_name) {
    return ct_check<ok>.template emit<detail::bad_struct_name_message<U>>();
  } else if constexpr (d.issue == bad_field_name) {
    return ct_check<ok>.template emit<detail::bad_field_name_message<U, d.field>>();
  } else {
    return ct_check<ok>.template emit<detail::duplicate_field_name_message<U, d.field, d.other>>();
  }
}

namespace detail {

template <class T>
inline constexpr auto unsupported_layout_message = make_fixed([] {
  ct_string s = "foundry::metal::layout: ";
  append_text(s, type_spelling<T>());
  s += " has no Metal equivalent: ";
  if constexpr (!array_traits<T>::non_empty)
    s += "Metal arrays cannot be empty";
  else
    append_text(s, unsupported_reason<element_type<T>>());
  return s;
});

template <class E>
inline constexpr auto host_element_message = make_fixed([] {
  ct_string s = "foundry::metal::layout: arrays of struct ";
  append_text(s, struct_name<E>());
  s += " have a C++ stride of ";
  append_number(s, sizeof(E));
  s += " bytes but a Metal stride of ";
  append_number(s, struct_layout<E>::size);
  s += " bytes; structs used as array elements must not have host-only fields";
  return s;
});

/// check_layout for structs (and arrays of them, whose C++ and Metal
/// strides must agree); a clear error for anything without a Metal layout.
template <class T>
consteval bool check_type() {
  using E = element_type<T>;
  if constexpr (!is_field_type_v<T>) {
    return ct_check<is_field_type_v<T>>.template emit<
        unsupported_layout_message<std::remove_cv_t<T>>>();
  } else if constexpr (is_metal_struct_v<E>) {
    if constexpr (!check_layout<E>())
      return false;
    else if constexpr (array_traits<T>::rank > 0 && sizeof(E) != struct_layout<E>::size)
      return ct_check<sizeof(E) == struct_layout<E>::size>.template emit<host_element_message<E>>();
    else
      return true;
  } else {
    return true;
  }
}

}  // namespace detail

/// Metal size and alignment, in bytes, of a host type with a Metal
/// counterpart: scalar, vector, described struct, or (nested) array of
/// these (see the rules at the top of this file).
///
/// For described structs also: `field_count` and `offsets`, the Metal (==
/// C++) byte offset of each described field, in description order.
///
/// Errors: unsupported types fail with "foundry::metal::layout: <T> has no
/// Metal equivalent: <reason>"; structs (also as array elements) must pass
/// check_layout, whose diagnostics apply.
template <class T>
struct layout {
  static_assert(detail::check_type<T>());
  /// Bytes occupied in Metal (arrays: all elements).
  static constexpr std::size_t size = detail::metal_layout<std::remove_cv_t<T>>::size;
  /// Required alignment in bytes.
  static constexpr std::size_t alignment = detail::metal_layout<std::remove_cv_t<T>>::alignment;
};

template <class T>
requires is_metal_struct_v<T>
struct layout<T> {
  static_assert(check_layout<T>());
  /// Bytes of the Metal struct: the number of bytes to bind to the GPU.
  static constexpr std::size_t size = detail::struct_layout<std::remove_cv_t<T>>::size;
  /// Alignment in bytes: the largest field alignment.
  static constexpr std::size_t alignment = detail::struct_layout<std::remove_cv_t<T>>::alignment;
  /// Number of described (GPU-visible) fields.
  static constexpr std::size_t field_count = detail::field_count<std::remove_cv_t<T>>;
  /// Byte offset of each described field, in description order.
  static constexpr std::array<std::size_t, field_count> offsets =
      detail::struct_layout<std::remove_cv_t<T>>::result.offsets;
};

/// Metal size of `T` in bytes; for a described struct, the number of bytes
/// of a `T` object to copy to the GPU (host-only trailing fields excluded).
/// A buffer holding several `T`s needs sizeof(T) == metal_size<T> (no
/// host-only fields); `layout<T[N]>` checks that.
template <class T>
inline constexpr std::size_t metal_size = layout<T>::size;

/// Metal alignment of `T` in bytes.
template <class T>
inline constexpr std::size_t metal_alignment = layout<T>::alignment;

}  // namespace foundry::metal
