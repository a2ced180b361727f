#pragma once
/// @file entry.hpp
/// The CUDA backend's entry point, written from a kernel's signature
/// (dsl/signature.hpp; docs/cuda-backend.md):
///
///   extern "C" __global__ void <name>(const device float* x, constant uint n, constant P p) {
///     __shared__ alignas(16) float tg_partial[32];
///     foundry_cuda_builtin::grid_dependency_sync();
///     <name>_body(x, n, &p, tg_partial, foundry_cuda_builtin::thread_position_in_grid());
///   }
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
  /// The entry point's first statement: waits for the kernels this launch
  /// depends on, then lets the next one launch (programmatic dependent
  /// launch, msl_prelude.h). The backend launches a kernel with the
  /// programmatic-serialization attribute only when its source holds this
  /// call, since a kernel without it could read inputs not yet written.
  static constexpr std::string_view grid_dependency_call = "foundry_cuda_builtin::grid_dependency_sync();";

  std::string entry_name(const kernel_signature& s) const override { return std::string(s.name); }

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
    return "extern \"C\" __global__ void " + entry_name(s) + "(" + params + ") {\n" + shared + "  " +
           std::string(grid_dependency_call) + "\n" + body_call(s, argument, threadgroup, builtin) + "}\n";
  }
};

}  // namespace foundry::cuda
