// expect: weight policy i8_nodot: its Metal struct .* does not define the loading-contract function dot
// A user policy whose Metal struct lacks `dot`: fused_kernel rejects it at
// C++ compile time, naming the policy and the missing function, instead of
// leaving the error to the Metal (or CUDA, or host) compiler at run time.
#include <cstdint>
#include <string_view>

#include <foundry/dsl/dsl.hpp>
#include <kernels/gemv/gemv.hpp>

namespace fd = foundry;

struct i8_nodot {
  static constexpr fd::fixed_string name = "i8_nodot";
  static constexpr std::string_view metal_name = "PolicyI8NoDot";
  static constexpr std::string_view text = R"(struct PolicyI8NoDot {
  static ALWAYS_INLINE float load_scale(const device uchar* scales, uint block) { return 1.0f; }
  static ALWAYS_INLINE float load_affine(const device uchar* scales, uint block) { return 0.0f; }
  template <int N>
  static ALWAYS_INLINE void load_weights(const device uchar* data, uint k, thread float* q) {}
};
)";
  using source = fd::source_piece<"policy_i8_nodot", text>;
  using element_type = std::int8_t;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 32;
  static constexpr std::uint32_t scale_bytes = 4;
};

using broken = fd::fused_kernel<"gemv_i8_nodot", fd::simdgroup_per_row<fd::size_arg<"n">, 4>,
                                fd::kernels::gemv_row_major<fd::plain_input<i8_nodot>>,
                                fd::epi::store<"y", "value", fd::size_arg<"n">>>;

int main() { return broken::name.size() > 0 ? 0 : 1; }
