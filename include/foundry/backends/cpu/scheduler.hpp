#pragma once
/// @file scheduler.hpp
/// Runs one threadgroup of a kernel on the calling OS thread, one fiber per
/// GPU thread, so that `threadgroup_barrier` and the SIMD-group functions
/// have their real semantics.
///
/// Model (docs/msl-subset.md has the user-facing contract):
///  * A threadgroup's threads are lanes; lanes 32k..32k+31 (by
///    thread_index_in_threadgroup) form SIMD-group k. The last SIMD-group is
///    partial when the threadgroup size is not a multiple of 32; its missing
///    lanes simply do not exist.
///  * Scheduling is cooperative and SIMD-group at a time: the executor runs
///    the lanes of SIMD-group 0 in order, each until it finishes or parks at
///    a collective; when every live lane of the group waits at the same SIMD
///    collective the combine function runs once and they continue; when all
///    are finished or at a threadgroup barrier it moves to the next
///    SIMD-group. When all SIMD-groups are there, the barrier opens.
///  * A lane that returned is inactive: SIMD collectives combine the lanes
///    still running (as Metal does for lanes that exited), but a threadgroup
///    barrier with returned threads is divergence, as are waits at different
///    call sites. Divergence unwinds the parked fibers and throws
///    barrier_divergence -- never a hang.
///  * Fibers are persistent: a fiber that finished a lane takes the next
///    unstarted one without any switch, so a kernel without collectives runs
///    a SIMD-group on a single fiber (one hot stack), and a dispatch
///    allocates nothing once warm. A lane that parks switches directly to
///    the next runnable lane's fiber (one context switch per park, not two
///    through the executor); the last lane of a pass switches back.
///
/// One group_executor exists per OS thread that runs threadgroups (see
/// dispatch.hpp); it is not shared between threads.

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "foundry/backends/cpu/abi.h"
#include "foundry/backends/cpu/errors.hpp"
#include "foundry/backends/cpu/fiber_stack.hpp"

// A host built with AddressSanitizer must be told about every stack switch
// (boost's fcontext fibers do not do it), or ASan misreads the stacks when an
// exception unwinds a fiber (divergence). Without ASan this compiles away.
#if defined(__SANITIZE_ADDRESS__)
#define FOUNDRY_CPU_HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FOUNDRY_CPU_HOST_ASAN 1
#endif
#endif
#ifdef FOUNDRY_CPU_HOST_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace foundry::cpu::detail {

enum class lane_state : uint8_t {
  runnable,    ///< can be resumed (or started)
  running,     ///< on the CPU right now
  at_simd,     ///< parked at a SIMD-group collective
  at_barrier,  ///< parked at threadgroup_barrier
  done,        ///< returned from the entry
};

struct fiber_slot;

/// One GPU thread of the threadgroup being run.
struct lane {
  foundry_cpu_thread t;  ///< what the entry sees; must stay first
  lane_state state = lane_state::runnable;
  uint32_t site = 0;     ///< source line of the barrier/collective it waits at
  uint32_t bytes = 0;    ///< operand size of the collective it waits at
  foundry_cpu_simd_combine_fn combine = nullptr;
  fiber_slot* slot = nullptr;  ///< fiber running this lane (null when not started/done)
};

/// A persistent fiber and its stack.
struct fiber_slot {
  boost::context::fiber fib;  ///< the suspended fiber (empty while it runs)
  lane* current = nullptr;    ///< lane it runs (or runs next, when resumed from idle)
  std::unique_ptr<fiber_stack> stack;
};

class group_executor;
/// The executor running threadgroups on this OS thread (fibers never migrate,
/// so the host API reads it from inside kernel code).
inline thread_local group_executor* tls_executor = nullptr;
/// Serial number of the dispatch this OS thread runs threadgroups of (set by
/// group_executor::begin; read by kernels through the host API).
inline thread_local uint64_t tls_dispatch_serial = 0;

