// GPU benchmarks of the CUDA backend, printed as markdown tables:
//
//  1. Measured memory roofline: a read-only kernel streaming a 2 GiB buffer
//     (16-byte loads, several unroll and occupancy settings, the best median).
//  2. Decode GEMVs (batch 1) of the library aliases (F16, Q8_0, Q4_0, Q4_1;
//     row-major and canonical layouts; Q4_K, Q5_K, Q6_K where k is a
//     multiple of 256) at SmolLM2-135M, Llama-3.2-1B and
//     Llama-3-8B decode shapes, next to cuBLAS's fp16 GEMV (cublasGemmEx with N = 1) on the
//     same shapes: time per GEMV, bytes moved, GB/s and % of the measured
//     roofline. The weights are rotated through enough copies that every
//     round reads more than twice the L2 cache, so no launch finds its
//     weights in L2. Each round (one launch per copy) is captured once as a
//     CUDA graph and replayed; time per GEMV = CUDA-event time of the
//     replays / launches, the median of 15 measurements.
//     The multi-row aliases (`*_multi_row`: several rows per SIMD-group,
//     16-byte loads) run beside the one-row-per-SIMD-group ones, and a
//     sweep over rows per SIMD-group and SIMD-groups per threadgroup follows
//     the table. So do the 8-bit-activation aliases (`*_q8_act`, the GEMV
//     alone on x quantized once) and the quantizer of x alone.
//  3. Launch overhead: host time per dispatch through the executor (bind,
//     size, launch) vs a raw cuLaunchKernel of the same CUfunction with
//     prepared parameters, and the GPU time per GEMV when launched directly
//     vs replayed from a graph.
//  4. Fused vs unfused: the library's RMSNorm + QKV and RMSNorm + gate/up +
//     SwiGLU kernels against RMSNorm, then one GEMV per matrix (then a
//     SwiGLU kernel), for F16, Q8_0 and Q4_1, timed like the GEMVs.
//  5. Prefill GEMM (M = 512) of the library's gemm_f16/q8_0/q4_1 at SmolLM2
//     and Llama-3-8B projection shapes next to cuBLAS GemmEx (fp16 inputs,
//     fp32 output): µs, TFLOP/s, % of cuBLAS; each on the default tile
//     (one SIMD-group, float operands) and on gemm_tile_gpu (2x2
//     SIMD-groups, half operands on tensor cores), side by side.
//  6. NVRTC compile time of every library alias, cold, on 1 and on all
//     hardware threads.
//
// Usage: foundry_cuda_gemv_bench [--quick] [--gemm] [--gemv] [--json FILE]
//   --quick: SmolLM2 shapes only; --gemm: the prefill GEMM table only;
//   --gemv: the roofline, the decode GEMV table and the multi-row sweep
//   only; --json FILE: the decode GEMV rows (and the roofline) also as JSON,
//   for bench/cuda/plot_gemv.py
// Needs a CUDA device; cuBLAS is loaded with dlopen (its rows are skipped
// when libcublas is missing).

#include <cublas_v2.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <foundry/backends/cuda/cuda.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;
namespace fc = foundry::cuda;

