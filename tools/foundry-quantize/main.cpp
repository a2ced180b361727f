// foundry-quantize: re-quantizes a GGUF model file (see quantize.hpp for the
// mixes and the algorithm).
//
//   foundry-quantize [options] INPUT.gguf OUTPUT.gguf
//     --type NAME               Q4_K_M (default), Q5_K_M, Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q4_1, F16, F32
//     --tensor-type PATTERN=T   type T for tensors whose name matches the regular expression (repeatable)
//     --dry-run                 print the plan only
//     --quiet                   no plan, no progress bar
//
// Exit codes: 0 done, 1 error (message on stderr), 2 usage.
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "quantize.hpp"

namespace {

int usage() {
  std::fputs(
      "usage: foundry-quantize [--type NAME] [--tensor-type PATTERN=TYPE]... [--dry-run] [--quiet] INPUT.gguf "
      "OUTPUT.gguf\n"
      "  --type NAME   Q4_K_M (default), Q5_K_M, Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q4_1, F16, F32\n",
      stderr);
  return 2;
}

/// A one-line progress bar on stderr (only when stderr is a terminal).
void draw_progress(std::size_t done, std::size_t total, std::uint64_t w_done, std::uint64_t w_total,
                   std::string_view name) {
  constexpr int width = 30;
  const double frac = w_total ? double(w_done) / double(w_total) : 1.0;
  const int filled = int(frac * width);
  fmt::print(stderr, "\r[{:=<{}}{: <{}}] {:3.0f}%  {}/{} tensors  {:<40.40}", "", filled, "", width - filled,
             100.0 * frac, done, total, name);
  if (done == total) fmt::print(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  namespace ft = foundry::tools;
  std::string type = "Q4_K_M";
  std::vector<ft::tensor_override> overrides;
  std::vector<std::string> files;
  bool quiet = false, dry_run = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--type" && i + 1 < argc) type = argv[++i];
      else if (a == "--tensor-type" && i + 1 < argc) overrides.push_back(ft::parse_override(argv[++i]));
      else if (a == "--quiet") quiet = true;
      else if (a == "--dry-run") dry_run = true;
      else if (a == "--help" || a == "-h") return usage();
      else if (a.starts_with("--")) {
        fmt::print(stderr, "foundry-quantize: unknown option {}\n", a);
        return usage();
      } else files.emplace_back(a);
    }
    if (files.size() != 2) return usage();
    const ft::quant_mix mix = ft::parse_mix(type);
    if (dry_run) {
      const auto f = foundry::gguf::file::open(files[0]);
      for (const ft::tensor_plan& p : ft::plan(f, mix, overrides))
        fmt::print("{:<40} {:>6} -> {:<6} {}\n", p.name, foundry::quant::to_string(p.from),
                   foundry::quant::to_string(p.to), p.reason);
      return 0;
    }
    const bool bar = !quiet && isatty(fileno(stderr));
    const auto t0 = std::chrono::steady_clock::now();
    const auto p = ft::quantize_file(files[0], files[1], mix, overrides, bar ? ft::progress_fn(draw_progress) : nullptr);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) {
      std::size_t changed = 0;
      for (const ft::tensor_plan& t : p) changed += t.to != t.from;
      fmt::print("foundry-quantize: wrote {} ({}, {} of {} tensors converted) in {:.1f} s\n", files[1], mix.name,
                 changed, p.size(), s);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "foundry-quantize: {}\n", e.what());
    return 1;
  }
}
