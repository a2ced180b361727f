#pragma once
/// @file arguments.hpp
/// Kernel arguments as typed handles, and the binding plan derived from them.
///
/// A kernel's arguments are one C++ type. Each argument is a handle whose type
/// says how it reaches the kernel:
///
/// | handle                 | Metal parameter             | bound as          | access     |
/// |------------------------|-----------------------------|-------------------|------------|
/// | `input<T>`             | `const device T* name`      | buffer            | read       |
/// | `output<T>`            | `device T* name`            | buffer            | write      |
/// | `inout<T>`             | `device T* name`            | buffer            | read_write |
/// | `optional_input<T>`    | `const device T* name` + `constant uint& name_present` | buffer (may be absent) | read |
/// | `scalar<T>`            | `constant T& name`          | bytes (sizeof T)  | read       |
/// | `params<P>`            | `constant P* name`          | bytes (Metal size of P) | read |
///
/// Options, in any order after the element type: `at<i>` fixes the buffer
/// index (otherwise indices follow declaration order, skipping fixed ones);
/// `as_metal<"block_q8_0">` overrides the Metal element type name.
///
/// The same handle list yields the `[[buffer(i)]]` parameter text and the
/// binding plan (`binding` rows) every backend binds from, so the signature
/// and the binding cannot disagree.

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "foundry/core/dtype.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/layout.hpp"
#include "foundry/metal/type_name.hpp"
#include "foundry/metal/vector.hpp"

