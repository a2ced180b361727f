#pragma once
/// @file backend.hpp
/// The CUDA backend behind the runtime interface: device buffers
/// (cuMemAlloc), NVRTC for compiling (nvrtc.hpp), launches on one stream,
/// and CUDA graph capture of a sequence of dispatches.
///
///   foundry::executor ex{foundry::cuda::make_backend()};
///   auto& cuda = static_cast<foundry::cuda::cuda_backend&>(ex.get_backend());
///   cuda.begin_capture();
///   ex.dispatch<rmsnorm_gemv_f16>(a);  // recorded, not run
///   ex.dispatch<gemv_f16>(b);
///   foundry::cuda::graph g = cuda.end_capture();
///   cuda.replay(g);                     // runs both; as often as needed
///   ex.synchronize();
///
/// Entry-point ABI (docs/cuda-backend.md): the kernel is
/// `extern "C" __global__ void <name>(...)` with one parameter per binding
/// plan row, in plan order: a buffer is its device pointer (base + offset);
/// a `scalar<T>` is a by-value `T`; a `params<P>` is a by-value `P` whose
/// address the entry passes to the body. `cuLaunchKernel`'s kernelParams
/// hold one pointer per parameter: to the device pointer, or to the value
/// itself (the bytes the binder already points at), so binding copies
/// nothing and no argument buffer is allocated. Threadgroup memory is
/// static `__shared__` arrays in the entry, so no dynamic shared memory is
/// requested.
///
/// The backend uses the device's primary context (shared with the CUDA
/// runtime and libraries such as cuBLAS in the same process) and one
/// non-blocking stream. `dispatch` returns at once; `synchronize`,
/// `upload` and `download` wait for the stream. Errors from a kernel that
/// faulted surface at the next wait, naming the kernels dispatched since
/// the previous one.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "foundry/backends/cuda/api.hpp"
#include "foundry/backends/cuda/entry.hpp"
#include "foundry/backends/cuda/nvrtc.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/source.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry::cuda {

/// Options of the CUDA backend.
struct backend_options {
  /// Device ordinal.
  int device = 0;
  /// Compilation settings; `compile.arch` is replaced by the device's
  /// compute capability (90 on an H100).
  compile_options compile;
  /// Programmatic dependent launch (sm_90 and later, CUDA 12 drivers): each
  /// kernel whose entry point waits for its dependencies (cuda_entry) is
  /// launched with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, so
  /// it is launched while the previous kernel still runs and starts the
  /// moment that one completes; also inside captured graphs (programmatic
  /// edges). Results are the same either way; off launches each kernel only
  /// after the previous one completed. The environment variable
  /// FOUNDRY_CUDA_PROGRAMMATIC_LAUNCH=0 turns it off for a process.
  bool programmatic_dependent_launch = default_programmatic_dependent_launch();

  /// Weight prefetch before the dependency wait: the entry points of
  /// kernels whose stages have a prefetch snippet (dsl/stage.hpp; the GEMV
  /// stages ask for their rows' weight bytes) run it before they wait for
  /// the previous kernel, so with programmatic dependent launch the
  /// weights move from HBM into L2 while that kernel still runs. Results
  /// are the same either way. FOUNDRY_CUDA_L2_PREFETCH=0 turns it off for
  /// a process.
  bool l2_prefetch = env_flag("FOUNDRY_CUDA_L2_PREFETCH");

  /// True unless FOUNDRY_CUDA_PROGRAMMATIC_LAUNCH is "0".
  static bool default_programmatic_dependent_launch() noexcept {
    return env_flag("FOUNDRY_CUDA_PROGRAMMATIC_LAUNCH");
  }
  /// True unless the environment variable `name` is "0".
  static bool env_flag(const char* name) noexcept {
    const char* v = std::getenv(name);
    return v == nullptr || std::string_view(v) != "0";
  }
};

