// expect: argument_values::set/get: the kernel has no argument resdual [(]its arguments: w, x, n, k, residual, y[)]
// max-lines: 10
// A misspelled argument name in args.set<"...">: the first error names it and
// lists the kernel's arguments, and nothing else is reported.
#include <cstdint>

#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

namespace fd = foundry;

void set_arguments(fd::buffer_ref w, fd::buffer_ref x, fd::buffer_ref residual, fd::buffer_ref y) {
  fd::kernels::gemv_f16_residual::arguments args;
  args.set<"w">(w).set<"x">(x).set<"resdual">(residual).set<"y">(y);
  args.set<"n">(std::uint32_t{576}).set<"k">(std::uint32_t{576});
}
