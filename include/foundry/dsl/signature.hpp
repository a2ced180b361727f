#pragma once
/// @file signature.hpp
/// The target-neutral signature of a kernel, and the interface through which
/// a backend turns it into its entry point.
///
/// Every kernel (fused or standalone) emits one target-neutral body function
///
///   ALWAYS_INLINE void <name>_body(<arguments>, <threadgroup pointers>, <builtins>);
///
/// and describes its parameters as a `kernel_signature`: the argument rows
/// (buffer index, kind, access, MSL type), the threadgroup arrays the entry
/// point must declare, and the thread-position builtins the body takes, in
/// parameter order. A target's `entry_writer` (in its backend folder,
/// `backends/<target>/entry.hpp`) writes the function the target launches:
/// it declares what the target's calling convention hands over, then calls
/// the body with one expression per parameter (`body_call`). The signature is
/// constant data; the entry text is built at run time, once per kernel, so
/// the compiler does no constexpr string work for entry points.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arg_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/builtins.hpp"

namespace foundry {

/// One argument of a kernel signature, in declaration order.
struct signature_argument {
  std::string_view name;          ///< the parameter name (equal to the argument name)
  std::uint32_t index = 0;        ///< buffer index, `[[buffer(index)]]` on Metal
  arg_kind kind = arg_kind::buffer;
  access mode = access::read;
  std::string_view element_type;  ///< MSL element type: `float`, `block_q8_0`, a params struct
  bool by_pointer = false;        ///< bytes arguments: `constant P*` (params) rather than `constant T&`

  /// The MSL parameter type: `const device float*` (read-only buffer),
  /// `device float*` (written buffer), `constant uint&` (scalar),
  /// `constant P*` (params struct).
  std::string type() const {
    const std::string t(element_type);
    if (kind == arg_kind::buffer) return (mode == access::read ? "const device " : "device ") + t + "*";
    return "constant " + t + (by_pointer ? "*" : "&");
  }
};

/// One threadgroup array the entry point declares and passes to the body.
struct signature_threadgroup {
  std::string_view name;  ///< the array's name in stage code; the variable is `tg_<name>`
  std::string_view type;  ///< MSL element type
  unsigned count = 0;     ///< elements
  unsigned offset = 0;    ///< bytes from the start of the threadgroup block (16-byte aligned slots)

  /// The variable name the body parameter and the entry's array use.
  std::string variable() const { return "tg_" + std::string(name); }
};

/// The CPU's lane-loop form of a kernel (dsl/lane_loop.hpp): the function
/// `<name>_lanes(<arguments>, <threadgroup pointers>, const
/// foundry_cpu_thread* lane_threads, uint lane_count)` running one whole
/// threadgroup, and which threads of it that function reads.
struct lane_loop_form {
  /// The function's text (static storage); empty when the kernel must run
  /// one fiber per thread on the CPU.
  std::string_view body;
  /// Which threads the body reads: every one (1) or lane 0 of each
  /// SIMD-group only (32: `lane_loop_lane0`). The CPU executor fills only
  /// those threads' positions (abi.h, `<name>__cpu_lanes_stride`).
  std::uint32_t stride = 1;
};

/// A kernel's target-neutral signature (see the file comment). The spans
/// point into static storage owned by the kernel type.
struct kernel_signature {
  std::string_view name;                            ///< the kernel name (a valid identifier)
  std::span<const signature_argument> arguments;    ///< declaration order
  std::span<const signature_threadgroup> threadgroup;
  std::span<const builtin_info> builtins;           ///< the body's builtin parameters, in order
  /// The CPU's lane-loop form (`lane_loop_form`), built on the first call.
  /// Null in a kernel type's constexpr `K::signature`; `make_kernel_source`
  /// sets it to `K::cpu_lane_loop`. Taking that function's address in the
  /// constant would compile the lane-loop builder in every translation unit
  /// that names the kernel
  /// (bench/results/2026-12-06-compile-time-lane-loop-regression.md).
  lane_loop_form (*lane_loop)() = nullptr;
  /// Whether a stage has a prefetch snippet (dsl/stage.hpp): the kernel's
  /// source then holds `<name>_prefetch(<the body's parameters>)` where the
  /// entry writer `runs_prefetch()` (make_kernel_source), to be called
  /// before the entry point waits for the kernels it depends on.
  bool prefetch = false;

