#pragma once
/// @file buffer.hpp
/// An owned device buffer with its size and element type.

#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "foundry/core/dtype.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry {

/// A device buffer: `bytes()` bytes of elements of type `type()`, owned (move
/// only) and released through the backend that allocated it. Converts to a
/// `buffer_ref`, so it can be assigned to any buffer argument handle; use
/// `at(offset_bytes)` to bind a sub-range.
class buffer {
 public:
  buffer() = default;
  buffer(backend& b, std::size_t bytes, dtype type) : backend_(&b), info_(b.allocate(bytes, type)) {}
  buffer(buffer&& o) noexcept : backend_(std::exchange(o.backend_, nullptr)), info_(std::exchange(o.info_, {})) {}
  buffer& operator=(buffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = std::exchange(o.backend_, nullptr);
      info_ = std::exchange(o.info_, {});
    }
    return *this;
  }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  ~buffer() { reset(); }

  const buffer_info& info() const noexcept { return info_; }
  /// Size in bytes.
  std::size_t bytes() const noexcept { return info_.bytes; }
  dtype type() const noexcept { return info_.type; }
  /// Number of elements of `type()`.
  std::size_t size() const noexcept { return info_.bytes / size_of(info_.type); }
  /// A reference to the range starting `offset_bytes` into this buffer.
  buffer_ref at(std::size_t offset_bytes) const noexcept { return {info_, offset_bytes}; }

  /// Copies `data` into the buffer at element offset `first` (in elements of
  /// T). Throws `binding_error` if it does not fit.
  template <class T>
  void write(std::span<const T> data, std::size_t first = 0) {
    const std::size_t off = first * sizeof(T), n = data.size_bytes();
    check_range(off, n, "write");
    backend_->upload(info_, off, data.data(), n);
  }
  template <class T>
  void write(const std::vector<T>& data, std::size_t first = 0) {
    write(std::span<const T>(data), first);
  }
  /// Fills every byte with `value` (used to poison outputs before a run).
  void fill_bytes(unsigned char value) {
    std::vector<unsigned char> v(info_.bytes, value);
    backend_->upload(info_, 0, v.data(), v.size());
  }
  /// Copies the whole buffer out as elements of `T`.
  template <class T>
  std::vector<T> read() const {
    std::vector<T> out(info_.bytes / sizeof(T));
    backend_->download(info_, 0, out.data(), out.size() * sizeof(T));
    return out;
  }

 private:
  void check_range(std::size_t off, std::size_t n, const char* what) const {
    if (!backend_) throw binding_error(std::string("buffer::") + what + " on an empty buffer");
    if (off + n > info_.bytes)
      throw binding_error(std::string("buffer::") + what + ": " + std::to_string(n) + " bytes at offset " +
                          std::to_string(off) + " exceed the buffer's " + std::to_string(info_.bytes) + " bytes");
  }
  void reset() noexcept {
    if (backend_) backend_->release(info_);
    backend_ = nullptr;
    info_ = {};
  }

  backend* backend_ = nullptr;
  buffer_info info_{};
};

}  // namespace foundry
