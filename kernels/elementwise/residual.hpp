#pragma once
/// @file residual.hpp
/// Residual add `y = a + b` over float32 vectors of `n` elements, four
/// elements per thread (`per_vector_element`).
///
/// Loads and stores use `packed_float4` (4-byte alignment, so buffers bound
/// at any float offset work); the last `n mod 4` elements are handled one by
/// one by the last thread. Each thread reads its elements before writing
/// them, so `y` may be the same buffer as `a` or `b` (x += attn_out in place).

#include <cstdint>
#include <string>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/stage.hpp"

namespace foundry::kernels {

/// Residual add main stage: `y[i] = a[i] + b[i]`, i < n, thread t handling
/// i = 4t .. 4t+3. Arguments: `a`, `b` (float [n]), `y` (float [n]), `n` (uint).
struct residual_add_stage {
  static constexpr fixed_string name = "residual_add";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"a", input<float, min_elements<size_arg<"n">>>>,
                              arg<"b", input<float, min_elements<size_arg<"n">>>>,
                              arg<"y", output<float, min_elements<size_arg<"n">>>>, arg<"n", scalar<std::uint32_t>>>;
  static constexpr std::string_view body = R"(const uint i = $thread_position_in_grid.x * 4u;
if (i + 4u <= $n) {
  const float4 s = float4(*(const device packed_float4*)($a + i)) + float4(*(const device packed_float4*)($b + i));
  *(device packed_float4*)($y + i) = packed_float4(s);
} else {
  for (uint j = i; j < $n; ++j) $y[j] = $a[j] + $b[j];
})";
};

/// y = a + b (float32, n elements; y may alias a or b). Arguments, in buffer
/// order: `a`, `b`, `y`, `n` (uint). 256 threads per threadgroup, 4 elements
/// per thread.
using residual_add_f32 = fused_kernel<"residual_add_f32", per_vector_element<size_arg<"n">, 4, 256>, residual_add_stage>;

/// The library's residual add kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using residual_library = type_list<
    residual_add_f32>;

}  // namespace foundry::kernels
