#pragma once
/// @file jit.hpp
/// Compiles emitted MSL for the CPU: prelude + sources -> one translation
/// unit -> host compiler -> shared object -> dlopen.
///
/// Translation unit (what the key hashes):
///     #line 1 "msl_prelude.h"     the prelude, with abi.h and msl_core.h inlined
///     ...
///     namespace foundry_k0 {
///     #line 1 "<name0>.metal"     source 0, verbatim
///     ...
///     }
///     namespace foundry_k1 { ... } ...
///     extern "C" foundry_cpu_module_init(...)   appended by the JIT
/// Each source gets its own namespace, so body and helper functions of
/// different kernels may share names; the `extern "C"` entry points keep C
/// linkage inside a namespace and must be unique across a prepare() batch.
/// The `#line` directives make the compiler report emitted-source lines.
///
/// Compiler: jit_options::compiler, else $FOUNDRY_CPU_CXX, else the macro
/// FOUNDRY_CPU_CXX (the build system defines it to the compiler CMake
/// found), else "c++". The string is split on spaces, so "clang++-16
/// -stdlib=libc++" works. Flags: -std=c++20 -O2 -fPIC -shared -w, plus
/// -march=native (default; the key then also covers this CPU's model and
/// feature flags, so a cache shared between machines never hands one an
/// object built for another) and, in checked mode, -fsanitize=address
/// -fno-omit-frame-pointer -g.
///
/// Cache key: XXH3-128 of (format version, compiler command, `compiler
/// --version` output (run once per process and compiler), flags, CPU
/// identity when native, translation unit). See
/// backends/common/disk_cache.hpp for the folder, the file format and the
/// safety rules (a cache folder others can write to is refused). Before an
/// entry is loaded its content hash and its ELF structure are checked
/// (elf_check.hpp); one that fails is removed and rebuilt.
///
/// Prelude location: the JIT reads msl_prelude.h, abi.h and
/// ../common/msl_core.h at run time (inlining the last two; see
/// backends/common/prelude.hpp) from
/// $FOUNDRY_CPU_PRELUDE_DIR, else the macro FOUNDRY_CPU_PRELUDE_DIR, else
/// the directory of this header as the compiler saw it (__FILE__; absolute
/// under CMake); see backends/common/prelude.hpp. Reading them keeps a single
/// copy of the prelude that the host compiler also accepts as an ordinary
/// header.
///
/// Checked mode (jit_options::checked) builds with AddressSanitizer so an
/// out-of-bounds access in a kernel is reported with the kernel's source
/// line. The object needs the ASan runtime already in the process: either
/// the host is built with -fsanitize=address (same compiler family), or it
/// is started with LD_PRELOAD=<asan_runtime_path()> (and typically
/// ASAN_OPTIONS=detect_leaks=0; with clang also
/// ASAN_SYMBOLIZER_PATH=<asan_symbolizer_path()>, or the report has no source
/// lines). Without it, dlopen of such an object would
/// abort the process, so load() throws load_error instead (the object is
/// still built and cached).

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "foundry/backends/common/compile_error.hpp"
#include "foundry/backends/common/disk_cache.hpp"
#include "foundry/backends/common/prelude.hpp"
#include "foundry/backends/cpu/abi.h"
#include "foundry/backends/cpu/elf_check.hpp"
#include "foundry/backends/cpu/errors.hpp"
#include "foundry/backends/cpu/scheduler.hpp"
#include "foundry/backends/cpu/subprocess.hpp"

#ifndef FOUNDRY_CPU_CXX
#define FOUNDRY_CPU_CXX "c++"
#endif

