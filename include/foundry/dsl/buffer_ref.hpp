#pragma once
/// @file buffer_ref.hpp
/// A type-erased reference to a device buffer, as held by argument handles.
///
/// The DSL layer sits below the runtime, so argument handles cannot name a
/// backend's buffer class. Every backend's buffer owns a `buffer_info`; a
/// handle keeps a pointer to it plus a byte offset, and the executor checks
/// size and element type from it at bind time.

#include <cstddef>
#include <concepts>
#include <cstdint>

#include "foundry/core/dtype.hpp"

namespace foundry {

/// What the executor needs to know about an allocated buffer.
/// `native` is the owning backend's own handle (each backend's `allocate`
/// says what it is); `bytes` is the allocation size in bytes; `type` the
/// element type it was created with; `backend` identifies the backend that
/// owns it (so a buffer of one backend cannot be bound to a dispatch on
/// another).
struct buffer_info {
  void* native = nullptr;
  std::size_t bytes = 0;
  dtype type = dtype::bytes;
  const void* backend = nullptr;
};

/// A buffer plus a byte offset into it. Default-constructed = unbound.
class buffer_ref {
 public:
  constexpr buffer_ref() = default;
  constexpr buffer_ref(const buffer_info& info, std::size_t offset_bytes = 0) noexcept  // NOLINT
      : info_(&info), offset_(offset_bytes) {}
  /// Implicit from any buffer type that exposes `const buffer_info& info() const`.
  template <class B>
    requires requires(const B& b) {
      { b.info() } -> std::same_as<const buffer_info&>;
    }
  constexpr buffer_ref(const B& b) noexcept : info_(&b.info()) {}  // NOLINT

  constexpr bool bound() const noexcept { return info_ != nullptr; }
  constexpr const buffer_info* info() const noexcept { return info_; }
  /// Offset from the start of the buffer, in bytes.
  constexpr std::size_t offset() const noexcept { return offset_; }
  /// Bytes visible from the offset to the end of the buffer (0 if unbound).
  constexpr std::size_t bytes() const noexcept {
    return info_ && info_->bytes > offset_ ? info_->bytes - offset_ : 0;
  }

 private:
  const buffer_info* info_ = nullptr;
  std::size_t offset_ = 0;
};

}  // namespace foundry
