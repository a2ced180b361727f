#pragma once
/// @file backend.hpp
/// The Metal backend behind the runtime interface, on metal-cpp (Apple's
/// header-only C++ interface to Metal). Include it through
/// `<foundry/backends/metal/metal.hpp>`, which builds it only where Metal is
/// available; link `foundry::metal` (cmake/FoundryMetal.cmake), which
/// provides metal-cpp, the frameworks and the one translation unit that
/// defines metal-cpp's selector tables (implementation.hpp).
///
///   foundry::executor ex{foundry::metal_backend::make_backend()};
///
/// - Buffers are `MTLBuffer`s in shared storage (`MTLResourceStorageModeShared`):
///   one allocation visible to host and GPU, `host_address` is `contents()`.
/// - `compile` makes one `MTLLibrary` per kernel from the emitted source
///   (sources of different kernels may define the same helper names), with
///   `MTLCompileOptions` from `backend_options` (language version unset by
///   default, fast math off), then the entry function and a compute pipeline
///   state. A kernel found in a precompiled `.metallib` is not compiled. The
///   executor caches pipelines in memory; across runs the OS's shader cache
///   and, when configured, a `MTLBinaryArchive` do.
/// - `dispatch` encodes into an open command buffer: it sets the pipeline,
///   binds each `bound_argument` (`setBuffer(buffer, offset, index)` for
///   buffers, `setBytes(pointer, size, index)` for bytes) and calls
///   `dispatchThreadgroups`. Dispatches share one concurrent encoder, with a
///   buffer memory barrier only where the hazard tracker (hazards.hpp) says a
///   later dispatch depends on an earlier one.
/// - `synchronize` ends the encoder, commits, waits, and reports a failed
///   command buffer as `foundry::error` naming its kernels. `upload` and
///   `download` first wait for pending work that touches their buffer.
///
/// Not thread-safe: one thread drives a backend object (like the executor).

#include <TargetConditionals.h>

#include <Foundation/Foundation.hpp>
#include <Metal/Metal.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "foundry/backends/metal/diagnostics.hpp"
#include "foundry/backends/metal/entry.hpp"
#include "foundry/backends/metal/hazards.hpp"
#include "foundry/backends/metal/options.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/source.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry::metal_backend {

namespace detail {

/// Owns one reference to an Objective-C object (from `new…`, `alloc`/`init`,
/// `copy`, or an explicit `retain`) and releases it once.
template <class T>
class owned {
 public:
  owned() = default;
  explicit owned(T* p) noexcept : p_(p) {}
  owned(owned&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  owned& operator=(owned&& o) noexcept {
    if (this != &o) reset(std::exchange(o.p_, nullptr));
    return *this;
  }
  owned(const owned&) = delete;
  owned& operator=(const owned&) = delete;
  ~owned() { reset(); }

  /// Takes a further reference to an autoreleased object.
  static owned retain(T* p) noexcept { return owned(p ? p->retain() : nullptr); }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  void reset(T* p = nullptr) noexcept {
    if (p_) p_->release();
    p_ = p;
  }

 private:
  T* p_ = nullptr;
};

/// An `NSAutoreleasePool` for the current scope: objects metal-cpp returns
/// autoreleased (strings, errors, command buffers, encoders) are released
/// when it ends, also in programs without a Cocoa run loop.
class autorelease_scope {
 public:
  autorelease_scope() : pool_(NS::AutoreleasePool::alloc()->init()) {}
  autorelease_scope(const autorelease_scope&) = delete;
  autorelease_scope& operator=(const autorelease_scope&) = delete;
  ~autorelease_scope() { pool_->release(); }

