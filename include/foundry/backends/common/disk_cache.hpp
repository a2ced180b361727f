#pragma once
/// @file disk_cache.hpp
/// The on-disk cache of compiled kernels, shared by the backends that compile
/// at run time (CPU shared objects, CUDA cubins).
///
/// Folder: `<root>/<backend>`, where `root` is the caller's override (e.g.
/// `cpu::jit_options::cache_dir`), else `$FOUNDRY_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/foundry`, else `$HOME/.cache/foundry`, else
/// `/tmp/foundry-<uid>`.
///
/// Entry: `<folder>/<key><ext>`, `key` being the 32-hex-digit XXH3-128 of
/// everything that determines the compiled image. The file is the image
/// followed by a 48-byte trailer:
///
///     offset  size  field
///          0     8  magic, e.g. "FDRYCPU2" (names the backend and format)
///          8     8  image size in bytes (little-endian on the hosts we run)
///         16    16  the entry's key (binary, high 64 bits first)
///         32    16  XXH3-128 of everything before it: image, magic, size, key
///
/// The content hash therefore covers the whole file: a truncated, padded or
/// damaged file, one renamed from another key, or one of an older format is a
/// miss. A loader such as dlopen ignores bytes past the ELF contents, so an
/// entry stays loadable as is.
///
/// Safety, checked on every use of the folder (the cache holds code that
/// this process will run, so it must not be writable by anyone else):
/// - `root` and `<root>/<backend>` must be owned by the current user and not
///   writable by group or others; otherwise `unsafe_cache_folder` is thrown,
///   naming the folder, its owner and mode, and how to fix or avoid it (as
///   ssh refuses a key file others can read). Folders created here get
///   mode 0700.
/// - Anything other than a regular file at an entry's path (a folder, a
///   symbolic link, a FIFO) is removed and the entry rebuilt.
/// - Temporary files `<key>.tmp.<pid>.<n>...` older than `stale_temp_age`
///   (left by a process killed while compiling) are removed whenever a
///   backend compiles into the folder.
/// - Every I/O failure is reported with the operating system's reason.
///
/// Publication is atomic: an image is written to a temporary name in the
/// same folder, completed with its trailer, then rename()d over the entry.
/// Concurrent processes never observe a half-written entry, and two
/// processes compiling one key both succeed (the last rename wins; both
/// files are complete and equivalent).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>

#include "foundry/core/errors.hpp"

namespace foundry::backend_common {

/// The cache folder (or one above it) may be written by someone other than
/// the current user, so its entries cannot be trusted; `what()` names the
/// folder, its owner and mode, and the ways out.
class unsafe_cache_folder : public foundry::error {
 public:
  using foundry::error::error;
};

/// Reading or writing the cache failed; `what()` carries the path and the
/// operating system's reason.
class cache_io_error : public foundry::error {
 public:
  using foundry::error::error;
};

/// Bytes of the trailer that follows each cached image.
inline constexpr std::size_t cache_trailer_bytes = 48;

/// Temporary files older than this are considered left by a killed process.
inline constexpr std::chrono::minutes stale_temp_age{10};

/// The operating system's text for `err` (an errno value).
inline std::string os_reason(int err) { return std::generic_category().message(err); }

/// 128-bit XXH3 of `data` as 32 lowercase hex digits.
inline std::string hash_hex(std::string_view data) {
  const XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(buf, 32);
}

/// The cache root ("foundry" folder): `override_dir` if non-empty, else from
/// the environment as documented in the file comment.
inline std::filesystem::path cache_root(const std::filesystem::path& override_dir = {}) {
  namespace fs = std::filesystem;
  if (!override_dir.empty()) return override_dir;
  if (const char* d = std::getenv("FOUNDRY_CACHE_DIR"); d != nullptr && *d != '\0') return fs::path(d);
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') return fs::path(x) / "foundry";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return fs::path(h) / ".cache" / "foundry";
  return fs::temp_directory_path() / ("foundry-" + std::to_string(::getuid()));
}

namespace detail {

/// Creates `dir` (mode 0700) if missing; its parents with the default mode.
inline void make_private_folder(const std::filesystem::path& dir, std::string_view who) {
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec)
    throw cache_io_error(std::string(who) + ": cannot create the cache folder " + dir.parent_path().string() +
                         ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw cache_io_error(std::string(who) + ": cannot create the cache folder " + dir.string() + ": " +
                         os_reason(errno));
}

/// Octal permission bits as ls-free text, e.g. "0777".
inline std::string mode_text(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

/// Throws unsafe_cache_folder unless `dir` is a folder owned by this user
/// and not writable by group or others.
inline void check_private_folder(const std::filesystem::path& dir, std::string_view who) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw cache_io_error(std::string(who) + ": cannot inspect the cache folder " + dir.string() + ": " +
                         os_reason(errno));
  const std::string ways_out =
      "; make it private (chown it to yourself and `chmod go-w " + dir.string() +
      "`), or point FOUNDRY_CACHE_DIR (or the backend's cache_dir option) to a folder only you can write";
  if (!S_ISDIR(st.st_mode))
    throw unsafe_cache_folder(std::string(who) + ": the cache folder " + dir.string() + " is not a folder");
  if (st.st_uid != ::geteuid())
    throw unsafe_cache_folder(std::string(who) + ": refusing the cache folder " + dir.string() +
                              ": it is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                              std::to_string(::geteuid()) + "), mode " + mode_text(st.st_mode) + ways_out);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    throw unsafe_cache_folder(std::string(who) + ": refusing the cache folder " + dir.string() + ": mode " +
                              mode_text(st.st_mode) + " lets " +
                              ((st.st_mode & S_IWOTH) != 0 ? "others" : "its group") +
                              " write to it, so they could plant code this process would run" + ways_out);
}

}  // namespace detail

