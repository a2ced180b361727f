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
/// `make_compile_error` finds the first error and names the stage and the
/// line within its body (or the region of the emitted source: "helper
/// policy_q4_1", "entry point", ...), quoting the line
/// (backends/common/compile_error.hpp).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/backends/common/compile_error.hpp"
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

/// The Metal compiler rejected a kernel's emitted source: the backends'
/// common error (backends/common/compile_error.hpp), naming the stage and the
/// line within its body (or the region of the source), the message, the
/// emitted line and column, and quoting the line; `log()` is the compiler's
/// complete output.
using compile_error = backend_common::compile_error;

/// The `compile_error` for kernel `kernel` whose source `src` the Metal
/// compiler rejected with `log` (the `NSError`'s `localizedDescription`).
inline compile_error make_compile_error(std::string_view kernel, const kernel_source& src, std::string log) {
  backend_common::location loc;
  loc.kernel = std::string(kernel);
  const std::vector<diagnostic> ds = parse_diagnostics(log);
  const diagnostic* first = nullptr;
  for (const diagnostic& d : ds)
    if (d.severity == "error" || d.severity == "fatal error") {
      first = &d;
      break;
    }
  std::string severity = "error";
  if (first) {
    loc.line = first->line;
    loc.column = first->column;
    loc.message = first->message;
    severity = first->severity;
    backend_common::attribute(loc, src);
  } else {
    // No located error (e.g. a failure before parsing): quote the first line.
    loc.message = log.substr(0, log.find('\n'));
  }
  std::string what =
      backend_common::describe("foundry metal: compiling '" + loc.kernel + "' failed", loc, severity,
                               "Metal compiler output", log);
  return compile_error(what, std::move(loc), std::move(log));
}

}  // namespace foundry::metal_backend