/// Runs threadgroups of one dispatch at a time on the calling OS thread.
class group_executor {
 public:
  /// @param stack_bytes usable bytes per fiber stack (rounded up to pages).
  explicit group_executor(std::size_t stack_bytes) : stack_bytes_(stack_bytes) {}
  ~group_executor() {
    // Idle fibers are suspended inside their loop: destroying them unwinds
    // (boost's forced_unwind) before their stacks go away.
    for (auto& s : slots_) destroy_fiber(s.get());
  }
  group_executor(const group_executor&) = delete;
  group_executor& operator=(const group_executor&) = delete;

  std::size_t stack_bytes() const noexcept { return stack_bytes_; }

  /// Prepares for a dispatch. `launch` and everything it points to must
  /// outlive the threadgroups run with it.
  /// @param fill byte written over each threadgroup arena before the group
  ///        runs (poison), or -1 to leave the arena as it is.
  /// @param collectives false promises the kernel calls no barrier and no
  ///        SIMD-group function: threads then run as a plain loop, no fibers.
  /// @param lanes the kernel's lane-loop entry (abi.h), or null: when set,
  ///        each threadgroup is one call of it, no fibers.
  /// @param lanes_stride the threads `lanes` reads: 0, stride, 2·stride, ...
  ///        (abi.h); only their positions are filled.
  void begin(const foundry_cpu_launch* launch, foundry_cpu_entry_fn entry, int fill, bool collectives,
             foundry_cpu_lanes_fn lanes = nullptr, uint32_t lanes_stride = 1) {
    launch_ = launch;
    tls_dispatch_serial = launch->serial;
    entry_ = entry;
    lanes_entry_ = lanes;
    lanes_stride_ = lanes_stride > 0 ? lanes_stride : 1;
    fill_ = fill;
    collectives_ = collectives;
    layout_ = {0, 0, 0};
    if (arena_size_ < launch->threadgroup_memory_bytes) {
      const std::size_t sz = (launch->threadgroup_memory_bytes + 63u) / 64u * 64u;
      arena_.reset(static_cast<unsigned char*>(std::aligned_alloc(64, sz)));
      if (!arena_) throw std::bad_alloc();
      arena_size_ = sz;
    }
  }

