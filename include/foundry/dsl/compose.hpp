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
///   [[kernel]] void <name>(<arguments with [[buffer(i)]]>, <builtins with attributes>) {
///     threadgroup float tg_partial[32];      // threadgroup memory, declared here
///     <name>_body(...);
///   }
///
/// The body is target-neutral; only the entry point differs per target
/// (`kernel_source_of<K, target>()`): Metal's `[[kernel]]` above, the CPU
/// backend's `<name>__cpu(launch, thread)`, and CUDA's
/// `extern "C" __global__ void <name>(...)` (docs/cuda-backend.md).
///
/// Compile-time checks (each a `static_assert` whose message names the
/// kernel, the stage and the conflict): two stages declaring one argument
/// name with different handle types; a port consumed (or updated) with a
/// type different from its producer's; a consumed port nobody produces; two
/// producers of one port; no main stage, or stages out of prologue → main →
/// epilogue order; more than 31 buffer arguments or clashing buffer indices;
/// threadgroup memory over 32 KiB; SIMD-group functions with a threads per
/// threadgroup that is not a multiple of 32; an unknown `$name` in a snippet.

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
#include "foundry/dsl/port.hpp"
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
  stage_role role;
  std::string text;
  bool helpers_use_simdgroups;  // a helper or policy piece calls simd_* functions
};

template <class H>
constexpr std::string_view handle_kind_name() {
  if constexpr (H::kind == arg_kind::bytes) return is_params<H> ? "params" : "scalar";
  else if constexpr (H::optional) return "optional_input";
  else if constexpr (H::mode == access::read) return "input";
  else if constexpr (H::mode == access::write) return "output";
  else return "inout";
}

template <class... Pieces>
constexpr bool pieces_use_simdgroups(type_list<Pieces...>) {
  return ((std::string_view(Pieces::text).find("simd_") != std::string_view::npos) || ...);
}