namespace foundry {

// ---------------------------------------------------------------------------
// Element types

namespace detail {
template <class T>
struct dtype_of_impl;
#define FOUNDRY_DTYPE(T, D) \
  template <>               \
  struct dtype_of_impl<T> { \
    static constexpr dtype value = dtype::D; \
  }
FOUNDRY_DTYPE(float, f32);
FOUNDRY_DTYPE(half, f16);
FOUNDRY_DTYPE(bfloat, bf16);
FOUNDRY_DTYPE(std::int8_t, i8);
FOUNDRY_DTYPE(std::uint8_t, u8);
FOUNDRY_DTYPE(char, i8);
FOUNDRY_DTYPE(std::int16_t, i16);
FOUNDRY_DTYPE(std::uint16_t, u16);
FOUNDRY_DTYPE(std::int32_t, i32);
FOUNDRY_DTYPE(std::uint32_t, u32);
FOUNDRY_DTYPE(std::int64_t, i64);
FOUNDRY_DTYPE(std::uint64_t, u64);
FOUNDRY_DTYPE(std::byte, bytes);
#undef FOUNDRY_DTYPE
template <class T, int N>
struct dtype_of_impl<metal::vec<T, N>> : dtype_of_impl<T> {};
}  // namespace detail

/// Run-time element tag of a host element type; vectors report their
/// component (`float4` → `f32`), `std::byte` reports `bytes`.
template <class T>
inline constexpr dtype dtype_of = detail::dtype_of_impl<T>::value;

// ---------------------------------------------------------------------------
// Handle options

/// Fixes an argument's buffer index (`[[buffer(I)]]`). Metal allows 0…30.
template <unsigned I>
struct at {
  static constexpr unsigned index = I;
};

/// Overrides the Metal element type name of a buffer argument, e.g.
/// `input<std::byte, as_metal<"block_q8_0">>`.
template <fixed_string Name>
struct as_metal {
  static constexpr std::string_view name = Name.view();
};

/// Declares how many elements a buffer must hold, so a too-small buffer is
/// rejected at bind time: `input<float, min_elements<size_arg<"k">>>`.
/// `S` is a size source (`size_arg`, `size_field`, `size_const`, or any type
/// with `template <class Args> static uint64_t get(const Args&)`).
template <class S>
struct min_elements {
  using source = S;
};

/// Makes a scalar optional: `scalar<std::uint32_t, default_value<0u>>` reads
/// `V` (converted to the scalar's type) when the caller does not set it. A
/// scalar without a default must be set before a dispatch; an unset one is a
/// `binding_error`. (Clang 16 has no floating-point template arguments: write
/// a float default as an integer, e.g. `default_value<1>`.)
template <auto V>
struct default_value {
  static constexpr auto value = V;
};

namespace detail {
template <class O>
inline constexpr bool is_min_elements = false;
template <class S>
inline constexpr bool is_min_elements<min_elements<S>> = true;
template <class... Opts>
struct extent_of {
  using type = void;
};
template <class O, class... Rest>
struct extent_of<O, Rest...> {
  using type = std::conditional_t<is_min_elements<O>, O, typename extent_of<Rest...>::type>;
};

template <class O>
inline constexpr bool is_at = false;
template <unsigned I>
inline constexpr bool is_at<at<I>> = true;
template <class O>
inline constexpr bool is_as_metal = false;
template <fixed_string N>
inline constexpr bool is_as_metal<as_metal<N>> = true;

template <class... Opts>
constexpr int fixed_index() {
  int r = -1;
  ([&] {
    if constexpr (is_at<Opts>) r = static_cast<int>(Opts::index);
  }(), ...);
  return r;
}
template <class T, class... Opts>
constexpr std::string_view metal_name() {
  std::string_view r{};
  ([&] {
    if constexpr (is_as_metal<Opts>) r = Opts::name;
  }(), ...);
  if (r.empty()) {
    if constexpr (std::is_same_v<T, std::byte>)
      r = "uchar";
    else
      r = metal::type_name<T>();
  }
  return r;
}
template <class O>
inline constexpr bool is_default_value = false;
template <auto V>
inline constexpr bool is_default_value<default_value<V>> = true;
template <class... Opts>
inline constexpr bool options_valid = ((is_at<Opts> || is_as_metal<Opts> || is_min_elements<Opts>) && ...);
template <class... Opts>
inline constexpr bool scalar_options_valid = ((is_at<Opts> || is_as_metal<Opts> || is_default_value<Opts>) && ...);
/// The `default_value` among `Opts` converted to `T`, or `T{}`.
template <class T, class... Opts>
constexpr T scalar_default() {
  T r{};
  ([&] {
    if constexpr (is_default_value<Opts>) r = static_cast<T>(Opts::value);
  }(), ...);
  return r;
}
}  // namespace detail

/// How an argument travels to the kernel.
enum class arg_kind : std::uint8_t {
  buffer,  ///< a device buffer, `[[buffer(i)]]` pointer
  bytes,   ///< a small value copied at bind time (`setBytes`), `constant` address space
};

/// Direction of an argument, from the kernel's point of view.
enum class access : std::uint8_t { read, write, read_write };

// ---------------------------------------------------------------------------
// Handles

/// Shared part of buffer handles: a type-erased buffer reference.
template <class T, access Mode, bool Optional, class... Opts>
struct buffer_handle {
  static_assert(detail::options_valid<Opts...>,
                "foundry: buffer handle options must be at<i>, as_metal<\"name\"> or min_elements<S>");
  using element_type = T;
  static constexpr arg_kind kind = arg_kind::buffer;
  static constexpr access mode = Mode;
  static constexpr bool optional = Optional;
  static constexpr int fixed_index = detail::fixed_index<Opts...>();
  /// Size of one element in bytes (host and Metal agree for every supported T).
  static constexpr std::uint32_t element_bytes = sizeof(T);
  static constexpr dtype element_dtype = dtype_of<T>;
  static constexpr std::string_view metal_element() { return detail::metal_name<T, Opts...>(); }
  /// `min_elements<S>` if given, else `void` (no size check beyond non-empty).
  using extent = typename detail::extent_of<Opts...>::type;

  buffer_ref ref{};

  constexpr buffer_handle() = default;
  constexpr buffer_handle(buffer_ref r) noexcept : ref(r) {}  // NOLINT: implicit by design
  template <class B>
    requires std::is_constructible_v<buffer_ref, const B&>
  constexpr buffer_handle(const B& b) noexcept : ref(b) {}  // NOLINT
};

/// Read-only device buffer of `T`: `const device T*`.
template <class T, class... Opts>
struct input : buffer_handle<T, access::read, false, Opts...> {
  using buffer_handle<T, access::read, false, Opts...>::buffer_handle;
};
/// Written device buffer of `T`: `device T*`.
template <class T, class... Opts>
struct output : buffer_handle<T, access::write, false, Opts...> {
  using buffer_handle<T, access::write, false, Opts...>::buffer_handle;
};
/// Read and written device buffer of `T`: `device T*`.
template <class T, class... Opts>
struct inout : buffer_handle<T, access::read_write, false, Opts...> {
  using buffer_handle<T, access::read_write, false, Opts...>::buffer_handle;
};
/// Read-only buffer that may be left unbound. The kernel receives an extra
/// `constant uint& <name>_present` (1 when bound); stage code tests it with
/// `$has_<name>`. When absent, backends bind a small dummy buffer so that no
/// target ever sees an unbound buffer slot.
template <class T, class... Opts>
struct optional_input : buffer_handle<T, access::read, true, Opts...> {
  using buffer_handle<T, access::read, true, Opts...>::buffer_handle;
};

/// A scalar passed by value: `constant T& name`, bound as `sizeof(T)` bytes.
/// Required unless declared with `default_value<V>`: dispatching with a
/// required scalar that was never set throws `binding_error` naming the
/// kernel and the argument (an unset scalar used to read 0 silently).
template <class T, class... Opts>
struct scalar {
  static_assert(detail::scalar_options_valid<Opts...>,
                "foundry: scalar options must be at<i>, as_metal<\"name\"> or default_value<V>");
  using element_type = T;
  static constexpr arg_kind kind = arg_kind::bytes;
  static constexpr access mode = access::read;
  static constexpr bool optional = false;
  static constexpr int fixed_index = detail::fixed_index<Opts...>();
  static constexpr std::uint32_t element_bytes = sizeof(T);
  static constexpr dtype element_dtype = dtype_of<T>;
  static constexpr std::string_view metal_element() { return detail::metal_name<T, Opts...>(); }

