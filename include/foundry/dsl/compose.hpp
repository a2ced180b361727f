#pragma once
/// @file compose.hpp
/// The composer: `fused_kernel<"name", Dispatch, Stages...>` turns a list of
/// stages into one kernel — entry-point name, source pieces, binding plan,
/// threadgroup memory and dispatch rule — and checks the composition at
/// compile time.
///
/// Emitted translation unit, in order (see `source.hpp`): Foundry's
/// preamble, policy helpers, de-duplicated struct definitions, de-duplicated
/// helper sources, then the generated code:
///
///   ALWAYS_INLINE void <name>_body(<arguments>, <threadgroup pointers>, <builtins>) {
///     float v_inv_rms;                       // one variable per port
///     { // stage rms_norm (prologue)
///       ...                                  // snippet, placeholders resolved
///     } // end stage rms_norm
///     ...
///   }
///
/// What is computed when: the checks below, the binding plan, the
/// threadgroup memory, the struct definitions and the signature at compile
/// time, in one constant evaluation of the composition per kernel; the body
/// text at run time, on first use (`body_source()`), by the same constexpr
/// code. Building the body in constant evaluation made each kernel alias
/// cost about half a second of compile time (bench/compile_time/).
///
/// The body is target-neutral. The kernel also publishes its `signature`
/// (signature.hpp: argument rows, threadgroup arrays, the builtins the body
/// takes); each backend writes its own entry point from it
/// (`backends/<target>/entry.hpp`), which declares the threadgroup memory
/// and calls the body. `kernel_source_of<K, Writer>()` (source.hpp) joins
/// the pieces into one translation unit.
///
/// Compile-time checks (each a `static_assert` whose message names the
/// kernel, the stage and the conflict in the first line of the diagnostic,
/// see core/ct_error.hpp): a stage type lacking a required member (named);
/// two stages declaring one argument name with different handle types or
/// options (both declarations shown); a port consumed (or updated) with a
/// type different from its producer's; a consumed port nobody produces; two
/// producers of one port; no main stage, or stages out of prologue → main →
/// epilogue order; more than 31 buffer arguments (blaming the stage that adds
/// the most) or clashing buffer indices; threadgroup memory over 32 KiB;
/// SIMD-group functions with a threads per threadgroup that is not a multiple
/// of 32; an unknown `$name` in a snippet; a dispatch rule other than the one
/// a stage declares it needs (`accepts_dispatch`, e.g. one SIMD-group per row
/// for a GEMV).

#include <array>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "foundry/core/ct_error.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arg_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/builtins.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/lane_loop.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/signature.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/metal/struct.hpp"

