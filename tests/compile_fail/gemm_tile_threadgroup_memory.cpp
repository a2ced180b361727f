// expect: the tile's threadgroup memory exceeds 32 KiB
// A GEMM tile of 64x64 outputs with K slices of 128: the A slice (64x128)
// and W slice (128x64) are 64 KiB of floats, over the 32 KiB limit.
#include <kernels/gemm/aliases.hpp>

namespace fk = foundry::kernels;

using big_tile = fk::gemm_tile<64, 64, 128, 2, 2, 128>;
using too_big = fk::gemm<foundry::policies::f16, big_tile>;

const std::string& too_big_source() { return foundry::metal_source<too_big>(); }