namespace {

fc::cuda_backend* g_be = nullptr;
const fc::driver_api* g_d = nullptr;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

/// CUDA-event time (ms) of `work` enqueued on the backend's stream.
template <class F>
double gpu_ms(F&& work) {
  fc::api::CUevent a = nullptr, b = nullptr;
  g_d->check(g_d->event_create(&a, fc::api::CU_EVENT_DEFAULT), "cuEventCreate");
  g_d->check(g_d->event_create(&b, fc::api::CU_EVENT_DEFAULT), "cuEventCreate");
  g_d->check(g_d->event_record(a, g_be->stream()), "cuEventRecord");
  work();
  g_d->check(g_d->event_record(b, g_be->stream()), "cuEventRecord");
  g_d->check(g_d->event_synchronize(b), "cuEventSynchronize");
  float ms = 0;
  g_d->check(g_d->event_elapsed_time(&ms, a, b), "cuEventElapsedTime");
  g_d->event_destroy(a);
  g_d->event_destroy(b);
  return ms;
}

/// A small deterministic generator (xorshift64*), fast enough to fill
/// gigabytes of benchmark weights.
struct xorshift {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  float uniform() { return float(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }  // [-1, 1)
};

// --- raw CUDA kernels (roofline, launch overhead) --------------------------------------

const char* raw_source = R"(
template <int U>
__device__ void read_only(const uint4* __restrict__ p, unsigned long long n16, unsigned* out) {
  unsigned acc = 0;
  const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + (U - 1) * stride < n16; i += U * stride) {
    uint4 v[U];
#pragma unroll
    for (int u = 0; u < U; ++u) v[u] = __ldcs(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < U; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = __ldcs(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9E3779B9u) out[0] = acc;  // keeps the loads; the buffer is zeros
}
extern "C" __global__ void read_only_1(const uint4* p, unsigned long long n, unsigned* o) { read_only<1>(p, n, o); }
extern "C" __global__ void read_only_2(const uint4* p, unsigned long long n, unsigned* o) { read_only<2>(p, n, o); }
extern "C" __global__ void read_only_4(const uint4* p, unsigned long long n, unsigned* o) { read_only<4>(p, n, o); }
extern "C" __global__ void noop(unsigned* o) { if (o == nullptr) o[0] = 1; }
)";

struct raw_module {
  fc::api::CUmodule module = nullptr;
  fc::api::CUfunction get(const char* name) const {
    fc::api::CUfunction f = nullptr;
    g_d->check(g_d->module_get_function(&f, module, name), "cuModuleGetFunction", name);
    return f;
  }
};

raw_module compile_raw(int arch) {
  const fc::nvrtc_api& n = fc::nvrtc();
  fc::api::nvrtcProgram prog = nullptr;
  n.check(n.create_program(&prog, raw_source, "bench_raw.cu", 0, nullptr, nullptr), "nvrtcCreateProgram");
  const std::string a = "--gpu-architecture=sm_" + std::to_string(arch);
  const char* opts[] = {a.c_str(), "-std=c++17"};
  const auto r = n.compile_program(prog, 2, opts);
  std::size_t log_size = 0;
  n.get_program_log_size(prog, &log_size);
  std::string log(log_size, '\0');
  n.get_program_log(prog, log.data());
  if (r != fc::api::NVRTC_SUCCESS) throw std::runtime_error("benchmark kernels failed to compile:\n" + log);
  std::size_t size = 0;
  n.check(n.get_cubin_size(prog, &size), "nvrtcGetCUBINSize");
  std::string cubin(size, '\0');
  n.check(n.get_cubin(prog, cubin.data()), "nvrtcGetCUBIN");
  n.destroy_program(&prog);
  raw_module m;
  g_d->check(g_d->module_load_data(&m.module, cubin.data()), "cuModuleLoadData");
  return m;
}

struct device_facts {
  int sms = 0, l2 = 0, bus_bits = 0, mem_khz = 0;
  double theoretical_gbs() const { return 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9; }  // DDR
};

device_facts query_device() {
  device_facts f;
  const auto dev = g_be->device();
  g_d->device_get_attribute(&f.sms, fc::api::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
  g_d->device_get_attribute(&f.l2, fc::api::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev);
  g_d->device_get_attribute(&f.bus_bits, fc::api::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, dev);
  g_d->device_get_attribute(&f.mem_khz, fc::api::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, dev);
  return f;
}

/// Best median read bandwidth (GB/s) over unroll and blocks-per-SM settings.
double measure_roofline(fd::executor& ex, const raw_module& raw, const device_facts& dev, std::string& best) {
  const std::size_t bytes = std::size_t{2} << 30;
  fd::buffer buf = ex.allocate_bytes(bytes), out = ex.allocate_bytes(256);
  g_d->check(g_d->memset_d8_async(fc::cuda_backend::device_pointer(buf.info()), 0, bytes, g_be->stream()),
             "cuMemsetD8Async");
  g_be->synchronize();
  fc::api::CUdeviceptr p = fc::cuda_backend::device_pointer(buf.info()), o = fc::cuda_backend::device_pointer(out.info());
  unsigned long long n16 = bytes / 16;
  void* params[] = {&p, &n16, &o};
  double best_gbs = 0;
  for (int unroll : {1, 2, 4}) {
    const fc::api::CUfunction f = raw.get(("read_only_" + std::to_string(unroll)).c_str());
    for (int per_sm : {2, 4, 8, 16}) {
      const unsigned blocks = unsigned(dev.sms * per_sm), threads = 256;
      auto launch = [&] {
        g_d->check(g_d->launch_kernel(f, blocks, 1, 1, threads, 1, 1, 0, g_be->stream(), params, nullptr),
                   "cuLaunchKernel", "read_only");
      };
      launch();  // warm-up
      std::vector<double> gbs;
      for (int r = 0; r < 15; ++r) gbs.push_back(double(bytes) / (gpu_ms(launch) * 1e-3) / 1e9);
      const double m = median(gbs);
      if (m > best_gbs) {
        best_gbs = m;
        best = "unroll " + std::to_string(unroll) + ", " + std::to_string(blocks) + " blocks of 256";
      }
    }
  }
  return best_gbs;
}

// --- cuBLAS through dlopen -------------------------------------------------------------

struct cublas_api {
  void* lib = nullptr;
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  // cublasGemmEx is overloaded in C++ (a wrapper taking cudaDataType as the
  // compute type): name the C entry point's type.
  using gemm_ex_fn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const void*, const void*, cudaDataType, int, const void*, cudaDataType, int,
                                        const void*, void*, cudaDataType, int, cublasComputeType_t,
                                        cublasGemmAlgo_t);
  gemm_ex_fn gemm_ex = nullptr;
  cublasHandle_t handle = nullptr;
  std::string why;

  bool load() {
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (lib == nullptr) {
      why = "libcublas not found";
      return false;
    }
    create = reinterpret_cast<decltype(create)>(dlsym(lib, "cublasCreate_v2"));
    destroy = reinterpret_cast<decltype(destroy)>(dlsym(lib, "cublasDestroy_v2"));
    set_stream = reinterpret_cast<decltype(set_stream)>(dlsym(lib, "cublasSetStream_v2"));
    gemm_ex = reinterpret_cast<decltype(gemm_ex)>(dlsym(lib, "cublasGemmEx"));
    if (!create || !destroy || !set_stream || !gemm_ex) {
      why = "libcublas lacks cublasGemmEx";
      return false;
    }
    if (create(&handle) != CUBLAS_STATUS_SUCCESS) {
      why = "cublasCreate failed";
      return false;
    }
    set_stream(handle, g_be->stream());  // CUstream and cudaStream_t are one type
    return true;
  }
};

// --- GEMV cases --------------------------------------------------------------------------

struct shape {
  const char* model;
  const char* what;
  std::uint32_t n, k;
};
// Decode shapes (n x k = output rows x input length): fused QKV rows, fused
// gate+up rows, down projection and, for SmolLM2, the vocabulary head.
const shape kSmol[] = {
    {"SmolLM2-135M", "attn qkv", 960, 576},
    {"SmolLM2-135M", "ffn gate+up", 3072, 576},
    {"SmolLM2-135M", "ffn down", 576, 1536},
    {"SmolLM2-135M", "lm head", 49152, 576},
};
const shape kLlama[] = {
    {"Llama-3.2-1B", "attn qkv", 3072, 2048},  {"Llama-3.2-1B", "attn o", 2048, 2048},
    {"Llama-3.2-1B", "ffn gate+up", 16384, 2048}, {"Llama-3.2-1B", "ffn down", 2048, 8192},
    {"Llama-3-8B", "attn qkv", 6144, 4096},    {"Llama-3-8B", "attn o", 4096, 4096},
    {"Llama-3-8B", "ffn gate+up", 28672, 4096},   {"Llama-3-8B", "ffn down", 4096, 14336},
};

struct result {
  std::string kernel;
  double us = 0, bytes = 0;
  std::uint32_t copies = 0;
};

std::size_t rotation_copies(std::size_t bytes_per_copy, const device_facts& dev) {
  const std::size_t want = 2 * std::size_t(dev.l2) + 1;
  std::size_t c = std::max<std::size_t>(2, (want + bytes_per_copy - 1) / bytes_per_copy);
  // At most ~6 GB of weights per case.
  return std::max<std::size_t>(2, std::min(c, std::size_t(6e9) / bytes_per_copy));
}

/// Times `launch(copy)` for copy = 0..copies-1, captured as one graph and
/// replayed: the median GPU time per launch in µs.
template <class F>
double time_rotation(std::size_t copies, F&& launch) {
  g_be->begin_capture();
  for (std::size_t c = 0; c < copies; ++c) launch(c);
  fc::graph g = g_be->end_capture();
  g_be->replay(g);
  g_be->replay(g);
  g_be->synchronize();
  const std::size_t reps = std::max<std::size_t>(1, 400 / copies);
  std::vector<double> us;
  for (int m = 0; m < 15; ++m)
    us.push_back(gpu_ms([&] {
                   for (std::size_t r = 0; r < reps; ++r) g_be->replay(g);
                 }) *
                 1e3 / double(reps * copies));
  return median(us);
}

void fill_halves(std::vector<std::uint8_t>& bytes, xorshift& rng, float scale) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const fd::half h(rng.uniform() * scale);
    const std::uint16_t b = h.bits();
    std::memcpy(&bytes[i], &b, 2);
  }
}

