#pragma once
/// @file gguf_writer.hpp
/// Writer of GGUF version 3 files: metadata of every GGUF value type,
/// tensors of any ggml type, alignment. The layout written is the one
/// foundry/io/gguf.hpp reads (ggml `docs/gguf.md`): header, key/value pairs
/// in the order added, tensor infos in the order added, zero padding to the
/// alignment, then each tensor's data at an aligned offset of the data
/// section (zero padding between tensors). The alignment is
/// `general.alignment` when that key is added (a UINT32, a power of two),
/// else 32.
///
/// Usage:
///
///     foundry::gguf::writer w;
///     w.add("general.architecture", std::string_view{"llama"});
///     w.add<std::uint32_t>("llama.block_count", 30);
///     w.add_tensor("token_embd.weight", ggml_type::q8_0, {576, 49152}, bytes);
///     w.write("out.gguf");
///
/// Metadata values are encoded when added; tensor data is either copied
/// (`add_tensor` with a vector) or referenced (`add_tensor_view`, the caller
/// keeps the bytes alive until `write`/`bytes` returns), so a quantizer can
/// pass views of a memory-mapped input. Errors (`foundry::gguf_error`, "gguf
/// writer: ..."): a duplicate key or tensor name, a `general.alignment`
/// that is not a UINT32 power of two, a tensor with more than 4 or zero
/// dimensions, rows that are not a whole number of blocks, data whose size
/// is not the tensor's byte size, an unknown type, and files that cannot be
/// written.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace foundry::gguf {

/// Builds a GGUF v3 file in memory (metadata) and writes it (see the file
/// comment).
class writer {
 public:
  writer() = default;

  // ---- metadata

  /// Adds a scalar value: UINT8..INT64, FLOAT32, FLOAT64 or BOOL by the C++
  /// type (`value_type_of<T>`).
  template <scalar_value T>
  void add(std::string_view key, T v) {
    if (key == "general.alignment") set_alignment(key, value_type_of<T>, v);
    begin_value(key, value_type_of<T>);
    put(v);
  }
  /// Adds a STRING value.
  void add(std::string_view key, std::string_view v) {
    begin_value(key, value_type::string);
    put_string(v);
  }
  /// Adds an ARRAY of scalars.
  template <scalar_value T>
  void add_array(std::string_view key, std::span<const T> v) {
    begin_value(key, value_type::array);
    put(static_cast<std::uint32_t>(value_type_of<T>));
    put(static_cast<std::uint64_t>(v.size()));
    for (const T& x : v) put(x);
  }
  /// Adds an ARRAY of STRING.
  void add_string_array(std::string_view key, std::span<const std::string_view> v) {
    begin_value(key, value_type::array);
    put(static_cast<std::uint32_t>(value_type::string));
    put(static_cast<std::uint64_t>(v.size()));
    for (std::string_view s : v) put_string(s);
  }
  /// Adds a copy of a value read from a GGUF file (any type, arrays
  /// included), under its own key or `key` when given.
  void add_copy(const value& v, std::string_view key = {}) {
    const std::string_view k = key.empty() ? v.key() : key;
    if (k == "general.alignment" && v.type() == value_type::uint32)
      set_alignment(k, value_type::uint32, v.get<std::uint32_t>());
    else if (k == "general.alignment")
      fail(detail::cat("key 'general.alignment' must be a UINT32, not ", v.type_name()));
    begin_value(k, v.type());
    if (v.is_array()) {
      put(static_cast<std::uint32_t>(v.element_type()));
      put(static_cast<std::uint64_t>(v.size()));
    } else if (v.type() == value_type::string) {
      put(static_cast<std::uint64_t>(v.raw().size()));
    }
    const auto raw = v.raw();
    meta_.insert(meta_.end(), raw.begin(), raw.end());
  }

  // ---- tensors

  /// Adds a tensor of type `type` with dimensions `ne` (fastest-varying
  /// first, as GGUF stores them: ne[0] is the row length) and its data,
  /// copied. Throws gguf_error (see the file comment).
  void add_tensor(std::string_view name, quant::ggml_type type, std::span<const std::uint64_t> ne,
                  std::vector<std::byte> data) {
    owned_.push_back(std::move(data));
    add_tensor_view(name, type, ne, owned_.back());
  }
  void add_tensor(std::string_view name, quant::ggml_type type, std::initializer_list<std::uint64_t> ne,
                  std::vector<std::byte> data) {
    add_tensor(name, type, std::span<const std::uint64_t>(ne.begin(), ne.size()), std::move(data));
  }
  /// As add_tensor, but the data is referenced: it must stay alive and
  /// unchanged until write() or bytes() has returned.
  void add_tensor_view(std::string_view name, quant::ggml_type type, std::span<const std::uint64_t> ne,
                       std::span<const std::byte> data) {
    const std::string who = detail::cat("tensor ", detail::quoted(name));
    if (!tensor_names_.insert(std::string(name)).second) fail(detail::cat("duplicate ", who));
    if (ne.empty() || ne.size() > max_dims)
      fail(detail::cat(who, " has ", ne.size(), " dimensions; 1 to ", max_dims, " are supported"));
    const quant::ggml_type_traits* traits = quant::find_ggml_type(static_cast<std::uint32_t>(type));
    if (traits == nullptr) fail(detail::cat(who, " has unknown ggml type ", static_cast<std::uint32_t>(type)));
    std::uint64_t elements = 1;
    for (std::uint64_t d : ne) {
      const auto e = detail::checked_mul(elements, d);
      if (!e) fail(detail::cat(who, ": element count overflows"));
      elements = *e;
    }
    if (ne[0] % traits->block_size != 0)
      fail(detail::cat(who, ": rows of ", ne[0], " elements are not a whole number of ", traits->name,
                       " blocks of ", traits->block_size));
    const std::uint64_t bytes = elements / traits->block_size * traits->type_size;
    if (data.size() != bytes)
      fail(detail::cat(who, ": ", traits->name, " data of ", elements, " elements takes ", bytes, " bytes, but ",
                       data.size(), " were given"));
    tensors_.push_back({std::string(name), type, std::vector<std::uint64_t>(ne.begin(), ne.end()), data});
  }
  void add_tensor_view(std::string_view name, quant::ggml_type type, std::initializer_list<std::uint64_t> ne,
                       std::span<const std::byte> data) {
    add_tensor_view(name, type, std::span<const std::uint64_t>(ne.begin(), ne.size()), data);
  }

