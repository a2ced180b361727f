// Shared helpers of the model tests: where the SmolLM2 model is, skipping
// when it is not there, temporary folders for files made at test time, the
// XXH3-64 of a file, and the greedy-decoding fixtures of llama.cpp
// (tests/fixtures/*_reference*.txt, format in their headers and in
// tests/fixtures/README.md).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xxhash.h>

#ifndef FOUNDRY_TEST_SKIP_RETURN_CODE
#define FOUNDRY_TEST_SKIP_RETURN_CODE 77
#endif

namespace foundry::test {

/// The model file: $FOUNDRY_MODEL_PATH when set, else FOUNDRY_TEST_MODEL_PATH
/// (where scripts/setup.sh puts it; set by tests/CMakeLists.txt).
inline std::string model_path() {
  if (const char* env = std::getenv("FOUNDRY_MODEL_PATH"); env != nullptr && *env != '\0')
    return env;
#ifdef FOUNDRY_TEST_MODEL_PATH
  return FOUNDRY_TEST_MODEL_PATH;
#else
  return {};
#endif
}

/// A global test environment that exits with FOUNDRY_TEST_SKIP_RETURN_CODE
/// (reported as skipped by CTest) when the model file is missing. Register
/// it at namespace scope:
///   [[maybe_unused]] auto* const kEnv =
///       ::testing::AddGlobalTestEnvironment(new foundry::test::require_model);
struct require_model : ::testing::Environment {
  void SetUp() override {
    const std::string path = model_path();
    std::error_code ec;
    if (path.empty() || !std::filesystem::is_regular_file(path, ec)) {
      std::puts("skipped: model not found, run scripts/setup.sh");
      std::fflush(stdout);
      std::exit(FOUNDRY_TEST_SKIP_RETURN_CODE);
    }
  }
};

/// A folder removed with everything in it when the object is destroyed.
/// For files made at test time, keep it a static object of its own (an
/// atexit handler registered while another static was being built would run
/// after that static's destructor).
struct temporary_folder {
  std::filesystem::path path;
  explicit temporary_folder(std::filesystem::path p) : path(std::move(p)) {
    std::filesystem::create_directories(path);
  }
  temporary_folder(const temporary_folder&) = delete;
  temporary_folder& operator=(const temporary_folder&) = delete;
  ~temporary_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// XXH3-64 of a file, as 16 lowercase hex digits (the fixtures' spelling).
/// Throws std::runtime_error when the file cannot be opened.
inline std::string file_xxh3(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    XXH3_64bits_update(st, buf.data(), static_cast<std::size_t>(in.gcount()));
  const XXH64_hash_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

/// The "# model xxh3_64 <hex>" line of a fixture's header (the file the
/// fixture was made from), or "" when there is none.
inline std::string fixture_model_digest(const std::filesystem::path& fixture) {
  std::ifstream in(fixture);
  const std::string key = "# model xxh3_64 ";
  for (std::string line; std::getline(in, line) && !line.empty() && line[0] == '#';)
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  return {};
}

/// One prompt of tests/fixtures/smollm2_reference.txt.
struct greedy_case {
  std::string name;
  std::string text;  ///< unescaped prompt text
  std::vector<std::int32_t> prompt_ids;
  std::vector<std::int32_t> generated;                           ///< greedy continuation
  std::vector<std::vector<std::pair<std::int32_t, float>>> top;  ///< per step, largest first
};

namespace detail {

inline std::string unescape_fixture(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i >= s.size()) throw std::runtime_error("fixture: dangling backslash");
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'x':
        if (i + 2 >= s.size()) throw std::runtime_error("fixture: bad \\x");
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
        break;
      default:
        throw std::runtime_error(std::string("fixture: bad escape \\") + s[i]);
    }
  }
  return out;
}

inline std::vector<std::int32_t> parse_ids(std::string_view s) {
  std::vector<std::int32_t> ids;
  std::istringstream in{std::string(s)};
  long long v = 0;
  while (in >> v) ids.push_back(static_cast<std::int32_t>(v));
  return ids;
}

}  // namespace detail

/// Reads tests/fixtures/smollm2_reference.txt (or another file in its format).
inline std::vector<greedy_case> load_greedy_fixture(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<greedy_case> cases;
  std::string line;
  auto current = [&]() -> greedy_case& {
    if (cases.empty()) throw std::runtime_error(path.string() + ": record before 'prompt'");
    return cases.back();
  };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t sp = line.find(' ');
    const std::string_view key = std::string_view(line).substr(0, sp);
    const std::string_view rest =
        sp == std::string::npos ? std::string_view{} : std::string_view(line).substr(sp + 1);
    if (key == "prompt") {
      cases.push_back({});
      cases.back().name = std::string(rest);
    } else if (key == "text") {
      current().text = detail::unescape_fixture(rest);
    } else if (key == "prompt_ids") {
      current().prompt_ids = detail::parse_ids(rest);
    } else if (key == "generated") {
      current().generated = detail::parse_ids(rest);
    } else if (key == "top") {
      std::istringstream fields{std::string(rest)};
      std::size_t step = 0;
      fields >> step;
      if (step != current().top.size())
        throw std::runtime_error(path.string() + ": top steps out of order");
      std::vector<std::pair<std::int32_t, float>> top;
      std::string item;
      while (fields >> item) {
        const std::size_t colon = item.find(':');
        if (colon == std::string::npos) throw std::runtime_error(path.string() + ": bad top entry");
        top.emplace_back(static_cast<std::int32_t>(std::stol(item.substr(0, colon))),
                         std::stof(item.substr(colon + 1)));
      }
      current().top.push_back(std::move(top));
    } else {
      throw std::runtime_error(path.string() + ": unknown record '" + std::string(key) + "'");
    }
  }
  return cases;
}

}  // namespace foundry::test
