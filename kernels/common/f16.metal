// kernels/common/f16.metal - half-precision helpers shared by Foundry kernels.
//
// Prepended to generated Metal Shading Language sources. Arithmetic on half
// values is done in float and converted back with saturation, so intermediate
// results never overflow to infinity.
#include <metal_stdlib>
using namespace metal;

namespace foundry {

// Largest finite half value.
constant float kHalfMax = 65504.0f;

inline float f16_to_f32(half x) { return static_cast<float>(x); }

inline float2 f16_to_f32(half2 x) { return static_cast<float2>(x); }

inline float4 f16_to_f32(half4 x) { return static_cast<float4>(x); }

// Converts to half, clamping to the finite range instead of producing inf.
inline half f32_to_f16_sat(float x) { return static_cast<half>(clamp(x, -kHalfMax, kHalfMax)); }

inline half2 f32_to_f16_sat(float2 x) {
  return static_cast<half2>(clamp(x, float2(-kHalfMax), float2(kHalfMax)));
}

inline half4 f32_to_f16_sat(float4 x) {
  return static_cast<half4>(clamp(x, float4(-kHalfMax), float4(kHalfMax)));
}

// Dot product of two half4 vectors accumulated in float.
inline float dot_f32(half4 a, half4 b) { return dot(f16_to_f32(a), f16_to_f32(b)); }

}  // namespace foundry
