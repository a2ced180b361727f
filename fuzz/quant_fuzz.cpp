// libFuzzer target: the reference GGUF block codecs
// (include/foundry/quant/ggml_blocks.hpp).
//
// Input: byte 0 picks the format (F32, F16, BF16, Q8_0, Q4_0, Q4_1), byte 1
// the mode, the rest is the payload.
//   mode even: the payload is raw blocks; dequantize them (any bit pattern:
//              NaN and infinite scales included), then quantize the result
//              again. Neither may trap or hit undefined behaviour.
//   mode odd:  the payload is floats; non-finite ones become 0 and all are
//              clamped to |x| <= 60000 (so that the scale and the Q4_1 min fit
//              in a half). They are quantized and dequantized, and every
//              weight must be within the error bound the header states for
//              its format (Q8_0: d/2 + 127 |d - half(d)|; Q4_0: |d| +
//              8 |d - half(d)|; Q4_1: d/2 + 15 |d - half(d)| + |min -
//              half(min)|; F16/BF16: half an ulp), plus float rounding
//              (1e-5 of the block's largest magnitude).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <foundry/quant/ggml_blocks.hpp>

namespace quant = foundry::quant;
using quant::ggml_type;

namespace {

constexpr std::array<ggml_type, 6> formats{ggml_type::f32,  ggml_type::f16,  ggml_type::bf16,
                                           ggml_type::q8_0, ggml_type::q4_0, ggml_type::q4_1};

void trap_unless(bool ok) {
  if (!ok) __builtin_trap();
}

/// The largest |x - w| the header's error analysis allows for one block.
float block_bound(ggml_type t, const float* x, std::size_t n) {
  float amax = 0.0f, min = x[0], max = x[0], extreme = 0.0f;
  for (std::size_t j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      extreme = x[j];
    }
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float rounding = 1e-5f * std::max(amax, std::fabs(max - min)) + 1e-30f;
  auto half_error = [](float v) { return std::fabs(v - static_cast<float>(foundry::half(v))); };
  switch (t) {
    case ggml_type::q8_0: {
      const float d = amax / 127.0f;
      return d / 2 + 127 * half_error(d) + rounding;
    }
    case ggml_type::q4_0: {
      const float d = extreme / -8.0f;
      return std::fabs(d) + 8 * half_error(d) + rounding;
    }
    case ggml_type::q4_1: {
      const float d = (max - min) / 15.0f;
      return d / 2 + 15 * half_error(d) + half_error(min) + rounding;
    }
    default:
      return 0.0f;  // per-element formats are checked elementwise
  }
}

float element_bound(ggml_type t, float x) {
  switch (t) {
    case ggml_type::f16:
      return std::fabs(x) * 0x1p-11f + 0x1p-25f;  // half ulp; subnormal step 2^-24
    case ggml_type::bf16:
      return std::fabs(x) * 0x1p-8f + 0x1p-126f;
    default:
      return 0.0f;  // F32 is exact
  }
}

void round_trip_blocks(ggml_type t, const std::uint8_t* payload, std::size_t size) {
  const std::size_t bytes = quant::type_size(t), block = quant::block_size(t);
  const std::size_t blocks = size / bytes;
  std::vector<float> out(blocks * block);
  quant::dequantize_row(t, payload, out.data(), out.size());
  std::vector<std::byte> again(blocks * bytes);
  quant::quantize_row(t, out.data(), again.data(), out.size());
}

void check_error_bound(ggml_type t, const std::uint8_t* payload, std::size_t size) {
  const std::size_t block = quant::block_size(t);
  std::vector<float> x(size / sizeof(float) / block * block);
  if (x.empty()) return;
  std::memcpy(x.data(), payload, x.size() * sizeof(float));
  for (float& v : x) v = std::isfinite(v) ? std::clamp(v, -60000.0f, 60000.0f) : 0.0f;
  std::vector<std::byte> q(x.size() / block * quant::type_size(t));
  std::vector<float> w(x.size(), std::nanf(""));  // poisoned: unwritten weights fail
  quant::quantize_row(t, x.data(), q.data(), x.size());
  quant::dequantize_row(t, q.data(), w.data(), w.size());
  for (std::size_t b = 0; b < x.size(); b += block) {
    const float bound = block_bound(t, x.data() + b, block);
    for (std::size_t j = b; j < b + block; ++j) {
      const float e = std::fabs(x[j] - w[j]);
      trap_unless(e <= (block == 1 ? element_bound(t, x[j]) : bound));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const ggml_type t = formats[data[0] % formats.size()];
  if (data[1] % 2 == 0)
    round_trip_blocks(t, data + 2, size - 2);
  else
    check_error_bound(t, data + 2, size - 2);
  return 0;
}
