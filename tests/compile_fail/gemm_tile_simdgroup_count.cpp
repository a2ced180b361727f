// expect: Threads must be 32 x SimdgroupsM x SimdgroupsN
// A GEMM tile of 2x2 SIMD-groups dispatched with 64 threads per
// threadgroup: two of the four SIMD-groups would not exist.
#include <kernels/gemm/aliases.hpp>

namespace fk = foundry::kernels;

using bad_tile = fk::gemm_tile<32, 32, 64, 2, 2, 64>;
using mismatched = fk::gemm<foundry::policies::q4_1, bad_tile>;

const std::string& mismatched_source() { return foundry::metal_source<mismatched>(); }
