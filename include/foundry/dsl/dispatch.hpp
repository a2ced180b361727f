#pragma once
/// @file dispatch.hpp
/// Dispatch rules: how many threadgroups and threads a kernel runs with,
/// computed from its arguments at run time.
///
/// Units are explicit: `threadgroups_per_grid` counts threadgroups (Metal's
/// `dispatchThreadgroups`), `threads_per_threadgroup` counts threads. A grid
/// counted in threads is never passed around.
///
/// Sizes come from arguments by name: `size_arg<"n">` reads scalar argument
/// `n`; `size_field<"p", &Params::rows>` reads a field of params argument
/// `p`; `size_const<N>` is a constant. A user-defined rule is any type with
/// a compile-time `threads_per_threadgroup` (so SIMD-group compatibility is
/// checked when the kernel is composed) and
/// `template <class Args> static dispatch_size compute(const Args&)`.

#include <cstdint>
#include <string>

#include "foundry/core/errors.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/argument_access.hpp"
#include "foundry/dsl/builtins.hpp"
#include "foundry/dsl/sizes.hpp"

namespace foundry {

/// Three extents (x, y, z).
struct extent3 {
  std::uint32_t x = 1, y = 1, z = 1;
  constexpr std::uint64_t volume() const noexcept {
    return std::uint64_t{x} * std::uint64_t{y} * std::uint64_t{z};
  }
  constexpr bool operator==(const extent3&) const = default;
};

/// The result of a dispatch rule.
struct dispatch_size {
  extent3 threadgroups_per_grid;    ///< in threadgroups
  extent3 threads_per_threadgroup;  ///< in threads
};

/// Largest threadgroup Foundry dispatches, in threads (Metal's
/// `maxTotalThreadsPerThreadgroup` on Apple GPUs; no target allows more).
inline constexpr std::uint32_t max_threads_per_threadgroup = 1024;

/// Checks a dispatch: non-empty grid, 1…1024 threads per threadgroup, and a
/// multiple of the SIMD-group width when the kernel uses SIMD-group
/// functions. Throws `dispatch_error` naming `kernel`.
inline void check_dispatch(std::string_view kernel, const dispatch_size& d, bool uses_simdgroups) {
  const auto where = "kernel " + std::string(kernel) + ": ";
  const auto tpt = d.threads_per_threadgroup.volume();
  if (d.threadgroups_per_grid.volume() == 0)
    throw dispatch_error(where + "empty grid (0 threadgroups); a size argument is probably 0");
  if (tpt == 0 || tpt > max_threads_per_threadgroup)
    throw dispatch_error(where + std::to_string(tpt) +
                         " threads per threadgroup; allowed 1 to 1024");
  if (uses_simdgroups && tpt % simdgroup_width != 0)
    throw dispatch_error(where + "uses SIMD-group functions but has " + std::to_string(tpt) +
                         " threads per threadgroup, not a multiple of 32");
}

// --- size sources ----------------------------------------------------------
// (Products, sums and quotients of these: `sizes::` in sizes.hpp.)

/// The value of scalar argument `Name`.
template <fixed_string Name>
struct size_arg {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return static_cast<std::uint64_t>(argument<Name>(a).value);
  }
};

/// The argument name of a `size_arg<Name>`, empty for other size sources
/// (for messages).
template <class S>
inline constexpr std::string_view size_arg_name{};
template <fixed_string Name>
inline constexpr std::string_view size_arg_name<size_arg<Name>> = Name.view();

/// Field `Member` of params argument `Name`.
template <fixed_string Name, auto Member>
struct size_field {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    return static_cast<std::uint64_t>(argument<Name>(a).value.*Member);
  }
};

/// A constant size.
template <std::uint64_t N>
struct size_const {
  template <class Args>
  static constexpr std::uint64_t get(const Args&) {
    return N;
  }
};

namespace detail {
inline std::uint32_t ceil_div_checked(std::uint64_t n, std::uint64_t d) {
  const std::uint64_t q = (n + d - 1) / d;
  if (q > 0xffffffffu) throw dispatch_error("dispatch: grid exceeds 2^32-1 threadgroups");
  return static_cast<std::uint32_t>(q);
}
}  // namespace detail

// --- presets -----------------------------------------------------------------

/// One thread per element: `ceil(Size / Threads)` threadgroups of `Threads`.
template <class Size, std::uint32_t Threads = 256>
struct per_element {
  static constexpr std::uint32_t threads_per_threadgroup = Threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{detail::ceil_div_checked(Size::get(a), Threads), 1, 1}, {Threads, 1, 1}};
  }
};

/// One thread per `Width` consecutive elements (vectorised, e.g. `float4`).
template <class Size, std::uint32_t Width, std::uint32_t Threads = 256>
struct per_vector_element {
  static constexpr std::uint32_t threads_per_threadgroup = Threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    const std::uint64_t threads = (Size::get(a) + Width - 1) / Width;
    return {{detail::ceil_div_checked(threads, Threads), 1, 1}, {Threads, 1, 1}};
  }
};

/// One threadgroup of `Threads` per row (a threadgroup-wide reduction per
/// row, e.g. RMSNorm); `Batch` rows-sets along y.
template <class Rows, std::uint32_t Threads = 256, class Batch = size_const<1>>
struct per_row {
  static constexpr std::uint32_t threads_per_threadgroup = Threads;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{detail::ceil_div_checked(Rows::get(a), 1),
             detail::ceil_div_checked(Batch::get(a), 1), 1},
            {Threads, 1, 1}};
  }
};

/// One SIMD-group (32 threads) per output row, `RowsPerThreadgroup`
/// SIMD-groups per threadgroup; `Batch` along y (2-D: rows × batch).
/// Row of a thread: `threadgroup_position_in_grid.x * RowsPerThreadgroup +
/// simdgroup_index_in_threadgroup`; batch: `threadgroup_position_in_grid.y`.
template <class Rows, std::uint32_t RowsPerThreadgroup = 4, class Batch = size_const<1>>
struct simdgroup_per_row {
  static constexpr std::uint32_t rows_per_threadgroup = RowsPerThreadgroup;
  static constexpr std::uint32_t threads_per_threadgroup = simdgroup_width * RowsPerThreadgroup;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{detail::ceil_div_checked(Rows::get(a), RowsPerThreadgroup),
             detail::ceil_div_checked(Batch::get(a), 1), 1},
            {threads_per_threadgroup, 1, 1}};
  }
};

/// True when `D` is `simdgroup_per_row<Rows, RowsPerThreadgroup, Batch>` for
/// any `Batch`: what a stage computing one row per SIMD-group accepts
/// (`accepts_dispatch`, checked by the composer).
template <class D, class Rows, std::uint32_t RowsPerThreadgroup>
inline constexpr bool is_simdgroup_per_row_of = false;
template <class Rows, std::uint32_t RowsPerThreadgroup, class Batch>
inline constexpr bool is_simdgroup_per_row_of<simdgroup_per_row<Rows, RowsPerThreadgroup, Batch>, Rows,
                                              RowsPerThreadgroup> = true;

}  // namespace foundry
