#pragma once
/// @file dsl.hpp
/// Everything needed to write stages and compose kernels.

#include "foundry/dsl/activations.hpp"
#include "foundry/dsl/arg_list.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/builtins.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/source.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/dsl/standalone.hpp"
