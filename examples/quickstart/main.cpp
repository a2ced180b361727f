// Quickstart: compose a fused GEMV kernel from a library main stage, a custom
// stage and a custom activation, then print its Metal source and binding plan.
#include <fmt/core.h>

#include <foundry/foundry.hpp>
#include <foundry/dsl/dsl.hpp>
#include <kernels/gemv/gemv.hpp>
#include <kernels/policies/f16.hpp>

namespace fd = foundry;

// A custom activation: softsign(x) = x / (1 + |x|), for float/float2/float4.
struct softsign {
  static constexpr std::string_view metal_name = "Softsign";
  static constexpr std::string_view text = R"(struct Softsign {
  template <typename T> static ALWAYS_INLINE T apply(T x) { return x / (1.0f + abs(x)); }
};
)";
  using piece = fd::source_piece<"softsign", text>;
};

// A custom stage: multiply each row's result by a per-row scale.
struct row_scale {
  static constexpr fd::fixed_string name = "row_scale";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using arguments = fd::type_list<fd::arg<"scale", fd::input<float>>>;
  using consumes = fd::type_list<fd::port<"row", std::uint32_t>, fd::port<"row_active", bool>>;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "if ($row_active) $value *= $scale[$row];";
};

// y[r] = softsign(scale[r] * (W x)[r]), W in F16, one SIMD-group per row.
using scaled_gemv = fd::fused_kernel<"scaled_gemv_f16",
    fd::simdgroup_per_row<fd::size_arg<"n">, 4>,
    fd::kernels::gemv_row_major<fd::plain_input<fd::policies::f16>>,
    row_scale,
    fd::epi::activation<softsign>,
    fd::epi::store<"y">>;

int main() {
  fmt::print("{}\n", fd::metal_source<scaled_gemv>());
  fmt::print("binding plan of {} ({} bytes of threadgroup memory):\n", scaled_gemv::name.view(),
             scaled_gemv::threadgroup_memory_bytes);
  for (const fd::binding& b : scaled_gemv::plan)
    fmt::print("  [[buffer({:2})]] {:<9} {:<6} {:<10} {:>3} bytes/elem  {}\n", b.index, b.name,
               b.kind == fd::arg_kind::buffer ? "buffer" : "bytes",
               b.mode == fd::access::read ? "read" : b.mode == fd::access::write ? "write" : "read_write",
               b.element_bytes, b.metal_type);
}
