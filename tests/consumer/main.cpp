// Downstream consumer of Foundry: instantiates a library kernel alias and a
// fused kernel of its own, and prints what it learned about them.
#include <cstdio>
#include <string_view>

#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

namespace fd = foundry;

namespace {

// A consumer-defined epilogue: y = 2·(W·x).
struct twice {
  static constexpr fd::fixed_string name = "twice";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "$value *= 2.0f;";
};

using my_gemv = fd::fused_kernel<"consumer_gemv", fd::kernels::gemv_dispatch,
                                 fd::kernels::gemv_row_major<fd::plain_input<fd::policies::f16>>, twice,
                                 fd::epi::store<"y">>;

}  // namespace

int main() {
  std::printf("foundry %.*s (%s)\n", static_cast<int>(fd::version_string.size()), fd::version_string.data(),
              FOUNDRY_CONSUMER_MODE_NAME);
  const std::string& lib = fd::metal_source<fd::kernels::gemv_f16>();
  const std::string& mine = fd::metal_source<my_gemv>();
  std::printf("library kernel %s: %zu arguments, source has PolicyF16: %s\n",
              fd::kernels::gemv_f16::name.c_str(), fd::kernels::gemv_f16::plan.size(),
              lib.find("struct PolicyF16") != std::string::npos ? "yes" : "no");
  std::printf("own kernel %s: epilogue emitted: %s\n", my_gemv::name.c_str(),
              mine.find("v_value *= 2.0f;") != std::string::npos ? "yes" : "no");
  return 0;
}
