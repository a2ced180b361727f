#pragma once
/// @file cpu.hpp
/// The CPU backend: runs emitted MSL on the host.
///
///  - abi.h          the entry-point contract between executor and module
///  - msl_prelude.h  the MSL compatibility layer compiled into every module
///  - jit.hpp        compile/prepare: sources -> cached shared object -> module
///  - dispatch.hpp   dispatch(): run an entry over a grid on the worker pool
///  - scheduler.hpp  one threadgroup on fibers: barriers, SIMD-group functions
///  - errors.hpp     barrier_divergence, compile_error, load_error

#include "foundry/backends/cpu/abi.h"
#include "foundry/backends/cpu/dispatch.hpp"
#include "foundry/backends/cpu/errors.hpp"
#include "foundry/backends/cpu/host_compiler.hpp"
#include "foundry/backends/cpu/jit.hpp"
