#pragma once
/// @file api.hpp
/// The CUDA driver API and NVRTC, loaded at run time with dlopen.
///
/// Foundry never links against libcuda or libnvrtc: a program that includes
/// the CUDA backend builds and runs on a machine without them, and using the
/// backend there throws `foundry::backend_unavailable` with the reason. The
/// few types and constants the backend needs are declared here (the C ABI of
/// both libraries is stable); when the toolkit headers are on the include
/// path (`foundry::cuda_headers` defines FOUNDRY_HAVE_CUDA_HEADERS) they are
/// checked against cuda.h and nvrtc.h at compile time.
///
/// Libraries tried, in order: $FOUNDRY_CUDA_DRIVER_LIBRARY, libcuda.so.1,
/// libcuda.so; $FOUNDRY_NVRTC_LIBRARY, libnvrtc.so.13, libnvrtc.so.12,
/// libnvrtc.so, then <toolkit>/lib64/libnvrtc.so under $CUDA_HOME,
/// $CUDA_PATH and /usr/local/cuda. Versioned driver entry points are looked
/// up by the names cuda.h maps the API to (`cuMemAlloc_v2`, ...).
///
/// Every call is checked: `check(r, "cuMemAlloc")` throws `driver_error`
/// naming the function, the error name and the driver's description.

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "foundry/core/errors.hpp"

// The opaque handle types, declared at global scope exactly as cuda.h and
// nvrtc.h declare them, so handles pass between Foundry and code that uses
// the toolkit headers (cuBLAS, the runtime API) without casts.
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
struct _nvrtcProgram;

namespace foundry::cuda {

/// Driver API and NVRTC types, as in cuda.h and nvrtc.h.
namespace api {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = ::CUctx_st*;
using CUmodule = ::CUmod_st*;
using CUfunction = ::CUfunc_st*;
using CUstream = ::CUstream_st*;
using CUevent = ::CUevent_st*;
using CUgraph = ::CUgraph_st*;
using CUgraphExec = ::CUgraphExec_st*;
/// CUgraphExecUpdateResultInfo (CUDA 12): the outcome of cuGraphExecUpdate.
struct CUgraphExecUpdateResultInfo {
  int result;
  void* errorNode;
  void* errorFromNode;
};
/// CUlaunchAttribute (CUDA 12): one launch attribute; only the `int`
/// members of its value union are used here (the union is 64 bytes, 8-byte
/// aligned, as in cuda.h).
struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char pad[64];
    void* align;
    int programmaticStreamSerializationAllowed;
  } value;
};
/// CUlaunchConfig (CUDA 12): the launch of cuLaunchKernelEx.
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute* attrs;
  unsigned numAttrs;
};
using nvrtcResult = int;
using nvrtcProgram = ::_nvrtcProgram*;

inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
inline constexpr CUresult CUDA_ERROR_NOT_READY = 600;
inline constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
inline constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
inline constexpr int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
inline constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
inline constexpr int CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3;
inline constexpr int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
inline constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
inline constexpr unsigned CU_EVENT_DEFAULT = 0;
inline constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
inline constexpr int CU_STREAM_CAPTURE_STATUS_NONE = 0;
inline constexpr int CU_STREAM_CAPTURE_MODE_RELAXED = 2;
inline constexpr nvrtcResult NVRTC_SUCCESS = 0;
inline constexpr nvrtcResult NVRTC_ERROR_COMPILATION = 6;
}  // namespace api

/// A driver call failed. `what()` names the function and the error.
class driver_error : public foundry::error {
 public:
  driver_error(const std::string& what, api::CUresult code) : foundry::error(what), code_(code) {}
  /// The CUresult.
  api::CUresult code() const noexcept { return code_; }

 private:
  api::CUresult code_;
};

