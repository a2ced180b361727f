#pragma once
/// @file lane_loop.hpp
/// Lane-loop execution of a fused kernel on the CPU: the analysis that
/// decides, from the stage texts, whether a kernel can run as loops over its
/// threads, and the text of that form. The functions are constexpr (a test
/// can `static_assert` on `K::lane_loop()`); the CPU backend runs them once per
/// kernel at run time (`K::cpu_lane_loop()`).
///
/// On a GPU the threads of a SIMD-group run in lock step and a collective
/// (`simd_sum`) is one instruction. The CPU backend's general model runs
/// every thread on its own fiber and switches through all 32 lanes at each
/// collective (scheduler.hpp): correct for any kernel, but a GEMV that
/// computes one row per SIMD-group then pays 64 switches per row and the
/// host compiler sees no loop to optimise. The composer knows more than a
/// GPU emulator: where a stage's cross-lane operations are, when the stage
/// expresses them as reduction points (`simd_reduction`, simd_reduce.hpp).
/// A kernel whose only cross-lane operations are such points, at the top
/// level of their stages, runs on the CPU as
///
///   for each thread of the threadgroup: segment 0   (code up to point 0)
///   reduce point 0 once per SIMD-group, lanes in order
///   for each thread still running:      segment 1   (code after point 0)
///   ...
///
/// with the ports and the reduced values held in per-thread arrays: no
/// fibers, no switches, plain loops the host compiler inlines and
/// vectorises. A thread that returns inside a segment (`return;` runs out of
/// a per-thread lambda) takes no part in later segments or reductions, as a
/// lane that exited takes no part in Metal's SIMD-group functions. The
/// reductions combine lanes in lane order, the order of the fiber path's
/// `simd_sum`, so both paths give bit-identical results.
///
/// A kernel keeps the fiber path when a stage or one of its helpers calls a
/// barrier or a SIMD-group function anywhere else (inside a loop or a
/// block, a shuffle, a SIMD-group matrix), or when a reduction point follows
/// a per-element epilogue loop. `lane_loop_blocker` names the first such
/// place; `foundry-emit --explain` prints it; docs/msl-subset.md lists the
/// rules.

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/builtins.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::detail {

/// A reduction point in a stage's text (see `simd_reduction`).
struct reduction_point {
  std::size_t line_begin = 0, line_end = 0;  ///< the statement's line, [begin, end) bytes, newline excluded
  std::string_view type, dst, fn, expr;       ///< `float2`, `total`, `simd_sum`, `float2(acc, ss)`
};

/// Parses the line [b, e) of `t` written by `simd_reduction`; false if it is
/// not in that exact form.
constexpr bool parse_reduction_line(std::string_view t, std::size_t b, std::size_t e, reduction_point& out) {
  std::string_view l = t.substr(b, e - b);
  const std::size_t lead = l.find_first_not_of(" \t");
  if (lead == std::string_view::npos) return false;
  l.remove_prefix(lead);
  if (!l.ends_with(reduction_point_marker) || !l.starts_with("const ")) return false;
  l.remove_suffix(reduction_point_marker.size());
  l.remove_prefix(6);
  const std::size_t sp1 = l.find(' ');
  if (sp1 == std::string_view::npos) return false;
  out.type = l.substr(0, sp1);
  l.remove_prefix(sp1 + 1);
  const std::size_t sp2 = l.find(" = ");
  if (sp2 == std::string_view::npos) return false;
  out.dst = l.substr(0, sp2);
  l.remove_prefix(sp2 + 3);
  const std::size_t open = l.find('(');
  if (open == std::string_view::npos || !l.ends_with(");")) return false;
  out.fn = l.substr(0, open);
  if (out.fn != "simd_sum" && out.fn != "simd_max" && out.fn != "simd_min") return false;
  out.expr = l.substr(open + 1, l.size() - open - 3);
  out.line_begin = b;
  out.line_end = e;
  return true;
}

/// True for an identifier that names a cross-lane operation: a SIMD-group
/// function (`simd_*`), a SIMD-group matrix (`simdgroup_*`), a quad-group
/// function (`quad_*`) or a barrier.
constexpr bool is_collective_name(std::string_view id) {
  return (id.starts_with("simd_") || id.starts_with("simdgroup") || id.starts_with("quad_") ||
          id == "threadgroup_barrier") &&
         builtin_position(id) < 0;  // `simdgroup_index_in_threadgroup` is a position, not an operation
}

/// Walks stage text `t` line by line. Calls `point(reduction_point)` for
/// each reduction point; returns a description of the first obstacle to
/// lane loops (a cross-lane operation outside a top-level reduction point),
/// or empty. Braces and identifiers inside `//` comments are ignored; a
/// `$name` placeholder (a builtin such as `$simdgroup_index_in_threadgroup`)
/// is not an operation.
template <class OnPoint>
constexpr ct_string scan_lane_segments(std::string_view t, OnPoint&& point) {
  int depth = 0;
  for (std::size_t b = 0; b < t.size();) {
    std::size_t e = t.find('\n', b);
    if (e == std::string_view::npos) e = t.size();
    reduction_point r;
    if (parse_reduction_line(t, b, e, r)) {
      if (depth != 0)
        return "its reduction point `" + ct_string(r.dst) + "` is inside a block (it must be at the stage's top level)";
      point(r);
    } else {
      for (std::size_t i = b; i < e; ++i) {
        const char c = t[i];
        if (c == '/' && i + 1 < e && t[i + 1] == '/') break;  // rest of the line is a comment
        if (c == '{') ++depth;
        else if (c == '}') --depth;
        else if (is_ident_char(c) && !(c >= '0' && c <= '9')) {
          std::size_t j = i;
          while (j < e && is_ident_char(t[j])) ++j;
          const std::string_view id = t.substr(i, j - i);
          if ((i == 0 || t[i - 1] != '$') && is_collective_name(id))
            return "it calls " + ct_string(id) + " outside a reduction point";
          i = j - 1;
        }
      }
    }
    b = e + 1;
  }
  return {};
}

/// Why a composition with the stage records `stages` (compose.hpp's
/// `stage_rec`s, in order) cannot run as lane loops on the CPU ("stage
/// <name>: ..."), or empty when it can (see the file comment). A template
/// over the record container only: every kernel shares one instantiation,
/// so the run-time form costs compile time once per translation unit, not
/// once per kernel.
template <class StageRecs>
constexpr ct_string lane_loop_blocker(const StageRecs& stages) {
  bool after_loop = false;  // a per-element epilogue loop is open
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const auto& st = stages[s];
    const ct_string who = "stage " + ct_string(st.name) + ": ";
    if (st.helpers_collective) return who + "a helper source it uses calls a barrier or SIMD-group function";
    std::size_t points = 0;
    const std::string_view text = st.text;
    const ct_string why = scan_lane_segments(text, [&](const reduction_point&) { ++points; });
    if (!why.empty()) return who + why;
    if (points > 0 && after_loop) return who + "a reduction point inside the per-element epilogue loop";
    if (const auto at = text.find(per_element_epilogues); at != std::string_view::npos) {
      if (points > 0) return who + "a reduction point with a per-element epilogue loop";
      after_loop = true;
    }
  }
  return {};
}