namespace foundry {

namespace detail {

template <class T>
inline constexpr char type_tag = 0;
/// A constant-expression identity for type `T` (pointer equality only).
template <class T>
inline constexpr const void* type_id = &type_tag<T>;

// --- merging argument lists by name (first declaration wins) -----------------

template <class Acc, class L>
struct merge_args;
template <class Acc>
struct merge_args<Acc, type_list<>> {
  using type = Acc;
};
template <class... Acc, class A, class... Rest>
struct merge_args<type_list<Acc...>, type_list<A, Rest...>> {
  static constexpr bool seen = ((Acc::name.view() == A::name.view()) || ...);
  using type = typename merge_args<
      std::conditional_t<seen, type_list<Acc...>, type_list<Acc..., A>>, type_list<Rest...>>::type;
};

template <class L>
struct policy_sources;
template <class... Ps>
struct policy_sources<type_list<Ps...>> {
  using type = type_list<typename Ps::source...>;
};

// --- records gathered from the stages for checking and emission ------------

enum class port_use { consume, produce, update };

struct arg_rec {
  std::string_view name;
  const void* handle;
  ct_string (*describe)();  // the handle as declared (for error messages)
  std::string_view metal_type;
  std::string_view kind;  // input, output, inout, optional_input, scalar, params
  bool optional;
  int fixed_index;
  std::size_t stage;
};
struct port_rec {
  std::string_view name;
  std::string_view type;
  port_use use;
  std::size_t stage;
};
struct tg_rec {
  std::string_view name;
  std::string_view type;
  unsigned count;
  unsigned bytes;
  std::size_t stage;
};
struct stage_rec {
  std::string_view name;
  std::string_view missing;  // a member the stage type lacks (stage_traits::missing)
  stage_role role;
  ct_string text;
  ct_string prefetch;           // stage_traits::prefetch_text (stage.hpp), empty without one
  bool helpers_use_simdgroups;  // a helper or policy piece calls simd_* functions
  bool helpers_collective;      // ... or any cross-lane operation (barriers too): no lane loops
  bool cpu_lane0;               // stage_traits::cpu_lane0
  bool stores_only_for_writer;  // stage_traits::stores_only_for_writer
};

template <class H>
constexpr std::string_view handle_kind_name() {
  if constexpr (H::kind == arg_kind::bytes) return is_params<H> ? "params" : "scalar";
  else if constexpr (H::optional) return "optional_input";
  else if constexpr (H::mode == access::read) return "input";
  else if constexpr (H::mode == access::write) return "output";
  else return "inout";
}

// --- describing a handle as declared, for "declared differently" errors ----

template <class S>
constexpr ct_string describe_size() {
  if constexpr (!size_arg_name<S>.empty())
    return "size_arg<" + ct_string(size_arg_name<S>) + ">";  // no quotes: diagnostics escape them
  else
    return "(a size rule)";
}
template <class O>
constexpr ct_string describe_option() {
  if constexpr (is_at<O>) return ", at<" + to_text(O::index) + ">";
  else if constexpr (is_as_metal<O>) return ", as_metal<" + ct_string(O::name) + ">";
  else if constexpr (is_min_elements<O>) return ", min_elements<" + describe_size<typename O::source>() + ">";
  else if constexpr (is_default_value<O>) return ", default_value<...>";
  else return ", (an option)";
}
template <class H>
struct handle_options {
  using type = type_list<>;
};
template <template <class, class...> class Handle, class T, class... Opts>
struct handle_options<Handle<T, Opts...>> {
  using type = type_list<Opts...>;
};
/// `per_element<size_arg<n>, 128>`-like text for dispatch rule `D`.
template <class D>
struct dispatch_text {
  static constexpr ct_string text() {
    return "a dispatch rule of its own (" + to_text(D::threads_per_threadgroup) + " threads per threadgroup)";
  }
};
template <class Size, std::uint32_t Threads>
struct dispatch_text<per_element<Size, Threads>> {
  static constexpr ct_string text() {
    return "per_element<" + describe_size<Size>() + ", " + to_text(Threads) + "> (one thread per element)";
  }
};
template <class Rows, std::uint32_t Threads, class Batch>
struct dispatch_text<per_row<Rows, Threads, Batch>> {
  static constexpr ct_string text() {
    return "per_row<" + describe_size<Rows>() + ", " + to_text(Threads) + "> (one threadgroup per row)";
  }
};
template <class Rows, std::uint32_t R, class Batch>
struct dispatch_text<simdgroup_per_row<Rows, R, Batch>> {
  static constexpr ct_string text() {
    return "simdgroup_per_row<" + describe_size<Rows>() + ", " + to_text(R) + "> (one SIMD-group per row)";
  }
};

/// Empty when stage `S` accepts dispatch rule `D`, else the conflict. A
/// stage states the rule it needs with `template <class D> static constexpr
/// bool accepts_dispatch` and `static constexpr ct_string required_dispatch()`
/// (e.g. a GEMV computing one row per SIMD-group: with one thread per
/// element most rows would never be written).
template <class D, class S>
constexpr ct_string dispatch_conflict() {
  if constexpr (requires {
                  { S::template accepts_dispatch<D> } -> std::convertible_to<bool>;
                  S::required_dispatch();
                }) {
    if constexpr (!S::template accepts_dispatch<D>)
      return "stage " + ct_string(stage_traits<S>::name) + " needs dispatch " + ct_string(S::required_dispatch()) +
             " but the kernel dispatches with " + dispatch_text<D>::text();
  }
  return {};
}

/// `input<float, min_elements<size_arg<n>>>`-like text for handle `H`.
template <class H>
constexpr ct_string describe_handle() {
  ct_string out = ct_string(handle_kind_name<H>()) + "<" + ct_string(H::metal_element());
  for_each_type(typename handle_options<H>::type{}, [&]<class O>() { out += describe_option<O>(); });
  return out + ">";
}

template <class... Pieces>
constexpr bool pieces_use_simdgroups(type_list<Pieces...>) {
  return ((std::string_view(Pieces::text).find("simd_") != std::string_view::npos) || ...);
}
/// Whether helper text `t` may call a cross-lane operation on the CPU: any
/// mention of `simd`, `barrier` or `quad_` (comments included: the test is
/// textual and errs towards the fiber path), except inside regions fenced
/// `#if !FOUNDRY_TARGET_CPU` ... `#endif`, which the CPU never compiles. So a
/// helper can keep its GPU form with collectives and give the CPU a form
/// without (kernels/attention/attention.metal). Nested `#if`s inside a fence
/// are matched; an unclosed fence, or an `#else`/`#elif` of the fence itself
/// (its branch is CPU code), counts as collective.
constexpr bool cpu_text_collective(std::string_view t) {
  constexpr std::string_view fence = "#if !FOUNDRY_TARGET_CPU";
  auto any = [](std::string_view part) {
    return part.find("simd") != std::string_view::npos || part.find("barrier") != std::string_view::npos ||
           part.find("quad_") != std::string_view::npos;
  };
  for (std::size_t pos = 0;;) {
    const std::size_t f = t.find(fence, pos);
    if (any(t.substr(pos, f == std::string_view::npos ? std::string_view::npos : f - pos))) return true;
    if (f == std::string_view::npos) return false;
    std::size_t q = f + fence.size();
    for (int depth = 1; depth > 0;) {
      const std::size_t open = t.find("#if", q), close = t.find("#endif", q), other = t.find("#el", q);
      if (close == std::string_view::npos) return true;
      if (other < close && other < open) {  // #else / #elif
        if (depth == 1) return true;
        q = other + 3;
      } else if (open < close) {
        ++depth;
        q = open + 3;
      } else {
        --depth;
        q = close + 6;
      }
    }
    pos = q;
  }
}
template <class... Pieces>
constexpr bool pieces_collective(type_list<Pieces...>) {
  return (cpu_text_collective(Pieces::text) || ...);
}

template <class S>
constexpr void gather_stage(std::size_t idx, std::vector<stage_rec>& stages,
                            std::vector<arg_rec>& args, std::vector<port_rec>& ports,
                            std::vector<tg_rec>& tgs) {
  using T = stage_traits<S>;
  using pieces = ordered_pieces_t<concat_t<typename T::helpers,
                                           typename policy_sources<typename T::policies>::type>>;
  stages.push_back(
      {T::name, T::missing, T::role, T::text(), T::prefetch_text(), pieces_use_simdgroups(pieces{}),
       pieces_collective(pieces{}),
       T::cpu_lane0, T::stores_only_for_writer});
  for_each_type(typename T::arguments{}, [&]<class A>() {
    using H = typename A::handle;
    args.push_back({A::name.view(), type_id<H>, &describe_handle<H>, H::metal_element(), handle_kind_name<H>(),
                    H::optional, H::fixed_index, idx});
  });
  for_each_type(typename T::consumes{},
                [&]<class P>() { ports.push_back({P::name.view(), P::metal_type_name(), port_use::consume, idx}); });
  for_each_type(typename T::produces{},
                [&]<class P>() { ports.push_back({P::name.view(), P::metal_type_name(), port_use::produce, idx}); });
  for_each_type(typename T::updates{},
                [&]<class P>() { ports.push_back({P::name.view(), P::metal_type_name(), port_use::update, idx}); });
  for_each_type(typename T::threadgroup{}, [&]<class G>() {
    tgs.push_back({G::name.view(), G::metal_type_name(), G::count, G::bytes, idx});
  });
}

/// Everything known about a composition, gathered once per evaluation.
template <class... Stages>
struct composition {
  std::vector<stage_rec> stages;
  std::vector<arg_rec> args;
  std::vector<port_rec> ports;
  std::vector<tg_rec> tgs;

