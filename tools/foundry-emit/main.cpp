// foundry-emit: writes the Metal translation unit of library kernels, so
// Apple users can precompile them (`xcrun metal -c name.metal`).
//
//   foundry-emit --list                 names of every library kernel
//   foundry-emit [--out DIR] NAME...    writes DIR/NAME.metal (DIR defaults to .)
//   foundry-emit --all [--out DIR]      every library kernel
//   foundry-emit --explain [NAME...]    how each (or every) kernel runs on the
//                                       CPU backend: as lane loops, or one fiber
//                                       per thread and why (dsl/lane_loop.hpp)
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
  foundry::lane_loop_form (*lane_loop)();  ///< the CPU's lane-loop form; null: never
  std::string (*lane_loop_blocker)();      ///< why not, when it has none
};

template <class... Ks>
std::vector<entry> entries(foundry::type_list<Ks...>) {
  return {entry{Ks::name.view(), &foundry::metal_source<Ks>, &Ks::cpu_lane_loop, &Ks::lane_loop_blocker}...};
}

int usage() {
  std::fputs("usage: foundry-emit --list | --explain [NAME...] | [--out DIR] (--all | NAME...)\n", stderr);
  return 2;
}

const entry* find(const std::vector<entry>& all, std::string_view name) {
  for (const auto& e : all)
    if (e.name == name) return &e;
  fmt::print(stderr, "foundry-emit: no library kernel named {} (see --list)\n", name);
  return nullptr;
}

int explain(const std::vector<entry>& all, const std::vector<std::string_view>& names) {
  std::vector<const entry*> chosen;
  for (auto n : names) {
    const entry* e = find(all, n);
    if (!e) return 1;
    chosen.push_back(e);
  }
  if (names.empty())
    for (const auto& e : all) chosen.push_back(&e);
  for (const entry* e : chosen) {
    const foundry::lane_loop_form lanes = e->lane_loop != nullptr ? e->lane_loop() : foundry::lane_loop_form{};
    if (!lanes.body.empty())
      fmt::print("{}: cpu lane loops{}\n", e->name, lanes.stride > 1 ? " (lane 0 of each SIMD-group)" : "");
    else
      fmt::print("{}: cpu fibers ({})\n", e->name, e->lane_loop_blocker());
  }
  return 0;
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
    if (a == "--explain") return explain(all, std::vector<std::string_view>(argv + i + 1, argv + argc));
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
    const entry* found = find(all, name);
    if (!found) return 1;
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
