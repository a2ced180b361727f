#pragma once
/// @file backend.hpp
/// The CPU backend behind the runtime interface: host-memory buffers, the
/// JIT (jit.hpp) for compiling, the fiber scheduler (dispatch.hpp) for
/// running. Dispatches run synchronously: `dispatch` returns when the grid
/// is done, so `synchronize` has nothing to wait for.
///
///   foundry::executor ex{foundry::cpu::make_backend()};

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "foundry/backends/cpu/dispatch.hpp"
#include "foundry/backends/cpu/entry.hpp"
#include "foundry/backends/cpu/host_compiler.hpp"
#include "foundry/backends/cpu/jit.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/source.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry::cpu {

/// A compiled kernel: its module (kept loaded) and entry point.
class cpu_pipeline final : public pipeline {
 public:
  cpu_pipeline(std::shared_ptr<const module> m, foundry_cpu_entry_fn entry, foundry_cpu_lanes_fn lanes,
               std::uint32_t lanes_stride, std::string name)
      : module_(std::move(m)), entry_(entry), lanes_(lanes), lanes_stride_(lanes_stride), name_(std::move(name)) {}
  std::string_view name() const noexcept override { return name_; }
  foundry_cpu_entry_fn entry() const noexcept { return entry_; }
  /// The lane-loop entry (dsl/lane_loop.hpp), or null for kernels that run
  /// one fiber per thread.
  foundry_cpu_lanes_fn lanes() const noexcept { return lanes_; }
  /// Which threads the lane-loop entry reads (abi.h: 1, or 32 for lane 0 of
  /// each SIMD-group).
  std::uint32_t lanes_stride() const noexcept { return lanes_stride_; }

 private:
  std::shared_ptr<const module> module_;
  foundry_cpu_entry_fn entry_;
  foundry_cpu_lanes_fn lanes_;
  std::uint32_t lanes_stride_;
  std::string name_;
};

/// Options of the CPU backend.
struct backend_options {
  /// JIT settings (compiler, cache folder, checked mode, extra flags).
  jit_options jit;
};

/// See the file comment.
class cpu_backend final : public backend {
 public:
  /// Checks the host compiler once (host_compiler.hpp).
  /// @throws unsupported_compiler if it cannot build CPU kernels.
  explicit cpu_backend(backend_options o = {}) : opts_(std::move(o)) { check_host_compiler(opts_.jit); }

  std::string_view name() const noexcept override { return "cpu"; }
  const entry_writer& entry_points() const noexcept override { return entry_; }

  /// Host memory, 64-byte aligned (cache lines; enough for every Metal type).
  buffer_info allocate(std::size_t bytes, dtype type) override {
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p) throw error("cpu backend: cannot allocate " + std::to_string(bytes) + " bytes");
    return {p, bytes, type, this};
  }
  void release(buffer_info& info) noexcept override {
    std::free(info.native);
    info.native = nullptr;
  }
  void* host_address(const buffer_info& info) const noexcept override { return info.native; }
  void upload(const buffer_info& dst, std::size_t off, const void* src, std::size_t n) override {
    std::memcpy(static_cast<unsigned char*>(dst.native) + off, src, n);
  }
  void download(const buffer_info& src, std::size_t off, void* dst, std::size_t n) override {
    std::memcpy(dst, static_cast<const unsigned char*>(src.native) + off, n);
  }

  /// All kernels in one compiler invocation (one shared object).
  std::vector<std::unique_ptr<pipeline>> compile(std::span<const compile_request> reqs) override {
    std::vector<kernel_source> sources;
    sources.reserve(reqs.size());
    for (const compile_request& r : reqs)
      sources.push_back({std::string(r.kernel), r.source->text, region_map(r.source->regions)});
    std::shared_ptr<const module> m = prepare(sources, opts_.jit);
    std::vector<std::unique_ptr<pipeline>> out;
    for (const compile_request& r : reqs) {
      const auto* stride = static_cast<const std::uint32_t*>(m->symbol(r.source->entry_name + "_lanes_stride"));
      out.push_back(std::make_unique<cpu_pipeline>(
          m, m->entry(r.source->entry_name),
          reinterpret_cast<foundry_cpu_lanes_fn>(m->symbol(r.source->entry_name + "_lanes")),
          stride != nullptr && *stride > 0 ? *stride : 1u, std::string(r.kernel)));
    }
    return out;
  }

  void dispatch(const pipeline& p, std::span<const bound_argument> args, const dispatch_size& size,
                std::uint32_t threadgroup_memory_bytes) override {
    const auto& cp = static_cast<const cpu_pipeline&>(p);
    std::uint32_t count = 0;
    for (const bound_argument& a : args) count = std::max(count, a.index + 1);
    table_.assign(count, nullptr);
    for (const bound_argument& a : args)
      table_[a.index] = a.kind == arg_kind::buffer
                            ? static_cast<void*>(static_cast<unsigned char*>(a.buffer->native) + a.offset)
                            : const_cast<void*>(a.bytes);  // read-only by the kernel (constant)
    dispatch_desc d;
    d.kernel_name = cp.name().data();
    d.entry = cp.entry();
    d.lanes = cp.lanes();
    d.lanes_stride = cp.lanes_stride();
    d.args = table_.data();
    d.arg_count = count;
    d.threadgroups_per_grid = {size.threadgroups_per_grid.x, size.threadgroups_per_grid.y,
                               size.threadgroups_per_grid.z};
    d.threads_per_threadgroup = {size.threads_per_threadgroup.x, size.threads_per_threadgroup.y,
                                 size.threads_per_threadgroup.z};
    d.threadgroup_memory_bytes = threadgroup_memory_bytes;
    cpu::dispatch(d);
  }
  void synchronize() override {}

 private:
  backend_options opts_;
  cpu_entry entry_;
  std::vector<void*> table_;
};

/// A CPU backend for `foundry::executor`.
inline std::unique_ptr<backend> make_backend(backend_options o = {}) {
  return std::make_unique<cpu_backend>(std::move(o));
}

}  // namespace foundry::cpu
