#pragma once
/// @file entry.hpp
/// The CUDA backend's entry point, written from a kernel's signature
/// (dsl/signature.hpp; docs/cuda-backend.md):
///
///   extern "C" __global__ void <name>(const device float* x, constant uint n, constant P p) {
///     __shared__ alignas(16) float tg_partial[32];
///     <name>_prefetch(x, n, &p, tg_partial, foundry_cuda_builtin::thread_position_in_grid());
///     foundry_cuda_builtin::grid_dependency_sync();
///     <name>_body(x, n, &p, tg_partial, foundry_cuda_builtin::thread_position_in_grid());
///   }
///
/// The `<name>_prefetch` function (in the source before the entry point,
/// with the body's parameters: make_kernel_source) and its call exist only
/// for a kernel with a stage that has a prefetch snippet (dsl/stage.hpp:
/// weight bytes asked into L2 while the kernel before still runs) and an
/// entry writer with prefetching on.
///
/// Buffers are device pointers; bytes arguments are by-value kernel
/// parameters (a params struct's address is taken for the body's
/// `constant P*`); threadgroup arrays are `__shared__` arrays; builtins come
/// from the prelude's `foundry_cuda_builtin` functions (msl_prelude.h).

#include <string>
#include <string_view>

#include "foundry/dsl/signature.hpp"

namespace foundry::cuda {

/// Writes `extern "C" __global__ void <name>(...)` (see the file comment).
class cuda_entry final : public entry_writer {
 public:
  /// `prefetch`: run the stages' prefetch snippets before the wait (see the
  /// file comment); off, kernels ignore them.
  explicit cuda_entry(bool prefetch = true) : prefetch_(prefetch) {}

  /// The entry point's first statement: waits for the kernels this launch
  /// depends on, then lets the next one launch (programmatic dependent
  /// launch, msl_prelude.h). The backend launches a kernel with the
  /// programmatic-serialization attribute only when its source holds this
  /// call, since a kernel without it could read inputs not yet written.
  static constexpr std::string_view grid_dependency_call = "foundry_cuda_builtin::grid_dependency_sync();";

  std::string entry_name(const kernel_signature& s) const override { return std::string(s.name); }
  bool runs_prefetch() const override { return prefetch_; }

  std::string entry_point(const kernel_signature& s) const override {
    std::string params;
    for (const signature_argument& a : s.arguments) {
      if (!params.empty()) params += ", ";
      const std::string type = a.type();
      // Bytes arguments: `constant T&` / `constant P*` become by-value `constant T` / `constant P`.
      params += (a.kind == arg_kind::bytes ? type.substr(0, type.size() - 1) : type) + " " + std::string(a.name);
    }
    std::string shared;
    for (const signature_threadgroup& g : s.threadgroup)
      shared += "  __shared__ alignas(16) " + std::string(g.type) + " " + g.variable() + "[" + std::to_string(g.count) + "];\n";
    auto argument = [](const signature_argument& a) { return (a.by_pointer ? "&" : "") + std::string(a.name); };
    auto threadgroup = [](const signature_threadgroup& g) { return g.variable(); };
    auto builtin = [](const builtin_info& b) { return "foundry_cuda_builtin::" + std::string(b.name) + "()"; };
    std::string prefetch_call;
    if (prefetch_ && s.prefetch)
      prefetch_call = body_call(s, argument, threadgroup, builtin, std::string(s.name) + "_prefetch");
    return "extern \"C\" __global__ void " + entry_name(s) + "(" + params + ") {\n" + shared +
           prefetch_call + "  " + std::string(grid_dependency_call) + "\n" +
           body_call(s, argument, threadgroup, builtin) + "}\n";
  }

 private:
  bool prefetch_;
};

}  // namespace foundry::cuda
