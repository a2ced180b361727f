#pragma once
/// @file hazards.hpp
/// Where a batch of concurrently encoded dispatches needs a memory barrier.
/// Portable (no Apple headers): the Metal backend feeds it the bound
/// arguments of each dispatch, and the rule is tested on every platform.
///
/// In a concurrent compute encoder (`MTLDispatchTypeConcurrent`) Metal may
/// overlap dispatches; `memoryBarrier(MTLBarrierScopeBuffers)` makes every
/// buffer write before it visible to, and complete before, every dispatch
/// after it. A dispatch needs a barrier before it when, since the last
/// barrier, an earlier dispatch
///   - wrote a buffer it reads (read after write),
///   - wrote a buffer it writes (write after write: the final value must be
///     the later dispatch's), or
///   - read a buffer it writes (write after read: the earlier dispatch must
///     not see the later one's values).
/// Buffers are compared as whole allocations (the `native` handle), not byte
/// ranges: a bound argument has an offset but no length, and two sub-ranges
/// of one allocation are conservatively treated as the same buffer. Bytes
/// arguments are copied at encoding time and never conflict.

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "foundry/dsl/arguments.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry::metal_backend {

/// See the file comment. One tracker per encoder; `reset` when a new encoder
/// starts (Metal orders work across encoders and command buffers itself for
/// resources with tracked hazards, which shared buffers are by default).
class hazard_tracker {
 public:
  /// Registers the accesses of the next dispatch. Returns true when a barrier
  /// must be encoded before it; the tracker then assumes it was and starts a
  /// new interval holding only this dispatch's accesses.
  bool next(std::span<const bound_argument> args) {
    bool barrier = false;
    for (const bound_argument& a : args) {
      if (a.kind != arg_kind::buffer || !a.buffer) continue;
      const void* id = a.buffer->native;
      if (reads(a.mode) && contains(written_, id)) barrier = true;
      if (writes(a.mode) && (contains(written_, id) || contains(read_, id))) barrier = true;
      if (barrier) break;
    }
    if (barrier) {
      written_.clear();
      read_.clear();
      ++barriers_;
    }
    for (const bound_argument& a : args) {
      if (a.kind != arg_kind::buffer || !a.buffer) continue;
      const void* id = a.buffer->native;
      if (writes(a.mode) && !contains(written_, id)) written_.push_back(id);
      if (reads(a.mode) && !contains(read_, id)) read_.push_back(id);
    }
    ++dispatches_;
    return barrier;
  }

  /// Forgets every access (a new encoder begins).
  void reset() noexcept {
    written_.clear();
    read_.clear();
  }

  /// Dispatches registered and barriers requested since construction.
  std::size_t dispatches() const noexcept { return dispatches_; }
  std::size_t barriers() const noexcept { return barriers_; }

 private:
  static bool reads(access m) noexcept { return m == access::read || m == access::read_write; }
  static bool writes(access m) noexcept { return m == access::write || m == access::read_write; }
  // A handful of buffers per interval: a linear search beats hashing.
  static bool contains(const std::vector<const void*>& v, const void* id) noexcept {
    return std::find(v.begin(), v.end(), id) != v.end();
  }

  std::vector<const void*> written_;
  std::vector<const void*> read_;
  std::size_t dispatches_ = 0;
  std::size_t barriers_ = 0;
};

}  // namespace foundry::metal_backend
