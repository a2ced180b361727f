#pragma once
/// @file library.hpp
/// Every kernel alias of the library, as one type list: used by
/// `foundry-emit`, by the test that compiles every alias, and by the
/// compile-time benchmark.

#include "foundry/core/type_list.hpp"
#include "kernels/gemv/aliases.hpp"

namespace foundry::kernels {

/// All library aliases, in a stable order.
using library = type_list<gemv_f16, gemv_f32, gemv_f16_bias_silu, rmsnorm_gemv_f16>;

}  // namespace foundry::kernels