/// The driver entry points the backend uses (member names without the `cu`
/// prefix, so cuda.h's renaming macros cannot touch them).
struct driver_api {
  using R = api::CUresult;
  R (*init)(unsigned) = nullptr;
  R (*driver_get_version)(int*) = nullptr;
  R (*get_error_name)(R, const char**) = nullptr;
  R (*get_error_string)(R, const char**) = nullptr;
  R (*device_get_count)(int*) = nullptr;
  R (*device_get)(api::CUdevice*, int) = nullptr;
  R (*device_get_name)(char*, int, api::CUdevice) = nullptr;
  R (*device_get_attribute)(int*, int, api::CUdevice) = nullptr;
  R (*device_total_mem)(std::size_t*, api::CUdevice) = nullptr;
  R (*device_primary_ctx_retain)(api::CUcontext*, api::CUdevice) = nullptr;
  R (*device_primary_ctx_release)(api::CUdevice) = nullptr;
  R (*ctx_set_current)(api::CUcontext) = nullptr;
  R (*ctx_get_current)(api::CUcontext*) = nullptr;
  R (*mem_alloc)(api::CUdeviceptr*, std::size_t) = nullptr;
  R (*mem_free)(api::CUdeviceptr) = nullptr;
  R (*mem_get_info)(std::size_t*, std::size_t*) = nullptr;
  R (*mem_host_alloc)(void**, std::size_t, unsigned) = nullptr;
  R (*mem_free_host)(void*) = nullptr;
  R (*memcpy_htod_async)(api::CUdeviceptr, const void*, std::size_t, api::CUstream) = nullptr;
  R (*memcpy_dtoh_async)(void*, api::CUdeviceptr, std::size_t, api::CUstream) = nullptr;
  R (*memcpy_dtod_async)(api::CUdeviceptr, api::CUdeviceptr, std::size_t, api::CUstream) = nullptr;
  R (*memset_d8_async)(api::CUdeviceptr, unsigned char, std::size_t, api::CUstream) = nullptr;
  R (*module_load_data)(api::CUmodule*, const void*) = nullptr;
  R (*module_unload)(api::CUmodule) = nullptr;
  R (*module_get_function)(api::CUfunction*, api::CUmodule, const char*) = nullptr;
  R (*func_get_attribute)(int*, int, api::CUfunction) = nullptr;
  R (*launch_kernel)(api::CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                     api::CUstream, void**, void**) = nullptr;
  /// cuLaunchKernelEx; optional (null when the driver lacks it: launches
  /// then go through `launch_kernel` without attributes).
  R (*launch_kernel_ex)(const api::CUlaunchConfig*, api::CUfunction, void**, void**) = nullptr;
  R (*stream_create)(api::CUstream*, unsigned) = nullptr;
  R (*stream_destroy)(api::CUstream) = nullptr;
  R (*stream_synchronize)(api::CUstream) = nullptr;
  R (*stream_begin_capture)(api::CUstream, int) = nullptr;
  R (*stream_end_capture)(api::CUstream, api::CUgraph*) = nullptr;
  R (*stream_is_capturing)(api::CUstream, int*) = nullptr;
  R (*graph_instantiate)(api::CUgraphExec*, api::CUgraph, unsigned long long) = nullptr;
  R (*graph_launch)(api::CUgraphExec, api::CUstream) = nullptr;
  R (*graph_exec_destroy)(api::CUgraphExec) = nullptr;
  R (*graph_exec_update)(api::CUgraphExec, api::CUgraph, api::CUgraphExecUpdateResultInfo*) = nullptr;
  R (*graph_destroy)(api::CUgraph) = nullptr;
  R (*event_create)(api::CUevent*, unsigned) = nullptr;
  R (*event_destroy)(api::CUevent) = nullptr;
  R (*event_record)(api::CUevent, api::CUstream) = nullptr;
  R (*event_synchronize)(api::CUevent) = nullptr;
  R (*event_elapsed_time)(float*, api::CUevent, api::CUevent) = nullptr;

  /// "CUDA_ERROR_X (description)" for `r`.
  std::string describe(R r) const {
    const char* name = nullptr;
    const char* text = nullptr;
    if (get_error_name == nullptr || get_error_name(r, &name) != api::CUDA_SUCCESS) name = nullptr;
    if (get_error_string == nullptr || get_error_string(r, &text) != api::CUDA_SUCCESS) text = nullptr;
    std::string s = name ? name : "CUresult " + std::to_string(r);
    if (text) s += std::string(" (") + text + ")";
    return s;
  }
  /// Throws `driver_error` "foundry cuda: <function> failed: <error>" (plus
  /// `context`, when given) unless `r` is CUDA_SUCCESS.
  void check(R r, const char* function, const std::string& context = {}) const {
    if (r == api::CUDA_SUCCESS) return;
    throw driver_error("foundry cuda: " + std::string(function) + " failed: " + describe(r) +
                           (context.empty() ? std::string() : " (" + context + ")"),
                       r);
  }
};

