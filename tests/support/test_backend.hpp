#pragma once
// The backend a kernel test runs on, chosen at run time so one test binary
// checks the same kernels against the same float64 references on every
// target:
//
//   FOUNDRY_TEST_BACKEND=cpu   (default) the CPU backend
//   FOUNDRY_TEST_BACKEND=cuda  the CUDA backend (device 0)
//
// CTest registers each kernel test twice: `cpu.<name>` (label cpu-exec) and
// `cuda.kernels.<name>` (label cuda, FOUNDRY_TEST_BACKEND=cuda). Where the
// chosen backend cannot run (no CUDA driver, NVRTC or device), including
// this header makes the test print "skipped: ..." and exit with
// FOUNDRY_TEST_SKIP_RETURN_CODE before any test runs (see
// tests/CMakeLists.txt); an unknown backend name fails the run.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "foundry/backends/cpu/backend.hpp"
#include "foundry/backends/cuda/backend.hpp"
#include "foundry/runtime/executor.hpp"

namespace foundry_test {

/// $FOUNDRY_TEST_BACKEND, or "cpu" when unset or empty.
inline const std::string& test_backend_name() {
  static const std::string name = [] {
    const char* e = std::getenv("FOUNDRY_TEST_BACKEND");
    return std::string(e != nullptr && *e != '\0' ? e : "cpu");
  }();
  return name;
}

/// True when the tests run on the CPU backend (checks that only it makes,
/// such as barrier divergence, are skipped elsewhere).
inline bool on_cpu_backend() { return test_backend_name() == "cpu"; }

/// A fresh backend of the kind test_backend_name() names. Throws
/// foundry::backend_unavailable when it cannot run here, std::invalid_argument
/// for an unknown name.
inline std::unique_ptr<foundry::backend> make_test_backend() {
  const std::string& name = test_backend_name();
  if (name == "cpu") return foundry::cpu::make_backend();
  if (name == "cuda") return foundry::cuda::make_backend();
  throw std::invalid_argument("FOUNDRY_TEST_BACKEND='" + name + "': expected cpu or cuda");
}

/// One executor on the test backend per process (kernels compile once).
inline foundry::executor& exec() {
  static foundry::executor ex{make_test_backend()};
  return ex;
}

/// Skips the whole test program (exit FOUNDRY_TEST_SKIP_RETURN_CODE, with
/// the reason) when the chosen backend cannot run on this machine.
struct require_test_backend : ::testing::Environment {
  void SetUp() override {
    if (on_cpu_backend()) return;
    if (test_backend_name() == "cuda" && foundry::cuda::device_count() == 0) {
      const std::string why = foundry::cuda::driver_unavailable_reason();
      std::printf("skipped: no CUDA device (%s)\n", why.empty() ? "the driver reports none" : why.c_str());
      std::fflush(stdout);
      std::exit(FOUNDRY_TEST_SKIP_RETURN_CODE);
    }
  }
};
inline ::testing::Environment* const kRequireTestBackend =
    ::testing::AddGlobalTestEnvironment(new require_test_backend);

}  // namespace foundry_test
