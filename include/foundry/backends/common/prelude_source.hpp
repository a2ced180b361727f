#pragma once
/// @file prelude_source.hpp
/// Reads a target's MSL prelude as one text: every `#include "relative"`
/// line is replaced by the included file (recursively), framed by `#line`
/// directives, so the emitted translation unit needs no include path at run
/// time and compiler diagnostics still name the original file and line
/// (`msl_core.h:412:5: error: ...`). `#include <...>` lines (the CPU
/// prelude's system headers) are left as they are.
///
/// Both the CPU JIT and the CUDA backend read their prelude this way; the
/// shared part (backends/common/msl_core.h) is then a single copy on disk.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace foundry::backend_common {

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

inline std::string read_whole(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void append_inlined(const std::filesystem::path& file, std::string& out, int depth) {
  if (depth > 8) throw std::runtime_error("includes nested more than 8 deep at " + file.string());
  const std::string text = read_whole(file);
  const std::string name = file.filename().string();
  out += "#line 1 \"" + name + "\"\n";
  int line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line(text.data() + at, end - at);
    ++line_no;
    if (const std::string_view inc = quoted_include(line); !inc.empty()) {
      append_inlined(file.parent_path() / std::string(inc), out, depth + 1);
      out += "#line " + std::to_string(line_no + 1) + " \"" + name + "\"\n";
    } else {
      out.append(line);
      out += '\n';
    }
    at = end + 1;
  }
}

}  // namespace detail

/// The text of `dir/file` with its quoted includes inlined (see the file
/// comment); it starts with `#line 1 "<file>"` and ends with a newline.
/// @throws std::runtime_error naming the file that cannot be read.
inline std::string read_prelude(const std::filesystem::path& dir, const std::string& file) {
  std::string out;
  detail::append_inlined(dir / file, out, 0);
  return out;
}

}  // namespace foundry::backend_common