/// The folder of `backend` ("cpu", "cuda") under the cache root, created if
/// missing and checked (see the file comment).
/// @param who message prefix, e.g. "foundry cpu".
/// @throws unsafe_cache_folder if the root or the folder is not private.
/// @throws cache_io_error if a folder cannot be created or inspected.
inline std::filesystem::path open_cache_folder(const std::filesystem::path& override_dir, std::string_view backend,
                                               std::string_view who) {
  const std::filesystem::path root = cache_root(override_dir), dir = root / backend;
  detail::make_private_folder(root, who);
  detail::make_private_folder(dir, who);
  detail::check_private_folder(root, who);
  detail::check_private_folder(dir, who);
  return dir;
}

/// Reads the regular file `p` into `out`.
/// @returns 0 on success, else an errno value (ENOENT if missing, EISDIR or
///          EINVAL if `p` is not a regular file).
inline int read_regular_file(const std::filesystem::path& p, std::string& out) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno == ELOOP ? EINVAL : errno;
  struct stat st {};
  int err = 0;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        break;
      }
      if (n == 0) break;  // shrank while reading
      got += static_cast<std::size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  return err;
}

/// Writes `parts` to a new file `p` (which must not exist), mode 0600.
/// @throws cache_io_error naming `p` and the OS reason.
inline void write_new_file(const std::filesystem::path& p, std::initializer_list<std::string_view> parts,
                           std::string_view who) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw cache_io_error(std::string(who) + ": cannot write " + p.string() + ": " + os_reason(errno));
  int err = 0;
  for (std::string_view s : parts) {
    while (!s.empty() && err == 0) {
      const ssize_t n = ::write(fd, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      else s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(p.c_str());
    throw cache_io_error(std::string(who) + ": cannot write " + p.string() + ": " + os_reason(err));
  }
}

namespace detail {

/// The trailer for `image` under `key_hex` with `magic`.
inline std::string make_trailer(std::string_view image, std::string_view key_hex, std::string_view magic) {
  std::string t(cache_trailer_bytes, '\0');
  const std::uint64_t size = image.size();
  const std::uint64_t hi = std::strtoull(std::string(key_hex.substr(0, 16)).c_str(), nullptr, 16);
  const std::uint64_t lo = std::strtoull(std::string(key_hex.substr(16, 16)).c_str(), nullptr, 16);
  std::memcpy(t.data(), magic.data(), std::min<std::size_t>(magic.size(), 8));
  std::memcpy(t.data() + 8, &size, 8);
  std::memcpy(t.data() + 16, &hi, 8);
  std::memcpy(t.data() + 24, &lo, 8);
  XXH3_state_t* s = XXH3_createState();
  XXH3_128bits_reset(s);
  XXH3_128bits_update(s, image.data(), image.size());
  XXH3_128bits_update(s, t.data(), 32);
  const XXH128_hash_t h = XXH3_128bits_digest(s);
  XXH3_freeState(s);
  std::memcpy(t.data() + 32, &h.high64, 8);
  std::memcpy(t.data() + 40, &h.low64, 8);
  return t;
}

}  // namespace detail

/// What tells one backend's entries from another's.
struct cache_format {
  std::string_view magic;  ///< 8 characters naming backend and format, e.g. "FDRYCPU2"
  std::string_view who;    ///< message prefix, e.g. "foundry cpu"
};

/// True if `bytes` is a complete entry for `key_hex`: trailer present, magic,
/// size and key as expected, content hash over the whole file matching.
inline bool entry_intact(std::string_view bytes, std::string_view key_hex, const cache_format& f) {
  if (bytes.size() < cache_trailer_bytes || key_hex.size() != 32) return false;
  const std::string_view image = bytes.substr(0, bytes.size() - cache_trailer_bytes);
  return detail::make_trailer(image, key_hex, f.magic) == bytes.substr(image.size());
}

/// Makes `p` a place a regular file can be read from or renamed to: removes
/// whatever non-regular thing sits there (folder, symbolic link, FIFO, ...).
/// @throws cache_io_error if it cannot be removed.
inline void clear_non_regular(const std::filesystem::path& p, std::string_view who) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
  if (ec)
    throw cache_io_error(std::string(who) + ": " + p.string() + " is not a regular file and cannot be removed: " +
                         ec.message());
}

