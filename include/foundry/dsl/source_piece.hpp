#pragma once
/// @file source_piece.hpp
/// Helper sources: named pieces of Metal text joined into a kernel's
/// translation unit once, at run time.
///
/// Large Metal helpers (policy loaders, reductions) live in `.metal` files
/// under `kernels/`, embedded into generated headers at build time, and are
/// referenced by type. The composer de-duplicates pieces by type, so a
/// helper used by three stages is emitted once, and never copies their
/// characters during constant evaluation.

#include <string_view>

#include "foundry/core/fixed_string.hpp"
#include "foundry/core/type_list.hpp"

namespace foundry {

/// A helper source. `Name` identifies it in diagnostics (the emitted
/// translation unit marks where each piece starts); `Text` is a reference to
/// a `std::string_view` with static storage (an embedded `.metal` file).
/// `Deps` are pieces that must come before this one.
template <fixed_string Name, const std::string_view& Text, class... Deps>
struct source_piece {
  static constexpr auto name = Name;
  static constexpr const std::string_view& text = Text;
  using dependencies = type_list<Deps...>;
};

namespace detail {
template <class Acc, class L>
struct order_pieces;
template <class Acc>
struct order_pieces<Acc, type_list<>> {
  using type = Acc;
};
template <class Acc, class P, class... Ps>
struct order_pieces<Acc, type_list<P, Ps...>> {
  using with_deps = typename order_pieces<Acc, typename P::dependencies>::type;
  using with_self = std::conditional_t<contains_v<P, with_deps>, with_deps,
                                       concat_t<with_deps, type_list<P>>>;
  using type = typename order_pieces<with_self, type_list<Ps...>>::type;
};
}  // namespace detail

/// The pieces of `L` and their dependencies, each once, dependencies first.
template <class L>
using ordered_pieces_t = typename detail::order_pieces<type_list<>, L>::type;

}  // namespace foundry