/// Random [n, k] weight planes of policy `P` in enough copies that a round
/// over them reads more than twice the L2 (`rotation_copies`).
template <fd::weight_policy P>
struct rotated_planes {
  std::size_t bytes = 0;  ///< data + scale plane bytes of one copy
  std::vector<fd::buffer> w, ws;
  rotated_planes(fd::executor& ex, const shape& s, const device_facts& dev) {
    xorshift rng;
    const std::size_t data = fd::data_plane_bytes<P>(s.n, s.k), scales = fd::scale_plane_bytes<P>(s.n, s.k);
    std::vector<std::uint8_t> plane(data), splane(std::max<std::size_t>(scales, 4));
    if constexpr (P::weights_per_block == 1) {
      fill_halves(plane, rng, 1.0f);  // F16 weights
    } else {
      for (auto& b : plane) b = std::uint8_t(rng.next() >> 56);  // codes
      fill_halves(splane, rng, 0.01f);                          // d (and m)
    }
    bytes = data + scales;
    for (std::size_t c = 0; c < rotation_copies(bytes, dev); ++c) {
      w.push_back(ex.allocate_bytes(data));
      w.back().write(plane);
      ws.push_back(ex.allocate_bytes(splane.size()));
      ws.back().write(splane);
    }
  }
};

/// Times alias `K` over the rotated weight copies of policy `P`: `bind(a)`
/// sets every argument but the planes; `activation_bytes` counts what the
/// kernel moves besides them (x or its codes, y).
template <class K, fd::weight_policy P, class Bind>
result bench_planes(fd::executor& ex, const shape& s, const device_facts& dev, double activation_bytes, Bind bind) {
  const rotated_planes<P> planes(ex, s, dev);
  const std::size_t copies = planes.w.size();
  ex.prepare<K>();
  result r;
  r.kernel = std::string(K::name.view());
  r.copies = std::uint32_t(copies);
  r.bytes = double(planes.bytes) + activation_bytes;
  r.us = time_rotation(copies, [&](std::size_t c) {
    typename K::arguments a;
    a.template set<"w">(planes.w[c]);
    if constexpr (P::has_scale) a.template set<"w_scales">(planes.ws[c]);
    bind(a);
    ex.dispatch<K>(a);
  });
  return r;
}

/// One library GEMV alias over `copies` rotated weight copies.
template <class K, fd::weight_policy P>
result bench_alias(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb,
                   const fd::buffer& yb) {
  return bench_planes<K, P>(ex, s, dev, 4.0 * s.k + 4.0 * s.n, [&](typename K::arguments& a) {
    a.template set<"x">(xb).template set<"y">(yb).template set<"n">(s.n).template set<"k">(s.k);
  });
}

/// A GEMV with 8-bit activations (`*_q8_act`): x quantized once by the
/// matching quantizer (not timed here, see `bench_quantizer`), then the
/// GEMV alone, weights rotated as in `bench_alias`. Bytes moved: the planes,
/// the codes and their (d, Σc), y.
template <class K, fd::weight_policy P>
result bench_q8_act(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb,
                    const fd::buffer& yb) {
  using Q = std::conditional_t<P::vector_i8_pair_split, fk::quantize_q8_activations_pair_split,
                               fk::quantize_q8_activations>;
  fd::buffer xq = ex.allocate<std::int8_t>(s.k), xs = ex.allocate<float>(s.k / 16);
  ex.prepare<Q>();
  typename Q::arguments qa;
  qa.template set<"x">(xb).template set<"k">(s.k).template set<"xq">(xq).template set<"xq_scales">(xs);
  ex.dispatch<Q>(qa);
  // codes (k bytes) + (d, Σc) per 32, y
  return bench_planes<K, P>(ex, s, dev, 1.5 * s.k + 4.0 * s.n, [&](typename K::arguments& a) {
    a.template set<"xq">(xq).template set<"xq_scales">(xs).template set<"y">(yb).template set<"n">(s.n).template set<"k">(
        s.k);
  });
}

/// The quantizer of x (k floats) alone: µs per dispatch (no weights; x and
/// its codes stay in L2, as in a decode step).
template <class Q>
result bench_quantizer(fd::executor& ex, const shape& s, const fd::buffer& xb) {
  fd::buffer xq = ex.allocate<std::int8_t>(s.k), xs = ex.allocate<float>(s.k / 16);
  ex.prepare<Q>();
  result r;
  r.kernel = std::string(Q::name.view()) + " (x only)";
  r.copies = 1;
  r.bytes = 4.0 * s.k + 1.5 * s.k;
  r.us = time_rotation(1, [&](std::size_t) {
    typename Q::arguments a;
    a.template set<"x">(xb).template set<"k">(s.k).template set<"xq">(xq).template set<"xq_scales">(xs);
    ex.dispatch<Q>(a);
  });
  return r;
}

