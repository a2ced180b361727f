#pragma once
/// @file diagnostics.hpp
/// Metal compiler messages mapped back to the emitted source. Portable (no
/// Apple headers), so the parsing is tested on every platform.
///
/// `newLibraryWithSource:options:error:` reports problems in the `NSError`'s
/// `localizedDescription` as clang-style lines, the source being named
/// `program_source`:
///
///     program_source:41:7: error: use of undeclared identifier 'acc2'
///           acc2 += v;
///           ^
///
/// `make_compile_error` finds the first error, names the region of the
/// emitted source it is in (`kernel_source::origin_of`: "stage rms_norm",
/// "helper policy_q4_1", "entry point", ...) and quotes the emitted line.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/core/errors.hpp"
#include "foundry/dsl/source.hpp"

namespace foundry::metal_backend {

/// One `program_source:LINE:COL: SEVERITY: MESSAGE` line of a compiler log.
struct diagnostic {
  int line = 0;          ///< 1-based line of the emitted source
  int column = 0;        ///< 1-based column
  std::string severity;  ///< "error", "fatal error", "warning", "note"
  std::string message;
};

/// Every located diagnostic in `log`, in order. Lines that do not have the
/// `program_source:LINE:COL: SEVERITY: ` shape (the quoted source, carets,
/// summaries) are skipped.
inline std::vector<diagnostic> parse_diagnostics(std::string_view log) {
  static constexpr std::string_view prefix = "program_source:";
  std::vector<diagnostic> out;
  std::size_t pos = 0;
  while ((pos = log.find(prefix, pos)) != std::string_view::npos) {
    std::size_t p = pos + prefix.size();
    pos = p;
    const auto number = [&](int& value) {
      const std::size_t start = p;
      long v = 0;
      while (p < log.size() && log[p] >= '0' && log[p] <= '9' && v < 100000000) v = v * 10 + (log[p++] - '0');
      value = static_cast<int>(v);
      return p > start;
    };
    diagnostic d;
    if (!number(d.line) || p >= log.size() || log[p] != ':') continue;
    ++p;
    if (!number(d.column) || p + 1 >= log.size() || log[p] != ':' || log[p + 1] != ' ') continue;
    p += 2;
    const std::size_t eol = std::min(log.find('\n', p), log.size());
    const std::string_view rest = log.substr(p, eol - p);
    const std::size_t colon = rest.find(": ");
    if (colon == std::string_view::npos) continue;
    d.severity = std::string(rest.substr(0, colon));
    if (d.severity != "error" && d.severity != "fatal error" && d.severity != "warning" && d.severity != "note")
      continue;
    d.message = std::string(rest.substr(colon + 2));
    while (!d.message.empty() && (d.message.back() == '\r' || d.message.back() == ' ')) d.message.pop_back();
    out.push_back(std::move(d));
    pos = eol;
  }
  return out;
}

/// The Metal compiler rejected a kernel's emitted source. `what()` names the
/// kernel, the emitted line and column, the region of the source the line
/// belongs to (the stage that emitted it), the message, and quotes the line;
/// the accessors give the same facts without parsing, and `log()` the
/// compiler's complete output.
class compile_error : public foundry::compile_error {
 public:
  struct location {
    std::string kernel;   ///< kernel name
    int line = 0;         ///< 1-based emitted-source line; 0 if unknown
    int column = 0;       ///< 1-based column; 0 if unknown
    std::string origin;   ///< `kernel_source::origin_of(line)`; "" if unknown
    std::string text;     ///< the emitted line
    std::string message;  ///< the compiler's first error message
  };

  compile_error(const std::string& what, location where, std::string log)
      : foundry::compile_error(what), where_(std::move(where)), log_(std::move(log)) {}

  const location& where() const noexcept { return where_; }
  int line() const noexcept { return where_.line; }
  /// "stage <name>", "helper <name>", "entry point", ... ("" if unknown).
  const std::string& origin() const noexcept { return where_.origin; }
  /// The compiler's complete output.
  const std::string& log() const noexcept { return log_; }

 private:
  location where_;
  std::string log_;
};

/// The `compile_error` for kernel `kernel` whose source `src` the Metal
/// compiler rejected with `log` (the `NSError`'s `localizedDescription`).
inline compile_error make_compile_error(std::string_view kernel, const kernel_source& src, std::string log) {
  compile_error::location loc;
  loc.kernel = std::string(kernel);
  const std::vector<diagnostic> ds = parse_diagnostics(log);
  const diagnostic* first = nullptr;
  for (const diagnostic& d : ds)
    if (d.severity == "error" || d.severity == "fatal error") {
      first = &d;
      break;
    }
  std::string what = "foundry metal: compiling '" + loc.kernel + "' failed";
  if (first) {
    loc.line = first->line;
    loc.column = first->column;
    loc.origin = src.origin_of(first->line);
    loc.text = std::string(src.line_text(first->line));
    loc.message = first->message;
    what += "\n" + loc.kernel + ".metal:" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
    if (!loc.origin.empty()) what += " (in " + loc.origin + ")";
    what += ": " + first->severity + ": " + loc.message;
    const std::string number = std::to_string(loc.line);
    what += "\n" + std::string(number.size() < 5 ? 5 - number.size() : 0, ' ') + number + " | " + loc.text;
  } else {
    // No located error (e.g. a failure before parsing): quote the first line.
    loc.message = log.substr(0, log.find('\n'));
    if (!loc.message.empty()) what += ": " + loc.message;
  }
  what += "\n--- Metal compiler output ---\n" + log;
  return compile_error(what, std::move(loc), std::move(log));
}

}  // namespace foundry::metal_backend