  /// True when the declaration gives a default (the scalar is optional).
  static constexpr bool has_default = (detail::is_default_value<Opts> || ...);

  T value = detail::scalar_default<T, Opts...>();
  /// Whether `value` was set by the caller or comes from a default.
  bool is_set = has_default;

  constexpr scalar() = default;
  constexpr scalar(T v) noexcept : value(v), is_set(true) {}  // NOLINT: implicit by design
  constexpr scalar& operator=(T v) noexcept {
    value = v;
    is_set = true;
    return *this;
  }
};

/// A described parameter struct passed by value: `constant P* name`, bound as
/// `metal::layout<P>::size` bytes (host-only trailing fields are not sent).
template <class P, class... Opts>
struct params {
  static_assert(detail::options_valid<Opts...>, "foundry: params options must be at<i>");
  using element_type = P;
  static constexpr arg_kind kind = arg_kind::bytes;
  static constexpr access mode = access::read;
  static constexpr bool optional = false;
  static constexpr int fixed_index = detail::fixed_index<Opts...>();
  static constexpr std::uint32_t element_bytes = static_cast<std::uint32_t>(metal::layout<P>::size);
  static constexpr dtype element_dtype = dtype::bytes;
  static constexpr std::string_view metal_element() { return metal::type_name<P>(); }

  P value{};
  constexpr params() = default;
  constexpr params(const P& v) noexcept : value(v) {}  // NOLINT: implicit by design
  constexpr params& operator=(const P& v) noexcept {
    value = v;
    return *this;
  }
};

/// True for the handle types above.
template <class H>
concept argument_handle = requires {
  typename H::element_type;
  { H::kind } -> std::convertible_to<arg_kind>;
  { H::mode } -> std::convertible_to<access>;
  { H::fixed_index } -> std::convertible_to<int>;
  { H::element_bytes } -> std::convertible_to<std::uint32_t>;
  { H::metal_element() } -> std::convertible_to<std::string_view>;
};

namespace detail {
template <class H>
inline constexpr bool is_params = false;
template <class P, class... O>
inline constexpr bool is_params<params<P, O...>> = true;
}  // namespace detail

/// A named argument: `arg<"x", input<float>>`. Stages declare their
/// arguments as a `type_list` of these.
template <fixed_string Name, argument_handle Handle>
struct arg {
  static constexpr auto name = Name;
  using handle = Handle;
};

// ---------------------------------------------------------------------------
// Binding plan

/// One row of the binding plan: everything a backend needs to bind one
/// argument. `element_bytes` is the element size for buffers and the exact
/// byte count for bytes arguments.
struct binding {
  std::string_view name;          ///< argument name, as in the Metal signature
  std::uint32_t index;            ///< Metal buffer index, `[[buffer(index)]]`
  arg_kind kind;                  ///< buffer or bytes
  access mode;                    ///< read, write or read_write (kernel's view)
  std::uint32_t element_bytes;    ///< bytes per element (buffers) / bytes bound (bytes)
  dtype element_dtype;            ///< expected element tag of a bound buffer
  std::string_view metal_type;    ///< Metal element type name
  bool optional;                  ///< buffer may be absent (see `optional_input`)
  int presence_index;             ///< index of the `<name>_present` flag, -1 if none

  constexpr bool writes() const noexcept { return mode != access::read; }
};

/// Largest buffer index + 1 that Metal allows for `[[buffer(i)]]` arguments.
inline constexpr unsigned max_buffer_arguments = 31;

}  // namespace foundry
