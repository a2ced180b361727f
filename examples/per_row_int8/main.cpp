// A user-defined weight policy without editing the library: int8 weights
// with one float scale per row (w[r, i] = scale[r] · q[r, i]), the format of
// per-channel int8 quantization. It plugs into the library's GEMV stage
// (kernels/gemv/gemv.hpp) and runs on the CPU backend; the result is checked
// against a float64 reference (exit code 1 on a mismatch).
//
// What the policy declares (contract: foundry/dsl/policy.hpp):
//   scale_per = scale_granularity::row   one scale per row: the scale plane
//                                        is float[rows]; kernels hand
//                                        load_scale the row's scale pointer
//   weights_per_block = 32               the data plane's unit (a lane reads
//                                        runs of 8 inside one block), so k
//                                        must be a multiple of 32
// and its Metal struct, whose four contract functions fused_kernel checks
// at C++ compile time.
#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/gemv/gemv.hpp>

namespace fd = foundry;

struct int8_per_row {
  static constexpr fd::fixed_string name = "i8_row";
  static constexpr std::string_view metal_name = "PolicyInt8PerRow";
  // Codes as signed bytes: b ^ 128 - 128 does not depend on char signedness.
  static constexpr std::string_view text = R"(struct PolicyInt8PerRow {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) {
    (void)block;
    return *(const device float*)scales;
  }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) {
    (void)scales; (void)block;
    return 0.0f;
  }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {
    for (int i = 0; i < N; ++i) q[i] = float(int(uint(data[k + uint(i)]) ^ 128u) - 128);
  }
  template <int N>
  static ALWAYS_INLINE float dot(const device uchar* data, uint k, thread const float* x) {
    float s = 0.0f;
    for (int i = 0; i < N; ++i) s += float(int(uint(data[k + uint(i)]) ^ 128u) - 128) * x[i];
    return s;
  }
};
)";
  using source = fd::source_piece<"policy_i8_row", text>;
  using element_type = std::int8_t;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = false;
  static constexpr fd::scale_granularity scale_per = fd::scale_granularity::row;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 32;
  static constexpr std::uint32_t scale_bytes = 4;
};
static_assert(fd::weight_policy<int8_per_row>);

// y = W·x with W [n, k] in int8_per_row: the library's row-major GEMV stage.
using gemv_i8_row = fd::fused_kernel<"gemv_i8_row", fd::simdgroup_per_row<fd::size_arg<"n">, 4>,
                                     fd::kernels::gemv_row_major<fd::plain_input<int8_per_row>>,
                                     fd::epi::store<"y", "value", fd::size_arg<"n">>>;

int main() {
  const std::uint32_t n = 301, k = 576;
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f), row_scale(0.1f, 3.0f);

  // Quantize a random float matrix per row: scale = max|w| / 127.
  std::vector<std::int8_t> q(std::size_t{n} * k);
  std::vector<float> scale(n), x(k);
  for (std::uint32_t r = 0; r < n; ++r) {
    std::vector<float> w(k);
    const float s = row_scale(rng);
    float amax = 0.0f;
    for (auto& v : w) amax = std::fmax(amax, std::fabs(v = s * dist(rng)));
    scale[r] = amax / 127.0f;
    for (std::uint32_t i = 0; i < k; ++i)
      q[std::size_t{r} * k + i] = static_cast<std::int8_t>(std::lround(w[i] / scale[r]));
  }
  for (auto& v : x) v = dist(rng);

  fd::executor ex{fd::cpu::make_backend()};
  fd::buffer wb = ex.upload(q), sb = ex.upload(scale), xb = ex.upload(x), yb = ex.allocate<float>(n);
  yb.fill_bytes(0xFF);  // NaN: an unwritten output fails the check
  gemv_i8_row::arguments args;
  args.set<"w">(wb).set<"w_scales">(sb).set<"x">(xb).set<"n">(n).set<"k">(k).set<"y">(yb);
  ex.dispatch<gemv_i8_row>(args);
  ex.synchronize();
  const std::vector<float> y = yb.read<float>();

  // float64 reference of the stored weights; ‖y − ref‖ / ‖Σ|w·x|‖ (a row can
  // cancel to near zero, the magnitude of its terms cannot).
  double err = 0, mag = 0;
  for (std::uint32_t r = 0; r < n; ++r) {
    double dot = 0, m = 0;
    for (std::uint32_t i = 0; i < k; ++i) {
      const double t = double(scale[r]) * q[std::size_t{r} * k + i] * x[i];
      dot += t;
      m += std::fabs(t);
    }
    err += (y[r] - dot) * (y[r] - dot);
    mag += m * m;
  }
  const double rel = std::sqrt(err / mag);
  // float32 accumulation of k = 576 terms: ~1e-7; 1e-5 leaves margin, while
  // a wrong row scale or code gives O(1).
  fmt::print("{}: {} rows x {} int8 weights with per-row scales, error vs float64 {:.2e}\n",
             gemv_i8_row::name.view(), n, k, rel);
  return rel < 1e-5 ? 0 : 1;
}