 private:
  NS::AutoreleasePool* pool_;
};

/// An autoreleased `NSString` holding `s` (UTF-8).
inline NS::String* ns_string(const std::string& s) { return NS::String::string(s.c_str(), NS::UTF8StringEncoding); }

/// The text of an `NSString` (empty for nil).
inline std::string to_string(const NS::String* s) {
  const char* c = s ? s->utf8String() : nullptr;
  return c ? std::string(c) : std::string();
}

/// The `localizedDescription` of an `NSError` (empty for nil).
inline std::string describe(const NS::Error* e) { return e ? to_string(e->localizedDescription()) : std::string(); }

/// An autoreleased file URL for `p`.
inline NS::URL* file_url(const std::filesystem::path& p) { return NS::URL::fileURLWithPath(ns_string(p.string())); }

inline std::string read_file(const std::filesystem::path& p, bool& ok) {
  std::ifstream f(p, std::ios::binary);
  ok = static_cast<bool>(f);
  return ok ? std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()) : std::string();
}

}  // namespace detail

class backend;

/// A compiled kernel: its library, entry function and compute pipeline state.
class metal_pipeline final : public pipeline {
 public:
  metal_pipeline(const backend* owner, detail::owned<MTL::Library> library, detail::owned<MTL::Function> function,
                 detail::owned<MTL::ComputePipelineState> state, std::string name, bool precompiled)
      : owner_(owner),
        library_(std::move(library)),
        function_(std::move(function)),
        state_(std::move(state)),
        name_(std::move(name)),
        max_threads_(static_cast<std::uint32_t>(state_->maxTotalThreadsPerThreadgroup())),
        simd_width_(static_cast<std::uint32_t>(state_->threadExecutionWidth())),
        precompiled_(precompiled) {}

  std::string_view name() const noexcept override { return name_; }
  /// The backend that compiled it (pipelines cannot move between backends).
  const backend* owner() const noexcept { return owner_; }
  MTL::ComputePipelineState* state() const noexcept { return state_.get(); }
  MTL::Function* function() const noexcept { return function_.get(); }
  MTL::Library* library() const noexcept { return library_.get(); }
  /// `maxTotalThreadsPerThreadgroup` of this pipeline on this device (may be
  /// below 1024 for kernels with many registers).
  std::uint32_t max_threads_per_threadgroup() const noexcept { return max_threads_; }
  /// `threadExecutionWidth`: the SIMD-group width (32 on Apple GPUs).
  std::uint32_t simd_width() const noexcept { return simd_width_; }
  /// Whether it came from a precompiled `.metallib`.
  bool precompiled() const noexcept { return precompiled_; }

 private:
  const backend* owner_;
  detail::owned<MTL::Library> library_;
  detail::owned<MTL::Function> function_;
  detail::owned<MTL::ComputePipelineState> state_;
  std::string name_;
  std::uint32_t max_threads_;
  std::uint32_t simd_width_;
  bool precompiled_;
};

/// Counters, for tests and benchmarks.
struct backend_stats {
  std::size_t dispatches = 0;            ///< dispatches encoded
  std::size_t barriers = 0;              ///< memory barriers encoded
  std::size_t command_buffers = 0;       ///< command buffers committed
  std::size_t compiled_from_source = 0;  ///< libraries compiled from emitted source
  std::size_t precompiled_hits = 0;      ///< kernels taken from a precompiled .metallib
  std::size_t precompiled_stale = 0;     ///< found in a .metallib whose source differs
  std::size_t archive_hits = 0;          ///< pipelines found in the binary archive
  std::size_t archive_misses = 0;        ///< pipelines compiled and added to it
};