result bench_cublas(fd::executor& ex, cublas_api& cb, const shape& s, const device_facts& dev) {
  xorshift rng;
  const std::size_t data = std::size_t{s.n} * s.k * 2;
  std::vector<std::uint8_t> plane(data), xh(std::size_t{s.k} * 2);
  fill_halves(plane, rng, 1.0f);
  fill_halves(xh, rng, 1.0f);
  const std::size_t copies = rotation_copies(data, dev);
  std::vector<fd::buffer> w;
  for (std::size_t c = 0; c < copies; ++c) {
    w.push_back(ex.allocate_bytes(data));
    w.back().write(plane);
  }
  fd::buffer xb = ex.allocate_bytes(xh.size()), yb = ex.allocate<float>(s.n);
  xb.write(xh);
  const float alpha = 1.0f, beta = 0.0f;
  auto gemv = [&](std::size_t c) {
    // y[n] = W[n, k] · x[k]: W row-major is a column-major k×n matrix, used transposed.
    const cublasStatus_t st =
        cb.gemm_ex(cb.handle, CUBLAS_OP_T, CUBLAS_OP_N, int(s.n), 1, int(s.k), &alpha,
                   reinterpret_cast<const void*>(fc::cuda_backend::device_pointer(w[c].info())), CUDA_R_16F,
                   int(s.k), reinterpret_cast<const void*>(fc::cuda_backend::device_pointer(xb.info())), CUDA_R_16F,
                   int(s.k), &beta, reinterpret_cast<void*>(fc::cuda_backend::device_pointer(yb.info())),
                   CUDA_R_32F, int(s.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cublasGemmEx failed: " + std::to_string(int(st)));
  };
  gemv(0);  // warm-up outside the capture (workspace, heuristics)
  g_be->synchronize();
  result r;
  r.kernel = "cuBLAS GemmEx fp16 (N=1)";
  r.copies = std::uint32_t(copies);
  r.bytes = double(data) + 2.0 * s.k + 4.0 * s.n;
  r.us = time_rotation(copies, gemv);
  return r;
}

// --- launch overhead ------------------------------------------------------------------------

void launch_overhead(fd::executor& ex) {
  const std::uint32_t n = 576, k = 576;
  xorshift rng;
  std::vector<std::uint8_t> plane(std::size_t{n} * k * 2);
  fill_halves(plane, rng, 1.0f);
  std::vector<float> x(k, 0.5f);
  fd::buffer wb = ex.allocate_bytes(plane.size()), xb = ex.upload(x), yb = ex.allocate<float>(n);
  wb.write(plane);
  fk::gemv_f16::arguments a;
  a.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(n).set<"k">(k);
  const auto& pipe = static_cast<const fc::cuda_pipeline&>(ex.pipeline_for<fk::gemv_f16>());
  fc::api::CUdeviceptr wp = fc::cuda_backend::device_pointer(wb.info()), xp = fc::cuda_backend::device_pointer(xb.info()),
                       yp = fc::cuda_backend::device_pointer(yb.info());
  std::uint32_t nn = n, kk = k;
  void* params[] = {&wp, &xp, &nn, &kk, &yp};  // plan order: w, x, n, k, y
  const fd::dispatch_size size = fk::gemv_f16::dispatch::compute(a);
  auto raw = [&] {
    g_d->check(g_d->launch_kernel(pipe.function(), size.threadgroups_per_grid.x, 1, 1,
                                  size.threads_per_threadgroup.x, 1, 1, 0, g_be->stream(), params, nullptr),
               "cuLaunchKernel");
  };
  auto via_executor = [&] { ex.dispatch<fk::gemv_f16>(a); };
  static_assert(fk::gemv_f16::plan.size() == 5);

  // Host time per launch: batches of 200 (well inside the launch queue),
  // synchronised between batches; median over 25 batches.
  auto host_us = [&](auto&& launch) {
    std::vector<double> us;
    for (int b = 0; b < 25; ++b) {
      g_be->synchronize();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 200; ++i) launch();
      const auto t1 = std::chrono::steady_clock::now();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / 200);
    }
    g_be->synchronize();
    return median(us);
  };
  auto gpu_us = [&](auto&& launch) {
    std::vector<double> us;
    for (int b = 0; b < 15; ++b)
      us.push_back(gpu_ms([&] {
                     for (int i = 0; i < 200; ++i) launch();
                   }) *
                   1e3 / 200);
    return median(us);
  };
  raw();
  via_executor();
  g_be->synchronize();
  const double h_raw = host_us(raw), h_ex = host_us(via_executor);
  const double g_raw = gpu_us(raw), g_ex = gpu_us(via_executor);
  g_be->begin_capture();
  for (int i = 0; i < 200; ++i) via_executor();
  fc::graph graph = g_be->end_capture();
  g_be->replay(graph);
  g_be->synchronize();
  std::vector<double> gr, hg;
  for (int b = 0; b < 15; ++b) gr.push_back(gpu_ms([&] { g_be->replay(graph); }) * 1e3 / 200);
  for (int b = 0; b < 15; ++b) {
    g_be->synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    g_be->replay(graph);
    hg.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  g_be->synchronize();
  const double g_graph = median(gr), h_graph = median(hg);

  std::printf("\n## Launch overhead (gemv_f16, 576 x 576, %d registers/thread)\n\n", pipe.registers());
  std::printf("| path | host µs per dispatch | GPU µs per GEMV, back to back |\n|---|---:|---:|\n");
  std::printf("| raw cuLaunchKernel (prepared parameters) | %.2f | %.2f |\n", h_raw, g_raw);
  std::printf("| executor.dispatch<gemv_f16> (bind + size + launch) | %.2f | %.2f |\n", h_ex, g_ex);
  std::printf("| CUDA graph replay (200 captured dispatches) | %.3f (%.2f per cuGraphLaunch) | %.2f |\n",
              h_graph / 200, h_graph, g_graph);
  std::printf("\nExecutor overhead over a raw launch: %.2f µs per dispatch (host).\n", h_ex - h_raw);
}

// --- fused vs unfused -------------------------------------------------------------------------

/// SwiGLU as its own kernel (the unfused FFN's last step): y = SiLU(gate)·up.
struct swiglu_stage {
  static constexpr fd::fixed_string name = "swiglu";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"gate", fd::input<float>>, fd::arg<"up", fd::input<float>>,
                                  fd::arg<"y", fd::output<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>>;
  static constexpr std::string_view body = R"(const uint i = $thread_position_in_grid.x;
if (i < $n) {
  const float g = $gate[i];
  $y[i] = g / (1.0f + exp(-g)) * $up[i];
})";
};
using swiglu_f32 = fd::fused_kernel<"bench_swiglu_f32", fd::per_element<fd::size_arg<"n">, 256>, swiglu_stage>;

/// Decoder layer dimensions.
struct layer_shape {
  const char* model;
  std::uint32_t hidden, n_heads, n_kv, head_dim, ffn;
};

