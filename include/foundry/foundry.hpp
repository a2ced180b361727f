#pragma once
/// @file foundry.hpp
/// Umbrella header: includes the public Foundry API.

#include "foundry/version.hpp"

#include "foundry/core/ct_error.hpp"
#include "foundry/core/fixed_string.hpp"
#include "foundry/backends/metal/entry.hpp"
#include "foundry/dsl/dsl.hpp"
#include "foundry/metal/metal.hpp"
#include "foundry/runtime/executor.hpp"
