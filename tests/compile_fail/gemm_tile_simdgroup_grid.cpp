// expect: BN must be a multiple of 8 x SimdgroupsN
// A GEMM tile 40 features wide split over 4 SIMD-groups along N: 10
// features each, not whole 8x8 matrices.
#include <kernels/gemm/aliases.hpp>

namespace fk = foundry::kernels;

using bad_tile = fk::gemm_tile<32, 40, 64, 1, 4, 128>;
using uneven = fk::gemm<foundry::policies::q8_0, bad_tile>;

const std::string& uneven_source() { return foundry::metal_source<uneven>(); }