/// A matrix's planes in policy P, random codes and scales, `copies` copies.
template <fd::weight_policy P>
struct rotated_matrix {
  std::vector<fd::buffer> data, scales;
  rotated_matrix(fd::executor& ex, std::uint32_t rows, std::uint32_t cols, std::size_t copies) {
    xorshift rng;
    std::vector<std::uint8_t> plane(fd::data_plane_bytes<P>(rows, cols)),
        splane(std::max<std::size_t>(fd::scale_plane_bytes<P>(rows, cols), 4));
    if constexpr (P::weights_per_block == 1) {
      fill_halves(plane, rng, 1.0f);
    } else {
      for (auto& b : plane) b = std::uint8_t(rng.next() >> 56);
      fill_halves(splane, rng, 0.01f);
    }
    for (std::size_t c = 0; c < copies; ++c) {
      data.push_back(ex.allocate_bytes(plane.size()));
      data.back().write(plane);
      scales.push_back(ex.allocate_bytes(splane.size()));
      scales.back().write(splane);
    }
  }
  template <fd::fixed_string W, class Args>
  void bind(Args& a, std::size_t c) const {
    a.template set<W>(data[c]);
    if constexpr (P::has_scale) a.template set<W + fd::fixed_string("_scales")>(scales[c]);
  }
  static std::size_t bytes(std::uint32_t rows, std::uint32_t cols) {
    return fd::data_plane_bytes<P>(rows, cols) + fd::scale_plane_bytes<P>(rows, cols);
  }
};

/// RMSNorm + QKV and RMSNorm + gate/up + SwiGLU of one layer in policy P:
/// the library's fused kernels against RMSNorm, then one GEMV per matrix
/// (then SwiGLU), weights rotated past L2 in both.
template <fd::weight_policy P, class Qkv, class GateUp, class Gemv>
void fused_vs_unfused(fd::executor& ex, const layer_shape& L, const device_facts& dev) {
  const std::uint32_t nq = L.n_heads * L.head_dim, nkv = L.n_kv * L.head_dim;
  using M = rotated_matrix<P>;
  const std::size_t qkv_bytes = M::bytes(nq, L.hidden) + 2 * M::bytes(nkv, L.hidden);
  const std::size_t ffn_bytes = 2 * M::bytes(L.ffn, L.hidden);
  const std::size_t copies = rotation_copies(std::min(qkv_bytes, ffn_bytes), dev);
  M wq(ex, nq, L.hidden, copies), wk(ex, nkv, L.hidden, copies), wv(ex, nkv, L.hidden, copies);
  M wg(ex, L.ffn, L.hidden, copies), wu(ex, L.ffn, L.hidden, copies);
  xorshift rng;
  std::vector<float> x(L.hidden), gamma(L.hidden);
  for (auto& v : x) v = rng.uniform();
  for (auto& v : gamma) v = 1.0f + 0.1f * rng.uniform();
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), xn = ex.allocate<float>(L.hidden);
  fd::buffer q = ex.allocate<float>(nq), k = ex.allocate<float>(nkv), v = ex.allocate<float>(nkv);
  fd::buffer gate = ex.allocate<float>(L.ffn), up = ex.allocate<float>(L.ffn), h = ex.allocate<float>(L.ffn);
  ex.prepare<Qkv, GateUp, Gemv, fk::rmsnorm_f32, swiglu_f32>();
  const float eps = 1e-5f;

  auto rmsnorm = [&] {
    fk::rmsnorm_f32::arguments a;
    a.set<"x">(xb).set<"gamma">(gb).set<"y">(xn).set<"eps">(eps).set<"rows">(1u).set<"n">(L.hidden);
    ex.dispatch<fk::rmsnorm_f32>(a);
  };
  auto gemv = [&](const M& w, std::size_t c, fd::buffer& y, std::uint32_t rows) {
    typename Gemv::arguments a;
    w.template bind<"w">(a, c);
    a.template set<"x">(xn).template set<"y">(y).template set<"n">(rows).template set<"k">(L.hidden);
    ex.dispatch<Gemv>(a);
  };
  const double qkv_fused = time_rotation(copies, [&](std::size_t c) {
    typename Qkv::arguments a;
    wq.template bind<"wq">(a, c);
    wk.template bind<"wk">(a, c);
    wv.template bind<"wv">(a, c);
    a.template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(eps).template set<"hidden">(L.hidden);
    a.template set<"n_heads">(L.n_heads).template set<"n_kv">(L.n_kv).template set<"head_dim">(L.head_dim);
    a.template set<"q">(q).template set<"k">(k).template set<"v">(v);
    ex.dispatch<Qkv>(a);
  });
  const double qkv_split = time_rotation(copies, [&](std::size_t c) {
    rmsnorm();
    gemv(wq, c, q, nq);
    gemv(wk, c, k, nkv);
    gemv(wv, c, v, nkv);
  });
  const double ffn_fused = time_rotation(copies, [&](std::size_t c) {
    typename GateUp::arguments a;
    wg.template bind<"w_gate">(a, c);
    wu.template bind<"w_up">(a, c);
    a.template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(eps).template set<"hidden">(L.hidden);
    a.template set<"ffn">(L.ffn).template set<"y">(h);
    ex.dispatch<GateUp>(a);
  });
  const double ffn_split = time_rotation(copies, [&](std::size_t c) {
    rmsnorm();
    gemv(wg, c, gate, L.ffn);
    gemv(wu, c, up, L.ffn);
    swiglu_f32::arguments a;
    a.set<"gate">(gate).set<"up">(up).set<"y">(h).set<"n">(L.ffn);
    ex.dispatch<swiglu_f32>(a);
  });
  auto row = [&](const char* what, const char* fused_name, std::size_t bytes, double fused, const char* split_name,
                 int kernels, double split) {
    std::printf("| %s | %s | %s | %.2f | %s (%d kernels) | %.2f | %.2fx | %.0f | %.0f |\n", L.model, what,
                fused_name, fused, split_name, kernels, split, split / fused, double(bytes) / (fused * 1e3),
                double(bytes) / (split * 1e3));
  };
  row("RMSNorm + QKV", std::string(Qkv::name.view()).c_str(), qkv_bytes, qkv_fused,
      ("rmsnorm_f32 + 3 x " + std::string(Gemv::name.view())).c_str(), 4, qkv_split);
  row("RMSNorm + gate/up + SwiGLU", std::string(GateUp::name.view()).c_str(), ffn_bytes, ffn_fused,
      ("rmsnorm_f32 + 2 x " + std::string(Gemv::name.view()) + " + swiglu").c_str(), 4, ffn_split);
}

