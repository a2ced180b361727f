// expect: fused_kernel gemv_per_element: stage gemv_row_major needs dispatch simdgroup_per_row<size_arg<n>, 4> [(]one SIMD-group per row[)] but the kernel dispatches with per_element<size_arg<n>, 128> [(]one thread per element[)]
// max-lines: 10
// The library's GEMV main stage computes one row per SIMD-group; composed
// with one thread per element it would leave most rows unwritten (968 of
// 1000 for n = 1000). The stage declares the rule it needs.
#include <kernels/library.hpp>

namespace fd = foundry;

using gemv_per_element =
    fd::fused_kernel<"gemv_per_element", fd::per_element<fd::size_arg<"n">, 128>,
                     fd::kernels::gemv_row_major<fd::plain_input<fd::policies::f16>>, fd::epi::store<"y">>;

// Declaring its argument set (the first step of every dispatch) instantiates the kernel.
void gemv_per_element_arguments() { [[maybe_unused]] gemv_per_element::arguments args; }