  /// The body function every entry point calls: `<name>_body`.
  std::string body_function() const { return std::string(name) + "_body"; }
};

/// `  <name>_body(p0, p1, ...);\n`: the call that ends every entry point.
/// The target gives the expression for each parameter: `arg(argument)`,
/// `tg(threadgroup array)`, `builtin(builtin)`, each returning a string, in
/// the body's parameter order (arguments, threadgroup arrays, builtins).
/// `function` names another function with the body's parameters (the
/// prefetch function); empty: the body.
template <class ArgExpr, class TgExpr, class BuiltinExpr>
std::string body_call(const kernel_signature& s, ArgExpr&& arg, TgExpr&& tg, BuiltinExpr&& builtin,
                      std::string_view function = {}) {
  std::string out = "  " + (function.empty() ? s.body_function() : std::string(function)) + "(";
  bool first = true;
  auto add = [&](const std::string& e) {
    if (!first) out += ", ";
    out += e;
    first = false;
  };
  for (const signature_argument& a : s.arguments) add(arg(a));
  for (const signature_threadgroup& g : s.threadgroup) add(tg(g));
  for (const builtin_info& b : s.builtins) add(builtin(b));
  return out + ");\n";
}

/// Turns kernel signatures into one target's entry points. Each backend
/// implements it in `backends/<target>/entry.hpp` and returns it from
/// `backend::entry_points()`; `kernel_source_of<K, Writer>()` (source.hpp)
/// appends its text to a kernel's translation unit.
class entry_writer {
 public:
  virtual ~entry_writer() = default;
  /// The symbol the backend looks up in the compiled code
  /// (`kernel_source::entry_name`).
  virtual std::string entry_name(const kernel_signature& s) const = 0;
  /// The entry point's text: the function the target launches, which
  /// declares the threadgroup arrays and calls `body_call`. Ends with '\n'.
  virtual std::string entry_point(const kernel_signature& s) const = 0;
  /// Generated code this target puts between the body and the entry point
  /// (the CPU: the lane-loop form of the body); empty by default. Its
  /// `{ // stage <name>` blocks are mapped to their stages for diagnostics.
  virtual std::string_view target_body(const kernel_signature&) const { return {}; }
  /// Whether the entry point calls `<name>_prefetch` for kernels with a
  /// prefetch (`kernel_signature::prefetch`; make_kernel_source then puts
  /// the function in the source): targets that launch a kernel while the
  /// previous one runs (CUDA). False by default.
  virtual bool runs_prefetch() const { return false; }
};

namespace detail {
/// A span over a static array, empty (and constant) when it has no element.
template <class T, std::size_t N>
constexpr std::span<const T> static_span(const std::array<T, N>& a) noexcept {
  if constexpr (N == 0) return {};
  else return {a.data(), N};
}

/// Signature rows of an (expanded) argument list, from its binding plan.
template <class L>
struct argument_rows;
template <class... As>
struct argument_rows<type_list<As...>> {
  static constexpr std::array<signature_argument, sizeof...(As)> value = [] {
    using table = arg_table<type_list<As...>>;
    constexpr bool by_pointer[] = {is_params<typename As::handle>..., false};
    std::array<signature_argument, sizeof...(As)> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
      const binding& b = table::plan[i];
      out[i] = {b.name, b.index, b.kind, b.mode, b.metal_type, b.kind == arg_kind::bytes && by_pointer[i]};
    }
    return out;
  }();
};

/// Signature rows of a list of `tg_array`s, each in a 16-byte aligned slot
/// in list order (the layout `threadgroup_memory_bytes` counts).
template <class L>
struct threadgroup_rows;
template <class... Gs>
struct threadgroup_rows<type_list<Gs...>> {
  static constexpr std::array<signature_threadgroup, sizeof...(Gs)> value = [] {
    std::array<signature_threadgroup, sizeof...(Gs)> out{};
    [[maybe_unused]] std::size_t i = 0;
    [[maybe_unused]] unsigned offset = 0;
    ((out[i++] = {Gs::name.view(), Gs::metal_type_name(), Gs::count, offset},
      offset += (Gs::bytes + 15u) & ~15u),
     ...);
    return out;
  }();
};
}  // namespace detail

}  // namespace foundry