void fused_vs_unfused_all(fd::executor& ex, const device_facts& dev, bool quick) {
  std::printf("\n## Fused vs unfused (one layer, batch 1; weights rotated past L2; graph replay; median of 15)\n\n");
  std::printf("| model | operation | fused kernel | µs | unfused | µs | speed-up | GB/s fused | GB/s unfused |\n");
  std::printf("|---|---|---|---:|---|---:|---:|---:|---:|\n");
  std::vector<layer_shape> shapes = {{"SmolLM2-135M", 576, 9, 3, 64, 1536}};
  if (!quick) shapes.push_back({"Llama-3.2-1B", 2048, 32, 8, 64, 8192});
  for (const layer_shape& L : shapes) {
    fused_vs_unfused<fp::f16, fk::rmsnorm_qkv_f16, fk::rmsnorm_gate_up_swiglu_f16, fk::gemv_f16>(ex, L, dev);
    fused_vs_unfused<fp::q8_0, fk::rmsnorm_qkv_q8_0, fk::rmsnorm_gate_up_swiglu_q8_0, fk::gemv_q8_0>(ex, L, dev);
    fused_vs_unfused<fp::q4_1, fk::rmsnorm_qkv_q4_1, fk::rmsnorm_gate_up_swiglu_q4_1, fk::gemv_q4_1>(ex, L, dev);
  }
}

// --- multi-row GEMV sweep -------------------------------------------------------------------

/// `gemv_multi_row` with R rows per SIMD-group and S SIMD-groups per
/// threadgroup, policy P: y = W·x.
template <fd::weight_policy P, unsigned R, unsigned S>
using multi_row_variant =
    fd::fused_kernel<"bench_multi_row", typename fk::gemv_multi_row<fd::plain_input<P>, R, S>::template dispatch_for<>,
                     fk::gemv_multi_row<fd::plain_input<P>, R, S>, fd::epi::store<"y", "value", fd::size_arg<"n">>>;

template <fd::weight_policy P, unsigned R, unsigned S>
void sweep_one(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb, const fd::buffer& yb,
               double roof) {
  const result r = bench_alias<multi_row_variant<P, R, S>, P>(ex, s, dev, xb, yb);
  const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
  std::printf("| %s | %s | %u x %u | %s | %u | %u | %.2f | %.0f | %.1f |\n", s.model, s.what, s.n, s.k,
              std::string(P::name.view()).c_str(), R, S, r.us, gbs, 100.0 * gbs / roof);
}

template <fd::weight_policy P, unsigned R, unsigned S>
using multi_row_q8_variant =
    fd::fused_kernel<"bench_multi_row_q8_act",
                     typename fk::gemv_multi_row<fd::plain_input<P>, R, S, false, true>::template dispatch_for<>,
                     fk::gemv_multi_row<fd::plain_input<P>, R, S, false, true>,
                     fd::epi::store<"y", "value", fd::size_arg<"n">>>;

template <fd::weight_policy P, unsigned R, unsigned S>
void sweep_q8_one(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb,
                  const fd::buffer& yb, double roof) {
  const result r = bench_q8_act<multi_row_q8_variant<P, R, S>, P>(ex, s, dev, xb, yb);
  const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
  std::printf("| %s | %s | %u x %u | %s, 8-bit x | %u | %u | %.2f | %.0f | %.1f |\n", s.model, s.what, s.n, s.k,
              std::string(P::name.view()).c_str(), R, S, r.us, gbs, 100.0 * gbs / roof);
}

template <fd::weight_policy P>
void sweep_q8_policy(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb,
                     const fd::buffer& yb, double roof) {
  sweep_q8_one<P, 1, 4>(ex, s, dev, xb, yb, roof);
  sweep_q8_one<P, 2, 4>(ex, s, dev, xb, yb, roof);
  sweep_q8_one<P, 4, 4>(ex, s, dev, xb, yb, roof);
  sweep_q8_one<P, 2, 8>(ex, s, dev, xb, yb, roof);
}

template <fd::weight_policy P>
void sweep_policy(fd::executor& ex, const shape& s, const device_facts& dev, const fd::buffer& xb,
                  const fd::buffer& yb, double roof) {
  sweep_one<P, 1, 4>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 1, 8>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 2, 2>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 2, 4>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 2, 8>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 4, 2>(ex, s, dev, xb, yb, roof);
  sweep_one<P, 4, 4>(ex, s, dev, xb, yb, roof);
}

/// Rows per SIMD-group (R) and SIMD-groups per threadgroup (S) of
/// `gemv_multi_row`, per policy, on a small, a medium and two large shapes:
/// what the aliases' choice rests on.
void multi_row_sweep(fd::executor& ex, const device_facts& dev, double roof, bool quick) {
  std::printf("\n## gemv_multi_row: rows per SIMD-group (R) x SIMD-groups per threadgroup (S) "
              "(weights rotated past L2; graph replay; median of 15)\n\n");
  std::printf("| model | matrix | n x k | policy | R | S | µs | GB/s | %% of roofline |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---:|---:|\n");
  std::vector<shape> shapes = {kSmol[0], kSmol[3]};
  if (!quick) {
    shapes.push_back(kLlama[3]);  // Llama-3.2-1B ffn down, 2048 x 8192
    shapes.push_back(kLlama[6]);  // Llama-3-8B ffn gate+up, 28672 x 4096
  }
  for (const shape& s : shapes) {
    fd::buffer xb = ex.upload(std::vector<float>(s.k, 0.25f)), yb = ex.allocate<float>(s.n);
    sweep_policy<fp::f16>(ex, s, dev, xb, yb, roof);
    sweep_policy<fp::q8_0>(ex, s, dev, xb, yb, roof);
    sweep_policy<fp::q4_0>(ex, s, dev, xb, yb, roof);
    sweep_policy<fp::q4_1>(ex, s, dev, xb, yb, roof);
    sweep_q8_policy<fp::q8_0>(ex, s, dev, xb, yb, roof);
    sweep_q8_policy<fp::q4_1>(ex, s, dev, xb, yb, roof);
  }
}

// --- prefill GEMM ---------------------------------------------------------------------------

