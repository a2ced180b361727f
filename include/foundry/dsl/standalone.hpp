#pragma once
/// @file standalone.hpp
/// Standalone kernels: a hand-written Metal body plus a described argument
/// struct; the argument list, the signature (from which each backend writes
/// its entry point) and the binding plan are generated from the struct.
///
///   struct saxpy_args {
///     foundry::input<float> x;
///     foundry::inout<float> y;
///     foundry::scalar<float> a;
///     foundry::scalar<uint32_t> n;
///   };
///   BOOST_DESCRIBE_STRUCT(saxpy_args, (), (x, y, a, n))
///
///   // saxpy.metal: the parameter list is generated as FOUNDRY_KERNEL_ARGS
///   ALWAYS_INLINE void saxpy_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) { ... }
///
///   using saxpy = foundry::standalone_kernel<"saxpy", saxpy_args,
///       foundry::per_element<foundry::size_arg<"n">>, saxpy_piece,
///       foundry::uses<"thread_position_in_grid">>;
///
/// The body function must be named `<name>_body` and take
/// `FOUNDRY_KERNEL_ARGS` followed by the listed builtins, in `uses` order.
/// Arguments keep declaration order; `at<i>` fixes an index. The run-time
/// argument value is the struct itself.

#include <boost/describe/members.hpp>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "foundry/core/ct_error.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/core/type_list.hpp"
#include "foundry/dsl/arg_list.hpp"
#include "foundry/dsl/builtins.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/signature.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/metal/struct.hpp"

namespace foundry {

/// The thread-position builtins a standalone body takes, in order.
template <fixed_string... Names>
struct uses {
  static constexpr std::array<std::string_view, sizeof...(Names)> names = {Names.view()...};
};

namespace detail {
constexpr std::size_t c_strlen(const char* s) {
  std::size_t n = 0;
  while (s[n]) ++n;
  return n;
}
template <class D>
inline constexpr fixed_string<c_strlen(D::name)> member_name{std::string_view(D::name)};

template <class S, class L>
struct described_args;
template <class S, template <class...> class List, class... Ds>
struct described_args<S, List<Ds...>> {
  using type = type_list<arg<member_name<Ds>,
                             std::remove_cvref_t<decltype(std::declval<S&>().*Ds::pointer)>>...>;
};
}  // namespace detail

/// The argument list of a struct described with `BOOST_DESCRIBE_STRUCT`
/// whose members are argument handles, in declaration order.
template <class S>
using described_argument_list = typename detail::described_args<
    S, boost::describe::describe_members<S, boost::describe::mod_public>>::type;

/// A standalone kernel (see the file comment).
template <fixed_string Name, class Args, class Dispatch, class Piece, class Uses = uses<>>
struct standalone_kernel {
  static constexpr auto name = Name;
  using dispatch = Dispatch;
  using argument_list = described_argument_list<Args>;
  static_assert(!std::is_same_v<argument_list, type_list<>>,
                "foundry: standalone_kernel arguments must be described with BOOST_DESCRIBE_STRUCT");
  static_assert(expand_optionals_t<argument_list>::size == argument_list::size,
                "foundry: optional_input is supported in fused kernels only");
  /// The run-time argument value: the described struct itself.
  using arguments = Args;
  using table = arg_table<argument_list>;
  using policy_pieces = type_list<>;
  using helper_pieces = ordered_pieces_t<type_list<Piece>>;

 private:
  struct error_gen {
    static constexpr ct_string text() {
      ct_string e = table::error();
      for (auto n : Uses::names)
        if (builtin_position(n) < 0 && e.empty()) e = ct_string(n) + " is not a thread-position builtin";
      if (e.empty()) return {};
      return "standalone_kernel " + ct_string(Name.view()) + ": " + e;
    }
  };
  using error_text = frozen_text<error_gen>;
  static_assert(ct_error<error_text::fixed()>::ok);
  static constexpr bool valid = error_text::view().empty();

  template <class L>
  struct struct_defs;
  template <class... Ps>
  struct struct_defs<type_list<Ps...>> {
    static constexpr ct_string text() {
      ct_string defs = metal::struct_definitions<Ps...>();
      ct_string params;
      for (std::size_t i = 0; i < table::size; ++i) params += (i ? ", " : "") + table::parameter(i);
      return defs + "#define FOUNDRY_KERNEL_ARGS " + params + "\n";
    }
  };
  /// The builtins the body takes, in `uses` order (unknown names, already
  /// reported by the static_assert above, are left out).
  static constexpr auto used_builtins = [] {
    std::array<builtin_info, Uses::names.size()> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
      if (const int b = builtin_position(Uses::names[i]); b >= 0) out[i] = builtins[static_cast<std::size_t>(b)];
    return out;
  }();

 public:
  static constexpr const auto& plan = table::plan;
  static constexpr unsigned threadgroup_memory_bytes = 0;
  static constexpr bool uses_simdgroups = Piece::text.find("simd_") != std::string_view::npos;
  /// Always false: a hand-written body has no reduction points the composer
  /// knows, so on the CPU it runs one fiber per thread (dsl/lane_loop.hpp).
  static constexpr bool lane_loop() { return false; }
  static constexpr bool lane_loop_lane0() { return false; }
  static std::string lane_loop_blocker() { return "a standalone kernel is one hand-written function"; }
  /// No lane-loop form: an empty body (one fiber per thread on the CPU).
  static lane_loop_form cpu_lane_loop() { return {}; }
  /// Struct definitions plus `#define FOUNDRY_KERNEL_ARGS <parameter list>`.
  static constexpr std::string_view struct_source() noexcept {
    return frozen_text<struct_defs<params_structs_t<argument_list>>>::view();
  }
  /// Empty: the body is the hand-written piece (one of `helper_pieces`).
  static constexpr std::string_view body_source() noexcept { return {}; }
  /// No prefetch (`kernel_signature::prefetch` is false).
  static constexpr std::string_view prefetch_source() noexcept { return {}; }
  /// The target-neutral signature each backend writes its entry point from
  /// (`signature.hpp`): the described arguments and the `uses` builtins.
  static constexpr kernel_signature signature{Name.view(),
                                              detail::static_span(detail::argument_rows<argument_list>::value),
                                              {}, detail::static_span(used_builtins), nullptr, false};
};

}  // namespace foundry