/// A loaded module (one kernel's cubin), unloaded with the last reference.
class module_handle {
 public:
  module_handle(api::CUmodule m, api::CUcontext ctx) : module_(m), ctx_(ctx) {}
  module_handle(const module_handle&) = delete;
  module_handle& operator=(const module_handle&) = delete;
  ~module_handle() {
    const driver_api& d = driver();
    api::CUcontext previous = nullptr;
    d.ctx_get_current(&previous);
    d.ctx_set_current(ctx_);
    d.module_unload(module_);
    d.ctx_set_current(previous);
  }
  api::CUmodule get() const noexcept { return module_; }

 private:
  api::CUmodule module_;
  api::CUcontext ctx_;
};

/// A compiled kernel: its module and `CUfunction`.
class cuda_pipeline final : public pipeline {
 public:
  cuda_pipeline(std::shared_ptr<const module_handle> m, api::CUfunction f, std::string name, int registers,
                bool waits_for_dependencies)
      : module_(std::move(m)), function_(f), name_(std::move(name)), registers_(registers),
        waits_(waits_for_dependencies) {}
  std::string_view name() const noexcept override { return name_; }
  api::CUfunction function() const noexcept { return function_; }
  /// Registers per thread (cuFuncGetAttribute), for reports.
  int registers() const noexcept { return registers_; }
  /// Whether the entry point waits for the grids it depends on
  /// (cuda_entry::grid_dependency_call), so it may be launched early.
  bool waits_for_dependencies() const noexcept { return waits_; }

 private:
  std::shared_ptr<const module_handle> module_;
  api::CUfunction function_;
  std::string name_;
  int registers_;
  bool waits_;
};

class cuda_backend;

/// An instantiated CUDA graph of captured dispatches (move only). Replay it
/// with `cuda_backend::replay`; it keeps the argument values it was captured
/// with (buffer addresses, scalars), so replays see new buffer contents but
/// not new argument values.
class graph {
 public:
  graph() = default;
  graph(graph&& o) noexcept : graph_(std::exchange(o.graph_, nullptr)), exec_(std::exchange(o.exec_, nullptr)),
                              owner_(std::exchange(o.owner_, nullptr)), dispatches_(o.dispatches_) {}
  graph& operator=(graph&& o) noexcept {
    if (this != &o) {
      reset();
      graph_ = std::exchange(o.graph_, nullptr);
      exec_ = std::exchange(o.exec_, nullptr);
      owner_ = std::exchange(o.owner_, nullptr);
      dispatches_ = o.dispatches_;
    }
    return *this;
  }
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;
  ~graph() { reset(); }

  explicit operator bool() const noexcept { return exec_ != nullptr; }
  /// Dispatches captured.
  std::size_t dispatches() const noexcept { return dispatches_; }
  api::CUgraphExec native() const noexcept { return exec_; }

 private:
  friend class cuda_backend;
  graph(api::CUgraph g, api::CUgraphExec e, const cuda_backend* owner, std::size_t n)
      : graph_(g), exec_(e), owner_(owner), dispatches_(n) {}
  void reset() noexcept {
    if (exec_ == nullptr && graph_ == nullptr) return;
    try {
      const driver_api& d = driver();
      if (exec_) d.graph_exec_destroy(exec_);
      if (graph_) d.graph_destroy(graph_);
    } catch (...) {
    }
    exec_ = nullptr;
    graph_ = nullptr;
  }
  api::CUgraph graph_ = nullptr;
  api::CUgraphExec exec_ = nullptr;
  const cuda_backend* owner_ = nullptr;
  std::size_t dispatches_ = 0;
};

