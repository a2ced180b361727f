#pragma once
/// @file mapped_file.hpp
/// A whole file mapped read-only into memory (POSIX `mmap`).
///
/// The mapping is `PROT_READ`, `MAP_PRIVATE`: writing through it is not
/// possible, and the pages are loaded lazily by the kernel, so mapping a
/// large model costs address space, not memory. The file descriptor is closed
/// right after mapping; the mapping stays valid until the object is destroyed
/// or moved from (a move transfers it: pointers into the bytes stay valid).
///
/// If the file is truncated by another process while mapped, touching the
/// lost pages raises SIGBUS; that cannot be detected portably and is outside
/// what this class guards against.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <foundry/core/errors.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#error "foundry/io/mapped_file.hpp needs POSIX mmap"
#endif

namespace foundry {

/// A file that cannot be opened, inspected or mapped; `what()` names the path
/// and the system's reason.
class io_error : public error {
 public:
  using error::error;
};

}  // namespace foundry

namespace foundry::io {

/// Read-only memory mapping of a whole regular file. Move-only.
class mapped_file {
 public:
  /// No file: `bytes()` is empty.
  mapped_file() noexcept = default;

  /// Maps `path`. Throws foundry::io_error when it cannot be opened, is not a
  /// regular file, or cannot be mapped. An empty file gives an empty mapping.
  explicit mapped_file(std::filesystem::path path) : path_(std::move(path)) {
    int fd = -1;
    do {
      fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail("cannot open", errno);

    struct ::stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail("cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw io_error("'" + path_.string() + "' is not a regular file");
    }
    if (st.st_size < 0 ||
        static_cast<std::uintmax_t>(st.st_size) > std::numeric_limits<std::size_t>::max()) {
      ::close(fd);
      throw io_error("'" + path_.string() + "' is too large to map");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ != 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        size_ = 0;
        fail("cannot map", err);
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
  }

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  mapped_file(mapped_file&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  mapped_file& operator=(mapped_file&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  ~mapped_file() { unmap(); }

  /// The file's bytes.
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// The path given to the constructor.
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const char* what, int err) const {
    throw io_error(std::string(what) + " '" + path_.string() +
                   "': " + std::generic_category().message(err));
  }

  void unmap() noexcept {
    if (data_ != nullptr) {
      // const_cast: munmap takes void*; the pages were mapped by this object.
      ::munmap(const_cast<std::byte*>(data_), size_);
      data_ = nullptr;
      size_ = 0;
    }
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace foundry::io