template <class S>
constexpr void gather_stage(std::size_t idx, std::vector<stage_rec>& stages,
                            std::vector<arg_rec>& args, std::vector<port_rec>& ports,
                            std::vector<tg_rec>& tgs) {
  using T = stage_traits<S>;
  using pieces = ordered_pieces_t<concat_t<typename T::helpers,
                                           typename policy_sources<typename T::policies>::type>>;
  stages.push_back({T::name, T::role, T::text(), pieces_use_simdgroups(pieces{})});
  for_each_type(typename T::arguments{}, [&]<class A>() {
    using H = typename A::handle;
    args.push_back({A::name.view(), type_id<H>, H::metal_element(), handle_kind_name<H>(), H::optional,
                    H::fixed_index, idx});
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
  constexpr void resolve(std::size_t s, std::string_view name, std::string* out, std::string& error) const {
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
    error = "stage " + std::string(stages[s].name) + ": $" + std::string(name);
    error += hits > 1 ? " is ambiguous (it names more than one of: port, argument, threadgroup array, builtin)"
                      : " is not a port, argument, threadgroup array or builtin this stage declares";
  }

  /// Stage `s`'s snippet with placeholders resolved, appended to `out` (or
  /// only checked when `out` is null); records used builtins.
  constexpr void substitute(std::size_t s, std::string* out, std::string& error, bool* used_builtins) const {
    const std::string_view t = stages[s].text;
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
        if (error.empty()) error = "stage " + std::string(stages[s].name) + ": a $ not followed by a name";
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
  constexpr std::string check(std::uint32_t threads_per_threadgroup) const {
    auto stage = [&](std::size_t i) { return "stage " + std::string(stages[i].name); };
    // Stage order: prologues, at least one main, epilogues.
    int mains = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const stage_role r = stages[i].role;
      mains += r == stage_role::main;
      if (i > 0 && r < stages[i - 1].role)
        return stage(i) + " (" + std::string(to_string(r)) + ") comes after " + stage(i - 1) +
               " (" + std::string(to_string(stages[i - 1].role)) +
               "); order must be prologue, main, epilogue";
    }
    if (mains == 0) return "the kernel has no main stage";
    // Arguments: one handle type per name.
    for (std::size_t i = 0; i < args.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (args[i].name == args[j].name && args[i].handle != args[j].handle)
          return stage(args[j].stage) + " and " + stage(args[i].stage) + " declare argument " +
                 std::string(args[i].name) + " with different types (" + std::string(args[j].kind) + "<" +
                 std::string(args[j].metal_type) + "> vs " + std::string(args[i].kind) + "<" +
                 std::string(args[i].metal_type) + ">, or different options)";
    // Metal's limit of 31 buffer arguments: name the stage that goes over it.
    {
      std::size_t count = 0;
      for (std::size_t i = 0; i < args.size(); ++i) {
        bool seen = false;
        for (std::size_t j = 0; j < i; ++j) seen = seen || args[j].name == args[i].name;
        if (seen) continue;
        count += args[i].optional ? 2 : 1;
        if (count > max_buffer_arguments)
          return stage(args[i].stage) + " adds argument " + std::string(args[i].name) +
                 ", buffer argument number " + to_text(count) +
                 ", but Metal allows at most 31 ([[buffer(0)]] to [[buffer(30)]])";
      }
    }
    // Buffer indices fixed with at<i>: name the stages that clash.
    for (std::size_t i = 0; i < args.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (args[i].fixed_index >= 0 && args[i].fixed_index == args[j].fixed_index && args[i].name != args[j].name)
          return "argument " + std::string(args[j].name) + " of " + stage(args[j].stage) + " and argument " +
                 std::string(args[i].name) + " of " + stage(args[i].stage) + " both ask for buffer index " +
                 to_text(static_cast<unsigned>(args[i].fixed_index));
    // Ports: one producer; consumers and updaters after it, with its type.
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto& p = ports[i];
      if (p.use == port_use::produce) {
        for (std::size_t j = 0; j < i; ++j)
          if (ports[j].name == p.name && ports[j].use == port_use::produce)
            return stage(ports[j].stage) + " and " + stage(p.stage) + " both produce port " +
                   std::string(p.name);
        continue;
      }
      const port_rec* producer = nullptr;
      for (const auto& q : ports)
        if (q.name == p.name && q.use == port_use::produce && q.stage < p.stage) producer = &q;
      if (!producer)
        return stage(p.stage) + (p.use == port_use::update ? " updates" : " consumes") +
               " port " + std::string(p.name) + " but no earlier stage produces it";
      if (producer->type != p.type)
        return stage(p.stage) + " expects port " + std::string(p.name) + " as " +
               std::string(p.type) + " but " + stage(producer->stage) + " produces " +
               std::string(producer->type);
    }
    // Threadgroup memory.
    for (std::size_t i = 0; i < tgs.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (tgs[i].name == tgs[j].name)
          return stage(tgs[j].stage) + " and " + stage(tgs[i].stage) +
                 " both declare threadgroup array " + std::string(tgs[i].name);
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
    std::string error;
    for (std::size_t i = 0; i < stages.size() && error.empty(); ++i) substitute(i, nullptr, error, nullptr);
    return error;
  }
};

constexpr void indent_into(std::string& out, std::string_view text, std::string_view pad) {
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
template <fixed_string Name, class Dispatch, stage... Stages>
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
  struct error_gen {
    static constexpr std::string text() {
      std::string e = comp().check(Dispatch::threads_per_threadgroup);
      if (e.empty()) e = table::error();
      if (e.empty()) return {};
      return "fused_kernel " + std::string(Name.view()) + ": " + e;
    }
  };
  using error_text = frozen_text<error_gen>;
  static_assert(ct_check<error_text::view().empty()>.template emit<error_text::fixed()>());
  static constexpr bool valid = error_text::view().empty();

  struct body_gen {
    static constexpr std::string text() {
      if constexpr (!valid) {
        return {};
      } else {
        const comp c;
        bool used[builtins.size()]{};
        std::string error;
        std::string blocks;
        for (std::size_t s = 0; s < c.stages.size(); ++s) {
          for (const auto& p : c.ports)
            if (p.stage == s && p.use == detail::port_use::produce)
              blocks += "  " + std::string(p.type) + " v_" + std::string(p.name) + ";\n";
          const std::string sname(c.stages[s].name);
          blocks += "  { // stage " + sname + " (" + std::string(to_string(c.stages[s].role)) + ")\n";
          std::string snippet;
          c.substitute(s, &snippet, error, used);
          detail::indent_into(blocks, snippet, "    ");
          blocks += "  } // end stage " + sname + "\n";
        }
        // Signature parameters: arguments, threadgroup pointers, used builtins.
        std::string params, call, entry_params, entry_decls, cpu_call, cuda_params, cuda_call, cuda_decls;
        auto sep = [](std::string& s) { if (!s.empty()) s += ", "; };
        for (std::size_t i = 0; i < table::size; ++i) {
          const binding& b = table::plan[i];
          const std::string slot = "L->args[" + to_text(table::indices[i]) + "]";
          sep(params); params += table::parameter(i);
          sep(call); call += std::string(b.name);
          sep(entry_params);
          entry_params += table::parameter(i) + " [[buffer(" + to_text(table::indices[i]) + ")]]";
          sep(cpu_call);
          const std::string decl = table::parameter(i);
          const std::string type = decl.substr(0, decl.size() - b.name.size() - 1);
          if (b.kind == arg_kind::bytes && type.back() == '&')
            cpu_call += "*(" + type.substr(0, type.size() - 1) + "*)" + slot;
          else
            cpu_call += "(" + type + ")" + slot;
          // CUDA: bytes arguments are by-value kernel parameters.
          sep(cuda_params); sep(cuda_call);
          if (b.kind == arg_kind::bytes && (type.back() == '&' || type.back() == '*')) {
            cuda_params += type.substr(0, type.size() - 1) + " " + std::string(b.name);
            cuda_call += (type.back() == '*' ? "&" : "") + std::string(b.name);
          } else {
            cuda_params += decl;
            cuda_call += std::string(b.name);
          }
        }
        unsigned tg_offset = 0;
        for (const auto& g : c.tgs) {
          const std::string n = "tg_" + std::string(g.name);
          const std::string t = "threadgroup " + std::string(g.type) + "*";
          sep(params); params += t + " " + n;
          sep(call); call += n;
          sep(cpu_call); cpu_call += "(" + t + ")(T->threadgroup_memory + " + to_text(tg_offset) + ")";
          tg_offset += (g.bytes + 15u) & ~15u;
          entry_decls += "  threadgroup " + std::string(g.type) + " " + n + "[" + to_text(g.count) + "];\n";
          sep(cuda_call); cuda_call += n;
          cuda_decls += "  __shared__ alignas(16) " + std::string(g.type) + " " + n + "[" + to_text(g.count) + "];\n";
        }
        for (std::size_t b = 0; b < builtins.size(); ++b) {
          if (!used[b]) continue;
          const std::string n(builtins[b].name);
          sep(params); params += std::string(builtins[b].type) + " " + n;
          sep(call); call += n;
          sep(entry_params); entry_params += std::string(builtins[b].type) + " " + n + " [[" + n + "]]";
          sep(cpu_call); cpu_call += "T->" + n;
          sep(cuda_call); cuda_call += "foundry_cuda_builtin::" + n + "()";
        }
        const std::string kname(Name.view());
        return "ALWAYS_INLINE void " + kname + "_body(" + params + ") {\n" + blocks + "}\n" +
               '\x01' + "[[kernel]] void " + kname + "(" + entry_params + ") {\n" + entry_decls +
               "  " + kname + "_body(" + call + ");\n}\n" + '\x01' +
               "extern \"C\" void " + kname +
               "__cpu(const foundry_cpu_launch* L, const foundry_cpu_thread* T) {\n  " + kname +
               "_body(" + cpu_call + ");\n}\n" + '\x01' +
               "extern \"C\" __global__ void " + kname + "(" + cuda_params + ") {\n" + cuda_decls + "  " +
               kname + "_body(" + cuda_call + ");\n}\n";
      }
    }
  };

 public:
  /// Binding plan, one row per argument in declaration order.
  static constexpr const auto& plan = table::plan;
  /// Threadgroup memory the kernel declares, in bytes.
  static constexpr unsigned threadgroup_memory_bytes = comp().threadgroup_bytes();
  /// True when some stage uses SIMD-group functions.
  static constexpr bool uses_simdgroups = [] {
    const comp c;
    for (std::size_t i = 0; i < c.stages.size(); ++i)
      if (c.stage_uses_simdgroups(i)) return true;
    return false;
  }();
  /// The generated, target-neutral body function `<name>_body(...)`.
  static constexpr std::string_view body_source() noexcept { return part(0); }
  /// The Metal `[[kernel]]` entry point, declaring threadgroup memory and
  /// calling the body.
  static constexpr std::string_view metal_entry_source() noexcept { return part(1); }
  /// The CPU backend's entry point `extern "C" void <name>__cpu(launch, thread)`
  /// (see `backends/cpu/abi.h`).
  static constexpr std::string_view cpu_entry_source() noexcept { return part(2); }
  /// The CUDA entry point `extern "C" __global__ void <name>(...)`: buffers
  /// as pointers, bytes arguments by value, threadgroup memory as
  /// `__shared__` arrays (see docs/cuda-backend.md).
  static constexpr std::string_view cuda_entry_source() noexcept { return part(3); }
  /// The CPU entry symbol name.
  static constexpr auto cpu_entry_name = Name + fixed_string("__cpu");

  /// The described struct definitions this kernel needs, in dependency order.
  static constexpr std::string_view struct_source() noexcept {
    return frozen_text<struct_gen>::view();
  }

 private:
  static constexpr std::string_view part(int i) noexcept {
    std::string_view all = frozen_text<body_gen>::view();
    for (; i > 0; --i) all = all.substr(all.find('\x01') + 1);
    return all.substr(0, all.find('\x01'));
  }
  template <class L>
  struct struct_defs;
  template <class... Ts>
  struct struct_defs<type_list<Ts...>> {
    static constexpr std::string text() { return metal::struct_definitions<Ts...>(); }
  };
  using struct_gen = struct_defs<structs>;
};

}  // namespace foundry
