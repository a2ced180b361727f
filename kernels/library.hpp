#pragma once
/// @file library.hpp
/// Every kernel alias of the library, as one type list: used by
/// `foundry-emit` (--list, --all), by the tests that compile every alias
/// (CPU, NVRTC, Metal syntax) and by the compile-time benchmark.
///
/// One source of truth: each family header ends with its own list
/// (`gemv_library`, `rmsnorm_library`, ...) next to the aliases it defines,
/// and `library` concatenates those lists. To add
///   - an alias to a family: one line in that header's `<family>_library`;
///   - a family: its header's include below and its list in `library`.
/// Kernel names must be unique across the library (checked below).

#include <string_view>

#include "foundry/core/type_list.hpp"
#include "kernels/attention/attention.hpp"
#include "kernels/attention/flash_decode.hpp"
#include "kernels/attention/flash_merged_input.hpp"
#include "kernels/attention/flash_prefill.hpp"
#include "kernels/attention/rope_kv_append_batched.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "kernels/attention/qk_norm_rope_kv_append.hpp"
#include "kernels/elementwise/argmax.hpp"
#include "kernels/elementwise/residual.hpp"
#include "kernels/elementwise/softmax.hpp"
#include "kernels/embedding/embedding.hpp"
#include "kernels/ffn/aliases.hpp"
#include "kernels/gemm/aliases.hpp"
#include "kernels/gemv/aliases.hpp"
#include "kernels/k_quants.hpp"
#include "kernels/qkv/aliases.hpp"
#include "kernels/rmsnorm/aliases.hpp"
#include "kernels/rope/rope.hpp"
#include "kernels/sampling/sampling.hpp"

namespace foundry::kernels {

/// All library aliases, in a stable order: the family lists in this order,
/// each in its header's order.
using library = concat_t<gemv_library,
                         rmsnorm_library,
                         qkv_library,
                         ffn_library,
                         rope_library,
                         kv_cache_library,
                         attention_library,
                         flash_decode_library,
                         flash_merged_library,
                         embedding_library,
                         residual_library,
                         softmax_library,
                         argmax_library,
                         gemm_library,
                         attention_prefill_library,
                         rope_kv_append_batched_library,
                         qk_norm_library,
                         sampling_library,
                         k_quant_library>;

namespace detail {
/// True when no two kernels of `L` share a name (a name is a kernel's
/// identity in caches, `foundry-emit` and the Metal library).
/// The `Name` of a `fused_kernel` alias, read from its template arguments:
/// naming `K::name` would instantiate the class, and with it compose and
/// check every kernel of the library in each program that includes this
/// header.
template <class K>
struct alias_name;
template <fixed_string Name, class Dispatch, class... Stages>
struct alias_name<fused_kernel<Name, Dispatch, Stages...>> {
  static constexpr std::string_view value = Name.view();
};

template <class... Ks>
consteval bool unique_kernel_names(type_list<Ks...>) {
  const std::string_view names[] = {alias_name<Ks>::value...};
  for (std::size_t i = 0; i < sizeof...(Ks); ++i)
    for (std::size_t j = i + 1; j < sizeof...(Ks); ++j)
      if (names[i] == names[j]) return false;
  return true;
}
}  // namespace detail

static_assert(detail::unique_kernel_names(library{}),
              "kernels/library.hpp: two library kernels share a name (or one alias is listed twice)");

}  // namespace foundry::kernels