/// The host end of an asynchronous read-back (move only): `capacity()`
/// bytes of page-locked host memory (cuMemHostAlloc, so the device-to-host
/// copy runs without the host) and an event (timing off) recorded behind the
/// copy. `cuda_backend::read_back` enqueues a copy into it and returns at
/// once; `cuda_backend::wait` blocks until that copy has arrived. This is how
/// a result (a decode step's token id) is read while the work queued after
/// it (the next step) keeps the device busy. Made by
/// `cuda_backend::make_host_readback`; must not outlive that backend.
class host_readback {
 public:
  host_readback() = default;
  host_readback(host_readback&& o) noexcept
      : host_(std::exchange(o.host_, nullptr)), event_(std::exchange(o.event_, nullptr)),
        capacity_(std::exchange(o.capacity_, 0)), size_(std::exchange(o.size_, 0)),
        in_flight_(std::exchange(o.in_flight_, false)) {}
  host_readback& operator=(host_readback&& o) noexcept {
    if (this != &o) {
      reset();
      host_ = std::exchange(o.host_, nullptr);
      event_ = std::exchange(o.event_, nullptr);
      capacity_ = std::exchange(o.capacity_, 0);
      size_ = std::exchange(o.size_, 0);
      in_flight_ = std::exchange(o.in_flight_, false);
    }
    return *this;
  }
  host_readback(const host_readback&) = delete;
  host_readback& operator=(const host_readback&) = delete;
  ~host_readback() { reset(); }

  explicit operator bool() const noexcept { return host_ != nullptr; }
  /// Bytes the host memory holds.
  std::size_t capacity() const noexcept { return capacity_; }
  /// Whether a read-back was enqueued and not yet waited for.
  bool in_flight() const noexcept { return in_flight_; }

 private:
  friend class cuda_backend;
  host_readback(void* host, api::CUevent e, std::size_t bytes) : host_(host), event_(e), capacity_(bytes) {}
  void reset() noexcept {
    if (host_ == nullptr && event_ == nullptr) return;
    try {
      const driver_api& d = driver();
      if (event_) {
        d.event_synchronize(event_);  // a copy may still be writing host_
        d.event_destroy(event_);
      }
      if (host_) d.mem_free_host(host_);
    } catch (...) {
    }
    host_ = nullptr;
    event_ = nullptr;
  }
  void* host_ = nullptr;
  api::CUevent event_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;  // bytes of the last read-back
  bool in_flight_ = false;
};