/// The image of the entry at `p` for `key_hex`, or "" on a miss. A missing,
/// damaged or foreign entry is a miss; anything that is not a regular file
/// at `p` is removed first, and a damaged file is removed too.
/// @throws cache_io_error if the entry exists but cannot be read (other
///         than being damaged) or removed.
inline std::string read_entry(const std::filesystem::path& p, std::string_view key_hex, const cache_format& f) {
  clear_non_regular(p, f.who);
  std::string bytes;
  if (const int err = read_regular_file(p, bytes); err != 0) {
    if (err == ENOENT) return {};
    throw cache_io_error(std::string(f.who) + ": cannot read " + p.string() + ": " + os_reason(err));
  }
  if (!entry_intact(bytes, key_hex, f)) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      throw cache_io_error(std::string(f.who) + ": cannot remove the damaged cache entry " + p.string() + ": " +
                           os_reason(errno));
    return {};
  }
  bytes.resize(bytes.size() - cache_trailer_bytes);
  return bytes;
}

/// A unique temporary path in `dir` for `key_hex` with `suffix`; unique
/// across processes (pid) and threads (counter). Its name starts with
/// `<key>.tmp.` so remove_stale_temps() recognises it.
inline std::filesystem::path temp_path(const std::filesystem::path& dir, std::string_view key_hex,
                                       std::string_view suffix) {
  static std::atomic<std::uint64_t> counter{0};
  return dir / (std::string(key_hex) + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(counter.fetch_add(1)) + std::string(suffix));
}

/// Publishes `image` as the entry `p` for `key_hex`: writes image and trailer
/// to a temporary file in `dir`, then renames it over `p` (removing a
/// non-regular thing in the way first).
/// @throws cache_io_error naming the file and the OS reason.
inline void write_entry(const std::filesystem::path& dir, const std::filesystem::path& p, std::string_view key_hex,
                        std::string_view image, const cache_format& f) {
  const std::filesystem::path tmp = temp_path(dir, key_hex, p.extension().string());
  write_new_file(tmp, {image, detail::make_trailer(image, key_hex, f.magic)}, f.who);
  clear_non_regular(p, f.who);
  if (::rename(tmp.c_str(), p.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw cache_io_error(std::string(f.who) + ": cannot publish " + p.string() + ": " + os_reason(err));
  }
}

/// True if `name` has the shape of a temporary file: 32 hex digits, ".tmp.",
/// a process id, ".", a counter, then anything.
inline bool is_temp_name(std::string_view name) {
  if (name.size() < 32 + 5 + 3) return false;
  for (std::size_t i = 0; i < 32; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  if (name.substr(32, 5) != ".tmp.") return false;
  std::size_t i = 37;
  const std::size_t pid_start = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
  if (i == pid_start || i >= name.size() || name[i] != '.') return false;
  const std::size_t n_start = ++i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
  return i > n_start;
}

/// Removes temporary files in `dir` last modified more than `stale_temp_age`
/// ago: a compile still running has touched its files more recently. Best
/// effort: a file that vanishes meanwhile (another process cleaned it) is fine.
/// @returns the number of files removed.
inline std::size_t remove_stale_temps(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_temp_name(name)) continue;
    std::error_code e;
    const auto t = fs::last_write_time(it->path(), e);
    if (e || now - t < stale_temp_age) continue;
    if (fs::remove_all(it->path(), e) > 0 && !e) ++removed;
  }
  return removed;
}

}  // namespace foundry::backend_common