  // ---- output

  /// The alignment of tensor data (`general.alignment`, default 32).
  std::uint32_t alignment() const noexcept { return alignment_; }
  /// Number of metadata values and tensors added.
  std::size_t metadata_count() const noexcept { return meta_count_; }
  std::size_t tensor_count() const noexcept { return tensors_.size(); }

  /// The whole file in memory.
  std::vector<std::byte> bytes() const {
    std::vector<std::byte> out;
    emit([&](const void* p, std::size_t n) {
      const auto* b = static_cast<const std::byte*>(p);
      out.insert(out.end(), b, b + n);
    });
    return out;
  }

  /// Writes the file to `path` (created or truncated). Throws gguf_error
  /// when it cannot be written.
  void write(const std::filesystem::path& path) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) fail(detail::cat("cannot create ", path.string()));
    emit([&](const void* p, std::size_t n) { f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); });
    f.flush();
    if (!f) fail(detail::cat("writing ", path.string(), " failed"));
  }

 private:
  struct tensor_entry {
    std::string name;
    quant::ggml_type type;
    std::vector<std::uint64_t> ne;
    std::span<const std::byte> data;
  };

  [[noreturn]] static void fail(const std::string& what) { throw gguf_error("gguf writer: " + what); }

  template <class T>
  void put(T v) {
    if constexpr (std::is_same_v<T, bool>) {
      meta_.push_back(static_cast<std::byte>(v ? 1 : 0));
    } else {
      const auto* p = reinterpret_cast<const std::byte*>(&v);
      meta_.insert(meta_.end(), p, p + sizeof v);
    }
  }
  void put_string(std::string_view s) {
    put(static_cast<std::uint64_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    meta_.insert(meta_.end(), p, p + s.size());
  }
  void begin_value(std::string_view key, value_type t) {
    if (!keys_.insert(std::string(key)).second) fail(detail::cat("duplicate key ", detail::quoted(key)));
    put_string(key);
    put(static_cast<std::uint32_t>(t));
    ++meta_count_;
  }
  template <class T>
  void set_alignment(std::string_view key, value_type t, T v) {
    if constexpr (std::is_same_v<T, std::uint32_t>) {
      if (v != 0 && (v & (v - 1)) == 0) {
        alignment_ = v;
        return;
      }
      fail(detail::cat("key ", detail::quoted(key), " is ", v, "; it must be a power of two"));
    } else {
      fail(detail::cat("key ", detail::quoted(key), " must be a UINT32, not ", to_string(t)));
    }
  }

  template <class Sink>
  void emit(Sink&& sink) const {
    auto u32 = [&](std::uint32_t v) { sink(&v, 4); };
    auto u64 = [&](std::uint64_t v) { sink(&v, 8); };
    u32(magic);
    u32(3);
    u64(tensors_.size());
    u64(meta_count_);
    std::uint64_t pos = 24;
    sink(meta_.data(), meta_.size());
    pos += meta_.size();
    // Tensor infos with aligned data offsets.
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const tensor_entry& t : tensors_) {
      offsets.push_back(offset);
      u64(t.name.size());
      sink(t.name.data(), t.name.size());
      u32(static_cast<std::uint32_t>(t.ne.size()));
      for (std::uint64_t d : t.ne) u64(d);
      u32(static_cast<std::uint32_t>(t.type));
      u64(offset);
      pos += 8 + t.name.size() + 4 + 8 * t.ne.size() + 4 + 8;
      offset = align(offset + t.data.size());
    }
    const std::vector<std::byte> zeros(alignment_);
    sink(zeros.data(), align(pos) - pos);
    std::uint64_t data_pos = 0;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      sink(zeros.data(), offsets[i] - data_pos);
      sink(tensors_[i].data.data(), tensors_[i].data.size());
      data_pos = offsets[i] + tensors_[i].data.size();
    }
    sink(zeros.data(), align(data_pos) - data_pos);  // ggml pads the last tensor too
  }
  std::uint64_t align(std::uint64_t v) const noexcept { return (v + alignment_ - 1) / alignment_ * alignment_; }

  std::vector<std::byte> meta_;
  std::size_t meta_count_ = 0;
  std::unordered_set<std::string> keys_, tensor_names_;
  std::vector<tensor_entry> tensors_;
  std::vector<std::vector<std::byte>> owned_;
  std::uint32_t alignment_ = default_alignment;
};

}  // namespace foundry::gguf