/// Whether the lane loops of composition `c` (one that passes
/// `lane_loop_blocker`) may run only lane 0 of each SIMD-group: its main
/// stage promises that on the CPU the other lanes add zeros to its
/// reductions and store nothing (`stage_traits::cpu_lane0`), every other
/// stage is an epilogue that stores only for the writer
/// (`stage_traits::stores_only_for_writer`), and every reduction point is
/// a `simd_sum`. Lane 0's operand is then the SIMD-group's total (the fiber
/// path adds the other lanes' zeros to it, which changes no sum but −0), and
/// the other 31 lanes, which would only repeat the row's set-up and its
/// epilogues with `$writer` false, are skipped: a GEMV row whose dot product
/// lane 0 computes alone costs one lane's work instead of 32 lanes' set-up.
template <class StageRecs>
constexpr bool lane_loop_lane0(const StageRecs& stages) {
  bool main0 = false;
  for (const auto& st : stages) {
    if (st.role == stage_role::main) {
      if (!st.cpu_lane0) return false;
      main0 = true;
    } else if (!st.stores_only_for_writer) {
      return false;
    }
    bool sums = true;
    (void)scan_lane_segments(st.text, [&](const reduction_point& r) { sums = sums && r.fn == "simd_sum"; });
    if (!sums) return false;
  }
  return main0;
}

/// Everything the lane-loop text needs besides the composition.
struct lane_loop_frame {
  std::string_view name;                   ///< kernel name
  std::string parameters;                  ///< the body's argument and threadgroup parameters, comma-separated
  std::span<const builtin_info> builtins;  ///< the builtins the stages use
  unsigned max_threads;                    ///< threads per (full) threadgroup of the dispatch rule
};

