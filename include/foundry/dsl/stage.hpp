#pragma once
/// @file stage.hpp
/// Stages: the pieces a fused kernel is composed of.
///
/// A stage is a type with:
///   - `static constexpr fixed_string name`       used in errors and line maps;
///   - `static constexpr stage_role role`          prologue, main or epilogue;
///   - `static constexpr std::string_view body`    its Metal snippet, or
///     `static constexpr ct_string emit()`       a constexpr function returning it;
/// and, all optional (each a `type_list`):
///   - `using arguments   = type_list<arg<"x", input<float>>, ...>;`
///   - `using consumes    = type_list<port<"value", float>, ...>;`
///   - `using produces    = ...;`  values this stage creates;
///   - `using updates     = ...;`  values it reads and rewrites in place;
///   - `using threadgroup = type_list<tg_array<"partial", float, 32>>;`
///   - `using helpers     = type_list<source_piece<...>>;`
///   - `using policies    = type_list<f16, q8_0>;`
///   - `using structs     = type_list<MyParams>;`  extra described structs to define;
///   - `using hook        = H;`  a hook merged into this (main) stage, see policy.hpp;
///   - `static constexpr ct_string prefetch()`  a snippet run before the kernel
///     waits for the kernels it depends on (below).
///
/// In the snippet, `$name` stands for a port, argument, threadgroup array or
/// thread-position builtin; `$has_x` is true when optional buffer `x` is
/// bound; `$$` is a literal `$`. The composer declares the variables, so a
/// snippet assigns its produced ports (`$value = ...;`) and never declares
/// them. Each snippet is emitted inside its own `{ }` block.
///
/// Prefetch: on targets where a kernel starts while the kernel before it
/// still runs (CUDA's programmatic dependent launch, docs/cuda-backend.md),
/// the entry point first runs every stage's `prefetch()` snippet, then
/// waits for the kernels it depends on, then runs the body. A prefetch
/// snippet may name arguments and builtins (never ports: nothing has run
/// yet), writes nothing, and reads memory only where a value an earlier
/// kernel is still writing does no harm (flash-decoding's position: a stale
/// one only makes the hint weaker). It typically asks for the bytes the
/// threadgroup will read (weights) with `foundry_prefetch_l2(pointer,
/// bytes)` or `foundry_prefetch_rows(plane, row_bytes, row, rows,
/// plane_rows)` (hints that load the range into L2, CUDA prelude; the
/// latter caps what a kernel asks for per plane). Targets that start a kernel
/// only after the previous one ends never emit it (the CPU and Metal entry
/// points).
///
/// Per-element epilogues: a main stage whose threads each hold several
/// results (a GEMM tile) ends its snippet with `per_element_epilogues`
/// followed by the header of a loop (`for (...) {`, setting the row
/// convention's ports for one element, unclosed). The composer emits that
/// header after the stage's block and closes the loop after the last
/// stage, so the ordinary one-value epilogues run once per element.

#include <string>
#include <string_view>
#include <type_traits>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"

namespace foundry {

/// Separator between a main stage's snippet and its per-element loop
/// header (see the file comment).
inline constexpr std::string_view per_element_epilogues = "//@per_element_epilogues\n";

/// Where a stage sits in the fused body.
enum class stage_role {
  prologue,  ///< runs before the main stage (e.g. RMSNorm producing inv_rms)
  main,      ///< the kernel's main computation (e.g. a GEMV)
  epilogue,  ///< post-processes the main stage's result (bias, activation, store)
};

constexpr std::string_view to_string(stage_role r) noexcept {
  return r == stage_role::prologue ? "prologue" : r == stage_role::main ? "main" : "epilogue";
}

namespace detail {
template <class S> concept has_arguments = requires { typename S::arguments; };
template <class S> concept has_consumes = requires { typename S::consumes; };
template <class S> concept has_produces = requires { typename S::produces; };
template <class S> concept has_updates = requires { typename S::updates; };
template <class S> concept has_threadgroup = requires { typename S::threadgroup; };
template <class S> concept has_helpers = requires { typename S::helpers; };
template <class S> concept has_policies = requires { typename S::policies; };
template <class S> concept has_structs = requires { typename S::structs; };
template <class S> concept has_hook = requires { typename S::hook; };
template <class S> concept has_emit = requires { { S::emit() } -> std::convertible_to<ct_string>; };
template <class S> concept has_body = requires { { S::body } -> std::convertible_to<std::string_view>; };
template <class S> concept has_preamble = requires { { S::preamble() } -> std::convertible_to<ct_string>; };
template <class S> concept has_prefetch = requires { { S::prefetch() } -> std::convertible_to<ct_string>; };

#define FOUNDRY_STAGE_LIST(member)                                 \
  template <class S>                                               \
  struct member##_of {                                             \
    using type = type_list<>;                                      \
  };                                                               \
  template <has_##member S>                                        \
  struct member##_of<S> {                                          \
    using type = typename S::member;                               \
  }
FOUNDRY_STAGE_LIST(arguments);
FOUNDRY_STAGE_LIST(consumes);
FOUNDRY_STAGE_LIST(produces);
FOUNDRY_STAGE_LIST(updates);
FOUNDRY_STAGE_LIST(threadgroup);
FOUNDRY_STAGE_LIST(helpers);
FOUNDRY_STAGE_LIST(policies);
FOUNDRY_STAGE_LIST(structs);
#undef FOUNDRY_STAGE_LIST

