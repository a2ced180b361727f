// expect: argument_values::set: argument x would refer to a temporary buffer that is destroyed before the dispatch
// max-lines: 10
// Binding the buffer that ex.upload() returns without keeping it: the
// argument set holds a reference, and the buffer is freed at the end of the
// statement. This must not compile.
#include <vector>

#include <foundry/runtime/executor.hpp>
#include <kernels/library.hpp>

namespace fd = foundry;

void bind_upload(fd::executor& ex, const std::vector<float>& v) {
  fd::kernels::gemv_f16::arguments args;
  args.set<"x">(ex.upload(v));
}
