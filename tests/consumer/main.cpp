// Downstream consumer of Foundry: instantiates a library kernel alias and a
// fused kernel of its own, prints what it learned about them, and runs its own
// kernel on the CPU backend (which compiles the emitted source with the host
// compiler at run time, so the installed embedded sources and prelude are
// exercised too).
#include <cmath>
#include <cstdio>
#include <random>
#include <string_view>
#include <vector>

#include <foundry/backends/cpu/backend.hpp>
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

  // y = 2·(W·x) on the CPU backend, fresh random inputs, output poisoned with NaN.
  const std::uint32_t n = 37, k = 96;
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<fd::half> w(std::size_t{n} * k);
  std::vector<float> x(k);
  for (auto& v : w) v = fd::half(dist(rng));
  for (auto& v : x) v = dist(rng);
  fd::executor ex{fd::cpu::make_backend()};
  fd::buffer wb = ex.upload(w), xb = ex.upload(x), yb = ex.allocate<float>(n);
  yb.fill_bytes(0xFF);
  my_gemv::arguments args;
  args.set<"w">(wb).set<"x">(xb).set<"y">(yb).set<"n">(n).set<"k">(k);
  ex.dispatch<my_gemv>(args);
  ex.synchronize();
  const std::vector<float> y = yb.read<float>();
  double err = 0, norm = 0;
  for (std::uint32_t r = 0; r < n; ++r) {
    double dot = 0;
    for (std::uint32_t i = 0; i < k; ++i) dot += double(float(w[std::size_t{r} * k + i])) * x[i];
    const double ref = 2.0 * dot;
    err += (y[r] - ref) * (y[r] - ref);
    norm += ref * ref;
  }
  const double rel = std::sqrt(err / norm);
  // float32 accumulation of k = 96 products: ~1e-7 expected; 1e-5 leaves margin,
  // and a NaN (unwritten row) fails the comparison.
  const bool ok = rel < 1e-5;
  std::printf("ran %s on the CPU backend: %u rows, relative error %s\n", my_gemv::name.c_str(), n,
              ok ? "below 1e-5" : "TOO LARGE");
  return ok ? 0 : 1;
}
