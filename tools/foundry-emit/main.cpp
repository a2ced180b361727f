// foundry-emit: writes the Metal translation unit of library kernels, so
// Apple users can precompile them (`xcrun metal -c name.metal`).
//
//   foundry-emit --list                 names of every library kernel
//   foundry-emit [--out DIR] NAME...    writes DIR/NAME.metal (DIR defaults to .)
//   foundry-emit --all [--out DIR]      every library kernel
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/source.hpp>
#include <kernels/library.hpp>

namespace {

struct entry {
  std::string_view name;
  const std::string& (*source)();
};

template <class... Ks>
std::vector<entry> entries(foundry::type_list<Ks...>) {
  return {entry{Ks::name.view(), &foundry::metal_source<Ks>}...};
}

int usage() {
  std::fputs("usage: foundry-emit --list | [--out DIR] (--all | NAME...)\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const auto all = entries(foundry::kernels::library{});
  std::filesystem::path out = ".";
  std::vector<std::string_view> names;
  bool every = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--list") {
      for (const auto& e : all) fmt::print("{}\n", e.name);
      return 0;
    }
    if (a == "--all") {
      every = true;
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (a.starts_with("-")) {
      return usage();
    } else {
      names.push_back(a);
    }
  }
  if (every)
    for (const auto& e : all) names.push_back(e.name);
  if (names.empty()) return usage();
  std::filesystem::create_directories(out);
  for (auto name : names) {
    const entry* found = nullptr;
    for (const auto& e : all)
      if (e.name == name) found = &e;
    if (!found) {
      fmt::print(stderr, "foundry-emit: no library kernel named {} (see --list)\n", name);
      return 1;
    }
    const auto path = out / (std::string(name) + ".metal");
    std::ofstream f(path, std::ios::binary);
    f << found->source();
    if (!f) {
      fmt::print(stderr, "foundry-emit: cannot write {}\n", path.string());
      return 1;
    }
    fmt::print("{}\n", path.string());
  }
  return 0;
}