/// Prefill shapes: M tokens times the projection n x k.
struct gemm_shape {
  const char* model;
  const char* what;
  std::uint32_t m, n, k;
};
const gemm_shape kGemmSmol[] = {
    {"SmolLM2-135M", "attn qkv", 512, 960, 576},
    {"SmolLM2-135M", "ffn gate+up", 512, 3072, 576},
    {"SmolLM2-135M", "ffn down", 512, 576, 1536},
};
const gemm_shape kGemmLlama8B[] = {
    {"Llama-3-8B", "attn qkv", 512, 6144, 4096},
    {"Llama-3-8B", "attn o", 512, 4096, 4096},
    {"Llama-3-8B", "ffn gate+up", 512, 28672, 4096},
    {"Llama-3-8B", "ffn down", 512, 4096, 14336},
};

/// Median GPU time (µs) of one `launch()`, over 15 measurements of 5.
template <class F>
double time_launches(F&& launch) {
  launch();
  g_be->synchronize();
  std::vector<double> us;
  for (int r = 0; r < 15; ++r)
    us.push_back(gpu_ms([&] {
                   for (int i = 0; i < 5; ++i) launch();
                 }) *
                 1e3 / 5);
  return median(us);
}

/// Library GEMM alias `K` (weights in `P`): Y[m, n] = X[m, k] · W[n, k]ᵀ,
/// X float, Y float.
template <class K, fd::weight_policy P>
double bench_gemm_alias(fd::executor& ex, const gemm_shape& s) {
  rotated_matrix<P> w(ex, s.n, s.k, 1);
  xorshift rng;
  std::vector<float> x(std::size_t{s.m} * s.k);
  for (auto& v : x) v = rng.uniform();
  fd::buffer xb = ex.upload(x), yb = ex.allocate<float>(std::size_t{s.m} * s.n);
  ex.prepare<K>();
  return time_launches([&] {
    typename K::arguments a;
    w.template bind<"w">(a, 0);
    a.template set<"x">(xb).template set<"y">(yb).template set<"n">(s.n).template set<"k">(s.k).template set<"batch">(
        s.m);
    ex.dispatch<K>(a);
  });
}

