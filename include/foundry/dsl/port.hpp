#pragma once
/// @file port.hpp
/// Typed ports: the values stages pass to each other.
///
/// A stage declares the ports it `consumes`, `produces` and `updates` (reads
/// and writes in place, e.g. an activation applied to the accumulated
/// value). The composer declares one variable per port before its producer,
/// names it, and checks that every consumer expects the producer's type.
/// Stage code refers to a port as `$<name>`.

#include <string_view>

#include "foundry/core/fixed_string.hpp"
#include "foundry/metal/type_name.hpp"

namespace foundry {

/// Spells a Metal type that has no host counterpart, for ports only:
/// `port<"acc", metal_type<"float4x4">>`.
template <fixed_string Name>
struct metal_type {};

namespace detail {
template <class T>
struct port_type_name {
  static constexpr std::string_view value() { return metal::type_name<T>(); }
};
template <fixed_string N>
struct port_type_name<metal_type<N>> {
  static constexpr std::string_view value() { return N.view(); }
};
}  // namespace detail

/// A named value of Metal type `T` (a host type such as `float`,
/// `metal::float4`, `half`, `uint32_t`, or `metal_type<"...">`).
template <fixed_string Name, class T>
struct port {
  static constexpr auto name = Name;
  using type = T;
  static constexpr std::string_view metal_type_name() { return detail::port_type_name<T>::value(); }
};

/// Threadgroup memory a stage needs: `Count` elements of `T`, declared by the
/// generated entry point (`threadgroup T tg_<name>[Count];`) and passed to the
/// body as a `threadgroup T*`. Stage code refers to it as `$<name>`.
template <fixed_string Name, class T, unsigned Count>
struct tg_array {
  static constexpr auto name = Name;
  using type = T;
  static constexpr unsigned count = Count;
  static constexpr unsigned bytes = static_cast<unsigned>(sizeof(T)) * Count;
  static constexpr std::string_view metal_type_name() { return detail::port_type_name<T>::value(); }
};

/// Threadgroup memory limit Foundry enforces at compile time, in bytes (the
/// guaranteed minimum on Apple GPUs, `maxThreadgroupMemoryLength`).
inline constexpr unsigned max_threadgroup_memory = 32 * 1024;

}  // namespace foundry