  constexpr composition() {
    std::size_t i = 0;
    (gather_stage<Stages>(i++, stages, args, ports, tgs), ...);
  }

  /// Appends to `out` what `$name` in stage `s` refers to (a port
  /// `v_<name>`, an argument `<name>`, a threadgroup array `tg_<name>`, a
  /// builtin, or `$has_<arg>`); sets `error` when it is unknown or ambiguous.
  /// `out` may be null (validation only).
  constexpr void resolve(std::size_t s, std::string_view name, ct_string* out, ct_string& error) const {
    int hits = 0;
    std::string_view prefix, ident = name;
    bool presence = false;
    for (const auto& p : ports)
      if (p.stage == s && p.name == name) {
        hits = 1, prefix = "v_";
        break;
      }
    for (const auto& a : args)
      if (a.stage == s && a.name == name && hits++ == 0) prefix = "";
    for (const auto& g : tgs)
      if (g.stage == s && g.name == name && hits++ == 0) prefix = "tg_";
    if (builtin_position(name) >= 0 && hits++ == 0) prefix = "";
    if (name.starts_with("has_"))
      for (const auto& a : args)
        if (a.stage == s && a.optional && a.name == name.substr(4) && hits++ == 0) {
          presence = true;
          ident = a.name;
        }
    if (hits == 1) {
      if (!out) return;
      if (presence) {
        *out += '(';
        *out += ident;
        *out += "_present != 0u)";
      } else {
        *out += prefix;
        *out += ident;
      }
      return;
    }
    if (!error.empty()) return;
    error = "stage " + ct_string(stages[s].name) + ": $" + ct_string(name);
    error += hits > 1 ? " is ambiguous (it names more than one of: port, argument, threadgroup array, builtin)"
                      : " is not a port, argument, threadgroup array or builtin this stage declares";
  }

