// Registers, spills and machine-code load widths of the decode GEMVs and
// attention kernels, from NVRTC alone (no GPU needed):
//
//   foundry_cuda_kernel_resources [--arch 90] [--out DIR]
//
// For every alias below it compiles the CUDA form (the backend's
// translation unit) for sm_<arch> with `--ptxas-options=-v` and prints
// ptxas's registers, stack frame and spill bytes as a markdown table; with
// --out it also writes DIR/<kernel>.cubin, for `cuobjdump --dump-sass` (the
// width of the global loads: LDG.E.128 is a 16-byte load; IDP.4A a dp4a).

#include <cstdio>
#include <filesystem>
#include <foundry/backends/cuda/cuda.hpp>
#include <foundry/foundry.hpp>
#include <fstream>
#include <kernels/library.hpp>
#include <string>
#include <vector>

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fc = foundry::cuda;

namespace {

/// The number after `key` in ptxas's log ("Used 40 registers", "0 bytes
/// spill stores"), or -1.
long after(const std::string& log, const std::string& key, bool number_first) {
  const auto at = log.find(key);
  if (at == std::string::npos) return -1;
  if (!number_first) return std::strtol(log.c_str() + at + key.size(), nullptr, 10);
  std::size_t b = at;
  while (b > 0 && log[b - 1] == ' ') --b;
  while (b > 0 && std::isdigit(static_cast<unsigned char>(log[b - 1]))) --b;
  return std::strtol(log.c_str() + b, nullptr, 10);
}

template <class K>
void one(int arch, const std::filesystem::path& out) {
  const auto& src = fd::kernel_source_of<K, fc::cuda_entry>();
  const std::string name(K::name.view());
  const std::string tu = fc::detail::translation_unit(src, name);
  const std::vector<std::string> options = {"--gpu-architecture=sm_" + std::to_string(arch), "-std=c++20",
                                            "--device-as-default-execution-space", "--ptxas-options=-v"};
  const fc::compiled_kernel k = fc::detail::run_nvrtc(fc::nvrtc(), tu, src, name, options, false);
  std::printf("| %s | %ld | %ld | %ld | %ld |\n", name.c_str(), after(k.log, "Used ", false),
              after(k.log, "bytes stack frame", true), after(k.log, "bytes spill stores", true),
              after(k.log, "bytes spill loads", true));
  if (!out.empty()) std::ofstream(out / (name + ".cubin"), std::ios::binary) << k.image;
}

template <class... Ks>
void all(int arch, const std::filesystem::path& out) {
  (one<Ks>(arch, out), ...);
}

}  // namespace

int main(int argc, char** argv) {
  int arch = 90;
  std::filesystem::path out;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--arch") arch = std::atoi(argv[++i]);
    else if (std::string(argv[i]) == "--out") out = argv[++i];
  }
  if (const std::string why = fc::nvrtc_unavailable_reason(); !why.empty()) {
    std::printf("skipped: NVRTC unavailable: %s\n", why.c_str());
    return 77;
  }
  if (!out.empty()) std::filesystem::create_directories(out);
  std::printf("| kernel (sm_%d) | registers | stack frame (bytes) | spill stores (bytes) | spill loads (bytes) |\n",
              arch);
  std::printf("|---|---:|---:|---:|---:|\n");
  all<fk::gemv_f16, fk::gemv_q8_0, fk::gemv_q4_0, fk::gemv_q4_1, fk::gemv_q8_0_canonical, fk::gemv_q4_1_canonical,
      fk::gemv_f16_multi_row, fk::gemv_q8_0_multi_row, fk::gemv_q4_0_multi_row, fk::gemv_q4_1_multi_row,
      fk::gemv_q8_0_multi_row_q8_act, fk::gemv_q4_0_multi_row_q8_act, fk::gemv_q4_1_multi_row_q8_act,
      fk::quantize_q8_activations_pair_split, fk::attention_decode_f32, fk::attention_split_f32,
      fk::attention_split_f32_g4, fk::attention_combine_f32>(arch, out);
  return 0;
}