/// See the file comment.
class backend final : public foundry::backend {
 public:
  /// Opens the system default device. Throws `backend_unavailable` when there
  /// is none, `foundry::error` when a precompiled library cannot be loaded.
  explicit backend(backend_options o = {}) : opts_(std::move(o)) {
    detail::autorelease_scope pool;
    device_ = detail::owned<MTL::Device>(MTL::CreateSystemDefaultDevice());
    if (!device_) throw backend_unavailable("Metal backend: no Metal device (MTLCreateSystemDefaultDevice returned nil)");
    queue_ = detail::owned<MTL::CommandQueue>(device_->newCommandQueue());
    if (!queue_) throw backend_unavailable("Metal backend: cannot create a command queue on " + device_name());
    compile_options_ = make_compile_options();
    for (const precompiled_library& p : opts_.precompiled) {
      NS::Error* err = nullptr;
      detail::owned<MTL::Library> lib(device_->newLibrary(detail::file_url(p.metallib), &err));
      if (!lib)
        throw error("Metal backend: cannot load precompiled library " + p.metallib.string() + ": " +
                    detail::describe(err));
      precompiled_.push_back({std::move(lib), p.sources});
    }
    if (!opts_.binary_archive.empty()) open_binary_archive();
  }

  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  /// Waits for pending work (errors are dropped: a destructor cannot report
  /// them; call `synchronize` first to see them) and writes the binary archive
  /// back if pipelines were added to it.
  ~backend() override {
    try {
      finish_pending();
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
    try {
      save_binary_archive();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the cache is an optimisation
    }
  }

  std::string_view name() const noexcept override { return "metal"; }
  const entry_writer& entry_points() const noexcept override { return entry_; }

  // --- buffers ----------------------------------------------------------------

  /// A shared-storage `MTLBuffer` of at least 16 bytes (Metal rejects empty
  /// buffers; the executor's placeholder for absent optional buffers is 16).
  buffer_info allocate(std::size_t bytes, dtype type) override {
    const std::size_t length = std::max<std::size_t>(bytes, 16);
    const auto limit = static_cast<std::size_t>(device_->maxBufferLength());
    if (length > limit)
      throw error("Metal backend: cannot allocate " + std::to_string(bytes) + " bytes: " + device_name() +
                  " allows buffers of at most " + std::to_string(limit) + " bytes");
    MTL::Buffer* b = device_->newBuffer(static_cast<NS::UInteger>(length), MTL::ResourceStorageModeShared);
    if (!b) throw error("Metal backend: cannot allocate " + std::to_string(bytes) + " bytes on " + device_name());
    return {b, bytes, type, this};
  }
  /// Drops the backend's reference; command buffers that still use the buffer
  /// keep it alive until they complete.
  void release(buffer_info& info) noexcept override {
    if (info.native) static_cast<MTL::Buffer*>(info.native)->release();
    info.native = nullptr;
  }
  void* host_address(const buffer_info& info) const noexcept override {
    return info.native ? static_cast<MTL::Buffer*>(info.native)->contents() : nullptr;
  }
  void upload(const buffer_info& dst, std::size_t off, const void* src, std::size_t n) override {
    check_range(dst, off, n, "upload");
    // Earlier dispatches must see the old contents and finish writing first.
    if (is_pending(pending_uses_, dst.native)) synchronize();
    std::memcpy(static_cast<unsigned char*>(host_address(dst)) + off, src, n);
  }
  void download(const buffer_info& src, std::size_t off, void* dst, std::size_t n) override {
    check_range(src, off, n, "download");
    if (is_pending(pending_writes_, src.native)) synchronize();
    std::memcpy(dst, static_cast<const unsigned char*>(host_address(src)) + off, n);
  }

  // --- compiling --------------------------------------------------------------

  /// One library and pipeline per kernel. Throws `metal_backend::compile_error`
  /// (a `foundry::compile_error`) naming the kernel, the emitted line, the
  /// stage it belongs to, and quoting it.
  std::vector<std::unique_ptr<pipeline>> compile(std::span<const compile_request> reqs) override {
    std::vector<std::unique_ptr<pipeline>> out;
    out.reserve(reqs.size());
    for (const compile_request& r : reqs) out.push_back(compile_one(r));
    return out;
  }

  // --- running ----------------------------------------------------------------

  /// Encodes one dispatch (see the file comment). `threadgroup_memory_bytes`
  /// is not needed: the Metal entry point declares its threadgroup arrays.
  void dispatch(const pipeline& p, std::span<const bound_argument> args, const dispatch_size& size,
                std::uint32_t /*threadgroup_memory_bytes*/) override {
    const auto* mp = dynamic_cast<const metal_pipeline*>(&p);
    if (!mp || mp->owner() != this)
      throw dispatch_error("kernel " + std::string(p.name()) + ": the pipeline was not compiled by this Metal backend");
    const extent3& g = size.threadgroups_per_grid;
    const extent3& t = size.threads_per_threadgroup;
    if (t.volume() > mp->max_threads_per_threadgroup())
      throw dispatch_error("kernel " + std::string(mp->name()) + ": " + std::to_string(t.volume()) +
                           " threads per threadgroup exceed this pipeline's maximum of " +
                           std::to_string(mp->max_threads_per_threadgroup()) + " on " + device_name());
    for (const bound_argument& a : args) {
      if (a.kind == arg_kind::buffer && (!a.buffer || !a.buffer->native || a.buffer->backend != this))
        throw dispatch_error("kernel " + std::string(mp->name()) + ", [[buffer(" + std::to_string(a.index) +
                             ")]]: not a buffer of this Metal backend");
      if (a.kind != arg_kind::buffer && a.size > max_set_bytes)
        throw dispatch_error("kernel " + std::string(mp->name()) + ", [[buffer(" + std::to_string(a.index) +
                             ")]]: " + std::to_string(a.size) + " bytes by value; Metal's setBytes takes at most " +
                             std::to_string(max_set_bytes));
    }

    MTL::ComputeCommandEncoder* enc = open_encoder();
    if (opts_.dispatch_encoding == encoding::concurrent_with_tracked_barriers && hazards_.next(args)) {
      enc->memoryBarrier(MTL::BarrierScopeBuffers);
      ++stats_.barriers;
    }
    enc->setComputePipelineState(mp->state());
    for (const bound_argument& a : args) {
      if (a.kind == arg_kind::buffer) {
        auto* b = static_cast<MTL::Buffer*>(a.buffer->native);
        enc->setBuffer(b, static_cast<NS::UInteger>(a.offset), a.index);
        note_pending(pending_uses_, b);
        if (a.mode != access::read) note_pending(pending_writes_, b);
      } else {
        enc->setBytes(a.bytes, a.size, a.index);
      }
    }
    enc->dispatchThreadgroups(MTL::Size(g.x, g.y, g.z), MTL::Size(t.x, t.y, t.z));
    ++stats_.dispatches;
    if (batch_kernels_.size() < max_named_kernels &&
        std::find(batch_kernels_.begin(), batch_kernels_.end(), mp->name()) == batch_kernels_.end())
      batch_kernels_.emplace_back(mp->name());
    if (opts_.max_dispatches_per_command_buffer != 0 && ++batch_dispatches_ >= opts_.max_dispatches_per_command_buffer)
      commit_open();
  }

  /// Commits the open command buffer and waits for every committed one.
  /// Throws `foundry::error` naming the kernels of a command buffer that failed.
  void synchronize() override {
    commit_open();
    std::string failure = wait_committed();
    if (!failure.empty()) throw error(failure);
  }

  // --- extras -----------------------------------------------------------------

  /// The device (not retained for the caller).
  MTL::Device* device() const noexcept { return device_.get(); }
  /// The device's name, e.g. "Apple M2".
  std::string device_name() const {
    detail::autorelease_scope pool;
    return detail::to_string(device_->name());
  }
  const backend_stats& stats() const noexcept { return stats_; }
  const backend_options& options() const noexcept { return opts_; }
  /// Why the binary archive is not in use ("" when it is, or none was asked for).
  const std::string& binary_archive_status() const noexcept { return archive_status_; }

  /// Writes the binary archive if pipelines were added to it since it was
  /// loaded or last saved (to a temporary file, then renamed over the old
  /// one). Throws `foundry::error` when it cannot be written.
  void save_binary_archive() {
    if (!archive_ || !archive_dirty_) return;
    detail::autorelease_scope pool;
    const std::filesystem::path& path = opts_.binary_archive;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    NS::Error* err = nullptr;
    if (!archive_->serializeToURL(detail::file_url(tmp), &err))
      throw error("Metal backend: cannot write the binary archive " + tmp.string() + ": " + detail::describe(err));
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw error("Metal backend: cannot replace " + path.string() + ": " + ec.message());
    archive_dirty_ = false;
  }

 private:
  static constexpr std::uint32_t max_set_bytes = 4096;  // MTLComputeCommandEncoder setBytes limit
  static constexpr std::size_t max_named_kernels = 16;  // kernels named in a command-buffer error

  struct loaded_library {
    detail::owned<MTL::Library> library;
    std::filesystem::path sources;
  };
  struct committed {
    detail::owned<MTL::CommandBuffer> buffer;
    std::vector<std::string> kernels;
  };

  detail::owned<MTL::CompileOptions> make_compile_options() const {
    detail::owned<MTL::CompileOptions> o(MTL::CompileOptions::alloc()->init());
    if (opts_.language != 0) o->setLanguageVersion(static_cast<MTL::LanguageVersion>(opts_.language));
    // `mathMode` and `mathFloatingPointFunctions` exist from macOS 15 / iOS 18
    // on; `fastMathEnabled` (deprecated there) before.
#if TARGET_OS_OSX
    const NS::OperatingSystemVersion first_with_math_mode{15, 0, 0};
#else
    const NS::OperatingSystemVersion first_with_math_mode{18, 0, 0};
#endif
    const bool has_math_mode = NS::ProcessInfo::processInfo()->isOperatingSystemAtLeastVersion(first_with_math_mode);
    if (has_math_mode) {
      switch (opts_.math) {
        case math_mode::safe:
          o->setMathMode(MTL::MathModeSafe);
          o->setMathFloatingPointFunctions(MTL::MathFloatingPointFunctionsPrecise);
          break;
        case math_mode::relaxed:
          o->setMathMode(MTL::MathModeRelaxed);
          break;
        case math_mode::fast:
          o->setMathMode(MTL::MathModeFast);
          o->setMathFloatingPointFunctions(MTL::MathFloatingPointFunctionsFast);
          break;
      }
    } else {
      o->setFastMathEnabled(opts_.math == math_mode::fast);
    }
    return o;
  }

  void open_binary_archive() {
    const std::filesystem::path& path = opts_.binary_archive;
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    detail::owned<MTL::BinaryArchiveDescriptor> desc(MTL::BinaryArchiveDescriptor::alloc()->init());
    NS::Error* err = nullptr;
    if (exists) {
      desc->setUrl(detail::file_url(path));
      archive_ = detail::owned<MTL::BinaryArchive>(device_->newBinaryArchive(desc.get(), &err));
      if (archive_) return;
      // Unreadable or made by another OS / GPU: start a new one.
      archive_status_ = "the existing archive " + path.string() + " could not be loaded (" + detail::describe(err) +
                        "); starting a new one";
      desc->setUrl(nullptr);
      err = nullptr;
    }
    archive_ = detail::owned<MTL::BinaryArchive>(device_->newBinaryArchive(desc.get(), &err));
    if (!archive_) archive_status_ = "cannot create a binary archive: " + detail::describe(err);
  }

  std::unique_ptr<pipeline> compile_one(const compile_request& r) {
    if (!r.source) throw compile_error("foundry metal: compile request for '" + std::string(r.kernel) + "' has no source",
                                       {.kernel = std::string(r.kernel)}, {});
    detail::autorelease_scope pool;
    const kernel_source& src = *r.source;
    NS::String* entry = detail::ns_string(src.entry_name);
    detail::owned<MTL::Library> library;
    detail::owned<MTL::Function> function;
    bool precompiled = false;

    for (loaded_library& l : precompiled_) {
      detail::owned<MTL::Function> f(l.library->newFunction(entry));
      if (!f) continue;
      if (!l.sources.empty()) {
        bool ok = false;
        const std::string text = detail::read_file(l.sources / (src.entry_name + ".metal"), ok);
        if (!ok || text != src.text) {
          ++stats_.precompiled_stale;
          continue;
        }
      }
      library = detail::owned<MTL::Library>::retain(l.library.get());
      function = std::move(f);
      precompiled = true;
      ++stats_.precompiled_hits;
      break;
    }

    if (!function) {
      NS::Error* err = nullptr;
      library = detail::owned<MTL::Library>(
          device_->newLibrary(detail::ns_string(src.text), compile_options_.get(), &err));
      // A library with warnings comes with an NSError too: only nil fails.
      if (!library) {
        std::string log = detail::describe(err);
        if (log.empty()) log = "newLibraryWithSource returned nil without an error";
        throw make_compile_error(r.kernel, src, std::move(log));
      }
      ++stats_.compiled_from_source;
      function = detail::owned<MTL::Function>(library->newFunction(entry));
      if (!function)
        throw compile_error("foundry metal: compiling '" + std::string(r.kernel) + "': the library has no function '" +
                                src.entry_name + "'",
                            {.kernel = std::string(r.kernel)}, {});
    }

    detail::owned<MTL::ComputePipelineState> state = make_pipeline_state(r.kernel, function.get());
    auto p = std::make_unique<metal_pipeline>(this, std::move(library), std::move(function), std::move(state),
                                              std::string(r.kernel), precompiled);
    if (p->simd_width() != simdgroup_width && !opts_.allow_other_simd_widths)
      throw compile_error("foundry metal: kernel '" + std::string(r.kernel) + "': " + device_name() +
                              " runs it with a SIMD-group width of " + std::to_string(p->simd_width()) +
                              "; Foundry's SIMD-group functions assume " + std::to_string(simdgroup_width) +
                              " (set backend_options::allow_other_simd_widths for kernels without them)",
                          {.kernel = std::string(r.kernel)}, {});
    return p;
  }

  detail::owned<MTL::ComputePipelineState> make_pipeline_state(std::string_view kernel, MTL::Function* function) {
    NS::Error* err = nullptr;
    detail::owned<MTL::ComputePipelineState> state;
    if (archive_) {
      detail::owned<MTL::ComputePipelineDescriptor> desc(MTL::ComputePipelineDescriptor::alloc()->init());
      desc->setComputeFunction(function);
      const NS::Object* archives[] = {archive_.get()};
      desc->setBinaryArchives(NS::Array::array(archives, 1));
      // A hit needs no back-end compilation; on a miss compile and remember.
      state = detail::owned<MTL::ComputePipelineState>(
          device_->newComputePipelineState(desc.get(), MTL::PipelineOptionFailOnBinaryArchiveMiss, nullptr, &err));
      if (state) {
        ++stats_.archive_hits;
        return state;
      }
      err = nullptr;
      state = detail::owned<MTL::ComputePipelineState>(
          device_->newComputePipelineState(desc.get(), MTL::PipelineOptionNone, nullptr, &err));
      if (state) {
        ++stats_.archive_misses;
        NS::Error* add_err = nullptr;
        if (archive_->addComputePipelineFunctions(desc.get(), &add_err))
          archive_dirty_ = true;
        else
          archive_status_ = "adding '" + std::string(kernel) + "' to the binary archive failed: " +
                            detail::describe(add_err);
      }
    } else {
      state = detail::owned<MTL::ComputePipelineState>(device_->newComputePipelineState(function, &err));
    }
    if (!state)
      throw compile_error("foundry metal: creating the compute pipeline of '" + std::string(kernel) +
                              "' failed: " + detail::describe(err),
                          {.kernel = std::string(kernel), .message = detail::describe(err)}, detail::describe(err));
    return state;
  }

  MTL::ComputeCommandEncoder* open_encoder() {
    if (encoder_) return encoder_.get();
    detail::autorelease_scope pool;
    command_buffer_ = detail::owned<MTL::CommandBuffer>::retain(queue_->commandBuffer());
    if (!command_buffer_) throw error("Metal backend: cannot create a command buffer on " + device_name());
    MTL::ComputeCommandEncoder* enc = opts_.dispatch_encoding == encoding::serial
                                          ? command_buffer_->computeCommandEncoder(MTL::DispatchTypeSerial)
                                          : command_buffer_->computeCommandEncoder(MTL::DispatchTypeConcurrent);
    encoder_ = detail::owned<MTL::ComputeCommandEncoder>::retain(enc);
    if (!encoder_) {
      command_buffer_.reset();
      throw error("Metal backend: cannot create a compute command encoder on " + device_name());
    }
    hazards_.reset();
    batch_dispatches_ = 0;
    return encoder_.get();
  }

  /// Ends the open encoder and commits its command buffer (no wait).
  void commit_open() {
    if (!encoder_) return;
    encoder_->endEncoding();
    encoder_.reset();
    command_buffer_->commit();
    ++stats_.command_buffers;
    committed_.push_back({std::move(command_buffer_), std::move(batch_kernels_)});
    batch_kernels_.clear();
  }

  /// Waits for every committed command buffer; returns a description of the
  /// first failure ("" if none). Pending-buffer sets are cleared.
  std::string wait_committed() {
    std::string failure;
    for (committed& c : committed_) {
      c.buffer->waitUntilCompleted();
      if (failure.empty() && c.buffer->status() == MTL::CommandBufferStatusError) {
        detail::autorelease_scope pool;
        failure = "Metal backend: a command buffer failed on " + device_name() + " (kernels:";
        for (const std::string& k : c.kernels) failure += " " + k;
        if (c.kernels.size() >= max_named_kernels) failure += " ...";
        failure += "): " + detail::describe(c.buffer->error());
      }
    }
    committed_.clear();
    pending_uses_.clear();
    pending_writes_.clear();
    return failure;
  }

  void finish_pending() {
    commit_open();
    (void)wait_committed();
  }

  static bool is_pending(const std::vector<const void*>& v, const void* b) noexcept {
    return std::find(v.begin(), v.end(), b) != v.end();
  }
  static void note_pending(std::vector<const void*>& v, const void* b) {
    if (!is_pending(v, b)) v.push_back(b);
  }
  void check_range(const buffer_info& b, std::size_t off, std::size_t n, const char* what) const {
    if (!b.native || b.backend != this)
      throw binding_error(std::string("Metal backend: ") + what + " on a buffer of another backend");
    if (off > b.bytes || n > b.bytes - off)
      throw binding_error(std::string("Metal backend: ") + what + " of " + std::to_string(n) + " bytes at offset " +
                          std::to_string(off) + " exceeds the buffer's " + std::to_string(b.bytes) + " bytes");
  }

  backend_options opts_;
  metal_entry entry_;
  detail::owned<MTL::Device> device_;
  detail::owned<MTL::CommandQueue> queue_;
  detail::owned<MTL::CompileOptions> compile_options_;
  std::vector<loaded_library> precompiled_;
  detail::owned<MTL::BinaryArchive> archive_;
  bool archive_dirty_ = false;
  std::string archive_status_;

  detail::owned<MTL::CommandBuffer> command_buffer_;  // open, not committed
  detail::owned<MTL::ComputeCommandEncoder> encoder_;
  hazard_tracker hazards_;
  std::uint32_t batch_dispatches_ = 0;
  std::vector<std::string> batch_kernels_;
  std::vector<committed> committed_;           // committed, not yet waited for
  std::vector<const void*> pending_uses_;      // buffers bound since the last wait
  std::vector<const void*> pending_writes_;    // ... of those, written
  backend_stats stats_;
};

/// A Metal backend for `foundry::executor`. Throws `backend_unavailable`
/// when the machine has no Metal device.
inline std::unique_ptr<foundry::backend> make_backend(backend_options o = {}) {
  return std::make_unique<backend>(std::move(o));
}

}  // namespace foundry::metal_backend
