#pragma once
/// @file backend.hpp
/// The interface every target implements (CPU, CUDA, Metal). Target
/// independent: it speaks of buffers, compiled pipelines, bound arguments
/// and dispatch sizes, and nothing of a kernel's C++ type — the executor
/// turns kernel types into these calls.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "foundry/core/dtype.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/signature.hpp"
#include "foundry/dsl/source.hpp"

namespace foundry {

/// One argument ready to bind at buffer index `index`.
struct bound_argument {
  std::uint32_t index = 0;          ///< `[[buffer(index)]]`
  arg_kind kind = arg_kind::buffer;
  access mode = access::read;
  const buffer_info* buffer = nullptr;  ///< buffers: the allocation
  std::size_t offset = 0;           ///< buffers: byte offset into it
  const void* bytes = nullptr;      ///< bytes arguments: the value
  std::uint32_t size = 0;           ///< bytes arguments: its size in bytes
};

/// A compiled kernel, owned by the backend that made it.
class pipeline {
 public:
  virtual ~pipeline() = default;
  /// The kernel's entry-point name (for messages).
  virtual std::string_view name() const noexcept = 0;
};

/// A kernel to compile: its emitted translation unit for the backend's target.
struct compile_request {
  const kernel_source* source = nullptr;
  std::string_view kernel;  ///< kernel name, for messages
};

/// A target. Buffers are `buffer_info`s whose `backend` field is this
/// object, so buffers of one backend cannot be bound to another.
class backend {
 public:
  virtual ~backend() = default;
  /// Short name: "cpu", "cuda", "metal".
  virtual std::string_view name() const noexcept = 0;
  /// Writes this target's entry points from kernel signatures (its
  /// `backends/<target>/entry.hpp`); the executor appends the entry point to
  /// each kernel's target-neutral source before calling `compile`.
  virtual const entry_writer& entry_points() const noexcept = 0;

  /// Allocates `bytes` bytes tagged with element type `type`. Throws
  /// `foundry::error` when out of memory.
  virtual buffer_info allocate(std::size_t bytes, dtype type) = 0;
  /// Releases a buffer made by `allocate`.
  virtual void release(buffer_info& info) noexcept = 0;
  /// Host address of a host-visible buffer (CPU, Metal shared storage), or
  /// nullptr for device-only memory (CUDA).
  virtual void* host_address(const buffer_info& info) const noexcept = 0;
  /// Copies host bytes into a buffer / a buffer into host memory. Completes
  /// pending dispatches that touch the buffer first.
  virtual void upload(const buffer_info& dst, std::size_t offset, const void* src, std::size_t bytes) = 0;
  virtual void download(const buffer_info& src, std::size_t offset, void* dst, std::size_t bytes) = 0;

  /// Compiles several kernels, in one go where the target allows (one
  /// compiler invocation on the CPU, parallel NVRTC on CUDA). Throws
  /// `compile_error` naming the kernel, the stage and the emitted line.
  virtual std::vector<std::unique_ptr<pipeline>> compile(std::span<const compile_request> kernels) = 0;
  /// Runs `p` once with the bound arguments (in binding-plan order) over
  /// `size`. May return before the work is done; `synchronize` waits.
  virtual void dispatch(const pipeline& p, std::span<const bound_argument> args,
                        const dispatch_size& size, std::uint32_t threadgroup_memory_bytes) = 0;
  /// Waits until every dispatch issued so far has finished.
  virtual void synchronize() = 0;
};

}  // namespace foundry