  /// Stage `s`'s snippet with placeholders resolved, appended to `out` (or
  /// only checked when `out` is null); records used builtins.
  constexpr void substitute(std::size_t s, ct_string* out, ct_string& error, bool* used_builtins) const {
    substitute_text(s, stages[s].text, false, out, error, used_builtins);
  }
  /// The same for stage `s`'s prefetch snippet (stage.hpp), which may not
  /// name ports: it runs before every stage.
  constexpr void substitute_prefetch(std::size_t s, ct_string* out, ct_string& error, bool* used_builtins) const {
    substitute_text(s, stages[s].prefetch, true, out, error, used_builtins);
  }
  constexpr void substitute_text(std::size_t s, std::string_view t, bool prefetch, ct_string* out, ct_string& error,
                                 bool* used_builtins) const {
    std::size_t done = 0;
    for (std::size_t i = t.find('$'); i != std::string_view::npos; i = t.find('$', done)) {
      if (out) out->append(t.substr(done, i - done));
      if (i + 1 < t.size() && t[i + 1] == '$') {
        if (out) *out += '$';
        done = i + 2;
        continue;
      }
      std::size_t j = i + 1;
      while (j < t.size() && is_ident_char(t[j])) ++j;
      const std::string_view name = t.substr(i + 1, j - i - 1);
      if (name.empty()) {
        if (error.empty()) error = "stage " + ct_string(stages[s].name) + ": a $ not followed by a name";
        return;
      }
      if (prefetch)
        for (const auto& p : ports)
          if (p.stage == s && p.name == name) {
            if (error.empty())
              error = "stage " + ct_string(stages[s].name) + ": prefetch() names port $" + ct_string(name) +
                      "; a prefetch snippet runs before every stage and may name only arguments and builtins";
            return;
          }
      if (const int b = builtin_position(name); b >= 0 && used_builtins) used_builtins[b] = true;
      resolve(s, name, out, error);
      done = j;
    }
    if (out) out->append(t.substr(done));
  }

  constexpr bool stage_uses_simdgroups(std::size_t s) const {
    const std::string_view t = stages[s].text;
    return stages[s].helpers_use_simdgroups || t.find("simd_") != std::string_view::npos ||
           t.find("simdgroup") != std::string_view::npos;
  }

  constexpr unsigned threadgroup_bytes() const {
    unsigned total = 0;
    for (const auto& g : tgs) total += (g.bytes + 15u) & ~15u;  // 16-byte aligned slots
    return total;
  }