/// cuBLAS GemmEx, fp16 inputs, fp32 output and accumulation, same product.
double bench_gemm_cublas(fd::executor& ex, cublas_api& cb, const gemm_shape& s) {
  xorshift rng;
  std::vector<std::uint8_t> wh(std::size_t{s.n} * s.k * 2), xh(std::size_t{s.m} * s.k * 2);
  fill_halves(wh, rng, 1.0f);
  fill_halves(xh, rng, 1.0f);
  fd::buffer wb = ex.allocate_bytes(wh.size()), xb = ex.allocate_bytes(xh.size()),
             yb = ex.allocate<float>(std::size_t{s.m} * s.n);
  wb.write(wh);
  xb.write(xh);
  const float alpha = 1.0f, beta = 0.0f;
  return time_launches([&] {
    // Column-major view: Yᵀ[n, m] = W[n, k] (k×n column-major, transposed) · Xᵀ[k, m].
    const cublasStatus_t st =
        cb.gemm_ex(cb.handle, CUBLAS_OP_T, CUBLAS_OP_N, int(s.n), int(s.m), int(s.k), &alpha,
                   reinterpret_cast<const void*>(fc::cuda_backend::device_pointer(wb.info())), CUDA_R_16F, int(s.k),
                   reinterpret_cast<const void*>(fc::cuda_backend::device_pointer(xb.info())), CUDA_R_16F, int(s.k),
                   &beta, reinterpret_cast<void*>(fc::cuda_backend::device_pointer(yb.info())), CUDA_R_32F,
                   int(s.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cublasGemmEx failed: " + std::to_string(int(st)));
  });
}

void prefill_gemm_all(fd::executor& ex, cublas_api* cb, bool quick) {
  std::printf("\n## Prefill GEMM, M = 512 tokens (median of 15 x 5 launches)\n\n");
  std::printf("| model | matrix | m x n x k | kernel | µs | TFLOP/s | %% of cuBLAS fp16 |\n");
  std::printf("|---|---|---|---|---:|---:|---:|\n");
  std::vector<gemm_shape> shapes(std::begin(kGemmSmol), std::end(kGemmSmol));
  if (!quick) shapes.insert(shapes.end(), std::begin(kGemmLlama8B), std::end(kGemmLlama8B));
  for (const gemm_shape& s : shapes) {
    const double flop = 2.0 * s.m * double(s.n) * s.k;
    double ref = 0;
    auto row = [&](const std::string& kernel, double us) {
      std::printf("| %s | %s | %u x %u x %u | %s | %.1f | %.2f | %s |\n", s.model, s.what, s.m, s.n, s.k,
                  kernel.c_str(), us, flop / (us * 1e-6) / 1e12,
                  ref > 0 ? (std::to_string(int(100.0 * ref / us + 0.5)) + "%").c_str() : "-");
    };
    try {
      if (cb != nullptr) {
        ref = bench_gemm_cublas(ex, *cb, s);
        row("cuBLAS GemmEx fp16 (fp32 out)", ref);
      }
      row(std::string(fk::gemm_f16::name.view()), bench_gemm_alias<fk::gemm_f16, fp::f16>(ex, s));
      row(std::string(fk::gemm_q8_0::name.view()), bench_gemm_alias<fk::gemm_q8_0, fp::q8_0>(ex, s));
      row(std::string(fk::gemm_q4_1::name.view()), bench_gemm_alias<fk::gemm_q4_1, fp::q4_1>(ex, s));
      using gpu_f16 = fk::gemm<fp::f16, fk::gemm_tile_gpu>;
      using gpu_q8_0 = fk::gemm<fp::q8_0, fk::gemm_tile_gpu>;
      using gpu_q4_1 = fk::gemm<fp::q4_1, fk::gemm_tile_gpu>;
      row(std::string(gpu_f16::name.view()), bench_gemm_alias<gpu_f16, fp::f16>(ex, s));
      row(std::string(gpu_q8_0::name.view()), bench_gemm_alias<gpu_q8_0, fp::q8_0>(ex, s));
      row(std::string(gpu_q4_1::name.view()), bench_gemm_alias<gpu_q4_1, fp::q4_1>(ex, s));
    } catch (const std::exception& e) {
      std::printf("| %s | %s | %u x %u x %u | error: %s | | | |\n", s.model, s.what, s.m, s.n, s.k, e.what());
    }
  }
}

// --- NVRTC compile time -----------------------------------------------------------------------

template <class... Ks>
std::vector<fc::compile_input> library_inputs(fd::type_list<Ks...>) {
  return {fc::compile_input{&fd::kernel_source_of<Ks, fc::cuda_entry>(), Ks::name.view()}...};
}

void compile_times() {
  const auto inputs = library_inputs(fk::library{});
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  std::printf("\n## NVRTC compile time (every library alias, %zu kernels, cold: no caches)\n\n", inputs.size());
  std::printf("| compiler threads | seconds | ms per kernel |\n|---:|---:|---:|\n");
  for (unsigned t : {1u, hw}) {
    fc::clear_memory_cache();
    fc::compile_options o = g_be->options();
    o.disk_cache = false;
    o.threads = t;
    const auto t0 = std::chrono::steady_clock::now();
    (void)fc::compile(inputs, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("| %u | %.2f | %.0f |\n", t, s, 1e3 * s / double(inputs.size()));
    if (hw == 1) break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, gemm_only = false, gemv_only = false;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    quick = quick || a == "--quick";
    gemm_only = gemm_only || a == "--gemm";
    gemv_only = gemv_only || a == "--gemv";
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
  }
  if (fc::device_count() == 0) {
    std::printf("skipped: no CUDA device (%s)\n", fc::driver_unavailable_reason().c_str());
    return 77;
  }
  fd::executor ex{fc::make_backend()};
  g_be = &static_cast<fc::cuda_backend&>(ex.get_backend());
  g_d = &g_be->driver_table();
  const device_facts dev = query_device();
  const raw_module raw = compile_raw(g_be->arch());

  std::string best;
  const double roof = measure_roofline(ex, raw, dev, best);
  std::printf("## Device\n\n| device | sm | SMs | L2 | theoretical DRAM | measured read roofline |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n| %s | sm_%d | %d | %d MiB | %.0f GB/s | %.0f GB/s (%s) |\n",
              g_be->device_name().c_str(), g_be->arch(), dev.sms, dev.l2 >> 20, dev.theoretical_gbs(), roof,
              best.c_str());

  cublas_api cb;
  const bool have_cublas = cb.load();
  if (!have_cublas) std::printf("\ncuBLAS rows skipped: %s\n", cb.why.c_str());
  if (gemm_only) {
    prefill_gemm_all(ex, have_cublas ? &cb : nullptr, quick);
    if (have_cublas) cb.destroy(cb.handle);
    return 0;
  }

  std::FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
  if (!json_path.empty() && !json) std::printf("cannot write %s\n", json_path.c_str());
  int json_rows = 0;
  if (json)
    std::fprintf(json, "{\n  \"device\": \"%s\",\n  \"roofline_gbs\": %.1f,\n  \"rows\": [\n",
                 g_be->device_name().c_str(), roof);
  std::printf("\n## Decode GEMV, batch 1 (weights rotated past L2; graph replay; median of 15)\n\n");
  std::printf("| model | matrix | n x k | kernel | MB moved | copies | µs | GB/s | %% of roofline |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---:|---:|\n");
  std::vector<shape> shapes(std::begin(kSmol), std::end(kSmol));
  if (!quick) shapes.insert(shapes.end(), std::begin(kLlama), std::end(kLlama));
  for (const shape& s : shapes) {
    fd::buffer xb = ex.upload(std::vector<float>(s.k, 0.25f)), yb = ex.allocate<float>(s.n);
    std::vector<result> rs;
    try {
      rs.push_back(bench_alias<fk::gemv_f16, fp::f16>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_f16_canonical, fp::f16>(ex, s, dev, xb, yb));
      if (have_cublas) rs.push_back(bench_cublas(ex, cb, s, dev));
      rs.push_back(bench_alias<fk::gemv_q8_0, fp::q8_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q8_0_canonical, fp::q8_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_0, fp::q4_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_0_canonical, fp::q4_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_1, fp::q4_1>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_1_canonical, fp::q4_1>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_f16_multi_row, fp::f16>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q8_0_multi_row, fp::q8_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_0_multi_row, fp::q4_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_alias<fk::gemv_q4_1_multi_row, fp::q4_1>(ex, s, dev, xb, yb));
      rs.push_back(bench_q8_act<fk::gemv_q8_0_multi_row_q8_act, fp::q8_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_q8_act<fk::gemv_q4_0_multi_row_q8_act, fp::q4_0>(ex, s, dev, xb, yb));
      rs.push_back(bench_q8_act<fk::gemv_q4_1_multi_row_q8_act, fp::q4_1>(ex, s, dev, xb, yb));
      rs.push_back(bench_quantizer<fk::quantize_q8_activations_pair_split>(ex, s, xb));
      if (s.k % 256 == 0) {  // K-quant super-blocks hold 256 weights
        rs.push_back(bench_alias<fk::gemv_q4_k, fp::q4_k>(ex, s, dev, xb, yb));
        rs.push_back(bench_alias<fk::gemv_q5_k, fp::q5_k>(ex, s, dev, xb, yb));
        rs.push_back(bench_alias<fk::gemv_q6_k, fp::q6_k>(ex, s, dev, xb, yb));
      }
    } catch (const std::exception& e) {
      std::printf("| %s | %s | %u x %u | error: %s | | | | | |\n", s.model, s.what, s.n, s.k, e.what());
      continue;
    }
    for (const result& r : rs) {
      const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
      std::printf("| %s | %s | %u x %u | %s | %.2f | %u | %.2f | %.0f | %.1f |\n", s.model, s.what, s.n, s.k,
                  r.kernel.c_str(), r.bytes / 1e6, r.copies, r.us, gbs, 100.0 * gbs / roof);
      if (json) {
        std::fprintf(json, "%s    {\"model\": \"%s\", \"matrix\": \"%s\", \"n\": %u, \"k\": %u, \"kernel\": \"%s\", "
                     "\"bytes\": %.0f, \"us\": %.4f, \"gbs\": %.2f}",
                     json_rows++ ? ",\n" : "", s.model, s.what, s.n, s.k, r.kernel.c_str(), r.bytes, r.us, gbs);
      }
    }
  }
  if (json) {
    std::fprintf(json, "\n  ]\n}\n");
    std::fclose(json);
  }
  multi_row_sweep(ex, dev, roof, quick);
  if (gemv_only) {
    if (have_cublas) cb.destroy(cb.handle);
    return 0;
  }
  fused_vs_unfused_all(ex, dev, quick);
  prefill_gemm_all(ex, have_cublas ? &cb : nullptr, quick);
  launch_overhead(ex);
  compile_times();
  if (have_cublas) cb.destroy(cb.handle);
  return 0;
}
