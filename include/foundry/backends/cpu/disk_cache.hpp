#pragma once
/// @file disk_cache.hpp
/// The on-disk cache of compiled kernel modules.
///
/// Layout: `<dir>/<key>.so`, where `dir` is
/// `${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/cpu` and
/// `key` is the 32-hex-digit XXH3-128 of everything that determines the
/// object (see jit.hpp). Each file is an ELF shared object followed by a
/// 32-byte trailer { "FDRYCPU1", payload size, XXH3-64 of the payload,
/// first 64 bits of the key }. The loader ignores bytes past the ELF
/// contents, so the file stays loadable as is; the trailer lets us reject a
/// truncated or damaged file before dlopen ever sees it.
///
/// Publication is atomic: an object is written to a temporary name in the
/// same folder, completed with its trailer, then rename()d over `<key>.so`.
/// Concurrent processes therefore never observe a half-written object, and
/// two processes compiling the same key both succeed (the last rename wins;
/// both files are complete and equivalent).

#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace foundry::cpu::detail {

inline constexpr char cache_magic[8] = {'F', 'D', 'R', 'Y', 'C', 'P', 'U', '1'};
inline constexpr std::size_t cache_trailer_bytes = 32;

/// 128-bit XXH3 of `data` as 32 lowercase hex digits.
inline std::string hash_hex(std::string_view data) {
  const XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(buf, 32);
}

/// The cache folder: `override_dir` if non-empty, else from the environment
/// as documented above (falls back to /tmp/foundry-<uid> without a HOME).
inline std::filesystem::path cache_directory(const std::filesystem::path& override_dir = {}) {
  namespace fs = std::filesystem;
  if (!override_dir.empty()) return override_dir / "cpu";
  if (const char* d = std::getenv("FOUNDRY_CACHE_DIR"); d != nullptr && *d != '\0') return fs::path(d) / "cpu";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0')
    return fs::path(x) / "foundry" / "cpu";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return fs::path(h) / ".cache" / "foundry" / "cpu";
  return fs::temp_directory_path() / ("foundry-" + std::to_string(::getuid())) / "cpu";
}

inline bool read_file(const std::filesystem::path& p, std::string& out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  f.seekg(0, std::ios::end);
  const std::streamoff n = f.tellg();
  if (n < 0) return false;
  out.resize(static_cast<std::size_t>(n));
  f.seekg(0);
  return static_cast<bool>(f.read(out.data(), n));
}

inline uint64_t key_prefix(std::string_view key_hex) {
  return std::strtoull(std::string(key_hex.substr(0, 16)).c_str(), nullptr, 16);
}

/// True if `p` exists and carries a valid trailer for `key_hex`.
inline bool cache_entry_valid(const std::filesystem::path& p, std::string_view key_hex) {
  std::string bytes;
  if (!read_file(p, bytes) || bytes.size() < cache_trailer_bytes) return false;
  const std::size_t payload = bytes.size() - cache_trailer_bytes;
  const char* t = bytes.data() + payload;
  uint64_t size = 0, hash = 0, key = 0;
  std::memcpy(&size, t + 8, 8);
  std::memcpy(&hash, t + 16, 8);
  std::memcpy(&key, t + 24, 8);
  return std::memcmp(t, cache_magic, 8) == 0 && size == payload && key == key_prefix(key_hex) &&
         hash == XXH3_64bits(bytes.data(), payload);
}

/// Appends the trailer to the freshly compiled object at `tmp`.
/// @throws std::runtime_error on I/O failure.
inline void cache_seal(const std::filesystem::path& tmp, std::string_view key_hex) {
  std::string bytes;
  if (!read_file(tmp, bytes)) throw std::runtime_error("foundry cpu: cannot read " + tmp.string());
  char t[cache_trailer_bytes];
  const uint64_t size = bytes.size(), hash = XXH3_64bits(bytes.data(), bytes.size()), key = key_prefix(key_hex);
  std::memcpy(t, cache_magic, 8);
  std::memcpy(t + 8, &size, 8);
  std::memcpy(t + 16, &hash, 8);
  std::memcpy(t + 24, &key, 8);
  std::ofstream f(tmp, std::ios::binary | std::ios::app);
  if (!f.write(t, sizeof t) || !f.flush()) throw std::runtime_error("foundry cpu: cannot write " + tmp.string());
}

/// A unique temporary path in `dir` for `key_hex` with `suffix`; unique
/// across processes (pid) and threads (counter).
inline std::filesystem::path cache_temp_path(const std::filesystem::path& dir, std::string_view key_hex,
                                             std::string_view suffix) {
  static std::atomic<uint64_t> counter{0};
  return dir / (std::string(key_hex) + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(counter.fetch_add(1)) + std::string(suffix));
}

}  // namespace foundry::cpu::detail