namespace foundry::cpu {

/// The lines of one stage's body in an emitted source: 1-based, inclusive;
/// `first_line` is the body's first line.
struct stage_range {
  int first_line = 0;
  int last_line = 0;
  std::string stage;  ///< the stage's name
};

/// Maps an emitted-source line to where it came from: region, stage and
/// line within the stage's body (empty/0 where unknown).
using stage_map = std::function<backend_common::line_origin(int line)>;

/// A stage_map from body ranges (the first range containing the line wins):
/// line L of range r is line `L - r.first_line + 1` of stage `r.stage`.
inline stage_map stage_ranges(std::vector<stage_range> ranges) {
  return [r = std::move(ranges)](int line) -> backend_common::line_origin {
    for (const auto& s : r)
      if (line >= s.first_line && line <= s.last_line) return {"stage " + s.stage, s.stage, line - s.first_line + 1};
    return {};
  };
}

/// A stage_map from the composer's line map (`foundry::kernel_source::regions`,
/// whose stage regions start at the `{ // stage` marker line).
inline stage_map region_map(std::vector<source_region> regions) {
  return [r = std::move(regions)](int line) { return backend_common::locate(r, line); };
}

/// One emitted kernel source.
struct kernel_source {
  /// Name used in diagnostics: the compiler sees the source as
  /// "<name>.metal". Unique within one prepare() batch; letters, digits,
  /// '_', '-' and '.' only.
  std::string name;
  /// MSL text: body function(s) plus the `extern "C"` CPU entry point(s).
  /// A leading `#include <metal_stdlib>` line is blanked (the prelude
  /// replaces it); nothing else is rewritten.
  std::string source;
  /// Optional: emitted line -> stage and line within its body, for
  /// compile_error messages (region_map() or stage_ranges()).
  stage_map stages;
};

/// How to build a module.
struct jit_options {
  /// Compiler command; empty: $FOUNDRY_CPU_CXX, FOUNDRY_CPU_CXX, "c++".
  std::string compiler;
  /// Cache root (the "foundry" folder; "cpu" is appended); empty: from the
  /// environment (disk_cache.hpp).
  std::filesystem::path cache_dir;
  /// Add -march=native (and key on this CPU).
  bool native = true;
  /// Build with AddressSanitizer (see the file comment).
  bool checked = false;
  /// Extra compiler flags, appended after the defaults (part of the key).
  std::vector<std::string> extra_flags;
};

/// A loaded kernel module (one shared object). Unloaded (dlclose) when the
/// last shared_ptr goes away: keep it alive while its entries may run.
class module {
 public:
  module(const module&) = delete;
  module& operator=(const module&) = delete;
  ~module() {
    if (handle_ != nullptr) ::dlclose(handle_);
  }

  /// The entry point `name` (e.g. "scale__cpu").
  /// @throws load_error if the module exports no such symbol.
  foundry_cpu_entry_fn entry(std::string_view name) const {
    void* p = symbol(name);
    if (p == nullptr) throw load_error("foundry cpu: module has no entry point '" + std::string(name) + "'");
    return reinterpret_cast<foundry_cpu_entry_fn>(p);
  }
  /// Address of an exported symbol, or nullptr.
  void* symbol(std::string_view name) const noexcept { return ::dlsym(handle_, std::string(name).c_str()); }
  /// The cache file the module was loaded from.
  const std::filesystem::path& path() const noexcept { return path_; }
  /// The cache key (32 hex digits).
  const std::string& key() const noexcept { return key_; }
  /// True if no compiler ran: the object came from the disk cache.
  bool from_disk_cache() const noexcept { return from_disk_; }
  /// True if built in checked (ASan) mode.
  bool checked() const noexcept { return checked_; }