  /// Empty when the composition is valid, else the first conflict found.
  /// `used_builtins` (may be null) records the builtins the placeholders
  /// name, from the same pass that checks them.
  constexpr ct_string check(std::uint32_t threads_per_threadgroup, bool* used_builtins = nullptr) const {
    auto stage = [&](std::size_t i) { return "stage " + ct_string(stages[i].name); };
    // Stage types: every required member present.
    for (std::size_t i = 0; i < stages.size(); ++i)
      if (!stages[i].missing.empty())
        return stage(i) + " (stage " + to_text(i + 1) + " of " + to_text(stages.size()) +
               ") has no member " + ct_string(stages[i].missing);
    // Stage order: prologues, at least one main, epilogues.
    int mains = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const stage_role r = stages[i].role;
      mains += r == stage_role::main;
      if (i > 0 && r < stages[i - 1].role)
        return stage(i) + " (" + ct_string(to_string(r)) + ") comes after " + stage(i - 1) +
               " (" + ct_string(to_string(stages[i - 1].role)) +
               "); order must be prologue, main, epilogue";
    }
    if (mains == 0) return "the kernel has no main stage";
    // Arguments: one handle type per name.
    for (std::size_t i = 0; i < args.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (args[i].name == args[j].name && args[i].handle != args[j].handle) {
          const ct_string a = args[j].describe(), b = args[i].describe();
          return stage(args[j].stage) + " and " + stage(args[i].stage) + " declare argument " +
                 ct_string(args[i].name) + " differently: " + a + " vs " + b +
                 (a == b ? " (their min_elements size rules differ)" : "");
        }
    // Metal's limit of 31 buffer arguments. Blame the stage that adds the
    // most of them (first declarations; an optional input also takes its
    // presence flag), not the one that happens to cross the limit: that is
    // where the composition has to change.
    {
      std::size_t count = 0, worst = 0, worst_count = 0;
      std::vector<std::size_t> per_stage(stages.size(), 0);
      for (std::size_t i = 0; i < args.size(); ++i) {
        bool seen = false;
        for (std::size_t j = 0; j < i; ++j) seen = seen || args[j].name == args[i].name;
        if (seen) continue;
        const std::size_t slots = args[i].optional ? 2 : 1;
        count += slots;
        per_stage[args[i].stage] += slots;
      }
      for (std::size_t s = 0; s < stages.size(); ++s)
        if (per_stage[s] > worst_count) worst = s, worst_count = per_stage[s];
      if (count > max_buffer_arguments)
        return stage(worst) + " adds " + to_text(worst_count) +
               " buffer arguments, the most of any stage, and the kernel needs " + to_text(count) +
               "; Metal allows at most 31 ([[buffer(0)]] to [[buffer(30)]])";
    }
    // Buffer indices fixed with at<i>: name the stages that clash.
    for (std::size_t i = 0; i < args.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (args[i].fixed_index >= 0 && args[i].fixed_index == args[j].fixed_index && args[i].name != args[j].name)
          return "argument " + ct_string(args[j].name) + " of " + stage(args[j].stage) + " and argument " +
                 ct_string(args[i].name) + " of " + stage(args[i].stage) + " both ask for buffer index " +
                 to_text(static_cast<unsigned>(args[i].fixed_index));
    // Ports: one producer; consumers and updaters after it, with its type.
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto& p = ports[i];
      if (p.use == port_use::produce) {
        for (std::size_t j = 0; j < i; ++j)
          if (ports[j].name == p.name && ports[j].use == port_use::produce)
            return stage(ports[j].stage) + " and " + stage(p.stage) + " both produce port " +
                   ct_string(p.name);
        continue;
      }
      const port_rec* producer = nullptr;
      for (const auto& q : ports)
        if (q.name == p.name && q.use == port_use::produce && q.stage < p.stage) producer = &q;
      if (!producer)
        return stage(p.stage) + (p.use == port_use::update ? " updates" : " consumes") +
               " port " + ct_string(p.name) + " but no earlier stage produces it";
      if (producer->type != p.type)
        return stage(p.stage) + " expects port " + ct_string(p.name) + " as " +
               ct_string(p.type) + " but " + stage(producer->stage) + " produces " +
               ct_string(producer->type);
    }
    // Threadgroup memory.
    for (std::size_t i = 0; i < tgs.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (tgs[i].name == tgs[j].name)
          return stage(tgs[j].stage) + " and " + stage(tgs[i].stage) +
                 " both declare threadgroup array " + ct_string(tgs[i].name);
    if (threadgroup_bytes() > max_threadgroup_memory)
      return "threadgroup memory is " + to_text(threadgroup_bytes()) +
             " bytes; the limit is 32768 (32 KiB)";
    // SIMD-group functions need whole SIMD-groups.
    for (std::size_t i = 0; i < stages.size(); ++i)
      if (stage_uses_simdgroups(i) && threads_per_threadgroup % simdgroup_width != 0)
        return stage(i) + " uses SIMD-group functions but the dispatch has " +
               to_text(threads_per_threadgroup) +
               " threads per threadgroup, not a multiple of 32";
    // Placeholders.
    ct_string error;
    for (std::size_t i = 0; i < stages.size() && error.empty(); ++i) {
      substitute(i, nullptr, error, used_builtins);
      if (error.empty()) substitute_prefetch(i, nullptr, error, used_builtins);
    }
    return error;
  }
};

constexpr void indent_into(ct_string& out, std::string_view text, std::string_view pad) {
  bool line_start = true;
  for (char c : text) {
    if (line_start && c != '\n') out += pad;
    out += c;
    line_start = (c == '\n');
  }
  if (!text.empty() && text.back() != '\n') out += '\n';
}

}  // namespace detail

/// Compile-time description of a fused kernel. See the file comment.
///
/// - `Name`: the entry-point name (a valid Metal identifier).
/// - `Dispatch`: a dispatch rule (`dispatch.hpp`).
/// - `Stages`: prologue stages, one or more main stages, epilogue stages.
///
/// `Stages` are not constrained with the `stage` concept on purpose: a type
/// that lacks a member is reported by the composition check, naming it.
template <fixed_string Name, class Dispatch, class... Stages>
struct fused_kernel {
  static constexpr auto name = Name;
  using dispatch = Dispatch;
  using stages = type_list<Stages...>;

