#pragma once
// Kernels shared by the backend tests (CPU, CUDA, NVRTC compile checks): a
// standalone kernel with a params struct, and a fused kernel whose stage
// has a syntax error (compile errors must name that stage).

#include <boost/describe/class.hpp>
#include <cstdint>
#include <string_view>

#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

namespace foundry::test_kernels {

/// y = a·x + y over n elements (standalone kernel, params struct by value).
struct saxpy_params {
  float a;
  std::uint32_t n;
};
FOUNDRY_METAL_STRUCT(saxpy_params, (a, n));
struct saxpy_args {
  input<float> x;
  inout<float> y;
  params<saxpy_params> p;
};
BOOST_DESCRIBE_STRUCT(saxpy_args, (), (x, y, p))
inline constexpr std::string_view saxpy_text = R"(ALWAYS_INLINE void saxpy_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {
  const uint i = thread_position_in_grid.x;
  if (i < p->n) y[i] = p->a * x[i] + y[i];
}
)";
using saxpy = standalone_kernel<"saxpy", saxpy_args, per_element<size_field<"p", &saxpy_params::n>, 64>,
                                source_piece<"saxpy", saxpy_text>, uses<"thread_position_in_grid">>;

/// An epilogue whose snippet does not compile.
struct broken_stage {
  static constexpr fixed_string name = "broken";
  static constexpr stage_role role = stage_role::epilogue;
  using updates = type_list<port<"value", float>>;
  static constexpr std::string_view body = "$value = $value * ;";
};
using broken_kernel = fused_kernel<"broken_kernel", kernels::gemv_dispatch,
                                   kernels::gemv_row_major<plain_input<policies::f32>>, broken_stage,
                                   epi::store<"y">>;

}  // namespace foundry::test_kernels
