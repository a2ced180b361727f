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
/// (`__FILE__`, absolute under CMake). Quoted includes of a prelude (the
/// shared MSL core) are inlined as it is read.

#include <algorithm>
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

namespace detail {

/// The quoted path of a line `#include "x"` (leading blanks allowed), or "".
inline std::string_view quoted_include(std::string_view line) {
  const std::size_t hash = line.find_first_not_of(" \t");
  if (hash == std::string_view::npos || line[hash] != '#') return {};
  std::string_view rest = line.substr(hash + 1);
  rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
  if (!rest.starts_with("include")) return {};
  rest.remove_prefix(7);
  const std::size_t open = rest.find('"');
  const std::size_t close = open == std::string_view::npos ? open : rest.find('"', open + 1);
  if (close == std::string_view::npos || rest.substr(0, open).find_first_not_of(" \t") != std::string_view::npos)
    return {};
  return rest.substr(open + 1, close - open - 1);
}

struct prelude_reader {
  std::string_view env_var, who, source;
  void append(const std::filesystem::path& p, std::string& out, int depth) const {
    std::string text;
    if (const int err = read_regular_file(p, text); err != 0)
      throw backend_unavailable(std::string(who) + ": cannot read the prelude " + p.string() + ": " + os_reason(err) +
                                "; set " + std::string(env_var) + " (environment or macro) to " + std::string(source) +
                                ", or compile with an absolute include path");
    if (depth > 8) throw backend_unavailable(std::string(who) + ": prelude includes nested too deep at " + p.string());
    const std::string name = p.filename().string();
    out += "#line 1 \"" + name + "\"\n";
    int line_no = 0;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t end = std::min(text.find('\n', at), text.size());
      const std::string_view line(text.data() + at, end - at);
      ++line_no;
      if (const std::string_view inc = quoted_include(line); !inc.empty()) {
        append(p.parent_path() / std::string(inc), out, depth + 1);
        out += "#line " + std::to_string(line_no + 1) + " \"" + name + "\"\n";
      } else {
        out.append(line);
        out += '\n';
      }
      at = end + 1;
    }
  }
};

}  // namespace detail

/// The text of prelude file `file` in `dir`, with every `#include "relative"`
/// line replaced by the included file (recursively: abi.h, the shared
/// ../common/msl_core.h and msl_qualifiers.h), each framed by `#line`
/// directives, so the emitted translation unit needs no include path at run
/// time and diagnostics still name the original file and line. `#include
/// <...>` lines (the CPU prelude's system headers) stay as they are. The text
/// starts with `#line 1 "<file>"` and ends with a newline.
/// @param env_var   named in the message, as the way to point elsewhere
/// @param who       message prefix, e.g. "foundry cpu"
/// @param source    the folder of the backend in the source tree
/// @throws backend_unavailable naming the file, the OS reason and `env_var`.
inline std::string read_prelude(const std::filesystem::path& dir, std::string_view file, std::string_view env_var,
                                std::string_view who, std::string_view source) {
  std::string out;
  detail::prelude_reader{env_var, who, source}.append(dir / std::string(file), out, 0);
  return out;
}

}  // namespace foundry::backend_common
