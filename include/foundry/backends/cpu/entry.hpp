#pragma once
/// @file entry.hpp
/// The CPU backend's entry point, written from a kernel's signature
/// (dsl/signature.hpp) after the ABI of abi.h:
///
///   extern "C" void <name>__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {
///     <name>_body((const device float*)L->args[0],       // buffer at index 0
///                 *(constant uint*)L->args[2],             // scalar: its bytes
///                 (threadgroup float*)(T->threadgroup_memory + 0),
///                 T->thread_position_in_grid);             // builtins, precomputed
///   }
///
/// Threadgroup arrays are carved out of the thread's threadgroup arena at
/// the signature's offsets; `L->threadgroup_memory_bytes` covers them all.
///
/// A kernel that runs as lane loops (dsl/lane_loop.hpp) also gets
///
///   extern "C" void <name>__cpu_lanes(const foundry_cpu_launch* L,
///                                     const foundry_cpu_thread* T, uint32_t n) {
///     <name>_lanes(<the same arguments>, T, n);   // T[0..n): one threadgroup
///   }

#include <string>

#include "foundry/dsl/signature.hpp"

namespace foundry::cpu {

/// Writes `extern "C" void <name>__cpu(L, T)` (see the file comment).
class cpu_entry final : public entry_writer {
 public:
  std::string entry_name(const kernel_signature& s) const override { return std::string(s.name) + "__cpu"; }

  std::string entry_point(const kernel_signature& s) const override {
    auto argument = [](const signature_argument& a) {
      const std::string slot = "L->args[" + std::to_string(a.index) + "]";
      std::string type = a.type();
      // A `constant T&` parameter gets the bytes the slot points at.
      if (a.kind == arg_kind::bytes && !a.by_pointer) return "*(" + type.substr(0, type.size() - 1) + "*)" + slot;
      return "(" + type + ")" + slot;
    };
    auto threadgroup = [](const signature_threadgroup& g) {
      return "(threadgroup " + std::string(g.type) + "*)(T->threadgroup_memory + " + std::to_string(g.offset) + ")";
    };
    auto builtin = [](const builtin_info& b) { return "T->" + std::string(b.name); };
    std::string out = "extern \"C\" void " + entry_name(s) +
                      "(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {\n" +
                      body_call(s, argument, threadgroup, builtin) + "}\n";
    const lane_loop_form lanes = s.lane_loop != nullptr ? s.lane_loop() : lane_loop_form{};
    if (lanes.body.empty()) return out;
    // The lane-loop entry: one call runs a whole threadgroup, T[0..n).
    std::string call = "  " + std::string(s.name) + "_lanes(";
    for (const signature_argument& a : s.arguments) call += argument(a) + ", ";
    for (const signature_threadgroup& g : s.threadgroup) call += threadgroup(g) + ", ";
    if (lanes.stride > 1)
      out += "extern \"C\" const uint32_t " + lanes_entry_name(s) + "_stride = " +
             std::to_string(lanes.stride) + "u;  // only every stride-th thread is read\n";
    return out + "extern \"C\" void " + lanes_entry_name(s) +
           "(const foundry_cpu_launch* L, const foundry_cpu_thread* T, uint32_t n) {\n" + call + "T, n);\n}\n";
  }

  /// The lane-loop body (dsl/lane_loop.hpp), when the kernel has one.
  std::string_view target_body(const kernel_signature& s) const override {
    return s.lane_loop != nullptr ? s.lane_loop().body : std::string_view{};
  }

  /// The symbol of the lane-loop entry: `<name>__cpu_lanes` (only kernels
  /// whose signature has a lane-loop body export it).
  static std::string lanes_entry_name(const kernel_signature& s) { return std::string(s.name) + "__cpu_lanes"; }
};

}  // namespace foundry::cpu
