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

/// The host compiler rejected a kernel translation unit.
///
/// `what()` names the source, the emitted-source line, the stage that line
/// belongs to (when the caller supplied a stage map), the first error
/// message and the offending line's text; `output()` holds the compiler's
/// complete output.
class compile_error : public foundry::compile_error {
 public:
  struct location {
    std::string source;  ///< kernel source name (without ".metal"); empty if unknown
    int line = 0;        ///< 1-based line in the emitted source; 0 if unknown
    int column = 0;      ///< 1-based column; 0 if unknown
    std::string stage;   ///< stage owning `line`; empty without a stage map
    std::string text;    ///< the emitted line's text
    std::string message; ///< first error message of the compiler
  };

  compile_error(const std::string& what, location where, std::string output)
      : foundry::compile_error(what), where_(std::move(where)), output_(std::move(output)) {}

  /// Where the first error is, in emitted-source terms.
  const location& where() const noexcept { return where_; }
  /// 1-based emitted-source line of the first error (0 if unknown).
  int line() const noexcept { return where_.line; }
  /// Stage of the first error's line ("" without a stage map).
  const std::string& stage() const noexcept { return where_.stage; }
  /// Everything the compiler printed (stdout and stderr, interleaved).
  const std::string& output() const noexcept { return output_; }

 private:
  location where_;
  std::string output_;
};

/// A module could not be loaded, a symbol is missing, or a checked-mode
/// module needs a sanitizer runtime the process does not have.
class load_error : public foundry::error {
 public:
  using foundry::error::error;
};

}  // namespace foundry::cpu