  /// Every argument of every stage, merged by name, optional-presence flags
  /// inserted; declaration order decides buffer indices.
  using argument_list = expand_optionals_t<
      typename detail::merge_args<type_list<>, concat_t<typename stage_traits<Stages>::arguments...>>::type>;
  /// The run-time argument values (`args.template set<"x">(buffer)`).
  using arguments = argument_values<argument_list>;
  using table = arg_table<argument_list>;

  /// Policies used by the stages, each once.
  using policies = unique_t<concat_t<typename stage_traits<Stages>::policies...>>;
  static_assert(policy_contract_check_all(policies{}));  // each policy's Metal struct (policy.hpp)
  /// Described structs to define: params arguments' and stages' `structs`.
  using structs = unique_t<concat_t<params_structs_t<argument_list>,
                                    typename stage_traits<Stages>::structs...>>;
  /// Helper sources, policy helpers first, dependencies before dependents.
  using policy_pieces = ordered_pieces_t<typename detail::policy_sources<policies>::type>;
  using helper_pieces = ordered_pieces_t<concat_t<typename stage_traits<Stages>::helpers...>>;

 private:
  using comp = detail::composition<Stages...>;
  /// Empty when the kernel is valid, else "fused_kernel <name>: <the first
  /// conflict>"; `used_builtins` as in `composition::check`.
  static constexpr ct_string error_of(const comp& c, bool* used_builtins) {
    ct_string e = c.check(Dispatch::threads_per_threadgroup, used_builtins);
    ((e.empty() ? void(e = detail::dispatch_conflict<Dispatch, Stages>()) : void()), ...);
    if (e.empty()) e = table::error();
    if (e.empty()) return {};
    return "fused_kernel " + ct_string(Name.view()) + ": " + e;
  }

  /// Compile-time facts, gathered in ONE constant evaluation of the
  /// composition (each evaluation rebuilds it: constant evaluation cannot
  /// keep its vectors between evaluations, and it is where compile time goes).
  struct facts_t {
    std::size_t error_size = 0;  ///< 0 when the kernel is valid
    unsigned threadgroup_bytes = 0;
    bool uses_simdgroups = false;
    bool prefetch = false;   ///< some stage has a prefetch snippet (stage.hpp)
    std::array<bool, builtins.size()> builtin_used{};  ///< some stage uses `$<builtin>`
  };
  static constexpr facts_t facts = [] {
    const comp c;
    facts_t f;
    f.error_size = error_of(c, f.builtin_used.data()).size();
    f.threadgroup_bytes = c.threadgroup_bytes();
    for (std::size_t i = 0; i < c.stages.size(); ++i) {
      f.uses_simdgroups |= c.stage_uses_simdgroups(i);
      f.prefetch |= !c.stages[i].prefetch.empty();
    }
    return f;
  }();
  static constexpr bool valid = facts.error_size == 0;

  // The message is built a second time only for an invalid kernel: the
  // frozen text of a valid one is the empty text, without evaluation.
  struct error_gen {
    static constexpr ct_string text() { return error_of(comp(), nullptr); }
  };
  struct no_error_gen {
    static constexpr ct_string text() { return {}; }
  };
  using error_text = frozen_text<std::conditional_t<valid, no_error_gen, error_gen>>;
  static_assert(ct_error<error_text::fixed()>::ok);

