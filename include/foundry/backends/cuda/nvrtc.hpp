#pragma once
/// @file nvrtc.hpp
/// Compiles emitted MSL for CUDA: prelude + source -> NVRTC -> cubin, with an
/// in-memory and an on-disk cache. Needs NVRTC only (no driver, no device),
/// so kernels can be compiled for any architecture NVRTC knows, e.g. in CI.
///
/// Translation unit of one kernel (what the cache key hashes):
///
///     #line 1 "msl_prelude.h"
///     <include/foundry/backends/cuda/msl_prelude.h, msl_core.h inlined>
///     namespace foundry_kernel { FOUNDRY_MSL_NAMES
///     #line 1 "<kernel>.metal"
///     <the emitted source, verbatim>
///     #line 1 "foundry_module.cu"
///     }
///
/// NVRTC therefore reports errors in emitted-source lines, which the
/// source's line map turns into a stage and a line within its body
/// (backends/common/compile_error.hpp).
///
/// Options: `--gpu-architecture=sm_XX -std=c++20
/// --device-as-default-execution-space` (kernel code carries no `__device__`
/// annotations) plus `compile_options::extra`. A cubin is produced when NVRTC
/// supports the architecture; for a newer device than NVRTC knows, PTX for
/// the newest architecture it supports (the driver finishes it).
///
/// Cache key: XXH3-128 of (format version, NVRTC version, architecture,
/// options, translation unit). Disk layout: `<dir>/<key>.cubin` (or
/// `.ptx`), `dir` = `${FOUNDRY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/cuda`,
/// in the format of backends/common/disk_cache.hpp (trailer magic
/// "FDRYCUB2", a content hash over the whole file, atomic publication). A
/// cache folder others can write to is refused (`unsafe_cache_folder`); a
/// damaged entry, or anything but a regular file at an entry's path, is
/// removed and recompiled; stale temporary files are removed. Failing to
/// write an entry is not an error (the cache is an optimisation).
///
/// Prelude location: $FOUNDRY_CUDA_PRELUDE_DIR, else the macro
/// FOUNDRY_CUDA_PRELUDE_DIR, else the directory of this header (__FILE__);
/// see backends/common/prelude.hpp.


#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "foundry/backends/common/compile_error.hpp"
#include "foundry/backends/common/disk_cache.hpp"
#include "foundry/backends/common/prelude.hpp"
#include "foundry/backends/cuda/api.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/source.hpp"

