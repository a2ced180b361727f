#pragma once
/// @file compile_error.hpp
/// The error every backend raises when its compiler (the host compiler of the
/// CPU JIT, NVRTC, the Metal compiler) rejects an emitted kernel, and the
/// mapping from an emitted line to the stage (or helper) that wrote it.
///
/// The composer writes each stage's snippet between two marker lines
/// (dsl/compose.hpp, dsl/source.hpp):
///
///     { // stage <name> (<role>)      <- region "stage <name>" starts here
///       <snippet line 1>
///       ...
///     } // end stage <name>           <- and ends here
///
/// so line L of such a region is line `L - first_line` of the stage's body,
/// the text the stage declared (`body`), counted from 1. A helper region
/// starts at the helper's first line. An error is reported as
///
///     foundry cpu: compiling 'k' failed
///     stage broken, line 1: error: expected primary-expression before ';' token
///         1 |     v_value = v_value * ;
///       generated source: k.metal:67:24
///
/// and, outside stages and helpers, as `k.metal:67:24 (entry point): error: ...`.

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/core/errors.hpp"
#include "foundry/dsl/source.hpp"

namespace foundry::backend_common {

/// Where one emitted line came from.
struct line_origin {
  std::string origin;  ///< region: "stage rms_norm", "helper policy_f16", "entry point", ...; "" if none
  std::string stage;   ///< the stage's name (without "stage "); "" outside a stage
  int line = 0;        ///< 1-based line within the stage's body or the helper's text; 0 elsewhere
};

/// The origin of 1-based emitted line `line` given the composer's `regions`
/// (the innermost region containing the line wins; see the file comment).
inline line_origin locate(std::span<const source_region> regions, int line) {
  const source_region* best = nullptr;
  for (const auto& r : regions)
    if (line >= r.first_line && line <= r.last_line &&
        (best == nullptr || r.last_line - r.first_line < best->last_line - best->first_line))
      best = &r;
  line_origin o;
  if (best == nullptr) return o;
  o.origin = best->origin;
  constexpr std::string_view stage = "stage ", helper = "helper ";
  if (o.origin.rfind(stage, 0) == 0) {
    o.stage = o.origin.substr(stage.size());
    // Body lines lie strictly between the two markers; an error reported on
    // a marker (e.g. a missing ';' seen at the closing brace) is given to the
    // nearest body line.
    const int body_lines = best->last_line - best->first_line - 1;
    o.line = std::max(1, std::min(line - best->first_line, std::max(body_lines, 1)));
  } else if (o.origin.rfind(helper, 0) == 0) {
    o.line = line - best->first_line + 1;
  }
  return o;
}

/// Where a compile error is, in the user's terms and in the emitted source's.
struct location {
  std::string kernel;   ///< kernel (or source) name; the compiler saw "<kernel>.metal"
  int line = 0;         ///< 1-based line in the emitted source; 0 if unknown
  int column = 0;       ///< 1-based column; 0 if unknown
  std::string origin;   ///< region of `line`: "stage broken", "helper policy_f16", "entry point"; "" if unknown
  std::string stage;    ///< stage owning `line` (its name only); "" outside a stage
  int origin_line = 0;  ///< 1-based line within the stage's body or helper's text; 0 if not in one
  std::string text;     ///< the emitted line's text
  std::string message;  ///< the compiler's first error message
};

/// A target compiler rejected an emitted kernel. `what()` names the stage
/// and the line within its body (or the helper, or the region of the
/// emitted source), the compiler's first error, quotes the line and gives
/// the emitted line as a second reference, followed by the complete log;
/// `where()` holds the same facts and `log()` the compiler's whole output.
class compile_error : public foundry::compile_error {
 public:
  /// An error with a location and the compiler's log.
  compile_error(const std::string& what, location where, std::string log)
      : foundry::compile_error(what), where_(std::move(where)), log_(std::move(log)) {}
  /// An error without a location (e.g. a pipeline the driver refused).
  explicit compile_error(const std::string& what) : foundry::compile_error(what) {}

  /// Where the first error is.
  const location& where() const noexcept { return where_; }
  /// 1-based emitted-source line of the first error (0 if unknown).
  int line() const noexcept { return where_.line; }
  /// Name of the stage of the first error's line ("" outside a stage).
  const std::string& stage() const noexcept { return where_.stage; }
  /// Region of the first error's line ("stage broken", "entry point", ...).
  const std::string& origin() const noexcept { return where_.origin; }
  /// Everything the compiler printed.
  const std::string& log() const noexcept { return log_; }

 private:
  location where_;
  std::string log_;
};

/// The message of a compile error (see the file comment).
/// @param headline  first line, e.g. "foundry cpu: compiling 'k' failed"
/// @param severity  "error" or "fatal error"
/// @param log_title e.g. "compiler output"
inline std::string describe(std::string headline, const location& loc, std::string_view severity,
                            std::string_view log_title, std::string_view log) {
  std::string what = std::move(headline);
  const std::string message = loc.message.empty() ? "see the " + std::string(log_title) : loc.message;
  auto quote = [&](int number) {
    const std::string n = std::to_string(number);
    what += "\n" + std::string(n.size() < 5 ? 5 - n.size() : 0, ' ') + n + " | " + loc.text;
  };
  if (loc.line > 0) {
    std::string generated = loc.kernel + ".metal:" + std::to_string(loc.line);
    if (loc.column > 0) generated += ":" + std::to_string(loc.column);
    if (loc.origin_line > 0) {
      what += "\n" + loc.origin + ", line " + std::to_string(loc.origin_line) + ": " + std::string(severity) + ": " +
              message;
      quote(loc.origin_line);
      what += "\n  generated source: " + generated;
    } else {
      what += "\n" + generated + (loc.origin.empty() ? "" : " (" + loc.origin + ")") + ": " + std::string(severity) +
              ": " + message;
      quote(loc.line);
    }
  } else if (!loc.message.empty()) {
    what += ": " + loc.message;
  }
  what += "\n--- " + std::string(log_title) + " ---\n" + std::string(log);
  return what;
}

/// Fills `loc`'s origin fields for its emitted line from `regions` and
/// its text from `src`.
inline void attribute(location& loc, const kernel_source& src) {
  if (loc.line <= 0) return;
  line_origin o = locate(src.regions, loc.line);
  loc.origin = std::move(o.origin);
  loc.stage = std::move(o.stage);
  loc.origin_line = o.line;
  loc.text = std::string(src.line_text(loc.line));
}

}  // namespace foundry::backend_common
