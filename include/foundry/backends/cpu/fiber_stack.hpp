#pragma once
/// @file fiber_stack.hpp
/// Stacks for the executor's fibers: mmap'd once per fiber slot, with a
/// guard page, and lent to Boost.Context without ever being freed by it.
///
/// Why not boost's pooled_fixedsize_stack: the executor keeps its fibers
/// alive across dispatches (a fiber runs one GPU thread after another), so a
/// stack is allocated once per slot and lives as long as the worker thread;
/// what we need is only the guard page (a kernel that overflows its stack
/// faults instead of corrupting its neighbour) and an allocator that hands
/// boost a stack it must not free.

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/stack_context.hpp>
#include <cstddef>
#include <new>

namespace foundry::cpu::detail {

/// One fiber stack: `usable_bytes` (rounded up to pages) plus one
/// inaccessible guard page below it. Memory is reserved, not committed:
/// pages a kernel never touches cost nothing.
class fiber_stack {
 public:
  /// @throws std::bad_alloc if the mapping fails.
  explicit fiber_stack(std::size_t usable_bytes) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    usable_ = (usable_bytes + page - 1) / page * page;
    mapped_ = usable_ + page;
    void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<char*>(p);
    ::mprotect(base_, page, PROT_NONE);  // stacks grow down: guard the bottom
  }
  ~fiber_stack() { ::munmap(base_, mapped_); }
  fiber_stack(const fiber_stack&) = delete;
  fiber_stack& operator=(const fiber_stack&) = delete;

  /// Boost's view: `sp` is the top (highest address), `size` the usable part.
  boost::context::stack_context context() const noexcept {
    boost::context::stack_context c;
    c.size = usable_;
    c.sp = base_ + mapped_;
    return c;
  }
  std::size_t usable_bytes() const noexcept { return usable_; }

 private:
  char* base_ = nullptr;
  std::size_t usable_ = 0;
  std::size_t mapped_ = 0;
};

/// StackAllocator concept for boost::context::fiber that lends an existing
/// stack: deallocate() is a no-op because the fiber_stack owns the memory.
struct borrowed_stack {
  boost::context::stack_context ctx;
  boost::context::stack_context allocate() const noexcept { return ctx; }
  void deallocate(boost::context::stack_context&) const noexcept {}
};

}  // namespace foundry::cpu::detail
