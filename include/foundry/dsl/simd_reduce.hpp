#pragma once
/// @file simd_reduce.hpp
/// Generated SIMD-group reduction ladders.
///
/// A butterfly (shuffle-xor) reduction over groups of `lanes` consecutive
/// lanes: offsets lanes/2, lanes/4, …, 1. After it, every lane of a group
/// holds the group's result. `lanes` = 32 reduces the whole SIMD-group (what
/// `simd_sum` does); 8 reduces each aligned group of 8 lanes independently
/// (used when a SIMD-group works on 4 rows at once).

#include <string>
#include <string_view>

#include "foundry/core/ct_text.hpp"

namespace foundry {

/// The combining operation of a reduction.
enum class reduce_op { add, max, min };

/// Metal statements reducing variable `var` in place over aligned groups of
/// `lanes` lanes (a power of two, 2…32) with `op`. Returns an empty string
/// for `lanes` = 1; an invalid `lanes` makes the constant evaluation fail.
constexpr ct_string simd_reduce_ladder(reduce_op op, std::string_view var, unsigned lanes) {
  if (lanes == 0 || lanes > 32 || (lanes & (lanes - 1)) != 0)
    throw "simd_reduce_ladder: lanes must be a power of two from 1 to 32";
  ct_string out;
  const ct_string v(var);
  for (unsigned off = lanes / 2; off >= 1; off /= 2) {
    const ct_string other = "simd_shuffle_xor(" + v + ", " + to_text(off) + "u)";
    switch (op) {
      case reduce_op::add: out += v + " += " + other + ";\n"; break;
      case reduce_op::max: out += v + " = max(" + v + ", " + other + ");\n"; break;
      case reduce_op::min: out += v + " = min(" + v + ", " + other + ");\n"; break;
    }
  }
  return out;
}

}  // namespace foundry

namespace foundry {

/// The comment that marks a statement written by `simd_reduction` (a
/// reduction point, see lane_loop.hpp).
inline constexpr std::string_view reduction_point_marker = " // foundry: reduction point";

/// A SIMD-group reduction the composer knows about (a *reduction point*):
///   const <type> <dst> = simd_<op>(<expr>); // foundry: reduction point
/// Every lane of the SIMD-group gets the reduction of `expr` (a `type`:
/// float, float2, float4, int, uint) over the lanes still running; `dst` is
/// uniform across the SIMD-group. On Metal and CUDA it is exactly that
/// statement. On the CPU it lets the kernel run as lane loops
/// (lane_loop.hpp): the code before the point runs for every lane, the
/// reduction runs once per SIMD-group, the code after it runs for every
/// lane again. For that the statement must sit at the top level of its
/// stage (not inside a block), and the code after it may use only the
/// results of the stage's reduction points (`dst`), ports, arguments and
/// builtins, not the stage's other locals.
constexpr ct_string simd_reduction(reduce_op op, std::string_view type, std::string_view dst,
                                   std::string_view expr) {
  const std::string_view fn = op == reduce_op::add ? "simd_sum(" : op == reduce_op::max ? "simd_max(" : "simd_min(";
  return "const " + ct_string(type) + " " + ct_string(dst) + " = " + ct_string(fn) + ct_string(expr) + ");" +
         ct_string(reduction_point_marker) + "\n";
}

}  // namespace foundry
