// libFuzzer target: write arbitrary bytes to a file and open it with
// gguf::file::open (memory-mapped), the path foundry-generate takes. Any
// result other than a parsed file or a gguf_error is a finding.
//
// The file is $TMPDIR/foundry-fuzz-<pid>.gguf, rewritten for every input
// and removed at exit.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <foundry/io/gguf.hpp>

#include "fuzz/gguf_touch.hpp"

namespace {

const std::filesystem::path& input_path() {
  static const std::filesystem::path path = [] {
    auto p = std::filesystem::temp_directory_path() /
             ("foundry-fuzz-" + std::to_string(::getpid()) + ".gguf");
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove(input_path(), ec);
    });
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(input_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();  // the fuzzer's own environment is broken
  }
  try {
    const auto f = foundry::gguf::file::open(input_path());
    volatile std::uint64_t sink = foundry::fuzz::touch_all(f);
    (void)sink;
  } catch (const foundry::gguf_error&) {
  }
  return 0;
}
