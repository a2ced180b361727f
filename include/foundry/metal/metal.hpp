#pragma once
/// @file metal.hpp
/// Umbrella header for Foundry's Metal host-side type support:
///   half.hpp       foundry::half / foundry::bfloat (2-byte host scalars)
///   vector.hpp     foundry::metal::vec<T, N> and float2 ... ulong4 (MSL sizes/alignments)
///   type_name.hpp  foundry::metal::type_name<T>() and struct_traits (Metal spellings)
///   layout.hpp     foundry::metal::layout<T>, metal_size<T>, check_layout<T>()
///   struct.hpp     FOUNDRY_METAL_STRUCT and struct_definition(s)_text (Metal struct text)

#include "foundry/metal/half.hpp"
#include "foundry/metal/layout.hpp"
#include "foundry/metal/struct.hpp"
#include "foundry/metal/type_name.hpp"
#include "foundry/metal/vector.hpp"
