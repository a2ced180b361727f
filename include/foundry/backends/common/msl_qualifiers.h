// foundry/backends/common/msl_qualifiers.h - Metal's address-space
// qualifiers and function attributes for targets with one generic address
// space (the CPU, CUDA): `device`, `thread` and `threadgroup` mean nothing
// there, and `constant` data is read-only, so it maps to const.
//
// Each prelude includes this last: the macros would break any header (or
// prelude code) that uses those words as identifiers (`std::thread`). Like
// msl_core.h it is inlined into the emitted translation unit.

#ifndef FOUNDRY_MSL_QUALIFIERS_H
#define FOUNDRY_MSL_QUALIFIERS_H

#define device
#define thread
#define threadgroup
#define constant const
#ifndef ALWAYS_INLINE
#define ALWAYS_INLINE inline __attribute__((always_inline))
#endif
#ifndef METAL_FUNC
#define METAL_FUNC inline __attribute__((always_inline))
#endif

#endif  // FOUNDRY_MSL_QUALIFIERS_H
