#pragma once
/// @file dispatch.hpp
/// The run API: execute a loaded kernel entry point over a grid.
///
/// This is the layer below the typed runtime: it takes an untyped argument
/// table (abi.h) and Metal's two dispatch shapes,
///   - dispatchThreadgroups: `threadgroups_per_grid` x `threads_per_threadgroup`;
///   - dispatchThreads (non-uniform): set `threads_per_grid`; threadgroups at
///     the far edge are trimmed and see their real size in
///     `threads_per_threadgroup`.
/// Threadgroups are spread over the worker pool (worker_pool.hpp); the call
/// blocks until every threadgroup has finished.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "foundry/backends/cpu/abi.h"
#include "foundry/backends/cpu/errors.hpp"
#include "foundry/backends/cpu/scheduler.hpp"
#include "foundry/backends/cpu/worker_pool.hpp"

namespace foundry::cpu {

/// Three sizes, in threads or threadgroups depending on the field.
struct dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

/// Executor-wide settings; set them before dispatching (they apply to the
/// dispatches that start afterwards).
struct executor_options {
  /// Usable bytes of each fiber stack (one fiber per GPU thread that is
  /// parked at a barrier at the same time, so up to 1024 per worker).
  /// Default 64 KiB or FOUNDRY_CPU_STACK_KB. ASan-checked kernels need more
  /// (use 256 KiB or more).
  std::size_t stack_bytes = 64 * 1024;
  /// Byte written over each threadgroup's arena before the group runs, so a
  /// read of threadgroup memory nobody wrote shows up (0xFF is a NaN for
  /// float, half and bfloat and -1 for integers). -1 leaves the memory as
  /// the previous group left it (Metal's behaviour: undefined contents).
  int threadgroup_fill = 0xFF;
  /// Run kernels that have a lane-loop entry (dsl/lane_loop.hpp) as lane
  /// loops. False forces one fiber per thread for every kernel (to compare
  /// the paths; tests run both). Default true, or false when the
  /// environment sets FOUNDRY_CPU_EXECUTION=fibers.
  bool lane_loops = true;
};

namespace detail {
inline executor_options& options_storage() {
  static executor_options o = [] {
    executor_options d;
    if (const char* e = std::getenv("FOUNDRY_CPU_STACK_KB")) {
      const long kb = std::strtol(e, nullptr, 10);
      if (kb > 0) d.stack_bytes = static_cast<std::size_t>(kb) * 1024;
    }
    if (const char* e = std::getenv("FOUNDRY_CPU_EXECUTION")) d.lane_loops = std::string_view(e) != "fibers";
    return d;
  }();
  return o;
}
inline std::mutex& options_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace detail

/// Current executor options.
inline executor_options get_executor_options() {
  std::lock_guard<std::mutex> lk(detail::options_mutex());
  return detail::options_storage();
}
/// Replaces the executor options for dispatches that start afterwards.
/// @throws std::invalid_argument if stack_bytes < 16 KiB or
///         threadgroup_fill is outside [-1, 255].
inline void set_executor_options(const executor_options& o) {
  if (o.stack_bytes < 16 * 1024) throw std::invalid_argument("foundry cpu: stack_bytes must be at least 16 KiB");
  if (o.threadgroup_fill < -1 || o.threadgroup_fill > 255)
    throw std::invalid_argument("foundry cpu: threadgroup_fill must be -1 or a byte value");
  std::lock_guard<std::mutex> lk(detail::options_mutex());
  detail::options_storage() = o;
}

/// One dispatch of a kernel entry point.
struct dispatch_desc {
  /// Kernel name for diagnostics (barrier_divergence); NUL-terminated,
  /// must outlive the call.
  const char* kernel_name = "kernel";
  /// The entry point (module::entry). Required.
  foundry_cpu_entry_fn entry = nullptr;
  /// Argument table indexed by buffer index (see abi.h): device pointers
  /// for buffers, pointers to the bytes for by-value arguments.
  void* const* args = nullptr;
  /// Entries in `args`.
  uint32_t arg_count = 0;
  /// Threadgroups in the grid (ignored when threads_per_grid is set).
  dim3 threadgroups_per_grid;
  /// Threads per threadgroup; the product must be in [1, 1024].
  dim3 threads_per_threadgroup;
  /// If set, a non-uniform dispatch of exactly this many threads
  /// (Metal's dispatchThreads): threadgroups_per_grid becomes
  /// ceil(threads_per_grid / threads_per_threadgroup) per dimension.
  std::optional<dim3> threads_per_grid;
  /// Bytes of threadgroup memory per threadgroup (the arena the entry
  /// addresses through T->threadgroup_memory).
  std::size_t threadgroup_memory_bytes = 0;
  /// False promises that the kernel calls no barrier and no SIMD-group
  /// function; its threads then run as a plain loop without fibers. A kernel
  /// that breaks the promise aborts the process with a message.
  bool collectives = true;
  /// The kernel's lane-loop entry (abi.h), or null. When set (and the
  /// executor options allow it) each threadgroup runs through it in one
  /// call instead of one fiber per thread.
  foundry_cpu_lanes_fn lanes = nullptr;
  /// Which threads `lanes` reads (abi.h `<name>__cpu_lanes_stride`): 1, or
  /// 32 (lane 0 of each SIMD-group); the others' positions are not filled.
  uint32_t lanes_stride = 1;
};

/// Runs every threadgroup of the dispatch and returns when all are done.
///
/// @throws std::invalid_argument for a missing entry, a zero-sized grid or
///         threadgroup, or more than 1024 threads per threadgroup.
/// @throws barrier_divergence if the threads of a threadgroup disagree
///         about a barrier; the remaining threadgroups are skipped and every
///         worker has stopped before the exception reaches the caller.
inline void dispatch(const dispatch_desc& d) {
  if (d.entry == nullptr) throw std::invalid_argument("foundry cpu: dispatch without an entry point");
  const dim3 tpt = d.threads_per_threadgroup;
  const uint64_t group_threads = uint64_t(tpt.x) * tpt.y * tpt.z;
  if (group_threads == 0 || group_threads > 1024)
    throw std::invalid_argument("foundry cpu: threads per threadgroup must be in [1, 1024], got " +
                                std::to_string(group_threads));
  if (d.threadgroup_memory_bytes > UINT32_MAX)
    throw std::invalid_argument("foundry cpu: threadgroup memory too large");

  foundry_cpu_launch L{};
  L.args = d.args;
  L.arg_count = d.arg_count;
  L.threadgroup_memory_bytes = static_cast<uint32_t>(d.threadgroup_memory_bytes);
  L.threads_per_threadgroup = {tpt.x, tpt.y, tpt.z};
  L.kernel_name = d.kernel_name != nullptr ? d.kernel_name : "kernel";
  static std::atomic<uint64_t> serials{0};
  L.serial = serials.fetch_add(1, std::memory_order_relaxed) + 1;
  if (d.threads_per_grid) {
    const dim3 g = *d.threads_per_grid;
    L.threads_per_grid = {g.x, g.y, g.z};
    L.threadgroups_per_grid = {(g.x + tpt.x - 1) / tpt.x, (g.y + tpt.y - 1) / tpt.y, (g.z + tpt.z - 1) / tpt.z};
  } else {
    const dim3 g = d.threadgroups_per_grid;
    L.threadgroups_per_grid = {g.x, g.y, g.z};
    const uint64_t tx = uint64_t(g.x) * tpt.x, ty = uint64_t(g.y) * tpt.y, tz = uint64_t(g.z) * tpt.z;
    if (tx > UINT32_MAX || ty > UINT32_MAX || tz > UINT32_MAX)
      throw std::invalid_argument("foundry cpu: grid exceeds 2^32 threads in a dimension");
    L.threads_per_grid = {static_cast<uint32_t>(tx), static_cast<uint32_t>(ty), static_cast<uint32_t>(tz)};
  }
  const foundry_cpu_uint3 tg = L.threadgroups_per_grid;
  const uint64_t groups = uint64_t(tg.x) * tg.y * tg.z;
  if (groups == 0) throw std::invalid_argument("foundry cpu: empty grid");
  if (groups > UINT32_MAX) throw std::invalid_argument("foundry cpu: more than 2^32 threadgroups");

  struct context {
    const foundry_cpu_launch* launch;
    const dispatch_desc* desc;
    executor_options opts;
    uint64_t id;
  };
  static std::atomic<uint64_t> next_id{1};
  context ctx{&L, &d, get_executor_options(), next_id.fetch_add(1, std::memory_order_relaxed)};

  detail::pool_job job;
  job.count = static_cast<uint32_t>(groups);
  job.ctx = &ctx;
  job.fn = [](void* p, uint32_t begin, uint32_t end) {
    const context& c = *static_cast<const context*>(p);
    // One executor per OS thread, kept across dispatches (stacks, fibers and
    // arena are reused); rebuilt only if the stack size changed.
    static thread_local std::unique_ptr<detail::group_executor> ex;
    static thread_local uint64_t configured_for = 0;
    if (!ex || ex->stack_bytes() != c.opts.stack_bytes) {
      ex = std::make_unique<detail::group_executor>(c.opts.stack_bytes);
      configured_for = 0;
    }
    if (configured_for != c.id) {
      ex->begin(c.launch, c.desc->entry, c.opts.threadgroup_fill, c.desc->collectives,
                c.opts.lane_loops ? c.desc->lanes : nullptr, c.desc->lanes_stride);
      configured_for = c.id;
    }
    const foundry_cpu_uint3 n = c.launch->threadgroups_per_grid;
    for (uint32_t i = begin; i < end; ++i) {
      const foundry_cpu_uint3 pos{i % n.x, (i / n.x) % n.y, i / (n.x * n.y)};
      ex->run_threadgroup(pos);
    }
  };
  detail::worker_pool::instance().run(job);
}

}  // namespace foundry::cpu
