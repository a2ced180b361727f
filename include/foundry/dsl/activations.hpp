#pragma once
/// @file activations.hpp
/// Activation functions as types. Each names a Metal struct with
/// `static T apply(T x)` for `float`, `float2` and `float4`, defined by a
/// small helper source piece.
///
/// Formulas: SiLU(x) = x·σ(x) = x / (1 + e^(−x)) (Elfwing et al., 2017);
/// GELU with the tanh approximation,
/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hendrycks & Gimpel, 2016);
/// ReLU(x) = max(x, 0).

#include <string_view>

#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/source_piece.hpp"

namespace foundry::act {

/// f(x) = x.
struct identity {
  static constexpr std::string_view metal_name = "ActIdentity";
  static constexpr std::string_view text = R"(struct ActIdentity {
  template <typename T> static ALWAYS_INLINE T apply(T x) { return x; }
};
)";
  using piece = source_piece<"act_identity", text>;
};

/// SiLU (swish): x / (1 + exp(-x)).
struct silu {
  static constexpr std::string_view metal_name = "ActSiLU";
  static constexpr std::string_view text = R"(struct ActSiLU {
  static ALWAYS_INLINE float apply(float x) { return x / (1.0f + exp(-x)); }
  static ALWAYS_INLINE float2 apply(float2 x) { return x / (1.0f + exp(-x)); }
  static ALWAYS_INLINE float4 apply(float4 x) { return x / (1.0f + exp(-x)); }
};
)";
  using piece = source_piece<"act_silu", text>;
};

/// GELU, tanh approximation.
struct gelu {
  static constexpr std::string_view metal_name = "ActGELU";
  static constexpr std::string_view text = R"(struct ActGELU {
  template <typename T> static ALWAYS_INLINE T apply(T x) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    return 0.5f * x * (1.0f + tanh(k * (x + 0.044715f * x * x * x)));
  }
};
)";
  using piece = source_piece<"act_gelu", text>;
};

/// ReLU: max(x, 0).
struct relu {
  static constexpr std::string_view metal_name = "ActReLU";
  static constexpr std::string_view text = R"(struct ActReLU {
  template <typename T> static ALWAYS_INLINE T apply(T x) { return max(x, T(0.0f)); }
};
)";
  using piece = source_piece<"act_relu", text>;
};

}  // namespace foundry::act
