#pragma once
/// @file prelude.hpp
/// Finding and reading a backend's MSL-compatibility prelude at run time.
///
/// The CPU JIT and NVRTC compile emitted MSL together with a prelude that the
/// backend reads from disk when it first compiles, so there is one copy of
/// it. A backend looks in, in order: the environment variable it names
/// (`FOUNDRY_CPU_PRELUDE_DIR`, `FOUNDRY_CUDA_PRELUDE_DIR`), then the folder
/// it was configured with (the macro of the same name, set by the build
/// system), then the folder of its own header as the compiler saw it
/// (`__FILE__`, absolute under CMake).

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "foundry/backends/common/disk_cache.hpp"
#include "foundry/core/errors.hpp"

namespace foundry::backend_common {

/// The prelude folder: `$<env_var>` if set and non-empty, else `built_in`
/// (the backend's macro, or the folder of its header).
inline std::filesystem::path prelude_dir(const char* env_var, const std::filesystem::path& built_in) {
  if (const char* e = std::getenv(env_var); e != nullptr && *e != '\0') return e;
  return built_in;
}

/// The text of prelude file `file` in `dir`.
/// @param env_var   named in the message, as the way to point elsewhere
/// @param who       message prefix, e.g. "foundry cpu"
/// @param source    the folder of the backend in the source tree
/// @throws backend_unavailable naming the file, the OS reason and `env_var`.
inline std::string read_prelude(const std::filesystem::path& dir, std::string_view file, std::string_view env_var,
                                std::string_view who, std::string_view source) {
  const std::filesystem::path p = dir / file;
  std::string text;
  if (const int err = read_regular_file(p, text); err != 0)
    throw backend_unavailable(std::string(who) + ": cannot read the prelude " + p.string() + ": " + os_reason(err) +
                              "; set " + std::string(env_var) + " (environment or macro) to " + std::string(source) +
                              ", or compile with an absolute include path");
  return text;
}

}  // namespace foundry::backend_common