 private:
  friend struct jit_access;
  module() = default;
  void* handle_ = nullptr;
  std::filesystem::path path_;
  std::string key_;
  bool from_disk_ = false;
  bool checked_ = false;
};

namespace detail {

inline std::vector<std::string> split_command(const std::string& cmd) {
  std::vector<std::string> out;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

inline std::string resolve_compiler(const jit_options& o) {
  if (!o.compiler.empty()) return o.compiler;
  if (const char* e = std::getenv("FOUNDRY_CPU_CXX"); e != nullptr && *e != '\0') return e;
  return FOUNDRY_CPU_CXX;
}

/// `<compiler> --version`, run once per process and compiler command.
inline const std::string& compiler_identity(const std::string& compiler) {
  static std::mutex m;
  static std::map<std::string, std::string> memo;
  std::lock_guard<std::mutex> lk(m);
  auto it = memo.find(compiler);
  if (it != memo.end()) return it->second;
  auto argv = split_command(compiler);
  if (argv.empty()) throw std::runtime_error("foundry cpu: empty compiler command");
  argv.push_back("--version");
  process_result r = run_process(argv);
  if (r.exit_code != 0)
    throw std::runtime_error("foundry cpu: '" + compiler + " --version' failed:\n" + r.output);
  return memo.emplace(compiler, std::move(r.output)).first->second;
}

/// Model name and feature flags of this CPU (what -march=native depends on).
inline const std::string& cpu_identity() {
  static const std::string id = [] {
    std::string info, out;
    if (backend_common::read_regular_file("/proc/cpuinfo", info) == 0) {
      std::istringstream in(info);
      for (std::string line; std::getline(in, line) && !line.empty();)
        if (line.rfind("model name", 0) == 0 || line.rfind("flags", 0) == 0 || line.rfind("vendor_id", 0) == 0)
          out += line + "\n";
    }
    return out.empty() ? std::string("unknown-cpu") : out;
  }();
  return id;
}

/// Where msl_prelude.h and abi.h are read from (see the file comment).
inline std::filesystem::path prelude_dir() {
#ifdef FOUNDRY_CPU_PRELUDE_DIR
  return backend_common::prelude_dir("FOUNDRY_CPU_PRELUDE_DIR", FOUNDRY_CPU_PRELUDE_DIR);
#else
  return backend_common::prelude_dir("FOUNDRY_CPU_PRELUDE_DIR", std::filesystem::path(__FILE__).parent_path());
#endif
}

/// Prelude text with abi.h and the MSL core inlined. Read once.
struct prelude_text {
  std::string text;
};
inline const prelude_text& prelude() {
  static const prelude_text p = [] {
    const std::filesystem::path dir = prelude_dir();
    prelude_text r;
    r.text = backend_common::read_prelude(dir, "msl_prelude.h", "FOUNDRY_CPU_PRELUDE_DIR", "foundry cpu",
                                          "include/foundry/backends/cpu");
    return r;
  }();
  return p;
}

inline void check_name(const std::string& n) {
  if (n.empty()) throw std::invalid_argument("foundry cpu: kernel source without a name");
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      throw std::invalid_argument("foundry cpu: kernel source name '" + n + "' has characters other than [A-Za-z0-9_.-]");
}

/// Blank `#include <metal_stdlib>` lines (line numbers stay put).
inline std::string strip_metal_include(const std::string& src) {
  std::string out = src;
  std::size_t pos = 0;
  while ((pos = out.find("#include <metal_stdlib>", pos)) != std::string::npos) {
    out.replace(pos, 23, std::string(23, ' '));
    pos += 23;
  }
  return out;
}

inline std::vector<std::string> jit_flags(const jit_options& o) {
  // Warnings stay off (-w would also silence the one error below, so it is
  // not used; other warnings only reach the output, which is read on
  // failure). A variable read before it is set is an error: a stage body
  // that declares a local named like one of its arguments (`device T* c =
  // $c;` expands to `c = c`) must fail here, on every machine, rather than
  // read garbage on one target and work by luck on another.
  std::vector<std::string> f = {"-std=c++20", "-O2", "-fPIC", "-shared", "-Winit-self", "-Werror=uninitialized"};
  if (o.native) f.push_back("-march=native");
  if (o.checked) {
    f.push_back("-fsanitize=address");
    f.push_back("-fno-omit-frame-pointer");
    f.push_back("-g");
  }
  f.insert(f.end(), o.extra_flags.begin(), o.extra_flags.end());
  return f;
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

/// Finds the first error in the compiler output and turns it into a
/// compile_error in emitted-source terms.
inline compile_error make_compile_error(std::span<const kernel_source> sources, const std::string& output) {
  backend_common::location loc;
  const auto lines = split_lines(output);
  // `file:line:col: error: msg` (gcc and clang; also "fatal error").
  auto parse = [](const std::string& l, std::string& file, int& line, int& col, std::string& rest) {
    const std::size_t a = l.find(':');
    if (a == std::string::npos || a == 0) return false;
    const std::size_t b = l.find(':', a + 1);
    if (b == std::string::npos) return false;
    const std::size_t c = l.find(':', b + 1);
    if (c == std::string::npos) return false;
    try {
      std::size_t used = 0;
      line = std::stoi(l.substr(a + 1, b - a - 1), &used);
      if (used != b - a - 1) return false;
      col = std::stoi(l.substr(b + 1, c - b - 1), &used);
      if (used != c - b - 1) return false;
    } catch (...) {
      return false;
    }
    file = l.substr(0, a);
    rest = l.substr(c + 1);
    return true;
  };
  const std::string metal = ".metal";
  auto is_metal = [&](const std::string& f) {
    return f.size() > metal.size() && f.compare(f.size() - metal.size(), metal.size(), metal) == 0;
  };
  std::string first_file;
  int first_line = 0, first_col = 0;
  for (const auto& l : lines) {
    std::string file, rest;
    int line = 0, col = 0;
    if (parse(l, file, line, col, rest) && (rest.rfind(" error:", 0) == 0 || rest.rfind(" fatal error:", 0) == 0)) {
      loc.message = rest.substr(rest.find("error:") + 7);
      first_file = file;
      first_line = line;
      first_col = col;
      break;
    }
  }
  if (!is_metal(first_file)) {
    // The error is inside the prelude (a template instantiated from kernel
    // code): report the first kernel line the diagnostics mention.
    for (const auto& l : lines) {
      std::string file, rest;
      int line = 0, col = 0;
      if (parse(l, file, line, col, rest) && is_metal(file)) {
        first_file = file;
        first_line = line;
        first_col = col;
        break;
      }
    }
  }
  if (is_metal(first_file)) {
    const std::string name = std::filesystem::path(first_file).filename().string();
    loc.kernel = name.substr(0, name.size() - metal.size());
    loc.line = first_line;
    loc.column = first_col;
    for (const auto& s : sources) {
      if (s.name != loc.kernel) continue;
      const auto src_lines = split_lines(s.source);
      if (first_line >= 1 && static_cast<std::size_t>(first_line) <= src_lines.size())
        loc.text = src_lines[static_cast<std::size_t>(first_line - 1)];
      if (s.stages) {
        backend_common::line_origin o = s.stages(first_line);
        loc.origin = std::move(o.origin);
        loc.stage = std::move(o.stage);
        loc.origin_line = o.line;
      }
      break;
    }
  }
  std::string headline = "foundry cpu: compiling";
  for (const auto& s : sources) headline += " '" + s.name + "'";
  headline += " failed";
  std::string what = backend_common::describe(std::move(headline), loc, "error", "compiler output", output);
  return compile_error(what, std::move(loc), output);
}

/// The CPU backend's cache entries: `<key>.so` + trailer "FDRYCPU2".
inline constexpr backend_common::cache_format cache_format{"FDRYCPU2", "foundry cpu"};

inline bool asan_in_process() { return ::dlsym(RTLD_DEFAULT, "__asan_init") != nullptr; }

}  // namespace detail

/// Whether the AddressSanitizer runtime is loaded in this process (needed to
/// load a checked-mode module).
inline bool asan_runtime_loaded() { return detail::asan_in_process(); }

/// Path of the ASan runtime shared library matching the JIT compiler (to
/// LD_PRELOAD into a process that should load checked modules), or "" if
/// the compiler does not ship one.
/// @throws std::runtime_error if the compiler cannot be run.
inline std::string asan_runtime_path(const jit_options& o = {}) {
  const std::string cxx = detail::resolve_compiler(o);
  const bool clang = detail::compiler_identity(cxx).find("clang") != std::string::npos;
  auto argv = detail::split_command(cxx);
  argv.push_back(clang ? "-print-file-name=libclang_rt.asan-x86_64.so" : "-print-file-name=libasan.so");
  const detail::process_result r = detail::run_process(argv);
  std::string p = r.output.substr(0, r.output.find('\n'));
  if (r.exit_code != 0 || p.empty() || p.find('/') == std::string::npos || !std::filesystem::exists(p)) return {};
  return p;
}

/// Path of the `llvm-symbolizer` that clang's ASan runtime needs to print a
/// checked-mode report with source lines (set it as ASAN_SYMBOLIZER_PATH in
/// the process that loads checked modules): the one the JIT compiler finds
/// among its own programs (`-print-prog-name`). "" for g++, whose libasan
/// symbolizes by itself, and when the compiler finds none (Debian: package
/// llvm-<version>).
/// @throws std::runtime_error if the compiler cannot be run.
inline std::string asan_symbolizer_path(const jit_options& o = {}) {
  const std::string cxx = detail::resolve_compiler(o);
  if (detail::compiler_identity(cxx).find("clang") == std::string::npos) return {};
  auto argv = detail::split_command(cxx);
  argv.push_back("-print-prog-name=llvm-symbolizer");
  const detail::process_result r = detail::run_process(argv);
  std::string p = r.output.substr(0, r.output.find('\n'));
  if (r.exit_code != 0 || p.empty() || p.front() != '/' || !std::filesystem::exists(p)) return {};
  return p;
}

/// The translation unit the JIT compiles for `sources` (for inspection).
/// @throws std::invalid_argument for an empty batch or bad/duplicate names.
inline std::string translation_unit(std::span<const kernel_source> sources) {
  if (sources.empty()) throw std::invalid_argument("foundry cpu: no kernel sources");
  std::string tu = detail::prelude().text;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& s = sources[i];
    detail::check_name(s.name);
    for (const auto& n : names)
      if (n == s.name) throw std::invalid_argument("foundry cpu: two kernel sources named '" + s.name + "'");
    names.push_back(s.name);
    tu += "namespace foundry_k" + std::to_string(i) + " {\n#line 1 \"" + s.name + ".metal\"\n";
    tu += detail::strip_metal_include(s.source);
    tu += "\n#line 1 \"foundry_module.cpp\"\n}  // namespace foundry_k" + std::to_string(i) + "\n";
  }
  tu +=
      "extern \"C\" __attribute__((visibility(\"default\"))) uint32_t\n"
      "foundry_cpu_module_init(const foundry_cpu_host_api* api) {\n"
      "  metal::msl_detail::host = api;\n"
      "  return FOUNDRY_CPU_ABI_VERSION;\n"
      "}\n";
  return tu;
}

struct jit_access {
  static std::shared_ptr<module> make(void* h, std::filesystem::path p, std::string key, bool disk, bool checked) {
    std::shared_ptr<module> m(new module());
    m->handle_ = h;
    m->path_ = std::move(p);
    m->key_ = std::move(key);
    m->from_disk_ = disk;
    m->checked_ = checked;
    return m;
  }
};

namespace detail {

inline std::mutex& jit_mutex() {
  static std::mutex m;
  return m;
}
inline std::map<std::string, std::weak_ptr<module>>& jit_memo() {
  static std::map<std::string, std::weak_ptr<module>> m;
  return m;
}

// dlopen + init. Returns nullptr (and the reason) if the object is unusable.
inline void* load_object(const std::filesystem::path& p, std::string& why) {
  void* h = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* e = ::dlerror();
    why = e != nullptr ? e : "dlopen failed";
    return nullptr;
  }
  auto init = reinterpret_cast<foundry_cpu_module_init_fn>(::dlsym(h, "foundry_cpu_module_init"));
  if (init == nullptr || init(&host_api) != FOUNDRY_CPU_ABI_VERSION) {
    why = "not a Foundry CPU module of ABI version " + std::to_string(FOUNDRY_CPU_ABI_VERSION);
    ::dlclose(h);
    return nullptr;
  }
  return h;
}

}  // namespace detail

/// Forgets the modules this process has loaded, so the next prepare()
/// consults the disk cache again (modules still referenced stay loaded).
/// For tests and tools.
inline void clear_memory_cache() {
  std::lock_guard<std::mutex> lk(detail::jit_mutex());
  detail::jit_memo().clear();
}

/// Compiles `sources` into one shared object (one compiler invocation) and
/// loads it; entry points of every source are then available from the
/// returned module. Same sources and options in the same process return the
/// same module; across processes the disk cache answers. Compiles in one
/// process are serialised.
///
/// @throws compile_error if the compiler rejects the sources (message names
///         the source, emitted line, stage and line text).
/// @throws load_error if the object cannot be loaded, or it is a checked
///         module and the ASan runtime is not in the process.
/// @throws std::invalid_argument for an empty batch or bad/duplicate names.
/// @throws backend_common::unsafe_cache_folder if the cache folder (or the
///         root above it) is not owned by this user or is writable by others.
/// @throws backend_common::cache_io_error if the cache cannot be written or
///         read (message with the OS reason).
/// @throws std::runtime_error if the prelude cannot be read or the compiler
///         cannot be run.
inline std::shared_ptr<const module> prepare(std::span<const kernel_source> sources, const jit_options& opts = {}) {
  namespace fs = std::filesystem;
  const std::string tu = translation_unit(sources);
  const std::string cxx = detail::resolve_compiler(opts);
  const std::vector<std::string> flags = detail::jit_flags(opts);
  std::string key_input = "foundry-cpu-jit 2\n" + cxx + "\n" + detail::compiler_identity(cxx) + "\n";
  for (const auto& f : flags) key_input += f + " ";
  key_input += "\n";
  if (opts.native) key_input += detail::cpu_identity();
  key_input += "\n" + tu;
  const std::string key = backend_common::hash_hex(key_input);

  std::lock_guard<std::mutex> lk(detail::jit_mutex());
  if (auto it = detail::jit_memo().find(key); it != detail::jit_memo().end())
    if (auto m = it->second.lock()) return m;

  const fs::path dir = backend_common::open_cache_folder(opts.cache_dir, "cpu", "foundry cpu");
  const fs::path so = dir / (key + ".so");

  auto check_asan = [&] {
    if (opts.checked && !detail::asan_in_process())
      throw load_error("foundry cpu: checked (ASan) module built at " + so.string() +
                       " but this process has no ASan runtime; run it with LD_PRELOAD=" + asan_runtime_path(opts) +
                       " ASAN_OPTIONS=detect_leaks=0, or build the host with -fsanitize=address");
  };
  auto finish = [&](void* h, bool disk) {
    auto m = jit_access::make(h, so, key, disk, opts.checked);
    detail::jit_memo()[key] = m;
    return std::shared_ptr<const module>(m);
  };

  // 1. Disk cache: the content hash over the whole file, then the ELF
  // structure, are checked before dlopen; anything else is removed (by
  // read_entry, or here) and rebuilt.
  if (const std::string image = backend_common::read_entry(so, key, detail::cache_format); !image.empty()) {
    if (detail::loadable_shared_object(image)) {
      check_asan();
      std::string why;
      if (void* h = detail::load_object(so, why)) return finish(h, true);
    }
    if (::unlink(so.c_str()) != 0 && errno != ENOENT)
      throw backend_common::cache_io_error("foundry cpu: cannot remove the unloadable cache entry " + so.string() +
                                           ": " + backend_common::os_reason(errno));
  }

  // 2. Compile into a temporary object, check it, publish it atomically.
  backend_common::remove_stale_temps(dir);
  const fs::path src = backend_common::temp_path(dir, key, ".cpp");
  const fs::path tmp = backend_common::temp_path(dir, key, ".so");
  struct cleanup {
    fs::path a, b;
    ~cleanup() {
      std::error_code e;
      fs::remove(a, e);
      fs::remove(b, e);
    }
  } guard{src, tmp};
  backend_common::write_new_file(src, {tu}, "foundry cpu");
  std::vector<std::string> argv = detail::split_command(cxx);
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"-x", "c++", src.string(), "-o", tmp.string()});
  const detail::process_result r = detail::run_process(argv);
  std::error_code ec;
  if (r.exit_code != 0 || !fs::exists(tmp, ec)) throw detail::make_compile_error(sources, r.output);
  std::string image;
  if (const int err = backend_common::read_regular_file(tmp, image); err != 0)
    throw backend_common::cache_io_error("foundry cpu: cannot read the compiled object " + tmp.string() + ": " +
                                         backend_common::os_reason(err));
  if (!detail::loadable_shared_object(image))
    throw load_error("foundry cpu: the compiler wrote a malformed shared object " + tmp.string() + " (" +
                     std::to_string(image.size()) + " bytes)");
  backend_common::write_entry(dir, so, key, image, detail::cache_format);
  check_asan();
  std::string why;
  void* h = detail::load_object(so, why);
  if (h == nullptr) throw load_error("foundry cpu: cannot load " + so.string() + ": " + why);
  return finish(h, false);
}

/// Compiles and loads a single source (prepare() of one).
inline std::shared_ptr<const module> compile(const kernel_source& source, const jit_options& opts = {}) {
  return prepare(std::span<const kernel_source>(&source, 1), opts);
}

}  // namespace foundry::cpu