  static constexpr std::size_t builtin_count = [] {
    std::size_t n = 0;
    for (bool u : facts.builtin_used) n += u;
    return n;
  }();
  /// The builtins the body takes, in `builtins` order.
  static constexpr std::array<builtin_info, builtin_count> used_builtins = [] {
    std::array<builtin_info, builtin_count> out{};
    std::size_t n = 0;
    for (std::size_t b = 0; b < builtins.size(); ++b)
      if (facts.builtin_used[b]) out[n++] = builtins[b];
    return out;
  }();
  using threadgroup_list = concat_t<typename stage_traits<Stages>::threadgroup...>;

  /// The body function's text and the prefetch function's (empty without
  /// one). Built at run time, once (`texts()`), in one pass: the same
  /// constexpr code as the check, but building megabytes of text in
  /// constant evaluation is what made each kernel alias cost half a second
  /// of compile time, and nothing needs the text at compile time. One
  /// function builds both, since each compiled copy of the composition
  /// costs compile time per alias.
  struct texts_t {
    std::string body;      ///< `<name>_body(<parameters>)`
    std::string prefetch;  ///< `<name>_prefetch(<the same parameters>)`: the stages' prefetch snippets (stage.hpp)
    std::vector<std::string> resolved;  ///< each stage's substituted text (the CPU's lane-loop form reads it)
  };
  static texts_t build_texts() {
    const comp c;
    ct_string error;
    std::vector<std::string> resolved;
    ct_string blocks, loop_close, prefetch_blocks;
    for (std::size_t s = 0; s < c.stages.size(); ++s) {
      for (const auto& p : c.ports)
        if (p.stage == s && p.use == detail::port_use::produce)
          blocks += "  " + ct_string(p.type) + " v_" + ct_string(p.name) + ";\n";
      const ct_string sname(c.stages[s].name);
      blocks += "  { // stage " + sname + " (" + ct_string(to_string(c.stages[s].role)) + ")\n";
      ct_string snippet;
      c.substitute(s, &snippet, error, nullptr);
      resolved.emplace_back(snippet);
      // A main stage may end with a loop header after `per_element_epilogues`
      // (stage.hpp): it opens after the stage's block and closes after the
      // last stage, so the epilogues run once per element it visits.
      ct_string loop_open;
      if (const auto at = snippet.find(per_element_epilogues); at != ct_string::npos) {
        loop_open = snippet.substr(at + per_element_epilogues.size());
        snippet.resize(at);
      }
      detail::indent_into(blocks, snippet, "    ");
      blocks += "  } // end stage " + sname + "\n";
      if (!loop_open.empty()) {
        blocks += "  // epilogues once per element of stage " + sname + "\n";
        detail::indent_into(blocks, loop_open, "  ");
        loop_close = "  } // end of the per-element epilogues\n";
      }
      if (!c.stages[s].prefetch.empty()) {
        ct_string fetch;
        c.substitute_prefetch(s, &fetch, error, nullptr);
        prefetch_blocks += "  { // stage " + sname + " (prefetch)\n";
        detail::indent_into(prefetch_blocks, fetch, "    ");
        prefetch_blocks += "  } // end stage " + sname + " (prefetch)\n";
      }
    }
    blocks += loop_close;
    ct_string params = parameters(c);
    for (const builtin_info& b : used_builtins)
      params += (params.empty() ? "" : ", ") + ct_string(b.type) + " " + ct_string(b.name);
    const ct_string head = "ALWAYS_INLINE void " + ct_string(Name.view());
    texts_t t;
    t.resolved = std::move(resolved);
    t.body = std::string(head + "_body(" + params + ") {\n" + blocks + "}\n");
    if (!prefetch_blocks.empty())
      t.prefetch = std::string(head + "_prefetch(" + params + ") {\n" + prefetch_blocks + "}\n");
    return t;
  }
  static const texts_t& texts() {
    static const texts_t t = build_texts();
    return t;
  }
  /// The body's parameters before the builtins: arguments, then threadgroup
  /// pointers, comma-separated.
  static ct_string parameters(const comp& c) {
    ct_string params;
    auto sep = [&params] { if (!params.empty()) params += ", "; };
    for (std::size_t i = 0; i < table::size; ++i) {
      sep();
      params += table::parameter(i);
    }
    for (const auto& g : c.tgs) {
      sep();
      params += "threadgroup " + ct_string(g.type) + "* tg_" + ct_string(g.name);
    }
    return params;
  }

