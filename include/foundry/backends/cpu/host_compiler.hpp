#pragma once
/// @file host_compiler.hpp
/// Which host compilers the CPU backend supports, and the check that runs
/// once per compiler when a CPU backend starts.
///
/// Supported (each is run by the test suite, `JitCompiler.EveryInstalledCompiler`):
///   - g++ 12 and later (libstdc++);
///   - clang 14 and later (libstdc++ or libc++). clang 14 has no `_Float16`
///     on x86-64: the prelude then uses its storage-only `half`
///     (msl_prelude.h), whose conversions give the same bits.
/// Other compilers that identify as neither GCC nor Clang are not rejected
/// by name; the probe below decides.
///
/// The check (`check_host_compiler`): `<compiler> --version` is parsed for
/// the family and major version, and a compiler older than the oldest
/// supported one is refused; then a probe kernel that uses the prelude's
/// scalar and vector types, math and SIMD-group functions is compiled and
/// loaded through the JIT (so it is cached on disk like any kernel, and
/// costs one compile per machine and compiler). Either failure raises
/// `unsupported_compiler` naming the compiler command, its version line and
/// what is missing, before any kernel of the user's is compiled.

#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "foundry/backends/cpu/jit.hpp"
#include "foundry/core/errors.hpp"

namespace foundry::cpu {

/// The host compiler cannot build CPU kernels: too old, not found, or it
/// rejects the MSL prelude. `what()` names the command, its version line and
/// the reason; a CPU backend is unavailable with it.
class unsupported_compiler : public foundry::backend_unavailable {
 public:
  /// @param command  the compiler command (as in jit_options::compiler)
  /// @param version  first line of `<command> --version` ("" if it did not run)
  /// @param reason   what is missing or failed
  unsupported_compiler(std::string command, std::string version, std::string reason)
      : foundry::backend_unavailable(message(command, version, reason)),
        command_(std::move(command)),
        version_(std::move(version)),
        reason_(std::move(reason)) {}

  /// The compiler command.
  const std::string& command() const noexcept { return command_; }
  /// First line of its `--version` output ("" if it could not be run).
  const std::string& version() const noexcept { return version_; }
  /// What is missing or failed.
  const std::string& reason() const noexcept { return reason_; }

 private:
  static std::string message(const std::string& command, const std::string& version, const std::string& reason) {
    return "foundry cpu: the host compiler '" + command + "'" + (version.empty() ? "" : " (" + version + ")") +
           " cannot build CPU kernels: " + reason +
           ". Supported: g++ 12 or later, clang 14 or later; choose one with FOUNDRY_CPU_CXX or "
           "jit_options::compiler";
  }
  std::string command_, version_, reason_;
};

/// Family and version of a host compiler, from its `--version` output.
struct host_compiler_id {
  enum class family_t { gcc, clang, other };
  family_t family = family_t::other;
  int major = 0;              ///< 0 if not found
  std::string version_line;   ///< first line of `--version`
};

namespace detail {

/// The first integer of `s` after position `from` ("14.0.6" -> 14), or 0.
inline int leading_major(const std::string& s, std::size_t from) {
  while (from < s.size() && !std::isdigit(static_cast<unsigned char>(s[from]))) ++from;
  int v = 0;
  for (; from < s.size() && std::isdigit(static_cast<unsigned char>(s[from])); ++from) v = v * 10 + (s[from] - '0');
  return v;
}

}  // namespace detail

/// Parses `--version` output. GCC prints `g++ (Debian 12.2.0-14) 12.2.0`
/// (the version is the last word of the first line); Clang prints
/// `[vendor ]clang version 14.0.6 ...`.
inline host_compiler_id parse_compiler_version(const std::string& version_output) {
  host_compiler_id id;
  id.version_line = version_output.substr(0, version_output.find('\n'));
  const std::string& l = id.version_line;
  if (const std::size_t at = l.find("clang version"); at != std::string::npos) {
    id.family = host_compiler_id::family_t::clang;
    id.major = detail::leading_major(l, at + 13);
  } else if (version_output.find("Free Software Foundation") != std::string::npos ||
             l.find("(GCC)") != std::string::npos || l.rfind("g++", 0) == 0 || l.rfind("c++", 0) == 0) {
    id.family = host_compiler_id::family_t::gcc;
    const std::size_t last = l.find_last_of(' ');
    id.major = detail::leading_major(l, last == std::string::npos ? 0 : last);
  }
  return id;
}

namespace detail {

/// A kernel that uses what every library kernel relies on: half and
/// bfloat conversions, vectors, math, a SIMD-group reduction, a barrier.
inline kernel_source probe_kernel() {
  return {"foundry_compiler_probe",
          "extern \"C\" void foundry_compiler_probe__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {\n"
          "  device float* out = (device float*)L->args[0];\n"
          "  const half h = half(0.5f) * half(3);\n"
          "  const float4 v = float4(half4(h, 1.0f, 2.0f, bfloat(4.0f)));\n"
          "  const float s = simd_sum(dot(v, v) + metal::exp(float(h)));\n"
          "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
          "  if (T->thread_index_in_threadgroup == 0) out[0] = s;\n"
          "}\n",
          {}};
}

}  // namespace detail

/// Checks once per process and compiler command (and flags) that the host
/// compiler of `o` can build CPU kernels: see the file comment.
/// @throws unsupported_compiler when it cannot (not found, too old, or it
///         rejects the prelude).
inline host_compiler_id check_host_compiler(const jit_options& o = {}) {
  const std::string cxx = detail::resolve_compiler(o);
  std::string key = cxx;
  for (const auto& f : detail::jit_flags(o)) key += " " + f;
  static std::mutex m;
  static std::map<std::string, host_compiler_id> checked;
  std::lock_guard<std::mutex> lk(m);
  if (auto it = checked.find(key); it != checked.end()) return it->second;

  std::string version;
  try {
    version = detail::compiler_identity(cxx);
  } catch (const std::exception&) {
    throw unsupported_compiler(cxx, "", "'" + cxx + " --version' did not run (is it installed and on PATH?)");
  }
  const host_compiler_id id = parse_compiler_version(version);
  using family = host_compiler_id::family_t;
  if (id.family == family::gcc && id.major > 0 && id.major < 12)
    throw unsupported_compiler(cxx, id.version_line,
                               "GCC " + std::to_string(id.major) + " is older than the oldest supported, GCC 12");
  if (id.family == family::clang && id.major > 0 && id.major < 14)
    throw unsupported_compiler(cxx, id.version_line,
                               "Clang " + std::to_string(id.major) + " is older than the oldest supported, Clang 14");
  try {
    (void)compile(detail::probe_kernel(), o);
  } catch (const compile_error& e) {
    const std::string first = e.where().message.empty() ? std::string(e.what()) : e.where().message;
    throw unsupported_compiler(cxx, id.version_line, "it rejects the MSL prelude: " + first);
  }
  return checked.emplace(key, id).first->second;
}

}  // namespace foundry::cpu