/// See the file comment.
class cuda_backend final : public backend {
 public:
  /// Opens device `o.device`. Throws `backend_unavailable` when the driver,
  /// NVRTC or the device is missing, `driver_error` when a call fails.
  explicit cuda_backend(backend_options o = {}) : opts_(std::move(o)), entry_(opts_.l2_prefetch), d_(driver()) {
    (void)nvrtc();  // fail now, with the reason, rather than at the first compile
    int count = 0;
    d_.check(d_.device_get_count(&count), "cuDeviceGetCount");
    if (opts_.device < 0 || opts_.device >= count)
      throw backend_unavailable("foundry cuda: no CUDA device " + std::to_string(opts_.device) + " (" +
                                std::to_string(count) + " present)");
    d_.check(d_.device_get(&device_, opts_.device), "cuDeviceGet");
    int major = 0, minor = 0;
    d_.check(d_.device_get_attribute(&major, api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_),
             "cuDeviceGetAttribute");
    d_.check(d_.device_get_attribute(&minor, api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_),
             "cuDeviceGetAttribute");
    opts_.compile.arch = major * 10 + minor;
    char name[256] = {};
    d_.check(d_.device_get_name(name, sizeof name - 1, device_), "cuDeviceGetName");
    device_name_ = name;
    d_.check(d_.device_primary_ctx_retain(&ctx_, device_), "cuDevicePrimaryCtxRetain");
    make_current();
    d_.check(d_.stream_create(&stream_, api::CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  cuda_backend(const cuda_backend&) = delete;
  cuda_backend& operator=(const cuda_backend&) = delete;
  ~cuda_backend() override {
    d_.ctx_set_current(ctx_);
    if (capturing_) {
      api::CUgraph g = nullptr;
      if (d_.stream_end_capture(stream_, &g) == api::CUDA_SUCCESS && g) d_.graph_destroy(g);
    }
    d_.stream_synchronize(stream_);
    modules_.clear();
    d_.stream_destroy(stream_);
    d_.device_primary_ctx_release(device_);
  }

  std::string_view name() const noexcept override { return "cuda"; }
  const entry_writer& entry_points() const noexcept override { return entry_; }

  /// Device memory (cuMemAlloc: 256-byte aligned).
  buffer_info allocate(std::size_t bytes, dtype type) override {
    make_current();
    api::CUdeviceptr p = 0;
    const api::CUresult r = d_.mem_alloc(&p, std::max<std::size_t>(bytes, 1));
    if (r != api::CUDA_SUCCESS)
      throw error("foundry cuda: cuMemAlloc of " + std::to_string(bytes) + " bytes failed: " + d_.describe(r));
    return {reinterpret_cast<void*>(static_cast<std::uintptr_t>(p)), bytes, type, this};
  }
  void release(buffer_info& info) noexcept override {
    if (info.native == nullptr) return;
    d_.ctx_set_current(ctx_);
    current_ = id_;
    // Work still queued may use the buffer.
    if (!capturing_ && pending_) d_.stream_synchronize(stream_);
    d_.mem_free(device_pointer(info));
    info.native = nullptr;
  }
  /// Device memory is not host-visible.
  void* host_address(const buffer_info&) const noexcept override { return nullptr; }
  void upload(const buffer_info& dst, std::size_t off, const void* src, std::size_t n) override {
    if (n == 0) return;
    check_not_capturing("upload");
    make_current();
    d_.check(d_.memcpy_htod_async(device_pointer(dst) + off, src, n, stream_), "cuMemcpyHtoDAsync");
    wait("upload");
  }
  void download(const buffer_info& src, std::size_t off, void* dst, std::size_t n) override {
    if (n == 0) return;
    check_not_capturing("download");
    make_current();
    d_.check(d_.memcpy_dtoh_async(dst, device_pointer(src) + off, n, stream_), "cuMemcpyDtoHAsync");
    wait("download");
  }

  // --- asynchronous read-back into host memory --------------------------------

  /// Page-locked host memory of `bytes` bytes and its event, for
  /// `read_back`. Throws `driver_error` when the allocation fails.
  host_readback make_host_readback(std::size_t bytes) {
    make_current();
    void* host = nullptr;
    d_.check(d_.mem_host_alloc(&host, std::max<std::size_t>(bytes, 1), 0), "cuMemHostAlloc",
             std::to_string(bytes) + " bytes");
    api::CUevent e = nullptr;
    if (const api::CUresult r = d_.event_create(&e, api::CU_EVENT_DISABLE_TIMING); r != api::CUDA_SUCCESS) {
      d_.mem_free_host(host);
      d_.check(r, "cuEventCreate");
    }
    return host_readback(host, e, bytes);
  }
  /// Enqueues a copy of bytes [off, off + n) of `src` into `dst`, behind the
  /// work queued so far, and returns at once; `wait(dst)` returns the bytes.
  /// Work queued after it may overwrite `src` without affecting the copy.
  /// Throws `error` while capturing, when `dst` is empty, when n exceeds its
  /// capacity or the range exceeds `src`, or when `dst` holds a read-back
  /// not waited for (its bytes would be overwritten unseen).
  void read_back(const buffer_info& src, std::size_t off, std::size_t n, host_readback& dst) {
    check_not_capturing("read_back");
    if (!dst) throw error("foundry cuda: read_back into an empty host_readback");
    if (n > dst.capacity_ || off > src.bytes || n > src.bytes - off)
      throw error("foundry cuda: read_back of bytes [" + std::to_string(off) + ", " + std::to_string(off + n) +
                  ") of a " + std::to_string(src.bytes) + "-byte buffer into " + std::to_string(dst.capacity_) +
                  " bytes of host memory");
    if (dst.in_flight_)
      throw error("foundry cuda: read_back into a host_readback whose last read-back was not waited for");
    make_current();
    d_.check(d_.memcpy_dtoh_async(dst.host_, device_pointer(src) + off, n, stream_), "cuMemcpyDtoHAsync");
    d_.check(d_.event_record(dst.event_, stream_), "cuEventRecord");
    dst.size_ = n;
    dst.in_flight_ = true;
    pending_ = true;
  }
  /// Waits until the read-back enqueued into `dst` has arrived (the work
  /// queued before it is done; work queued after it may still run) and
  /// returns its bytes, valid until the next read_back into `dst`. Throws
  /// `error` when none is in flight, `driver_error` naming the kernels run
  /// since the last wait when a kernel before it faulted.
  std::span<const std::byte> wait(host_readback& dst) {
    if (!dst.in_flight_) throw error("foundry cuda: wait for a host_readback with no read-back in flight");
    make_current();
    dst.in_flight_ = false;
    const api::CUresult r = d_.event_synchronize(dst.event_);
    if (r != api::CUDA_SUCCESS) throw fault("read-back", "cuEventSynchronize", r);
    return {static_cast<const std::byte*>(dst.host_), dst.size_};
  }

  /// NVRTC for this device's architecture, kernels compiled in parallel
  /// (nvrtc.hpp), then each cubin loaded as its own module.
  std::vector<std::unique_ptr<pipeline>> compile(std::span<const compile_request> reqs) override {
    std::vector<compile_input> inputs;
    inputs.reserve(reqs.size());
    for (const compile_request& r : reqs) {
      const std::string& e = r.source->entry_name;
      if (r.source->text.find("extern \"C\" __global__ void " + e + "(") == std::string::npos)
        throw error("foundry cuda: the source of kernel '" + std::string(r.kernel) +
                    "' has no CUDA entry point `extern \"C\" __global__ void " + e +
                    "(...)`: it was emitted for another target (compile kernel_source_of<K, cuda::cuda_entry>(), "
                    "or a source whose entry point cuda_entry wrote)");
      inputs.push_back({r.source, r.kernel});
    }
    const auto images = cuda::compile(inputs, opts_.compile);
    make_current();
    std::vector<std::unique_ptr<pipeline>> out;
    out.reserve(reqs.size());
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const compiled_kernel& k = *images[i];
      const std::string kernel(reqs[i].kernel);
      std::shared_ptr<const module_handle>& m = modules_[k.key];
      if (!m) {
        api::CUmodule mod = nullptr;
        d_.check(d_.module_load_data(&mod, k.image.data()), "cuModuleLoadData", "kernel " + kernel);
        m = std::make_shared<const module_handle>(mod, ctx_);
      }
      api::CUfunction f = nullptr;
      d_.check(d_.module_get_function(&f, m->get(), reqs[i].source->entry_name.c_str()), "cuModuleGetFunction",
               "kernel " + kernel + ", entry point " + reqs[i].source->entry_name);
      int regs = 0;
      d_.func_get_attribute(&regs, api::CU_FUNC_ATTRIBUTE_NUM_REGS, f);
      const bool waits = reqs[i].source->text.find(cuda_entry::grid_dependency_call) != std::string::npos;
      out.push_back(std::make_unique<cuda_pipeline>(m, f, kernel, regs, waits));
    }
    return out;
  }

  void dispatch(const pipeline& p, std::span<const bound_argument> args, const dispatch_size& size,
                std::uint32_t threadgroup_memory_bytes) override {
    (void)threadgroup_memory_bytes;  // static __shared__ arrays in the entry point
    const auto& cp = static_cast<const cuda_pipeline&>(p);
    make_current();
    pointers_.resize(args.size());
    params_.resize(args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
      const bound_argument& a = args[i];
      if (a.kind == arg_kind::buffer) {
        pointers_[i] = device_pointer(*a.buffer) + a.offset;
        params_[i] = &pointers_[i];
      } else {
        params_[i] = const_cast<void*>(a.bytes);  // read by cuLaunchKernel, never written
      }
    }
    const extent3& g = size.threadgroups_per_grid;
    const extent3& t = size.threads_per_threadgroup;
    const api::CUresult r = launch(cp, g, t);
    if (r != api::CUDA_SUCCESS)
      throw dispatch_error("kernel " + std::string(cp.name()) + ": " +
                           (programmatic(cp) ? "cuLaunchKernelEx" : "cuLaunchKernel") + " failed: " + d_.describe(r) +
                           " (grid " + std::to_string(g.x) + "x" + std::to_string(g.y) + "x" + std::to_string(g.z) +
                           " threadgroups of " + std::to_string(t.x) + "x" + std::to_string(t.y) + "x" +
                           std::to_string(t.z) + " threads)");
    pending_ = true;
    if (capturing_) {
      ++captured_;
    } else if (recent_.size() < 16 &&
               std::find(recent_.begin(), recent_.end(), cp.name()) == recent_.end()) {
      recent_.push_back(std::string(cp.name()));
    }
  }

  /// cuStreamSynchronize. A fault in a kernel is reported here.
  void synchronize() override {
    check_not_capturing("synchronize");
    make_current();
    wait("synchronize");
  }

  // --- CUDA graphs -----------------------------------------------------------

  /// Starts recording: dispatches until `end_capture` are captured into a
  /// graph instead of running. Compile the kernels first (`prepare`); while
  /// capturing, upload/download/synchronize throw.
  void begin_capture() {
    if (capturing_) throw error("foundry cuda: begin_capture while already capturing");
    make_current();
    d_.check(d_.stream_begin_capture(stream_, api::CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
    capturing_ = true;
    captured_ = 0;
  }
  /// Ends recording and instantiates the graph.
  graph end_capture() {
    if (!capturing_) throw error("foundry cuda: end_capture without begin_capture");
    make_current();
    capturing_ = false;
    api::CUgraph g = nullptr;
    d_.check(d_.stream_end_capture(stream_, &g), "cuStreamEndCapture");
    api::CUgraphExec e = nullptr;
    const api::CUresult r = d_.graph_instantiate(&e, g, 0);
    if (r != api::CUDA_SUCCESS) {
      d_.graph_destroy(g);
      d_.check(r, "cuGraphInstantiateWithFlags");
    }
    return graph(g, e, this, captured_);
  }
  /// Ends recording into `g`: when `g` holds a graph of this backend, its
  /// executable graph is updated in place with the new recording
  /// (cuGraphExecUpdate: the same kernels in the same order with new
  /// arguments costs a fraction of an instantiation); otherwise, or when the
  /// update is refused (another topology), a new graph is instantiated.
  /// This is how a sequence whose scalars change every time (a decode step's
  /// position) is replayed as one graph.
  void end_capture_into(graph& g) {
    if (!capturing_) throw error("foundry cuda: end_capture_into without begin_capture");
    if (!g || g.owner_ != this) {
      g = end_capture();
      return;
    }
    make_current();
    capturing_ = false;
    api::CUgraph fresh = nullptr;
    d_.check(d_.stream_end_capture(stream_, &fresh), "cuStreamEndCapture");
    api::CUgraphExecUpdateResultInfo info{};
    const api::CUresult r = d_.graph_exec_update(g.exec_, fresh, &info);
    if (r == api::CUDA_SUCCESS) {
      d_.graph_destroy(fresh);
      g.dispatches_ = captured_;
      return;
    }
    // Refused (a different topology): instantiate the new recording.
    api::CUgraphExec e = nullptr;
    const api::CUresult ri = d_.graph_instantiate(&e, fresh, 0);
    if (ri != api::CUDA_SUCCESS) {
      d_.graph_destroy(fresh);
      d_.check(ri, "cuGraphInstantiateWithFlags");
    }
    g = graph(fresh, e, this, captured_);
  }
  /// Runs a captured graph on the backend's stream (asynchronously, like
  /// `dispatch`).
  void replay(const graph& g) {
    if (!g) throw error("foundry cuda: replay of an empty graph");
    if (g.owner_ != this) throw error("foundry cuda: replay of a graph captured on another backend");
    make_current();
    d_.check(d_.graph_launch(g.native(), stream_), "cuGraphLaunch");
    pending_ = true;
    if (recent_.size() < 16) recent_.push_back("graph of " + std::to_string(g.dispatches()) + " dispatches");
  }
  bool capturing() const noexcept { return capturing_; }

  // --- native handles, for benchmarks and interop ------------------------------

  const driver_api& driver_table() const noexcept { return d_; }
  api::CUcontext context() const noexcept { return ctx_; }
  api::CUstream stream() const noexcept { return stream_; }
  api::CUdevice device() const noexcept { return device_; }
  const std::string& device_name() const noexcept { return device_name_; }
  /// Compute capability as a number (90 for sm_90).
  int arch() const noexcept { return opts_.compile.arch; }
  const compile_options& options() const noexcept { return opts_.compile; }
  /// The device address of a buffer of this backend.
  static api::CUdeviceptr device_pointer(const buffer_info& b) noexcept {
    return static_cast<api::CUdeviceptr>(reinterpret_cast<std::uintptr_t>(b.native));
  }
  /// Whether dispatches use programmatic dependent launch (see
  /// backend_options::programmatic_dependent_launch): asked, sm_90 or
  /// later, and a driver with cuLaunchKernelEx.
  bool programmatic_dependent_launch() const noexcept {
    return opts_.programmatic_dependent_launch && opts_.compile.arch >= 90 && d_.launch_kernel_ex != nullptr;
  }
  /// Makes the backend's context current on the calling thread (remembered
  /// per thread, so a dispatch costs no driver call for it; code that
  /// switches contexts itself on the thread must call this again).
  void make_current() {
    if (current_ == id_) return;
    d_.check(d_.ctx_set_current(ctx_), "cuCtxSetCurrent");
    current_ = id_;
  }

 private:
  bool programmatic(const cuda_pipeline& p) const noexcept {
    return p.waits_for_dependencies() && programmatic_dependent_launch();
  }
  api::CUresult launch(const cuda_pipeline& p, const extent3& g, const extent3& t) {
    if (!programmatic(p))
      return d_.launch_kernel(p.function(), g.x, g.y, g.z, t.x, t.y, t.z, 0, stream_, params_.data(), nullptr);
    api::CUlaunchAttribute attribute{};
    attribute.id = api::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attribute.value.programmaticStreamSerializationAllowed = 1;
    api::CUlaunchConfig config{g.x, g.y, g.z, t.x, t.y, t.z, 0, stream_, &attribute, 1};
    return d_.launch_kernel_ex(&config, p.function(), params_.data(), nullptr);
  }
  void check_not_capturing(const char* what) const {
    if (capturing_)
      throw error(std::string("foundry cuda: ") + what + " while capturing a graph (end_capture first)");
  }
  void wait(const char* what) {
    const api::CUresult r = d_.stream_synchronize(stream_);
    if (r != api::CUDA_SUCCESS) {
      driver_error e = fault(what, "cuStreamSynchronize", r);
      recent_.clear();
      pending_ = false;
      throw e;
    }
    recent_.clear();
    pending_ = false;
  }
  // The error of a wait (`function` failed with `r`), naming the kernels
  // dispatched since the last stream wait: a fault surfaces there.
  driver_error fault(const char* what, const char* function, api::CUresult r) const {
    std::string kernels;
    for (const auto& k : recent_) kernels += (kernels.empty() ? "" : ", ") + k;
    return driver_error("foundry cuda: " + std::string(what) + ": " + function + " failed: " + d_.describe(r) +
                            (kernels.empty() ? std::string() : "; kernels run since the last wait: " + kernels),
                        r);
  }

  backend_options opts_;
  cuda_entry entry_;
  const driver_api& d_;
  api::CUdevice device_ = 0;
  api::CUcontext ctx_ = nullptr;
  api::CUstream stream_ = nullptr;
  std::string device_name_;
  std::unordered_map<std::string, std::shared_ptr<const module_handle>> modules_;
  std::vector<api::CUdeviceptr> pointers_;
  std::vector<void*> params_;
  std::vector<std::string> recent_;
  bool pending_ = false;
  bool capturing_ = false;
  std::size_t captured_ = 0;
  // Which backend made its context current on this thread last (backend
  // ids, not context handles: a released primary context's handle can come
  // back for a new one).
  static inline std::atomic<std::uint64_t> next_id_{1};
  const std::uint64_t id_ = next_id_.fetch_add(1);
  static inline thread_local std::uint64_t current_ = 0;
};

/// A CUDA backend for `foundry::executor`. Throws `backend_unavailable`
/// (with the reason) when there is no driver, NVRTC or device.
inline std::unique_ptr<backend> make_backend(backend_options o = {}) {
  return std::make_unique<cuda_backend>(std::move(o));
}

}  // namespace foundry::cuda