 public:
  /// Binding plan, one row per argument in declaration order.
  static constexpr const auto& plan = table::plan;
  /// Threadgroup memory the kernel declares, in bytes.
  static constexpr unsigned threadgroup_memory_bytes = facts.threadgroup_bytes;
  /// True when some stage uses SIMD-group functions.
  static constexpr bool uses_simdgroups = facts.uses_simdgroups;
  /// True when the kernel runs as lane loops on the CPU: its only cross-lane
  /// operations are reduction points (lane_loop.hpp); otherwise it runs one
  /// fiber per thread there. A function, not a constant, so that the scan
  /// runs only where a program calls it in a constant expression (a
  /// `static_assert`): compilers evaluate a class template's constexpr data
  /// members with the class, and the scan in every alias doubled its
  /// compile time. The backend decides at run time (`signature.lane_loop`).
  static constexpr bool lane_loop() { return valid && detail::lane_loop_blocker(comp().stages).empty(); }
  /// True when those lane loops run lane 0 of each SIMD-group only (the
  /// main stage computes its rows with lane 0 on the CPU and the epilogues
  /// store only for the writer: lane_loop.hpp, `lane_loop_lane0`).
  static constexpr bool lane_loop_lane0() { return lane_loop() && detail::lane_loop_lane0(comp().stages); }
  /// Why the kernel does not run as lane loops on the CPU ("stage gemv: it
  /// calls simd_shuffle_xor outside a reduction point"), or empty when it
  /// does. Built at run time (for `foundry-emit --explain`).
  static std::string lane_loop_blocker() { return std::string(detail::lane_loop_blocker(comp().stages)); }
  /// The CPU's lane-loop form (lane_loop.hpp): the `<name>_lanes` function
  /// and the threads it reads, or an empty body when the kernel runs one
  /// fiber per thread. Decided and built at run time on the first call,
  /// then kept for the life of the process (thread-safe);
  /// `make_kernel_source` puts it in the signature the CPU entry writer
  /// reads. @throws std::logic_error on an internal inconsistency of the
  /// scan (lane_loop.hpp, `lane_loop_text`).
  static lane_loop_form cpu_lane_loop() {
    struct lanes_t {
      std::string body;
      std::uint32_t stride = 1;
    };
    static const lanes_t l = [] {
      const comp c;
      lanes_t out;
      if (!detail::lane_loop_blocker(c.stages).empty()) return out;
      out.body = detail::lane_loop_text(c.stages, texts().resolved, c.ports,
                                        {Name.view(), std::string(parameters(c)), detail::static_span(used_builtins),
                                         Dispatch::threads_per_threadgroup});
      out.stride = detail::lane_loop_lane0(c.stages) ? 32u : 1u;
      return out;
    }();
    return {l.body, l.stride};
  }
  /// The generated, target-neutral body function `<name>_body(...)`, built
  /// on first use and kept for the life of the process (thread-safe).
  /// @throws std::bad_alloc only.
  static std::string_view body_source() { return texts().body; }
  /// The prefetch function `<name>_prefetch(<the body's parameters>)`:
  /// every stage's prefetch snippet (stage.hpp) in stage order; empty when
  /// no stage has one (`signature.prefetch`). Built with the body.
  static std::string_view prefetch_source() { return texts().prefetch; }
  /// The target-neutral signature each backend writes its entry point from
  /// (`signature.hpp`).
  static constexpr kernel_signature signature{
      Name.view(), detail::static_span(detail::argument_rows<argument_list>::value),
      detail::static_span(detail::threadgroup_rows<threadgroup_list>::value), detail::static_span(used_builtins),
      nullptr, facts.prefetch};

  /// The described struct definitions this kernel needs, in dependency order.
  static constexpr std::string_view struct_source() noexcept {
    return frozen_text<struct_gen>::view();
  }

 private:
  template <class L>
  struct struct_defs;
  template <class... Ts>
  struct struct_defs<type_list<Ts...>> {
    static constexpr ct_string text() { return metal::struct_definitions<Ts...>(); }
  };
  using struct_gen = struct_defs<structs>;
};

}  // namespace foundry
