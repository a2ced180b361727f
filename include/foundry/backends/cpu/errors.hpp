#pragma once
/// @file errors.hpp
/// Exceptions raised by the CPU backend.
///
/// All derive from foundry::error (itself a std::runtime_error) so a caller that does not care which
/// stage failed can catch one type; each carries the structured facts a tool
/// (or a test) needs without parsing `what()`.

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "foundry/backends/common/compile_error.hpp"
#include "foundry/core/errors.hpp"

namespace foundry::cpu {

/// Threads of one threadgroup disagreed about a barrier: one returned while
/// others waited at a `threadgroup_barrier`, threads waited at different
/// barriers (told apart by call site), or lanes of a SIMD-group met
/// different SIMD-group functions. On a GPU this is undefined behaviour (a
/// hang, typically); the CPU executor unwinds the threadgroup's fibers and
/// raises this in the thread that called `dispatch`, after every worker has
/// stopped.
class barrier_divergence : public foundry::error {
 public:
  /// @param kernel        kernel name of the dispatch
  /// @param threadgroup   threadgroup_position_in_grid of the failing group
  /// @param barrier_count threadgroup barriers the group had completed
  ///                      before the failure (so the failing one is #count+1)
  /// @param detail        which threads were where (source lines)
  barrier_divergence(std::string kernel, std::array<uint32_t, 3> threadgroup, uint32_t barrier_count,
                     const std::string& detail)
      : foundry::error("kernel '" + kernel + "': barrier divergence in threadgroup (" +
                           std::to_string(threadgroup[0]) + ", " + std::to_string(threadgroup[1]) + ", " +
                           std::to_string(threadgroup[2]) + ") at barrier #" +
                           std::to_string(barrier_count + 1) + ": " + detail),
        kernel_(std::move(kernel)),
        threadgroup_(threadgroup),
        barrier_count_(barrier_count) {}

  /// Kernel name of the dispatch.
  const std::string& kernel() const noexcept { return kernel_; }
  /// Position of the failing threadgroup in the grid.
  std::array<uint32_t, 3> threadgroup() const noexcept { return threadgroup_; }
  /// Threadgroup barriers completed by that group before the failure.
  uint32_t barrier_count() const noexcept { return barrier_count_; }

 private:
  std::string kernel_;
  std::array<uint32_t, 3> threadgroup_;
  uint32_t barrier_count_;
};

/// The host compiler rejected a kernel translation unit: the backends'
/// common error (backends/common/compile_error.hpp), naming the stage and the
/// line within its body, the emitted line, the first error and the line's
/// text; `log()` holds the compiler's complete output.
using compile_error = backend_common::compile_error;

/// A module could not be loaded, a symbol is missing, or a checked-mode
/// module needs a sanitizer runtime the process does not have.
class load_error : public foundry::error {
 public:
  using foundry::error::error;
};

}  // namespace foundry::cpu