/// The CPU function `<name>_lanes(<parameters>, const foundry_cpu_thread*
/// lane_threads, uint lane_count)` running one threadgroup of a composition
/// as lane loops (see the file comment): `stages` its stage records,
/// `resolved` each stage's text with its placeholders substituted (the
/// body's text), `ports` its port records. Call only when
/// `lane_loop_blocker(stages)` is empty. Built at run time; one
/// instantiation for every kernel (as `lane_loop_blocker`).
/// @throws std::logic_error if a stage's resolved text no longer passes the
///         scan (an internal error).
template <class StageRecs, class PortRecs>
std::string lane_loop_text(const StageRecs& stages, std::span<const std::string> resolved, const PortRecs& ports,
                           const lane_loop_frame& f) {
  struct segment {
    std::string code;
    std::string type, fn;  ///< of the reduction point that ends it (not for the last)
  };
  std::vector<segment> segments(1);
  std::string loop_close;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const std::string_view sv = resolved[s];
    std::string loop_open;
    std::size_t end = sv.size();
    if (const auto at = sv.find(per_element_epilogues); at != std::string_view::npos) {
      loop_open = std::string(sv.substr(at + per_element_epilogues.size()));
      end = at;
    }
    const std::string sname(stages[s].name);
    const std::string head = "{ // stage " + sname + " (" + std::string(to_string(stages[s].role));
    segments.back().code += head + ")\n";
    std::size_t done = 0;
    int k = 0;
    std::string results;  // the stage's reduced values so far, declared again in each later segment
    const ct_string why = scan_lane_segments(sv.substr(0, end), [&](const reduction_point& r) {
      segment& cur = segments.back();
      cur.code += std::string(sv.substr(done, r.line_begin - done));
      const std::string slot = "lanes_reduce" + std::to_string(segments.size() - 1);
      cur.code += slot + "[lane_] = " + std::string(r.type) + "(" + std::string(r.expr) + ");\n";
      cur.code += "} // end stage " + sname + "\n";
      cur.type = std::string(r.type);
      cur.fn = std::string(r.fn);
      results += "const " + std::string(r.type) + " " + std::string(r.dst) + " = " + slot + "[lane_];\n";
      segments.push_back({head + ", after reduction point " + std::to_string(++k) + ")\n" + results, {}, {}});
      done = r.line_end < end ? r.line_end + 1 : end;
    });
    if (!why.empty())  // lane_loop_blocker accepted the unsubstituted text
      throw std::logic_error("lane loops for kernel " + std::string(f.name) + ", stage " + sname + ": " +
                             std::string(why));
    segments.back().code += std::string(sv.substr(done, end - done));
    if (!segments.back().code.ends_with('\n')) segments.back().code += '\n';
    segments.back().code += "} // end stage " + sname + "\n";
    if (!loop_open.empty()) {
      segments.back().code += "// epilogues once per element of stage " + sname + "\n" + loop_open;
      loop_close = "} // end of the per-element epilogues\n";
    }
  }
  segments.back().code += loop_close;

  const std::string n = std::to_string(f.max_threads);
  // Only lane 0 of each SIMD-group (lane_loop_lane0): thread indices step by
  // the SIMD width and the reductions are lane 0's own operands.
  const bool lane0 = lane_loop_lane0(stages);
  const std::string step = lane0 ? "lane_ += FOUNDRY_CPU_SIMD_WIDTH" : "++lane_";
  std::string out = "ALWAYS_INLINE void " + std::string(f.name) + "_lanes(" + f.parameters +
                    (f.parameters.empty() ? "" : ", ") +
                    "const foundry_cpu_thread* lane_threads, uint lane_count) {\n"
                    "  // per thread of the threadgroup: ports, reduced values, whether it returned\n";
  std::string refs;
  for (const auto& p : ports)
    if (p.use == decltype(p.use)::produce) {
      out += "  " + std::string(p.type) + " v_" + std::string(p.name) + "_lanes[" + n + "];\n";
      refs += "    " + std::string(p.type) + "& v_" + std::string(p.name) + " = v_" + std::string(p.name) +
              "_lanes[lane_];\n";
    }
  for (std::size_t i = 0; i + 1 < segments.size(); ++i)
    out += "  " + segments[i].type + " lanes_reduce" + std::to_string(i) + "[" + n + "];\n";
  out += "  bool lane_done[" + n + "];\n";
  for (const builtin_info& b : f.builtins)
    refs += "    const " + std::string(b.type) + " " + std::string(b.name) + " = lane_threads[lane_]." +
            std::string(b.name) + ";\n";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    out += "  for (uint lane_ = 0; lane_ < lane_count; " + step + ") {  // segment " + std::to_string(i) + "\n";
    if (i > 0) out += "    if (lane_done[lane_]) continue;\n";
    // Inlined into the lane loop (the host compilers keep a large lambda out
    // of line otherwise): a lane's set-up then costs a few instructions, not
    // a call with its register saves, for every thread of every threadgroup.
    out += refs + "    lane_done[lane_] = true;  // until the segment runs to its end\n"
                  "    [&]() __attribute__((always_inline)) {\n";
    for (std::size_t b = 0; b < segments[i].code.size();) {
      const std::size_t e = segments[i].code.find('\n', b);
      out += "      " + segments[i].code.substr(b, e - b) + "\n";
      b = e + 1;  // every segment ends with a newline
    }
    out += "      lane_done[lane_] = false;\n    }();\n  }\n";
    if (i + 1 < segments.size() && lane0) {
      out += "  // lanes_reduce" + std::to_string(i) + ": lane 0's operand is the SIMD-group's sum\n";
    } else if (i + 1 < segments.size()) {
      const std::string& fn = segments[i].fn;
      const std::string op = fn == "simd_sum" ? "add" : fn == "simd_max" ? "max" : "min";
      out += "  foundry_lanes_reduce_" + op + "(lanes_reduce" + std::to_string(i) + ", lane_done, lane_count);\n";
    }
  }
  return out + "}\n";
}

}  // namespace foundry::detail