  /// Runs threadgroup `tg` of the current dispatch to completion.
  /// @throws barrier_divergence (after unwinding the group's fibers).
  void run_threadgroup(foundry_cpu_uint3 tg) {
    const foundry_cpu_launch& L = *launch_;
    // Size of this threadgroup: smaller at the edge of a non-uniform grid.
    const foundry_cpu_uint3 full = L.threads_per_threadgroup;
    const foundry_cpu_uint3 size = {clip(full.x, L.threads_per_grid.x, tg.x), clip(full.y, L.threads_per_grid.y, tg.y),
                                    clip(full.z, L.threads_per_grid.z, tg.z)};
    if (size.x != layout_.x || size.y != layout_.y || size.z != layout_.z) relayout(size);
    unsigned char* arena = arena_.get();
    if (fill_ >= 0 && L.threadgroup_memory_bytes > 0) std::memset(arena, fill_, L.threadgroup_memory_bytes);
    const uint32_t n = static_cast<uint32_t>(lanes_.size());
    auto place = [&](foundry_cpu_thread& t) {
      t.threadgroup_position_in_grid = tg;
      t.thread_position_in_grid = {tg.x * full.x + t.thread_position_in_threadgroup.x,
                                   tg.y * full.y + t.thread_position_in_threadgroup.y,
                                   tg.z * full.z + t.thread_position_in_threadgroup.z};
      t.threadgroup_memory = arena;
    };
    tg_ = tg;
    barriers_ = 0;
    if (lanes_entry_ != nullptr) {
      // Lane loops: the threads as one contiguous array (relayout keeps it),
      // one call for the whole threadgroup.
      for (uint32_t i = 0; i < n; i += lanes_stride_) place(threads_[i]);
      lanes_entry_(launch_, threads_.data(), n);
      return;
    }
    for (uint32_t i = 0; i < n; ++i) {
      place(lanes_[i].t);
      lanes_[i].state = lane_state::runnable;
    }
    group_executor* const saved = tls_executor;
    tls_executor = this;
    struct restore {
      group_executor* s;
      ~restore() { tls_executor = s; }
    } restore_tls{saved};

    if (!collectives_) {
      for (uint32_t i = 0; i < n; ++i) {
        current_ = &lanes_[i];
        entry_(launch_, &lanes_[i].t);
      }
      current_ = nullptr;
      return;
    }

    const uint32_t groups = (n + FOUNDRY_CPU_SIMD_WIDTH - 1) / FOUNDRY_CPU_SIMD_WIDTH;
    for (;;) {
      for (uint32_t g = 0; g < groups; ++g) run_simdgroup(g);
      // Every lane is now done or at a threadgroup barrier.
      uint32_t waiting = 0, first_wait = 0, first_done = n;
      for (uint32_t i = 0; i < n; ++i) {
        if (lanes_[i].state == lane_state::at_barrier) {
          if (waiting++ == 0) first_wait = i;
        } else if (first_done == n) {
          first_done = i;
        }
      }
      if (waiting == 0) break;
      if (first_done != n)
        diverge("thread " + std::to_string(first_done) + " returned while thread " + std::to_string(first_wait) +
                " waits at threadgroup_barrier (line " + std::to_string(lanes_[first_wait].site) + ")");
      for (uint32_t i = 0; i < n; ++i)
        if (lanes_[i].site != lanes_[first_wait].site)
          diverge("threads wait at different barriers: thread " + std::to_string(first_wait) + " at line " +
                  std::to_string(lanes_[first_wait].site) + ", thread " + std::to_string(i) + " at line " +
                  std::to_string(lanes_[i].site));
      ++barriers_;
      for (uint32_t i = 0; i < n; ++i) lanes_[i].state = lane_state::runnable;
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // --- called by the host API from inside kernel code (on a fiber) ---------

  static group_executor& current() {
    group_executor* e = tls_executor;
    if (e == nullptr || e->current_ == nullptr) {
      std::fputs("foundry cpu: a barrier or SIMD-group function was called outside a dispatch\n", stderr);
      std::abort();
    }
    if (e->current_->slot == nullptr) {
      std::fprintf(stderr,
                   "foundry cpu: kernel '%s' was dispatched with collectives = false but called a barrier "
                   "or SIMD-group function\n",
                   e->launch_->kernel_name);
      std::abort();
    }
    return *e;
  }

  /// thread_index_in_simdgroup of the running thread (also in a dispatch
  /// without collectives, where threads run as a plain loop).
  static uint32_t current_lane() {
    group_executor* e = tls_executor;
    if (e == nullptr || e->current_ == nullptr) {
      std::fputs("foundry cpu: a SIMD-group function was called outside a dispatch\n", stderr);
      std::abort();
    }
    return e->current_->t.thread_index_in_simdgroup;
  }

  void park_barrier(uint32_t site) {
    lane& l = *current_;
    l.state = lane_state::at_barrier;
    l.site = site;
    yield(l);
  }

  const void* park_simd(uint32_t site, const void* value, uint32_t bytes, uint32_t param,
                        foundry_cpu_simd_combine_fn combine) {
    lane& l = *current_;
    const uint32_t i = l.t.thread_index_in_simdgroup;
    std::memcpy(in_ + i * FOUNDRY_CPU_SIMD_SLOT_BYTES, value, bytes);
    param_[i] = param;
    l.state = lane_state::at_simd;
    l.site = site;
    l.bytes = bytes;
    l.combine = combine;
    yield(l);
    return out_ + i * FOUNDRY_CPU_SIMD_SLOT_BYTES;
  }

 private:
  static uint32_t clip(uint32_t full, uint32_t grid, uint32_t pos) {
    const uint64_t start = uint64_t(pos) * full;
    return start + full <= grid ? full : static_cast<uint32_t>(grid - start);
  }

  void relayout(foundry_cpu_uint3 size) {
    const foundry_cpu_launch& L = *launch_;
    const uint32_t n = size.x * size.y * size.z;
    lanes_.resize(n);
    const uint32_t groups = (n + FOUNDRY_CPU_SIMD_WIDTH - 1) / FOUNDRY_CPU_SIMD_WIDTH;
    uint32_t i = 0;
    for (uint32_t z = 0; z < size.z; ++z)
      for (uint32_t y = 0; y < size.y; ++y)
        for (uint32_t x = 0; x < size.x; ++x, ++i) {
          foundry_cpu_thread& t = lanes_[i].t;
          t.thread_position_in_threadgroup = {x, y, z};
          t.threads_per_threadgroup = size;
          t.dispatch_threads_per_threadgroup = L.threads_per_threadgroup;
          t.threadgroups_per_grid = L.threadgroups_per_grid;
          t.threads_per_grid = L.threads_per_grid;
          t.thread_index_in_threadgroup = i;
          t.thread_index_in_simdgroup = i % FOUNDRY_CPU_SIMD_WIDTH;
          t.simdgroup_index_in_threadgroup = i / FOUNDRY_CPU_SIMD_WIDTH;
          t.simdgroups_per_threadgroup = groups;
          t.threads_per_simdgroup = FOUNDRY_CPU_SIMD_WIDTH;
          t.thread_execution_width = FOUNDRY_CPU_SIMD_WIDTH;
          t.launch = launch_;
          lanes_[i].slot = nullptr;
        }
    threads_.resize(n);
    for (uint32_t j = 0; j < n; ++j) threads_[j] = lanes_[j].t;
    layout_ = size;
  }

  // Runs SIMD-group g until each of its lanes is done or at a threadgroup
  // barrier, completing the SIMD collectives it meets on the way.
  void run_simdgroup(uint32_t g) {
    const uint32_t base = g * FOUNDRY_CPU_SIMD_WIDTH;
    const uint32_t width = std::min<uint32_t>(FOUNDRY_CPU_SIMD_WIDTH, static_cast<uint32_t>(lanes_.size()) - base);
    lane* const ls = lanes_.data() + base;
    for (;;) {
      // One pass: every runnable lane runs once, in lane order, until it
      // parks or returns. The lanes hand the CPU to each other directly
      // (see pass_next); the last one switches back here.
      cursor_ = base;
      end_ = base + width;
      if (lane* n = next_runnable()) switch_to(nullptr, bind(n));
      uint32_t mask = 0, first = 0, at_barrier = width;
      for (uint32_t i = 0; i < width; ++i) {
        if (ls[i].state == lane_state::at_simd) {
          if (mask == 0) first = i;
          mask |= 1u << i;
        } else if (ls[i].state == lane_state::at_barrier && at_barrier == width) {
          at_barrier = i;
        }
      }
      if (mask == 0) return;
      if (at_barrier != width)
        diverge("SIMD-group " + std::to_string(g) + ": lane " + std::to_string(first) +
                " waits at a SIMD-group function (line " + std::to_string(ls[first].site) + ") while lane " +
                std::to_string(at_barrier) + " waits at threadgroup_barrier (line " +
                std::to_string(ls[at_barrier].site) + ")");
      for (uint32_t m = mask; m != 0; m &= m - 1) {
        const lane& o = ls[__builtin_ctz(m)];
        if (o.site != ls[first].site || o.combine != ls[first].combine || o.bytes != ls[first].bytes)
          diverge("SIMD-group " + std::to_string(g) + ": lanes wait at different SIMD-group functions: lane " +
                  std::to_string(first) + " at line " + std::to_string(ls[first].site) + ", lane " +
                  std::to_string(__builtin_ctz(m)) + " at line " + std::to_string(o.site));
      }
      const foundry_cpu_simd_exchange x{in_, param_, out_, mask, width};
      ls[first].combine(&x);
      for (uint32_t m = mask; m != 0; m &= m - 1) ls[__builtin_ctz(m)].state = lane_state::runnable;
    }
  }

  lane* next_runnable() noexcept {
    while (cursor_ < end_) {
      lane& l = lanes_[cursor_++];
      if (l.state == lane_state::runnable) return &l;
    }
    return nullptr;
  }

  // Gives lane n a fiber (its own if it has started, else an idle one) and
  // makes it the current lane. Returns the fiber to switch to.
  fiber_slot* bind(lane* n) {
    if (n->slot == nullptr) {
      fiber_slot* f = acquire();
      f->current = n;
      n->slot = f;
    }
    n->state = lane_state::running;
    current_ = n;
    return n->slot;
  }

  // Suspends the running context (`from`, or the executor if null) and
  // resumes `to` (or the executor if null). Whoever later switches back
  // records its own suspended handle through prev_.
  void switch_to(fiber_slot* from, fiber_slot* to) {
    prev_ = from;
#ifdef FOUNDRY_CPU_HOST_ASAN
    void* fake = nullptr;
    asan_start(&fake, to);
#endif
    boost::context::fiber back = std::move(to != nullptr ? to->fib : main_).resume();
#ifdef FOUNDRY_CPU_HOST_ASAN
    asan_finish(fake);
#endif
    (prev_ != nullptr ? prev_->fib : main_) = std::move(back);
  }

#ifdef FOUNDRY_CPU_HOST_ASAN
  // Announces a switch to `to`'s stack (the executor's if null).
  void asan_start(void** fake, const fiber_slot* to) {
    if (to != nullptr) {
      const auto c = to->stack->context();
      __sanitizer_start_switch_fiber(fake, static_cast<char*>(c.sp) - c.size, c.size);
    } else {
      __sanitizer_start_switch_fiber(fake, main_bottom_, main_size_);
    }
  }
  // Completes a switch; learns the executor's stack when coming from it.
  void asan_finish(void* fake) {
    const void* bottom = nullptr;
    std::size_t size = 0;
    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    if (prev_ == nullptr) {
      main_bottom_ = bottom;
      main_size_ = size;
    }
  }
  const void* main_bottom_ = nullptr;
  std::size_t main_size_ = 0;
#endif

  // Destroys a suspended fiber: boost unwinds it (forced_unwind) first.
  void destroy_fiber(fiber_slot* s) {
    if (!s->fib) return;
#ifdef FOUNDRY_CPU_HOST_ASAN
    void* fake = nullptr;
    asan_start(&fake, s);
#endif
    s->fib = boost::context::fiber();
#ifdef FOUNDRY_CPU_HOST_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  }

  // Called on fiber `self` after its lane parked: run the next lane of the
  // pass (directly, fiber to fiber) or return to the executor.
  void pass_next(fiber_slot* self) {
    lane* n = next_runnable();
    current_ = nullptr;
    switch_to(self, n != nullptr ? bind(n) : nullptr);
  }

  // Called on a parked lane's fiber (host API): hand over until resumed.
  void yield(lane& l) { pass_next(l.slot); }

  fiber_slot* acquire() {
    if (!free_.empty()) {
      fiber_slot* s = free_.back();
      free_.pop_back();
      return s;
    }
    slots_.push_back(std::make_unique<fiber_slot>());
    fiber_slot* s = slots_.back().get();
    s->stack = std::make_unique<fiber_stack>(stack_bytes_);
    start_fiber(s);
    return s;
  }

  // A persistent fiber: runs lanes until destroyed. After a lane returns it
  // goes straight on with the next lane of the pass if that one has not
  // started (no switch at all: a kernel without collectives runs a whole
  // SIMD-group on one fiber); otherwise it becomes idle and hands over.
  void start_fiber(fiber_slot* s) {
    s->fib = boost::context::fiber(std::allocator_arg, borrowed_stack{s->stack->context()},
                                   [this, s](boost::context::fiber&& caller) {
#ifdef FOUNDRY_CPU_HOST_ASAN
                                     asan_finish(nullptr);
#endif
                                     (prev_ != nullptr ? prev_->fib : main_) = std::move(caller);
                                     try {
                                       fiber_loop(s);
                                     } catch (const boost::context::detail::forced_unwind&) {
#ifdef FOUNDRY_CPU_HOST_ASAN
                                       // Being destroyed (destroy_fiber): finish the
                                       // switch in, announce the way back out.
                                       __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
                                       __sanitizer_start_switch_fiber(nullptr, main_bottom_, main_size_);
#endif
                                       throw;
                                     }
                                     return boost::context::fiber();
                                   });
  }

  [[noreturn]] void fiber_loop(fiber_slot* s) {
    for (;;) {
      lane* l = s->current;
      try {
        entry_(launch_, &l->t);
      } catch (const boost::context::detail::forced_unwind&) {
        throw;
      } catch (...) {
        // MSL code does not throw; keep the first foreign exception for
        // the dispatcher.
        if (!error_) error_ = std::current_exception();
      }
      l->state = lane_state::done;
      l->slot = nullptr;
      lane* n = next_runnable();
      if (n != nullptr && n->slot == nullptr) {
        s->current = n;
        n->slot = s;
        n->state = lane_state::running;
        current_ = n;
        continue;
      }
      // Idle until acquire() hands this fiber a new lane.
      free_.push_back(s);
      current_ = nullptr;
      switch_to(s, n != nullptr ? bind(n) : nullptr);
    }
  }

  // Unwinds every fiber still bound to a lane of this group, then throws.
  [[noreturn]] void diverge(const std::string& detail) {
    for (lane& l : lanes_) {
      if (l.slot != nullptr) {
        fiber_slot* s = l.slot;
        destroy_fiber(s);  // forced unwind through kernel frames
        start_fiber(s);
        free_.push_back(s);
        l.slot = nullptr;
      }
      l.state = lane_state::done;
    }
    current_ = nullptr;
    error_ = nullptr;
    throw barrier_divergence(launch_->kernel_name, {tg_.x, tg_.y, tg_.z}, barriers_, detail);
  }

  struct free_deleter {
    void operator()(unsigned char* p) const noexcept { std::free(p); }
  };

  std::size_t stack_bytes_;
  const foundry_cpu_launch* launch_ = nullptr;
  foundry_cpu_entry_fn entry_ = nullptr;
  foundry_cpu_lanes_fn lanes_entry_ = nullptr;
  uint32_t lanes_stride_ = 1;
  std::vector<foundry_cpu_thread> threads_;  // lane loops: this threadgroup's threads, in order
  int fill_ = -1;
  bool collectives_ = true;
  foundry_cpu_uint3 layout_{0, 0, 0};
  foundry_cpu_uint3 tg_{0, 0, 0};
  uint32_t barriers_ = 0;
  std::vector<lane> lanes_;
  std::vector<std::unique_ptr<fiber_slot>> slots_;
  std::vector<fiber_slot*> free_;
  lane* current_ = nullptr;
  boost::context::fiber main_;     // the executor's context while a fiber runs
  fiber_slot* prev_ = nullptr;     // who switched last (null: the executor)
  uint32_t cursor_ = 0, end_ = 0;  // the current pass over a SIMD-group
  std::exception_ptr error_;
  std::unique_ptr<unsigned char[], free_deleter> arena_;
  std::size_t arena_size_ = 0;
  alignas(64) unsigned char in_[FOUNDRY_CPU_SIMD_WIDTH * FOUNDRY_CPU_SIMD_SLOT_BYTES];
  alignas(64) unsigned char out_[FOUNDRY_CPU_SIMD_WIDTH * FOUNDRY_CPU_SIMD_SLOT_BYTES];
  uint32_t param_[FOUNDRY_CPU_SIMD_WIDTH];
};

// --- the host API table handed to modules ----------------------------------

inline void host_threadgroup_barrier(uint32_t site, uint32_t /*flags*/) {
  group_executor::current().park_barrier(site);
}

inline const void* host_simd_collective(uint32_t site, const void* value, uint32_t bytes, uint32_t param,
                                        foundry_cpu_simd_combine_fn combine) {
  return group_executor::current().park_simd(site, value, bytes, param, combine);
}

inline uint32_t host_simd_lane() { return group_executor::current_lane(); }

inline uint64_t host_dispatch_serial() { return tls_dispatch_serial; }

/// The table every module receives through foundry_cpu_module_init.
inline constexpr foundry_cpu_host_api host_api{FOUNDRY_CPU_ABI_VERSION, FOUNDRY_CPU_SIMD_WIDTH,
                                               &host_threadgroup_barrier, &host_simd_collective,
                                               &host_simd_lane, &host_dispatch_serial};

}  // namespace foundry::cpu::detail