template <class S>
struct hook_of {
  using type = void;
};
template <has_hook S>
struct hook_of<S> {
  using type = typename S::hook;
};
}  // namespace detail

namespace detail {
template <class S> concept has_stage_name = requires { { S::name.view() } -> std::convertible_to<std::string_view>; };
template <class S> concept has_stage_role = requires { { S::role } -> std::convertible_to<stage_role>; };

/// Empty when `S` has every member a stage needs, else the first member it
/// lacks and what that member is (for the composer's error message).
template <class S>
constexpr std::string_view missing_stage_member() {
  if constexpr (!has_stage_name<S>)
    return "name (static constexpr foundry::fixed_string)";
  else if constexpr (!has_stage_role<S>)
    return "role (static constexpr foundry::stage_role: prologue, main or epilogue)";
  else if constexpr (!(has_emit<S> || has_body<S>))
    return "body (static constexpr std::string_view) or emit() (constexpr, returning foundry::ct_string)";
  else
    return {};
}
}  // namespace detail

/// A type that can be used as a stage (see the file comment).
template <class S>
concept stage = detail::has_stage_name<S> && detail::has_stage_role<S> &&
                (detail::has_emit<S> || detail::has_body<S>);

/// Uniform view of a stage: every optional member with its default, and the
/// stage's hook (if any) merged in — the hook's arguments, ports,
/// threadgroup memory, helpers and policies count as the stage's own, and
/// its `preamble()` text is emitted first inside the stage's block.
///
/// Defined for any type, so that the composer can report a missing member by
/// name (`missing`) instead of failing a constraint: a type that is not a
/// `stage` gets the name "(unnamed)", role main and an empty snippet.
template <class S>
struct stage_traits {
  using hook = typename detail::hook_of<S>::type;
  static constexpr bool has_hook = !std::is_void_v<hook>;

 private:
  template <template <class> class Of>
  using merged = std::conditional_t<has_hook,
                                    concat_t<typename Of<S>::type,
                                             typename Of<std::conditional_t<has_hook, hook, S>>::type>,
                                    typename Of<S>::type>;

 public:
  static constexpr std::string_view name = [] {
    if constexpr (detail::has_stage_name<S>) return std::string_view(S::name.view());
    else return std::string_view("(unnamed)");
  }();
  static constexpr stage_role role = [] {
    if constexpr (detail::has_stage_role<S>) return static_cast<stage_role>(S::role);
    else return stage_role::main;
  }();
  /// Empty for a valid stage, else the member it lacks.
  static constexpr std::string_view missing = detail::missing_stage_member<S>();
  using arguments = merged<detail::arguments_of>;
  using consumes = merged<detail::consumes_of>;
  using produces = merged<detail::produces_of>;
  using updates = merged<detail::updates_of>;
  using threadgroup = merged<detail::threadgroup_of>;
  using helpers = merged<detail::helpers_of>;
  using policies = merged<detail::policies_of>;
  using structs = merged<detail::structs_of>;

  /// A main stage's promise (`static constexpr bool cpu_lane0 = true`)
  /// that in its CPU form (`#if FOUNDRY_TARGET_CPU`) lane 0 of each
  /// SIMD-group does all the work: every other lane adds only zeros to its
  /// reduction points (all `simd_sum`), produces ports no epilogue stores,
  /// and sets `$writer` false. Void for a hook with a preamble (its own
  /// reductions involve every lane). The lane loops then run only lane 0
  /// of each SIMD-group (dsl/lane_loop.hpp).
  static constexpr bool cpu_lane0 = [] {
    if constexpr (requires { S::cpu_lane0; }) {
      if constexpr (has_hook) {
        if constexpr (detail::has_preamble<hook>) return false;
      }
      return bool(S::cpu_lane0);
    } else {
      return false;
    }
  }();
  /// An epilogue's promise (`static constexpr bool stores_only_for_writer =
  /// true`): it writes memory only where `$writer` is true, has no
  /// reduction point and no other effect than on its ports; so lanes that
  /// are not the writer may skip it.
  static constexpr bool stores_only_for_writer = [] {
    if constexpr (requires { S::stores_only_for_writer; })
      return bool(S::stores_only_for_writer);
    else
      return false;
  }();

  /// The stage's snippet (hook preamble first), placeholders unresolved.
  static constexpr ct_string text() {
    ct_string t;
    if constexpr (has_hook) {
      if constexpr (detail::has_preamble<hook>) t += hook::preamble();
      if (!t.empty() && t.back() != '\n') t += '\n';
    }
    if constexpr (detail::has_emit<S>)
      t += S::emit();
    else if constexpr (detail::has_body<S>)
      t += std::string_view(S::body);
    return t;
  }
  /// The stage's prefetch snippet (see the file comment), placeholders
  /// unresolved; empty without one.
  static constexpr ct_string prefetch_text() {
    if constexpr (detail::has_prefetch<S>)
      return S::prefetch();
    else
      return {};
  }
};

}  // namespace foundry
