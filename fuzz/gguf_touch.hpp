// Reads every view a parsed GGUF file hands out (keys, scalars, strings,
// array elements, tensor bytes), so that AddressSanitizer sees any view that
// points outside the input. Shared by the GGUF fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <foundry/io/gguf.hpp>

namespace foundry::fuzz {

/// A checksum over every byte the views of `f` cover (returned so that the
/// reads are not optimised away).
inline std::uint64_t touch_all(const gguf::file& f) {
  std::uint64_t sum = f.version() + f.alignment() + f.data_offset();
  auto add = [&](std::span<const std::byte> bytes) {
    for (const std::byte b : bytes) sum = sum * 31 + std::to_integer<unsigned>(b);
  };
  auto add_text = [&](std::string_view s) {
    add(std::as_bytes(std::span<const char>(s.data(), s.size())));
  };
  for (const gguf::value& v : f.metadata()) {
    add_text(v.key());
    add(v.raw());
    if (v.is_array() && v.element_type() == gguf::value_type::string)
      for (const std::string_view s : v.get_string_array()) add_text(s);
    // Lookup by key must find this pair (keys are unique).
    if (f.find_value(v.key()) != &v) __builtin_trap();
  }
  for (const gguf::tensor_info& t : f.tensors()) {
    add_text(t.name);
    add(t.bytes());
    if (f.find_tensor(t.name) != &t) __builtin_trap();
    // Tensor data lies inside the file.
    if (t.n_bytes != 0 && (t.data < f.bytes().data() ||
                           t.data + t.n_bytes > f.bytes().data() + f.bytes().size()))
      __builtin_trap();
    sum += t.row_bytes() + t.n_rows();
  }
  return sum;
}

}  // namespace foundry::fuzz
