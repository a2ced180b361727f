/* foundry/backends/cpu/abi.h - the binary contract between the CPU executor
 * (host) and a JIT-compiled kernel module.
 *
 * This header is plain C (and C++) on purpose: it is included by the host
 * executor and, as text, by every JIT translation unit (the JIT inlines it in
 * place of the prelude's `#include "abi.h"`), so both sides agree on layout
 * without sharing any C++ type.
 *
 * ---------------------------------------------------------------------------
 * The contract
 * ---------------------------------------------------------------------------
 * A kernel module is a shared object. For every kernel it exports
 *
 *     extern "C" void <name>__cpu(const foundry_cpu_launch* L,
 *                                 const foundry_cpu_thread* T);
 *
 * The executor calls it once per GPU thread, each call on its own fiber.
 *   - `L` describes the whole dispatch and is shared by all threads.
 *     `L->args[i]` is the argument bound at buffer index i: for a buffer the
 *     device pointer itself (cast it: `(device float*)L->args[0]`), for a
 *     by-value / `constant T&` argument a pointer to its bytes
 *     (`*(constant uint*)L->args[2]`).
 *   - `T` holds every Metal thread-position builtin of this thread,
 *     precomputed. Vector builtins are `foundry_cpu_uint3` ({x,y,z}); the
 *     prelude's `uint3`, `uint2`, `ushort3` and `ushort2` convert implicitly
 *     from it, so the entry may pass `T->thread_position_in_grid` where a
 *     `uint3` parameter is expected and `T->thread_position_in_grid.x` where
 *     a `uint` is. Scalar builtins (`thread_index_in_simdgroup`, ...) are
 *     `uint32_t`, as in Metal.
 *   - `T->threadgroup_memory` points at this threadgroup's arena of
 *     `L->threadgroup_memory_bytes` bytes (64-byte aligned). The composer
 *     carves threadgroup variables out of it at fixed byte offsets.
 *
 * The module also exports `foundry_cpu_module_init` (the JIT appends it):
 * the loader calls it once with the host's function table, through which the
 * prelude's `threadgroup_barrier` and `simd_*` functions reach the scheduler.
 * Body functions never see `T`: the host knows which fiber is running.
 *
 * Versioning: FOUNDRY_CPU_ABI_VERSION changes whenever a layout below
 * changes; the loader refuses a module built against another version.
 */
#ifndef FOUNDRY_CPU_ABI_H
#define FOUNDRY_CPU_ABI_H

#include <stdint.h>

#define FOUNDRY_CPU_ABI_VERSION 4u
/* Threads per SIMD-group (Apple GPUs: 32). */
#define FOUNDRY_CPU_SIMD_WIDTH 32u
/* Bytes one lane may deposit into a SIMD-group collective (largest operand:
 * a 4-component vector of 8-byte scalars is 32 bytes; 64 leaves room). */
#define FOUNDRY_CPU_SIMD_SLOT_BYTES 64u

