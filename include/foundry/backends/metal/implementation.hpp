#pragma once
/// @file implementation.hpp
/// metal-cpp's definitions: the Objective-C class and selector tables and
/// the weakly imported constants, which metal-cpp emits only in a
/// translation unit that defines `NS_PRIVATE_IMPLEMENTATION` and
/// `MTL_PRIVATE_IMPLEMENTATION` before its first metal-cpp include.
///
/// Exactly one translation unit of a program includes this header, before
/// anything else. The CMake target `foundry::metal` already provides that
/// translation unit (a small static library, see cmake/FoundryMetal.cmake);
/// include it yourself only when building without that target.

#if defined(_NS_PRIVATE_SEL) || defined(_MTL_PRIVATE_SEL)
#error "foundry/backends/metal/implementation.hpp must come before every other metal-cpp include of its translation unit"
#endif

#define NS_PRIVATE_IMPLEMENTATION
#define MTL_PRIVATE_IMPLEMENTATION
#include <Foundation/Foundation.hpp>
#include <Metal/Metal.hpp>
