#pragma once
/// @file executor.hpp
/// The executor: allocates buffers, compiles kernels (once, cached), binds
/// arguments from the kernel type's binding plan and dispatches, on any
/// backend.
///
///   foundry::executor ex{foundry::cpu::make_backend()};
///   auto x = ex.allocate<float>(k);
///   gemv_f16::arguments a;
///   a.set<"w">(w).set<"x">(x).set<"y">(y).set<"n">(n).set<"k">(k);
///   ex.dispatch<gemv_f16>(a);
///   ex.synchronize();

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <xxhash.h>

#include "foundry/core/errors.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/source.hpp"
#include "foundry/runtime/backend.hpp"
#include "foundry/runtime/bind.hpp"
#include "foundry/runtime/buffer.hpp"

namespace foundry {

namespace detail {
inline std::atomic<std::size_t> next_kernel_slot{0};
/// A process-wide small integer per kernel type: the index of its pipeline
/// in every executor's table (an O(1) lookup, no hashing per dispatch).
template <class K>
std::size_t kernel_slot() noexcept {
  static const std::size_t slot = next_kernel_slot.fetch_add(1);
  return slot;
}
}  // namespace detail

/// See the file comment. Not thread-safe for concurrent dispatches; one
/// executor per thread (buffers may be shared between executors of one
/// backend object).
class executor {
 public:
  explicit executor(std::unique_ptr<backend> be) : backend_(std::move(be)) {
    if (!backend_) throw backend_unavailable("executor: no backend");
    dummy_ = buffer(*backend_, 16, dtype::bytes);
  }

  backend& get_backend() noexcept { return *backend_; }
  const backend& get_backend() const noexcept { return *backend_; }

  /// A buffer of `count` elements of `T` (uninitialised).
  template <class T>
  buffer allocate(std::size_t count) {
    return buffer(*backend_, count * sizeof(T), dtype_of<T>);
  }
  /// A buffer of `bytes` bytes tagged `type`.
  buffer allocate_bytes(std::size_t bytes, dtype type = dtype::bytes) { return buffer(*backend_, bytes, type); }
  /// A buffer holding a copy of `data`.
  template <class T>
  buffer upload(const std::vector<T>& data) {
    buffer b = allocate<T>(data.size());
    b.write(data);
    return b;
  }

  /// Compiles every kernel in `Ks` that is not compiled yet, in one backend
  /// call (one compiler invocation on the CPU backend).
  template <class... Ks>
  void prepare() {
    std::vector<kernel_source> sources;
    sources.reserve(sizeof...(Ks));  // requests point into it: no reallocation
    std::vector<compile_request> reqs;
    std::vector<std::size_t> slots;
    (add_request<Ks>(sources, reqs, slots), ...);
    compile_batch(reqs, slots);
  }

  /// Binds `args` and dispatches kernel `K` with the grid its dispatch rule
  /// computes. Compiles `K` on first use. Throws `binding_error`,
  /// `dispatch_error` or `compile_error` naming the kernel.
  template <class K>
  void dispatch(const typename K::arguments& args) {
    const pipeline& p = pipeline_for<K>();
    bound_arguments<detail::plan_size<K>> bound;
    bind_arguments<K>(*backend_, args, &dummy_.info(), bound);
    const dispatch_size size = K::dispatch::compute(args);
    check_dispatch(K::name.view(), size, K::uses_simdgroups);
    backend_->dispatch(p, bound.args, size, K::threadgroup_memory_bytes);
    ++dispatches_;
  }

  /// Dispatches issued through this executor so far (those a backend
  /// records into a graph included): the difference over a piece of work
  /// counts its kernels.
  std::uint64_t dispatches() const noexcept { return dispatches_; }

  /// Waits for every dispatch issued so far.
  void synchronize() { backend_->synchronize(); }

  /// The compiled pipeline of `K` (compiling it on first use).
  template <class K>
  const pipeline& pipeline_for() {
    const std::size_t slot = detail::kernel_slot<K>();
    if (slot < by_type_.size() && by_type_[slot]) return *by_type_[slot];
    prepare<K>();
    return *by_type_[slot];
  }

  /// The pipeline of a kernel built from run-time parameters, cached by a
  /// content hash (XXH3, 64-bit) of its source.
  const pipeline& pipeline_for_source(const kernel_source& src) {
    const std::uint64_t h = XXH3_64bits(src.text.data(), src.text.size());
    if (auto it = by_hash_.find(h); it != by_hash_.end()) return *it->second;
    const compile_request req{&src, src.entry_name};
    auto compiled = timed_compile(std::span<const compile_request>(&req, 1));
    return *by_hash_.emplace(h, std::move(compiled.front())).first->second;
  }

  /// Seconds spent compiling kernels so far (cold compiles and cache loads).
  double compile_seconds() const noexcept { return compile_seconds_; }

 private:
  /// Adds `K`'s translation unit, with the backend's entry point, to the
  /// batch unless `K` is compiled already (or already in the batch).
  template <class K>
  void add_request(std::vector<kernel_source>& sources, std::vector<compile_request>& reqs,
                   std::vector<std::size_t>& slots) {
    const std::size_t slot = detail::kernel_slot<K>();
    if (slot < by_type_.size() && by_type_[slot]) return;
    sources.push_back(make_kernel_source<K>(backend_->entry_points()));
    reqs.push_back({&sources.back(), K::name.view()});
    slots.push_back(slot);
  }
  void compile_batch(const std::vector<compile_request>& reqs, const std::vector<std::size_t>& slots) {
    if (reqs.empty()) return;
    auto compiled = timed_compile(reqs);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (slots[i] >= by_type_.size()) by_type_.resize(slots[i] + 1);
      by_type_[slots[i]] = std::move(compiled[i]);
    }
  }
  std::vector<std::unique_ptr<pipeline>> timed_compile(std::span<const compile_request> reqs) {
    const auto t0 = std::chrono::steady_clock::now();
    auto out = backend_->compile(reqs);
    compile_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (out.size() != reqs.size()) throw error("backend returned the wrong number of pipelines");
    return out;
  }

  std::unique_ptr<backend> backend_;
  buffer dummy_;
  std::vector<std::unique_ptr<pipeline>> by_type_;
  std::unordered_map<std::uint64_t, std::unique_ptr<pipeline>> by_hash_;
  double compile_seconds_ = 0;
  std::uint64_t dispatches_ = 0;
};

}  // namespace foundry
