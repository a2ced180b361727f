#pragma once
/// @file cuda.hpp
/// The CUDA backend: runs emitted MSL on NVIDIA GPUs (docs/cuda-backend.md).
///
///  - api.hpp          the driver API and NVRTC, loaded at run time (dlopen)
///  - msl_prelude.h    the MSL compatibility layer NVRTC compiles with every kernel
///  - nvrtc.hpp        compile(): sources -> NVRTC -> cached cubins; compile_error
///  - backend.hpp      cuda_backend: buffers, launches, CUDA graphs; make_backend()

#include "foundry/backends/cuda/api.hpp"
#include "foundry/backends/cuda/backend.hpp"
#include "foundry/backends/cuda/nvrtc.hpp"