/// The NVRTC entry points the backend uses.
struct nvrtc_api {
  using R = api::nvrtcResult;
  R (*version)(int*, int*) = nullptr;
  R (*get_num_supported_archs)(int*) = nullptr;
  R (*get_supported_archs)(int*) = nullptr;
  R (*create_program)(api::nvrtcProgram*, const char*, const char*, int, const char* const*,
                      const char* const*) = nullptr;
  R (*destroy_program)(api::nvrtcProgram*) = nullptr;
  R (*compile_program)(api::nvrtcProgram, int, const char* const*) = nullptr;
  R (*get_program_log_size)(api::nvrtcProgram, std::size_t*) = nullptr;
  R (*get_program_log)(api::nvrtcProgram, char*) = nullptr;
  R (*get_cubin_size)(api::nvrtcProgram, std::size_t*) = nullptr;
  R (*get_cubin)(api::nvrtcProgram, char*) = nullptr;
  R (*get_ptx_size)(api::nvrtcProgram, std::size_t*) = nullptr;
  R (*get_ptx)(api::nvrtcProgram, char*) = nullptr;
  const char* (*get_error_string)(R) = nullptr;

  /// NVRTC's version, "13.0".
  std::string version_string() const {
    int major = 0, minor = 0;
    check(version(&major, &minor), "nvrtcVersion");
    return std::to_string(major) + "." + std::to_string(minor);
  }
  /// The architectures this NVRTC compiles for (75, 80, ..., 90, ...).
  std::vector<int> supported_archs() const {
    int n = 0;
    check(get_num_supported_archs(&n), "nvrtcGetNumSupportedArchs");
    std::vector<int> archs(static_cast<std::size_t>(n));
    if (n > 0) check(get_supported_archs(archs.data()), "nvrtcGetSupportedArchs");
    return archs;
  }
  void check(R r, const char* function) const {
    if (r == api::NVRTC_SUCCESS) return;
    throw foundry::error("foundry cuda: " + std::string(function) + " failed: " +
                         (get_error_string ? get_error_string(r) : "nvrtcResult " + std::to_string(r)));
  }
};