namespace foundry::cuda {

/// NVRTC rejected an emitted kernel: the backends' common error
/// (backends/common/compile_error.hpp), naming the stage and the line within
/// its body (or the helper, or the entry point), the emitted line, NVRTC's
/// first error and the line's text; `log()` is NVRTC's whole log.
using compile_error = backend_common::compile_error;

/// How kernels are compiled.
struct compile_options {
  /// Target architecture as a number: 90 for sm_90 (H100).
  int arch = 90;
  /// Cache root (the "foundry" folder; "cuda" is appended); empty: from the
  /// environment (see the file comment).
  std::filesystem::path cache_dir;
  /// Read and write the on-disk cache.
  bool disk_cache = true;
  /// Extra NVRTC options (part of the key), e.g. "-lineinfo".
  std::vector<std::string> extra;
  /// Compiler threads for a batch; 0: one per hardware thread.
  unsigned threads = 0;
};

/// One kernel to compile.
struct compile_input {
  const kernel_source* source = nullptr;
  std::string_view kernel;  ///< kernel name (messages, the virtual file name)
};

/// A compiled kernel image, ready for cuModuleLoadData.
struct compiled_kernel {
  std::string image;        ///< cubin, or NUL-terminated PTX when `is_ptx`
  bool is_ptx = false;
  std::string key;          ///< cache key, 32 hex digits
  std::string log;          ///< NVRTC's log (warnings), empty from a cache
  bool from_memory = false; ///< found in this process's cache
  bool from_disk = false;   ///< found in the on-disk cache
};

namespace detail {

/// Where msl_prelude.h is read from (see the file comment).
inline std::filesystem::path prelude_dir() {
#ifdef FOUNDRY_CUDA_PRELUDE_DIR
  return backend_common::prelude_dir("FOUNDRY_CUDA_PRELUDE_DIR", FOUNDRY_CUDA_PRELUDE_DIR);
#else
  return backend_common::prelude_dir("FOUNDRY_CUDA_PRELUDE_DIR", std::filesystem::path(__FILE__).parent_path());
#endif
}

/// The prelude text, read once per process.
inline const std::string& prelude() {
  static const std::string text = [] {
    std::string s = backend_common::read_prelude(prelude_dir(), "msl_prelude.h", "FOUNDRY_CUDA_PRELUDE_DIR",
                                                 "foundry cuda", "include/foundry/backends/cuda");
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
  }();
  return text;
}

/// The CUDA backend's cache entries: `<key>.cubin` or `.ptx` + trailer "FDRYCUB2".
inline constexpr backend_common::cache_format cache_format{"FDRYCUB2", "foundry cuda"};

/// Publishes an image; a failure is ignored (the cache is an optimisation,
/// and the image is already compiled).
inline void cache_write(const std::filesystem::path& dir, const std::filesystem::path& p, std::string_view key,
                        const std::string& image) {
  try {
    backend_common::remove_stale_temps(dir);
    backend_common::write_entry(dir, p, key, image, cache_format);
  } catch (const backend_common::cache_io_error&) {
  }
}

inline std::mutex& memory_cache_mutex() {
  static std::mutex m;
  return m;
}
/// key -> image, for the life of the process.
inline std::map<std::string, std::shared_ptr<const compiled_kernel>>& memory_cache() {
  static std::map<std::string, std::shared_ptr<const compiled_kernel>> m;
  return m;
}

/// The architecture NVRTC is asked for: `arch` itself when supported, else
/// (a device newer than NVRTC) the newest supported one as PTX.
struct target_arch {
  int arch = 0;
  bool ptx = false;
};
inline target_arch choose_arch(const nvrtc_api& n, int arch) {
  const std::vector<int> archs = n.supported_archs();
  if (std::find(archs.begin(), archs.end(), arch) != archs.end()) return {arch, false};
  if (!archs.empty() && arch > archs.back()) return {archs.back(), true};
  std::string list;
  for (int a : archs) list += " sm_" + std::to_string(a);
  throw backend_unavailable("foundry cuda: NVRTC " + n.version_string() + " cannot compile for sm_" +
                            std::to_string(arch) + " (it supports" + list + ")");
}

inline std::vector<std::string> nvrtc_options(const target_arch& t, const compile_options& o) {
  std::vector<std::string> v = {std::string(t.ptx ? "--gpu-architecture=compute_" : "--gpu-architecture=sm_") +
                                    std::to_string(t.arch),
                                "-std=c++20", "--device-as-default-execution-space"};
  v.insert(v.end(), o.extra.begin(), o.extra.end());
  return v;
}

/// The translation unit NVRTC compiles for one kernel (see the file comment).
inline std::string translation_unit(const kernel_source& src, std::string_view kernel) {
  std::string tu = prelude();
  tu += "namespace foundry_kernel { FOUNDRY_MSL_NAMES\n#line 1 \"" + std::string(kernel) + ".metal\"\n";
  tu += src.text;
  if (!src.text.empty() && src.text.back() != '\n') tu += '\n';
  tu += "#line 1 \"foundry_module.cu\"\n}  // namespace foundry_kernel\n";
  return tu;
}

/// Splits "file(line): error: message" (NVRTC's diagnostic format).
inline bool parse_diagnostic(std::string_view l, std::string& file, int& line, std::string& rest) {
  const auto open = l.find('(');
  if (open == std::string_view::npos || open == 0) return false;
  const auto close = l.find("): ", open);
  if (close == std::string_view::npos) return false;
  int v = 0;
  for (std::size_t i = open + 1; i < close; ++i) {
    if (l[i] < '0' || l[i] > '9') return false;
    v = v * 10 + (l[i] - '0');
  }
  file = std::string(l.substr(0, open));
  line = v;
  rest = std::string(l.substr(close + 3));
  return true;
}

/// The first error of an NVRTC log as a compile_error in emitted-source terms.
inline compile_error make_compile_error(const kernel_source& src, std::string_view kernel, const std::string& log) {
  backend_common::location loc;
  loc.kernel = std::string(kernel);
  const std::string self = std::string(kernel) + ".metal";
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos <= log.size();) {
    const auto nl = log.find('\n', pos);
    lines.push_back(log.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  std::string first_file;
  int first_line = 0;
  std::size_t first_index = 0;  // the first error's log line
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string file, rest;
    int line = 0;
    if (parse_diagnostic(lines[i], file, line, rest) &&
        (rest.rfind("error:", 0) == 0 || rest.rfind("catastrophic error:", 0) == 0)) {
      loc.message = rest.substr(rest.find("error:") + 7);
      first_file = file;
      first_line = line;
      first_index = i;
      break;
    }
  }
  if (first_file == self) {
    loc.line = first_line;
  } else {
    // An error inside the prelude (a template instantiated from kernel code):
    // the first kernel line the log mentions ("... at line N of <k>.metal"
    // or "<k>.metal(N): ..."), from the error on: warnings before it name
    // other lines.
    const std::string at = " of " + self;
    for (std::size_t i = first_index; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      std::string file, rest;
      int line = 0;
      if (parse_diagnostic(l, file, line, rest) && file == self) {
        loc.line = line;
        break;
      }
      if (const auto p = l.find(at); p != std::string::npos) {
        const auto q = l.rfind("line ", p);
        if (q != std::string::npos) {
          loc.line = std::atoi(l.c_str() + q + 5);
          break;
        }
      }
    }
  }
  backend_common::attribute(loc, src);
  std::string what = backend_common::describe("foundry cuda: compiling kernel '" + std::string(kernel) +
                                                   "' with NVRTC failed",
                                               loc, "error", "NVRTC log", log);
  return compile_error(what, std::move(loc), log);
}

/// One NVRTC invocation. Returns the image, or throws compile_error.
inline compiled_kernel run_nvrtc(const nvrtc_api& n, const std::string& tu, const kernel_source& src,
                                 std::string_view kernel, const std::vector<std::string>& options, bool ptx) {
  api::nvrtcProgram prog = nullptr;
  const std::string file = std::string(kernel) + ".cu";
  n.check(n.create_program(&prog, tu.c_str(), file.c_str(), 0, nullptr, nullptr), "nvrtcCreateProgram");
  struct guard {
    const nvrtc_api& n;
    api::nvrtcProgram& p;
    ~guard() { n.destroy_program(&p); }
  } g{n, prog};
  std::vector<const char*> argv;
  for (const auto& o : options) argv.push_back(o.c_str());
  const api::nvrtcResult r = n.compile_program(prog, static_cast<int>(argv.size()), argv.data());
  compiled_kernel out;
  std::size_t log_size = 0;
  n.check(n.get_program_log_size(prog, &log_size), "nvrtcGetProgramLogSize");
  out.log.assign(log_size, '\0');
  if (log_size > 0) n.check(n.get_program_log(prog, out.log.data()), "nvrtcGetProgramLog");
  while (!out.log.empty() && (out.log.back() == '\0' || out.log.back() == '\n')) out.log.pop_back();
  if (r == api::NVRTC_ERROR_COMPILATION) throw make_compile_error(src, kernel, out.log);
  n.check(r, "nvrtcCompileProgram");
  std::size_t size = 0;
  if (ptx) {
    n.check(n.get_ptx_size(prog, &size), "nvrtcGetPTXSize");
    out.image.assign(size, '\0');
    n.check(n.get_ptx(prog, out.image.data()), "nvrtcGetPTX");
  } else {
    n.check(n.get_cubin_size(prog, &size), "nvrtcGetCUBINSize");
    out.image.assign(size, '\0');
    n.check(n.get_cubin(prog, out.image.data()), "nvrtcGetCUBIN");
  }
  out.is_ptx = ptx;
  return out;
}

}  // namespace detail

/// The cache key of kernel `src` compiled with `o` (32 hex digits).
/// Throws `backend_unavailable` without NVRTC.
inline std::string cache_key(const kernel_source& src, std::string_view kernel, const compile_options& o) {
  const nvrtc_api& n = nvrtc();
  const detail::target_arch t = detail::choose_arch(n, o.arch);
  std::string key_input = "foundry-cuda-nvrtc 2\nnvrtc " + n.version_string() + "\n";
  for (const auto& opt : detail::nvrtc_options(t, o)) key_input += opt + " ";
  key_input += "\n" + detail::translation_unit(src, kernel);
  return backend_common::hash_hex(key_input);
}

/// Compiles a batch of kernels, each its own NVRTC program, in parallel
/// (`compile_options::threads`); cached in memory and on disk. Results are
/// in input order.
/// @throws compile_error for the first kernel (in input order) NVRTC rejects.
/// @throws backend_unavailable without NVRTC or for an architecture it lacks.
/// @throws backend_common::unsafe_cache_folder with the disk cache on, if its
///         folder is not owned by this user or is writable by others.
/// @throws backend_common::cache_io_error if a cache entry cannot be read.
inline std::vector<std::shared_ptr<const compiled_kernel>> compile(std::span<const compile_input> inputs,
                                                                   const compile_options& o = {}) {
  namespace fs = std::filesystem;
  const nvrtc_api& n = nvrtc();
  const detail::target_arch t = detail::choose_arch(n, o.arch);
  const std::vector<std::string> options = detail::nvrtc_options(t, o);
  std::string key_head = "foundry-cuda-nvrtc 2\nnvrtc " + n.version_string() + "\n";
  for (const auto& opt : options) key_head += opt + " ";
  key_head += "\n";
  const fs::path dir = o.disk_cache ? backend_common::open_cache_folder(o.cache_dir, "cuda", "foundry cuda") : fs::path();
  const char* ext = t.ptx ? ".ptx" : ".cubin";

  std::vector<std::shared_ptr<const compiled_kernel>> out(inputs.size());
  std::vector<std::string> tus(inputs.size()), keys(inputs.size());
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].source == nullptr) throw foundry::error("foundry cuda: compile request without a source");
    tus[i] = detail::translation_unit(*inputs[i].source, inputs[i].kernel);
    keys[i] = backend_common::hash_hex(key_head + tus[i]);
    {
      std::lock_guard<std::mutex> lk(detail::memory_cache_mutex());
      if (auto it = detail::memory_cache().find(keys[i]); it != detail::memory_cache().end()) {
        auto c = std::make_shared<compiled_kernel>(*it->second);
        c->from_memory = true;
        out[i] = std::move(c);
        continue;
      }
    }
    if (o.disk_cache) {
      std::string image = backend_common::read_entry(dir / (keys[i] + ext), keys[i], detail::cache_format);
      if (!image.empty()) {
        auto c = std::make_shared<compiled_kernel>();
        c->image = std::move(image);
        c->is_ptx = t.ptx;
        c->key = keys[i];
        c->from_disk = true;
        out[i] = c;
        std::lock_guard<std::mutex> lk(detail::memory_cache_mutex());
        detail::memory_cache().emplace(keys[i], c);
        continue;
      }
    }
    todo.push_back(i);
  }

  // NVRTC, one program per kernel, spread over a few threads.
  std::vector<std::exception_ptr> errors(inputs.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t j = next.fetch_add(1); j < todo.size(); j = next.fetch_add(1)) {
      const std::size_t i = todo[j];
      try {
        auto c = std::make_shared<compiled_kernel>(
            detail::run_nvrtc(n, tus[i], *inputs[i].source, inputs[i].kernel, options, t.ptx));
        c->key = keys[i];
        if (o.disk_cache) detail::cache_write(dir, dir / (keys[i] + ext), keys[i], c->image);
        {
          std::lock_guard<std::mutex> lk(detail::memory_cache_mutex());
          detail::memory_cache().emplace(keys[i], c);
        }
        out[i] = std::move(c);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, todo.size()));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (unsigned k = 0; k < threads; ++k) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

/// Forgets the images compiled in this process (tests and tools).
inline void clear_memory_cache() {
  std::lock_guard<std::mutex> lk(detail::memory_cache_mutex());
  detail::memory_cache().clear();
}

}  // namespace foundry::cuda
