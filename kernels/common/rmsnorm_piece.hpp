#pragma once
/// @file rmsnorm_piece.hpp
/// The Metal helper `foundry_rms_inv` (kernels/common/rmsnorm.metal): the
/// threadgroup-wide 1/RMS of a float vector (RMSNorm, Zhang & Sennrich,
/// 2019, eq. 4; eps inside the root). Shared by the RMSNorm input hook
/// (rmsnorm_input.hpp) and the standalone RMSNorm prologue
/// (kernels/rmsnorm/rmsnorm.hpp); its contract (every thread of the
/// threadgroup calls it once, 32 floats of threadgroup memory) is in the
/// .metal file.

#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/common/rmsnorm.metal.hpp"

namespace foundry::kernels {

/// Metal helper `foundry_rms_inv` (threadgroup-wide 1/RMS of a vector).
using rmsnorm_piece = source_piece<"rmsnorm", embedded::common::rmsnorm_metal>;

}  // namespace foundry::kernels
