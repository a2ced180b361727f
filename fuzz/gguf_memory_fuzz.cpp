// libFuzzer target: parse arbitrary bytes as a GGUF file held in memory
// (gguf::file::parse). Any result other than a parsed file or a gguf_error
// (a crash, a sanitizer report, another exception) is a finding. The input
// is copied into a heap buffer of exactly its size so that AddressSanitizer
// catches a read one byte past the end.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include <foundry/io/gguf.hpp>

#include "fuzz/gguf_touch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto copy = std::make_unique<std::byte[]>(size);
  if (size != 0) std::memcpy(copy.get(), data, size);
  try {
    const auto f = foundry::gguf::file::parse(std::span<const std::byte>(copy.get(), size),
                                              "fuzz.gguf");
    volatile std::uint64_t sink = foundry::fuzz::touch_all(f);
    (void)sink;
  } catch (const foundry::gguf_error&) {
  }
  return 0;
}
