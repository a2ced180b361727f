#pragma once
/// @file entry.hpp
/// The Metal backend's entry point, written from a kernel's signature
/// (dsl/signature.hpp): an MSL `[[kernel]]` function whose parameters carry
/// their `[[buffer(i)]]` and builtin attributes, which declares the
/// threadgroup arrays and calls the body:
///
///   [[kernel]] void <name>(const device float* x [[buffer(0)]], constant uint& n [[buffer(1)]],
///                          uint3 thread_position_in_grid [[thread_position_in_grid]]) {
///     threadgroup float tg_partial[32];
///     <name>_body(x, n, tg_partial, thread_position_in_grid);
///   }
///
/// Portable C++ (no metal-cpp): `metal_source<K>()` is what `foundry-emit`
/// writes and what the golden tests hold, on every platform.

#include <string>

#include "foundry/dsl/signature.hpp"
#include "foundry/dsl/source.hpp"

namespace foundry {

namespace metal_backend {

/// Writes the `[[kernel]]` entry point (see the file comment).
class metal_entry final : public entry_writer {
 public:
  std::string entry_name(const kernel_signature& s) const override { return std::string(s.name); }

  std::string entry_point(const kernel_signature& s) const override {
    std::string params;
    auto add = [&params](const std::string& p) { params += (params.empty() ? "" : ", ") + p; };
    for (const signature_argument& a : s.arguments)
      add(a.type() + " " + std::string(a.name) + " [[buffer(" + std::to_string(a.index) + ")]]");
    for (const builtin_info& b : s.builtins)
      add(std::string(b.type) + " " + std::string(b.name) + " [[" + std::string(b.name) + "]]");
    std::string arrays;
    for (const signature_threadgroup& g : s.threadgroup)
      arrays += "  threadgroup " + std::string(g.type) + " " + g.variable() + "[" + std::to_string(g.count) + "];\n";
    auto argument = [](const signature_argument& a) { return std::string(a.name); };
    auto threadgroup = [](const signature_threadgroup& g) { return g.variable(); };
    auto builtin = [](const builtin_info& b) { return std::string(b.name); };
    return "[[kernel]] void " + entry_name(s) + "(" + params + ") {\n" + arrays +
           body_call(s, argument, threadgroup, builtin) + "}\n";
  }
};

}  // namespace metal_backend

/// The Metal translation unit of kernel `K` (what `newLibraryWithSource`
/// compiles; what `foundry-emit` writes for `xcrun metal`).
template <class K>
const std::string& metal_source() {
  return kernel_source_of<K, metal_backend::metal_entry>().text;
}

}  // namespace foundry
