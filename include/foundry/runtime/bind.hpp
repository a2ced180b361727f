#pragma once
/// @file bind.hpp
/// Turning a kernel's argument values into bound arguments, checked against
/// its binding plan. The plan comes from the kernel type, so what is bound
/// is exactly what the emitted signature declares.

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include "foundry/core/errors.hpp"
#include "foundry/dsl/arg_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/runtime/backend.hpp"

namespace foundry {

namespace detail {
template <class A>
concept has_for_each = requires(const A& a) { a.for_each([](const binding&, const auto&) {}); };

template <class K>
constexpr std::size_t plan_size = std::tuple_size_v<std::remove_cvref_t<decltype(K::plan)>>;

inline std::string describe_buffer(dtype t, std::size_t bytes) {
  return std::string(to_string(t)) + " buffer of " + std::to_string(bytes) + " bytes";
}
}  // namespace detail

/// Calls `f(const binding&, const Handle&)` for every argument of `args`, in
/// declaration order: an `argument_values` (fused kernels) or a struct
/// described with `BOOST_DESCRIBE_STRUCT` (standalone kernels).
template <class K, class A, class F>
void visit_arguments(const A& args, F&& f) {
  if constexpr (detail::has_for_each<A>) {
    args.for_each(f);
  } else {
    std::size_t i = 0;
    boost::mp11::mp_for_each<boost::describe::describe_members<A, boost::describe::mod_public>>(
        [&](auto d) { f(K::plan[i++], args.*d.pointer); });
  }
}

/// Bound arguments of one dispatch: one per plan row, plus storage for the
/// presence flags of optional buffers.
template <std::size_t N>
struct bound_arguments {
  std::array<bound_argument, N> args{};
  std::array<std::uint32_t, N> flags{};
};

/// Binds `args` for kernel `K` on backend `be`. Throws `binding_error`
/// naming the kernel, the argument, and expected vs actual (a required
/// scalar not set, buffer missing, bound to another backend, wrong element
/// type, too small).
/// A buffer argument of element type `bytes` (quantized planes) accepts a
/// buffer of any element type; size checks then count bytes.
/// `dummy` is bound in place of an absent optional buffer. `out` must not
/// move afterwards (presence-flag arguments point into it).
template <class K>
void bind_arguments(const backend& be, const typename K::arguments& args, const buffer_info* dummy,
                    bound_arguments<detail::plan_size<K>>& out) {
  // Required scalars first: buffer sizes and the grid are computed from them.
  visit_arguments<K>(args, [&](const binding& b, const auto& h) {
    if constexpr (requires { h.is_set; })
      if (!h.is_set)
        throw binding_error("kernel " + std::string(K::name.view()) + ", argument " + std::string(b.name) +
                            " [[buffer(" + std::to_string(b.index) + ")]]: scalar not set (expected a " +
                            std::string(b.metal_type) + " value; the argument has no default_value)");
  });
  std::size_t i = 0;
  visit_arguments<K>(args, [&](const binding& b, const auto& h) {
    using H = std::remove_cvref_t<decltype(h)>;
    bound_argument& r = out.args[i];
    r.index = b.index;
    r.kind = b.kind;
    r.mode = b.mode;
    const auto fail = [&](const std::string& what) {
      throw binding_error("kernel " + std::string(K::name.view()) + ", argument " + std::string(b.name) +
                          " [[buffer(" + std::to_string(b.index) + ")]]: " + what);
    };
    if constexpr (H::kind == arg_kind::buffer) {
      const buffer_ref& ref = h.ref;
      if (!ref.bound()) {
        if (!H::optional) fail("no buffer bound (expected a " + std::string(to_string(H::element_dtype)) + " buffer)");
        r.buffer = dummy;
        if (b.presence_index >= 0) out.flags[i] = 0;
      } else {
        const buffer_info& info = *ref.info();
        if (info.backend != &be) fail("the buffer belongs to another backend");
        if (H::element_dtype != dtype::bytes && info.type != dtype::bytes && info.type != H::element_dtype)
          fail("expected a " + std::string(to_string(H::element_dtype)) + " buffer, got " +
               detail::describe_buffer(info.type, info.bytes));
        if (ref.offset() > info.bytes) fail("offset " + std::to_string(ref.offset()) + " is past the end");
        std::uint64_t need = H::element_bytes;
        if constexpr (!std::is_void_v<typename H::extent>)
          need = H::extent::source::get(args) * std::uint64_t{H::element_bytes};
        if (ref.bytes() < need)
          fail("expected at least " + std::to_string(need) + " bytes (" + std::to_string(need / H::element_bytes) +
               " elements of " + std::string(b.metal_type) + "), got " +
               detail::describe_buffer(info.type, ref.bytes()) +
               (ref.offset() ? " after offset " + std::to_string(ref.offset()) : std::string()));
        r.buffer = &info;
        r.offset = ref.offset();
      }
    } else {
      r.bytes = &h.value;
      r.size = b.element_bytes;
    }
    ++i;
  });
  // Presence flags: `<name>_present` follows its optional buffer.
  for (std::size_t k = 0; k < out.args.size(); ++k) {
    const binding& b = K::plan[k];
    if (!b.optional) continue;
    for (std::size_t f = 0; f < out.args.size(); ++f)
      if (static_cast<int>(K::plan[f].index) == b.presence_index) {
        out.flags[f] = out.args[k].buffer != dummy ? 1u : 0u;
        out.args[f].bytes = &out.flags[f];
      }
  }
}

}  // namespace foundry