#ifdef __cplusplus
extern "C" {
#endif

/* Three unsigned 32-bit components, laid out like Metal's packed uint3. */
typedef struct foundry_cpu_uint3 {
  uint32_t x, y, z;
} foundry_cpu_uint3;

/* One dispatch, shared by all its threads. */
typedef struct foundry_cpu_launch {
  /* Argument table indexed by buffer index; see the contract above. */
  void* const* args;
  /* Number of entries in `args`. */
  uint32_t arg_count;
  /* Bytes of threadgroup memory each threadgroup gets. */
  uint32_t threadgroup_memory_bytes;
  /* Threadgroups in the grid. */
  foundry_cpu_uint3 threadgroups_per_grid;
  /* Threads per (full) threadgroup as dispatched. With a non-uniform grid
   * the edge threadgroups are smaller: see foundry_cpu_thread. */
  foundry_cpu_uint3 threads_per_threadgroup;
  /* Threads in the grid (threadgroups_per_grid * threads_per_threadgroup
   * for a uniform dispatch; smaller for a non-uniform one). */
  foundry_cpu_uint3 threads_per_grid;
  /* Kernel name for diagnostics (NUL-terminated, never null). */
  const char* kernel_name;
  /* Serial number of this dispatch, unique in the process (never 0): lets a
   * kernel keep per-dispatch work (an input quantized once) across its
   * threadgroups on one OS thread and know when the next dispatch starts. */
  uint64_t serial;
} foundry_cpu_launch;

/* Metal's thread-position builtins of one thread (the attribute names). */
typedef struct foundry_cpu_thread {
  foundry_cpu_uint3 thread_position_in_grid;
  foundry_cpu_uint3 thread_position_in_threadgroup;
  foundry_cpu_uint3 threadgroup_position_in_grid;
  /* Size of *this* threadgroup (smaller at the edge of a non-uniform grid). */
  foundry_cpu_uint3 threads_per_threadgroup;
  /* Size of a full threadgroup as dispatched (Metal's
   * dispatch_threads_per_threadgroup). */
  foundry_cpu_uint3 dispatch_threads_per_threadgroup;
  foundry_cpu_uint3 threadgroups_per_grid;
  foundry_cpu_uint3 threads_per_grid;
  /* x + y*X + z*X*Y over this threadgroup's size. */
  uint32_t thread_index_in_threadgroup;
  /* thread_index_in_threadgroup % 32 */
  uint32_t thread_index_in_simdgroup;
  /* thread_index_in_threadgroup / 32 */
  uint32_t simdgroup_index_in_threadgroup;
  /* ceil(threads in this threadgroup / 32) */
  uint32_t simdgroups_per_threadgroup;
  /* Always 32 (also for a partial last SIMD-group, as on Apple GPUs). */
  uint32_t threads_per_simdgroup;
  /* Same value as threads_per_simdgroup (Metal's thread_execution_width). */
  uint32_t thread_execution_width;
  /* This threadgroup's arena (64-byte aligned), shared by its threads. */
  unsigned char* threadgroup_memory;
  /* The dispatch this thread belongs to. */
  const foundry_cpu_launch* launch;
} foundry_cpu_thread;

/* What a SIMD-group collective combines. Lane i deposited its operand at
 * in + i*FOUNDRY_CPU_SIMD_SLOT_BYTES and its parameter (shuffle source
 * lane, delta, mask) at param[i]; the combine function writes lane i's
 * result at out + i*FOUNDRY_CPU_SIMD_SLOT_BYTES for every active lane. */
typedef struct foundry_cpu_simd_exchange {
  const unsigned char* in;
  const uint32_t* param;
  unsigned char* out;
  /* Bit i set: lane i takes part (it exists and has not returned). */
  uint32_t active_mask;
  /* Lanes that exist in this SIMD-group (32, or fewer for a partial last
   * SIMD-group). */
  uint32_t width;
} foundry_cpu_simd_exchange;

typedef void (*foundry_cpu_simd_combine_fn)(const foundry_cpu_simd_exchange*);

/* The host's function table, handed to foundry_cpu_module_init. */
typedef struct foundry_cpu_host_api {
  uint32_t abi_version;
  uint32_t simd_width;
  /* Parks the calling thread until every thread of its threadgroup arrives
   * at the same barrier. `site` identifies the call site (its source line);
   * `flags` is Metal's mem_flags (no effect on the CPU: all threads of a
   * threadgroup share one OS thread, and the call is a compiler barrier). */
  void (*threadgroup_barrier)(uint32_t site, uint32_t flags);
  /* Deposits `bytes` bytes at `value` and `param`, parks until every active
   * lane of the SIMD-group reaches a collective with the same site and
   * combine function, lets the last one run `combine` once, and returns this
   * lane's result slot (valid until the lane's next collective). */
  const void* (*simd_collective)(uint32_t site, const void* value, uint32_t bytes,
                                 uint32_t param, foundry_cpu_simd_combine_fn combine);
  /* The calling thread's index in its SIMD-group (thread_index_in_simdgroup),
   * for prelude functions whose work one lane does for the whole SIMD-group
   * (SIMD-group matrices). No switch, no synchronisation. */
  uint32_t (*simd_lane)(void);
  /* The serial number (foundry_cpu_launch::serial) of the dispatch the
   * calling OS thread is running, for per-dispatch caches in kernel code
   * (the prelude's foundry_q8_vector). Kept by the host, so a module needs
   * no thread-local variable of its own for it. */
  uint64_t (*dispatch_serial)(void);
} foundry_cpu_host_api;

/* Signature of a kernel entry point. */
typedef void (*foundry_cpu_entry_fn)(const foundry_cpu_launch*, const foundry_cpu_thread*);

/* Signature of a lane-loop entry point (<name>__cpu_lanes, exported only by
 * kernels whose cross-lane operations are all reduction points the composer
 * knows; see dsl/lane_loop.hpp): runs one whole threadgroup, the `n` threads
 * T[0..n) in thread_index_in_threadgroup order, without fibers and without
 * calling the host's barrier or SIMD-group functions. */
typedef void (*foundry_cpu_lanes_fn)(const foundry_cpu_launch*, const foundry_cpu_thread*, uint32_t n);
/* A module may also export `const uint32_t <name>__cpu_lanes_stride` (the
 * lane-loop body reads only threads 0, stride, 2*stride, ... of T: lane 0 of
 * each SIMD-group when it is 32); the executor then fills only those
 * threads' positions. Absent: every thread is read. */

/* Signature of the module initialiser (symbol "foundry_cpu_module_init").
 * Returns the module's FOUNDRY_CPU_ABI_VERSION. */
typedef uint32_t (*foundry_cpu_module_init_fn)(const foundry_cpu_host_api*);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FOUNDRY_CPU_ABI_H */
