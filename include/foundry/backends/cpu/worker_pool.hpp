#pragma once
/// @file worker_pool.hpp
/// The OS threads that run threadgroups.
///
/// Sized by FOUNDRY_CPU_THREADS, else std::thread::hardware_concurrency().
/// The thread that dispatches is one of the workers (it would only wait
/// otherwise), so the pool starts size-1 threads, lazily, on the first
/// dispatch with more than one chunk of threadgroups. A dispatch that fits
/// in one chunk (e.g. a single threadgroup) wakes nobody.
///
/// One dispatch runs at a time; concurrent callers queue on a mutex. That
/// keeps the pool simple and is what a single GPU queue does too.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace foundry::cpu {

/// Number of OS threads a dispatch may use (including the caller):
/// FOUNDRY_CPU_THREADS if set to a positive integer, else
/// std::thread::hardware_concurrency() (at least 1). Read once per process.
inline unsigned worker_count() {
  static const unsigned n = [] {
    if (const char* e = std::getenv("FOUNDRY_CPU_THREADS")) {
      const long v = std::strtol(e, nullptr, 10);
      if (v > 0) return static_cast<unsigned>(std::min<long>(v, 1024));
    }
    return std::max(1u, std::thread::hardware_concurrency());
  }();
  return n;
}

namespace detail {

/// A parallel loop over [0, count): `fn(ctx, begin, end)` is called on the
/// caller and on pool threads for disjoint chunks. The first exception
/// thrown stops further chunks from starting and is rethrown by run().
struct pool_job {
  void (*fn)(void* ctx, uint32_t begin, uint32_t end) = nullptr;
  void* ctx = nullptr;
  uint32_t count = 0;
  uint32_t chunk = 1;
  std::atomic<uint32_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  void work() {
    while (!failed.load(std::memory_order_relaxed)) {
      const uint32_t b = next.fetch_add(chunk, std::memory_order_relaxed);
      if (b >= count) break;
      const uint32_t e = static_cast<uint32_t>(std::min<uint64_t>(count, uint64_t(b) + chunk));
      try {
        fn(ctx, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
    }
  }
};

class worker_pool {
 public:
  static worker_pool& instance() {
    static worker_pool pool;
    return pool;
  }

  /// Runs `job` to completion on the caller plus the pool. Blocks.
  /// @throws whatever the first failing chunk threw.
  void run(pool_job& job) {
    std::lock_guard<std::mutex> one_at_a_time(dispatch_mutex_);
    const unsigned total = worker_count();
    job.chunk = std::max<uint32_t>(1, job.count / (total * 8));
    if (total > 1 && job.count > job.chunk) {
      {
        std::lock_guard<std::mutex> lk(mutex_);
        if (threads_.empty()) start(total - 1);
        job_ = &job;
        ++generation_;
      }
      wake_.notify_all();
      job.work();
      std::unique_lock<std::mutex> lk(mutex_);
      job_ = nullptr;  // late wakers must not join a finished job
      idle_.wait(lk, [&] { return active_ == 0; });
    } else {
      job.work();
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  ~worker_pool() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  worker_pool() = default;

  void start(unsigned n) {
    // Called under mutex_ before generation_ is bumped for the job that
    // starts them, so they join that job too.
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this, g = generation_] { loop(g); });
  }

  void loop(uint64_t seen) {
    std::unique_lock<std::mutex> lk(mutex_);
    for (;;) {
      wake_.wait(lk, [&] { return stop_ || (generation_ != seen && job_ != nullptr); });
      if (stop_) return;
      seen = generation_;
      pool_job* job = job_;
      ++active_;
      lk.unlock();
      job->work();
      lk.lock();
      if (--active_ == 0) idle_.notify_all();
    }
  }

  std::mutex dispatch_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<std::thread> threads_;
  pool_job* job_ = nullptr;
  uint64_t generation_ = 0;
  unsigned active_ = 0;
  bool stop_ = false;
};

}  // namespace detail
}  // namespace foundry::cpu