namespace detail {

/// dlopen of the first loadable name; the dlerror of each try in `why`.
inline void* open_first(std::initializer_list<std::string> names, std::string& why) {
  for (const std::string& n : names) {
    if (n.empty()) continue;
    if (void* h = ::dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    const char* e = ::dlerror();
    why += "\n  " + n + ": " + (e ? e : "not found");
  }
  return nullptr;
}

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

/// Binds `fn` to the first of `names` the library exports.
template <class F>
bool bind(void* lib, F& fn, std::initializer_list<const char*> names, std::string& missing) {
  for (const char* n : names)
    if (void* p = ::dlsym(lib, n)) {
      fn = reinterpret_cast<F>(p);
      return true;
    }
  missing += std::string(missing.empty() ? "" : ", ") + *names.begin();
  return false;
}

struct loaded_driver {
  driver_api api;
  std::string error;  // non-empty: unavailable, and why
};

inline loaded_driver load_driver() {
  loaded_driver out;
  std::string why;
  void* lib = open_first({env_or_empty("FOUNDRY_CUDA_DRIVER_LIBRARY"), "libcuda.so.1", "libcuda.so"}, why);
  if (lib == nullptr) {
    out.error = "foundry cuda: the CUDA driver library (libcuda.so.1) cannot be loaded; is the NVIDIA driver "
                "installed? Set FOUNDRY_CUDA_DRIVER_LIBRARY to its path if it is elsewhere." + why;
    return out;
  }
  driver_api& d = out.api;
  std::string missing;
  bind(lib, d.init, {"cuInit"}, missing);
  bind(lib, d.driver_get_version, {"cuDriverGetVersion"}, missing);
  bind(lib, d.get_error_name, {"cuGetErrorName"}, missing);
  bind(lib, d.get_error_string, {"cuGetErrorString"}, missing);
  bind(lib, d.device_get_count, {"cuDeviceGetCount"}, missing);
  bind(lib, d.device_get, {"cuDeviceGet"}, missing);
  bind(lib, d.device_get_name, {"cuDeviceGetName"}, missing);
  bind(lib, d.device_get_attribute, {"cuDeviceGetAttribute"}, missing);
  bind(lib, d.device_total_mem, {"cuDeviceTotalMem_v2"}, missing);
  bind(lib, d.device_primary_ctx_retain, {"cuDevicePrimaryCtxRetain"}, missing);
  bind(lib, d.device_primary_ctx_release, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, missing);
  bind(lib, d.ctx_set_current, {"cuCtxSetCurrent"}, missing);
  bind(lib, d.ctx_get_current, {"cuCtxGetCurrent"}, missing);
  bind(lib, d.mem_alloc, {"cuMemAlloc_v2"}, missing);
  bind(lib, d.mem_free, {"cuMemFree_v2"}, missing);
  bind(lib, d.mem_get_info, {"cuMemGetInfo_v2"}, missing);
  bind(lib, d.mem_host_alloc, {"cuMemHostAlloc"}, missing);
  bind(lib, d.mem_free_host, {"cuMemFreeHost"}, missing);
  bind(lib, d.memcpy_htod_async, {"cuMemcpyHtoDAsync_v2"}, missing);
  bind(lib, d.memcpy_dtoh_async, {"cuMemcpyDtoHAsync_v2"}, missing);
  bind(lib, d.memcpy_dtod_async, {"cuMemcpyDtoDAsync_v2"}, missing);
  bind(lib, d.memset_d8_async, {"cuMemsetD8Async"}, missing);
  bind(lib, d.module_load_data, {"cuModuleLoadData"}, missing);
  bind(lib, d.module_unload, {"cuModuleUnload"}, missing);
  bind(lib, d.module_get_function, {"cuModuleGetFunction"}, missing);
  bind(lib, d.func_get_attribute, {"cuFuncGetAttribute"}, missing);
  bind(lib, d.launch_kernel, {"cuLaunchKernel"}, missing);
  {
    std::string optional;  // an old driver without it launches without attributes
    bind(lib, d.launch_kernel_ex, {"cuLaunchKernelEx"}, optional);
  }
  bind(lib, d.stream_create, {"cuStreamCreate"}, missing);
  bind(lib, d.stream_destroy, {"cuStreamDestroy_v2"}, missing);
  bind(lib, d.stream_synchronize, {"cuStreamSynchronize"}, missing);
  bind(lib, d.stream_begin_capture, {"cuStreamBeginCapture_v2"}, missing);
  bind(lib, d.stream_end_capture, {"cuStreamEndCapture"}, missing);
  bind(lib, d.stream_is_capturing, {"cuStreamIsCapturing"}, missing);
  bind(lib, d.graph_instantiate, {"cuGraphInstantiateWithFlags"}, missing);
  bind(lib, d.graph_launch, {"cuGraphLaunch"}, missing);
  bind(lib, d.graph_exec_destroy, {"cuGraphExecDestroy"}, missing);
  bind(lib, d.graph_exec_update, {"cuGraphExecUpdate_v2"}, missing);
  bind(lib, d.graph_destroy, {"cuGraphDestroy"}, missing);
  bind(lib, d.event_create, {"cuEventCreate"}, missing);
  bind(lib, d.event_destroy, {"cuEventDestroy_v2"}, missing);
  bind(lib, d.event_record, {"cuEventRecord"}, missing);
  bind(lib, d.event_synchronize, {"cuEventSynchronize"}, missing);
  bind(lib, d.event_elapsed_time, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, missing);
  if (!missing.empty()) {
    out.error = "foundry cuda: the CUDA driver library is too old (it lacks " + missing +
                "); Foundry needs a driver for CUDA 12 or later";
    return out;
  }
  if (const api::CUresult r = d.init(0); r != api::CUDA_SUCCESS)
    out.error = "foundry cuda: cuInit failed: " + d.describe(r);
  return out;
}

struct loaded_nvrtc {
  nvrtc_api api;
  std::string error;
};

inline loaded_nvrtc load_nvrtc() {
  loaded_nvrtc out;
  std::string why;
  auto in_toolkit = [](const char* env) {
    const std::string root = env_or_empty(env);
    return root.empty() ? std::string() : root + "/lib64/libnvrtc.so";
  };
  void* lib = open_first({env_or_empty("FOUNDRY_NVRTC_LIBRARY"), "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                          in_toolkit("CUDA_HOME"), in_toolkit("CUDA_PATH"), "/usr/local/cuda/lib64/libnvrtc.so"},
                         why);
  if (lib == nullptr) {
    out.error = "foundry cuda: NVRTC (libnvrtc.so) cannot be loaded; install the CUDA toolkit's NVRTC "
                "(CUDA 12 or later) or set FOUNDRY_NVRTC_LIBRARY to its path." + why;
    return out;
  }
  nvrtc_api& n = out.api;
  std::string missing;
  bind(lib, n.version, {"nvrtcVersion"}, missing);
  bind(lib, n.get_num_supported_archs, {"nvrtcGetNumSupportedArchs"}, missing);
  bind(lib, n.get_supported_archs, {"nvrtcGetSupportedArchs"}, missing);
  bind(lib, n.create_program, {"nvrtcCreateProgram"}, missing);
  bind(lib, n.destroy_program, {"nvrtcDestroyProgram"}, missing);
  bind(lib, n.compile_program, {"nvrtcCompileProgram"}, missing);
  bind(lib, n.get_program_log_size, {"nvrtcGetProgramLogSize"}, missing);
  bind(lib, n.get_program_log, {"nvrtcGetProgramLog"}, missing);
  bind(lib, n.get_cubin_size, {"nvrtcGetCUBINSize"}, missing);
  bind(lib, n.get_cubin, {"nvrtcGetCUBIN"}, missing);
  bind(lib, n.get_ptx_size, {"nvrtcGetPTXSize"}, missing);
  bind(lib, n.get_ptx, {"nvrtcGetPTX"}, missing);
  bind(lib, n.get_error_string, {"nvrtcGetErrorString"}, missing);
  if (!missing.empty())
    out.error = "foundry cuda: the NVRTC library is too old (it lacks " + missing + "); Foundry needs CUDA 12 or later";
  return out;
}

}  // namespace detail

/// The driver API, loaded and initialised (cuInit) once per process.
/// Throws `backend_unavailable` with the reason when it cannot be.
inline const driver_api& driver() {
  static const detail::loaded_driver d = detail::load_driver();
  if (!d.error.empty()) throw backend_unavailable(d.error);
  return d.api;
}

/// NVRTC, loaded once per process. Throws `backend_unavailable` with the
/// reason when it cannot be.
inline const nvrtc_api& nvrtc() {
  static const detail::loaded_nvrtc n = detail::load_nvrtc();
  if (!n.error.empty()) throw backend_unavailable(n.error);
  return n.api;
}

/// Why the driver or NVRTC is unavailable ("" when it is available).
inline std::string driver_unavailable_reason() {
  try {
    (void)driver();
    return {};
  } catch (const backend_unavailable& e) {
    return e.what();
  }
}
inline std::string nvrtc_unavailable_reason() {
  try {
    (void)nvrtc();
    return {};
  } catch (const backend_unavailable& e) {
    return e.what();
  }
}

/// Number of CUDA devices; 0 when the driver is missing or has no device
/// (never throws).
inline int device_count() noexcept {
  try {
    const driver_api& d = driver();
    int n = 0;
    return d.device_get_count(&n) == api::CUDA_SUCCESS ? n : 0;
  } catch (...) {
    return 0;
  }
}

}  // namespace foundry::cuda

#if defined(FOUNDRY_HAVE_CUDA_HEADERS) && __has_include(<cuda.h>) && __has_include(<nvrtc.h>)
#include <cuda.h>
#include <nvrtc.h>
// The declarations above against the toolkit's headers.
static_assert(std::is_same_v<CUcontext, foundry::cuda::api::CUcontext> &&
              std::is_same_v<CUmodule, foundry::cuda::api::CUmodule> &&
              std::is_same_v<CUfunction, foundry::cuda::api::CUfunction> &&
              std::is_same_v<CUstream, foundry::cuda::api::CUstream> &&
              std::is_same_v<CUevent, foundry::cuda::api::CUevent> &&
              std::is_same_v<CUgraph, foundry::cuda::api::CUgraph> &&
              std::is_same_v<CUgraphExec, foundry::cuda::api::CUgraphExec> &&
              std::is_same_v<nvrtcProgram, foundry::cuda::api::nvrtcProgram> &&
              std::is_same_v<CUdeviceptr, foundry::cuda::api::CUdeviceptr>);
static_assert(sizeof(CUresult) == sizeof(foundry::cuda::api::CUresult));
static_assert(sizeof(CUdeviceptr) == sizeof(foundry::cuda::api::CUdeviceptr));
static_assert(sizeof(CUdevice) == sizeof(foundry::cuda::api::CUdevice));
static_assert(sizeof(CUdevice_attribute) == sizeof(int) && sizeof(CUfunction_attribute) == sizeof(int) &&
              sizeof(CUstreamCaptureMode) == sizeof(int) && sizeof(CUstreamCaptureStatus) == sizeof(int));
static_assert(CUDA_SUCCESS == foundry::cuda::api::CUDA_SUCCESS);
static_assert(sizeof(CUgraphExecUpdateResultInfo) == sizeof(foundry::cuda::api::CUgraphExecUpdateResultInfo) &&
              offsetof(CUgraphExecUpdateResultInfo, errorNode) ==
                  offsetof(foundry::cuda::api::CUgraphExecUpdateResultInfo, errorNode));
static_assert(sizeof(CUlaunchAttribute) == sizeof(foundry::cuda::api::CUlaunchAttribute) &&
              alignof(CUlaunchAttribute) == alignof(foundry::cuda::api::CUlaunchAttribute) &&
              offsetof(CUlaunchAttribute, value) == offsetof(foundry::cuda::api::CUlaunchAttribute, value));
static_assert(sizeof(CUlaunchConfig) == sizeof(foundry::cuda::api::CUlaunchConfig) &&
              offsetof(CUlaunchConfig, sharedMemBytes) == offsetof(foundry::cuda::api::CUlaunchConfig, sharedMemBytes) &&
              offsetof(CUlaunchConfig, hStream) == offsetof(foundry::cuda::api::CUlaunchConfig, hStream) &&
              offsetof(CUlaunchConfig, attrs) == offsetof(foundry::cuda::api::CUlaunchConfig, attrs) &&
              offsetof(CUlaunchConfig, numAttrs) == offsetof(foundry::cuda::api::CUlaunchConfig, numAttrs));
static_assert(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION ==
              foundry::cuda::api::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
static_assert(CUDA_ERROR_NO_DEVICE == foundry::cuda::api::CUDA_ERROR_NO_DEVICE);
static_assert(CUDA_ERROR_NOT_READY == foundry::cuda::api::CUDA_ERROR_NOT_READY);
static_assert(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT == foundry::cuda::api::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE == foundry::cuda::api::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
static_assert(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH ==
              foundry::cuda::api::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
static_assert(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE == foundry::cuda::api::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              foundry::cuda::api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              foundry::cuda::api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(CU_FUNC_ATTRIBUTE_NUM_REGS == foundry::cuda::api::CU_FUNC_ATTRIBUTE_NUM_REGS);
static_assert(CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES == foundry::cuda::api::CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
static_assert(CU_STREAM_NON_BLOCKING == foundry::cuda::api::CU_STREAM_NON_BLOCKING);
static_assert(CU_EVENT_DEFAULT == foundry::cuda::api::CU_EVENT_DEFAULT);
static_assert(CU_EVENT_DISABLE_TIMING == foundry::cuda::api::CU_EVENT_DISABLE_TIMING);
static_assert(CU_STREAM_CAPTURE_STATUS_NONE == foundry::cuda::api::CU_STREAM_CAPTURE_STATUS_NONE);
static_assert(CU_STREAM_CAPTURE_MODE_RELAXED == foundry::cuda::api::CU_STREAM_CAPTURE_MODE_RELAXED);
static_assert(NVRTC_SUCCESS == foundry::cuda::api::NVRTC_SUCCESS);
static_assert(NVRTC_ERROR_COMPILATION == foundry::cuda::api::NVRTC_ERROR_COMPILATION);
#endif
