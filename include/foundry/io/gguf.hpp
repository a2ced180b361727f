#pragma once
/// @file gguf.hpp
/// Reader for GGUF model files (versions 2 and 3), memory-mapped and
/// zero-copy: keys, strings, arrays and tensor data are views into the
/// mapping.
///
/// Why a reader of our own: no maintained GGUF library is available as a
/// C/C++ dependency from the places this project installs from. Debian 12 has
/// no ggml, llama.cpp or gguf package (`apt-cache search gguf` and
/// `apt-cache search ggml` find nothing); on PyPI, `gguf` is the ggml
/// project's pure-Python reader/writer, and the packages that ship ggml's C
/// library (ggml-python and the like) ship it as Python bindings, with no
/// headers or CMake package to link against. Vendoring ggml itself would pull
/// a whole tensor library in for a file parser. The format is small and fully
/// specified, so it is read here, with every read bounds-checked.
///
/// Format (ggml project, `docs/gguf.md`; `ggml/src/gguf.cpp`), all integers
/// little-endian:
///
///     uint32 magic            "GGUF" = 0x46554747
///     uint32 version          2 or 3 (1 used 32-bit lengths and is obsolete)
///     uint64 tensor_count
///     uint64 metadata_kv_count
///     metadata_kv_count x { string key; uint32 value_type; value }
///     tensor_count x      { string name; uint32 n_dims (<= 4);
///                           uint64 ne[n_dims] (fastest-varying first);
///                           uint32 ggml_type; uint64 offset }
///     zero padding to a multiple of `general.alignment` (uint32, default 32)
///     data section        tensor data at `offset` from its start, each
///                         offset a multiple of the alignment
///
/// where string = uint64 length + that many bytes (UTF-8, no terminator);
/// value types: 0 UINT8, 1 INT8, 2 UINT16, 3 INT16, 4 UINT32, 5 INT32,
/// 6 FLOAT32, 7 BOOL (1 byte), 8 STRING, 9 ARRAY (uint32 element type,
/// uint64 count, elements), 10 UINT64, 11 INT64, 12 FLOAT64. Arrays of arrays
/// are rejected, as ggml's own reader does.
///
/// Validation: every read is bounds-checked and every size computation is
/// overflow-checked, so a corrupt or truncated file gives a foundry::gguf_error
/// naming the file, the item (header, key/value #i 'key', tensor info #i
/// 'name') and the problem, never an out-of-bounds read. Checked besides the
/// layout: magic, version, value types, duplicate keys and tensor names,
/// `general.alignment` (UINT32, a power of two), key/value and tensor counts
/// that the file cannot hold (reported as the count's error, not as whatever
/// the extra entries parse into), tensor dimensions (at most 4, each below
/// 2^63, rows a whole number of blocks, the bytes of one row and of the whole
/// tensor within 64 bits, even for a tensor of no rows), known ggml types, tensor
/// offsets aligned, tensor data inside the file, and no two tensors
/// overlapping.
///
/// Usage:
///
///     auto f = foundry::gguf::file::open(path);
///     auto layers = f.get<std::uint32_t>("llama.block_count");
///     auto tokens = f.get_string_array("tokenizer.ggml.tokens");
///     const auto& w = f.tensor("blk.0.attn_q.weight");  // w.type, w.dims(), w.data
///
/// A `file` is move-only; the views it hands out stay valid while it (or the
/// object it was moved into) lives. Big-endian GGUF files and big-endian hosts
/// are not supported.

#include <algorithm>
#include <array>
#include <bit>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <foundry/core/errors.hpp>
#include <foundry/io/mapped_file.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace foundry {

/// A GGUF file that cannot be opened or is malformed, or a metadata/tensor
/// request the file cannot satisfy (missing key, wrong value type, unknown
/// tensor). `what()` starts with "gguf: <path>: ".
class gguf_error : public error {
 public:
  using error::error;
};

}  // namespace foundry

namespace foundry::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader supports little-endian hosts only");

/// "GGUF" read as a little-endian uint32.
inline constexpr std::uint32_t magic = 0x46554747u;
/// Alignment of tensor data when `general.alignment` is absent.
inline constexpr std::uint32_t default_alignment = 32;
/// Most dimensions a tensor may have (GGML_MAX_DIMS).
inline constexpr std::uint32_t max_dims = 4;

// ---------------------------------------------------------- value types --

/// Metadata value types (`enum gguf_type`).
enum class value_type : std::uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

/// The GGUF name of `t` ("UINT32", "STRING", ...), "unknown" outside the enum.
constexpr std::string_view to_string(value_type t) noexcept {
  constexpr std::array<std::string_view, 13> names{
      "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
      "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < names.size() ? names[i] : std::string_view{"unknown"};
}

/// Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown.
constexpr std::size_t scalar_size(value_type t) noexcept {
  switch (t) {
    case value_type::uint8:
    case value_type::int8:
    case value_type::boolean:
      return 1;
    case value_type::uint16:
    case value_type::int16:
      return 2;
    case value_type::uint32:
    case value_type::int32:
    case value_type::float32:
      return 4;
    case value_type::uint64:
    case value_type::int64:
    case value_type::float64:
      return 8;
    default:
      return 0;
  }
}

/// Whether `t` is one of the integer types (not BOOL).
constexpr bool is_integer(value_type t) noexcept {
  switch (t) {
    case value_type::uint8:
    case value_type::int8:
    case value_type::uint16:
    case value_type::int16:
    case value_type::uint32:
    case value_type::int32:
    case value_type::uint64:
    case value_type::int64:
      return true;
    default:
      return false;
  }
}

namespace detail {

template <class T>
inline constexpr bool is_char_type_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

}  // namespace detail

/// C++ types that hold one fixed-size GGUF value: bool, the 8-, 16-, 32- and
/// 64-bit integers, float and double.
template <class T>
concept scalar_value = std::same_as<T, bool> || std::same_as<T, float> || std::same_as<T, double> ||
    (std::integral<T> && !detail::is_char_type_v<T> &&
     (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8));

/// Integer types `get_integer<T>` converts to (not bool, not character types).
template <class T>
concept integer_value = scalar_value<T> && std::integral<T> && !std::same_as<T, bool>;

/// C++ types `get<T>` accepts: the scalars and std::string_view (STRING).
template <class T>
concept metadata_value = scalar_value<T> || std::same_as<T, std::string_view>;

/// The GGUF value type that stores a T exactly.
template <metadata_value T>
inline constexpr value_type value_type_of = [] {
  if constexpr (std::same_as<T, bool>) {
    return value_type::boolean;
  } else if constexpr (std::same_as<T, float>) {
    return value_type::float32;
  } else if constexpr (std::same_as<T, double>) {
    return value_type::float64;
  } else if constexpr (std::same_as<T, std::string_view>) {
    return value_type::string;
  } else if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1   ? value_type::int8
           : sizeof(T) == 2 ? value_type::int16
           : sizeof(T) == 4 ? value_type::int32
                            : value_type::int64;
  } else {
    return sizeof(T) == 1   ? value_type::uint8
           : sizeof(T) == 2 ? value_type::uint16
           : sizeof(T) == 4 ? value_type::uint32
                            : value_type::uint64;
  }
}();

static_assert(value_type_of<std::uint32_t> == value_type::uint32);
static_assert(value_type_of<std::int64_t> == value_type::int64);
static_assert(value_type_of<unsigned long long> == value_type::uint64);

namespace detail {

/// Loads a T from possibly unaligned little-endian bytes.
template <scalar_value T>
T load(const std::byte* p) noexcept {
  if constexpr (std::same_as<T, bool>) {
    return std::to_integer<unsigned>(*p) != 0;
  } else {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
}

inline void append(std::string& s, std::string_view v) {
  s += v;
}
inline void append(std::string& s, const char* v) {
  s += v;
}
template <std::integral T>
void append(std::string& s, T v) {
  s += std::to_string(v);
}

/// Concatenates strings and integers.
template <class... Args>
std::string cat(const Args&... args) {
  std::string s;
  (append(s, args), ...);
  return s;
}

inline std::string hex32(std::uint32_t v) {
  constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xfu];
  return s;
}

/// `name` in single quotes, non-printable bytes as \xNN, cut after 96 bytes
/// (names from corrupt files can be anything).
inline std::string quoted(std::string_view name) {
  constexpr char digits[] = "0123456789abcdef";
  std::string s = "'";
  const std::size_t shown = std::min<std::size_t>(name.size(), 96);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      s += static_cast<char>(c);
    } else {
      s += "\\x";
      s += digits[c >> 4];
      s += digits[c & 0xf];
    }
  }
  if (shown < name.size()) s += "...";
  s += "'";
  return s;
}

/// `a * b`, or nullopt on 64-bit overflow.
constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) noexcept {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

template <std::integral T>
constexpr std::string_view integer_name() noexcept {
  if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1 ? "int8" : sizeof(T) == 2 ? "int16" : sizeof(T) == 4 ? "int32" : "int64";
  } else {
    return sizeof(T) == 1   ? "uint8"
           : sizeof(T) == 2 ? "uint16"
           : sizeof(T) == 4 ? "uint32"
                            : "uint64";
  }
}

}  // namespace detail

// ------------------------------------------------------------ array_view --

/// A read-only view of a GGUF array of fixed-size values, in place in the
/// file. The elements need not be aligned, so they are read by value (each
/// access is a small memcpy); use `to_vector()` for a contiguous copy.
template <scalar_value T>
class array_view {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;

  /// Random-access iterator yielding elements by value.
  class iterator {
   public:
    using iterator_concept = std::random_access_iterator_tag;
    // Elements are prvalues (a proxy iterator, like vector<bool>'s); the
    // category is still random access so that standard algorithms accept it.
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T;
    using pointer = void;

    iterator() noexcept = default;
    explicit iterator(const std::byte* p) noexcept : p_(p) {}

    T operator*() const noexcept { return detail::load<T>(p_); }
    T operator[](difference_type n) const noexcept { return *(*this + n); }

    iterator& operator++() noexcept { return *this += 1; }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++*this;
      return old;
    }
    iterator& operator--() noexcept { return *this -= 1; }
    iterator operator--(int) noexcept {
      iterator old = *this;
      --*this;
      return old;
    }
    iterator& operator+=(difference_type n) noexcept {
      p_ += n * static_cast<difference_type>(stride);
      return *this;
    }
    iterator& operator-=(difference_type n) noexcept { return *this += -n; }
    friend iterator operator+(iterator it, difference_type n) noexcept { return it += n; }
    friend iterator operator+(difference_type n, iterator it) noexcept { return it += n; }
    friend iterator operator-(iterator it, difference_type n) noexcept { return it -= n; }
    friend difference_type operator-(iterator a, iterator b) noexcept {
      return (a.p_ - b.p_) / static_cast<difference_type>(stride);
    }
    friend bool operator==(iterator a, iterator b) noexcept { return a.p_ == b.p_; }
    friend std::strong_ordering operator<=>(iterator a, iterator b) noexcept {
      return std::compare_three_way{}(a.p_, b.p_);
    }

   private:
    const std::byte* p_ = nullptr;
  };

  /// Bytes per element in the file (1 for bool).
  static constexpr std::size_t stride = sizeof(T);

  array_view() noexcept = default;
  /// `size` elements stored at `data`.
  array_view(const std::byte* data, std::size_t size) noexcept : data_(data), size_(size) {}

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// Element `i`; `i < size()` is a precondition.
  T operator[](std::size_t i) const noexcept { return detail::load<T>(data_ + i * stride); }
  /// Element `i`; throws std::out_of_range past the end.
  T at(std::size_t i) const {
    if (i >= size_)
      throw std::out_of_range(
          detail::cat("gguf array index ", i, " out of range (size ", size_, ")"));
    return (*this)[i];
  }
  T front() const noexcept { return (*this)[0]; }
  T back() const noexcept { return (*this)[size_ - 1]; }
  iterator begin() const noexcept { return iterator(data_); }
  iterator end() const noexcept { return iterator(data_ + size_ * stride); }
  /// The elements copied into a vector.
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }
  /// The elements' bytes in the file.
  std::span<const std::byte> bytes() const noexcept { return {data_, size_ * stride}; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

static_assert(std::random_access_iterator<array_view<float>::iterator>);

// ----------------------------------------------------------------- value --

class file;

/// One metadata key/value pair, in place in the file.
class value {
 public:
  /// The key ("llama.block_count").
  std::string_view key() const noexcept { return key_; }
  /// The value's type; ARRAY for arrays.
  value_type type() const noexcept { return type_; }
  bool is_array() const noexcept { return type_ == value_type::array; }
  /// The element type of an array; for other values the same as type().
  value_type element_type() const noexcept { return element_type_; }
  /// Number of elements of an array; 1 for other values.
  std::uint64_t size() const noexcept { return count_; }
  /// Offset of the value (after its type field) in the file.
  std::uint64_t file_offset() const noexcept { return offset_; }
  /// The stored bytes: a scalar's bytes, a string's characters, an array's
  /// elements (for an array of strings: from the first length field to the
  /// end of the last string).
  std::span<const std::byte> raw() const noexcept {
    return {data_, static_cast<std::size_t>(size_bytes_)};
  }
  /// "UINT32", "STRING", "ARRAY[FLOAT32]", ...
  std::string type_name() const {
    if (!is_array()) return std::string(to_string(type_));
    return detail::cat("ARRAY[", to_string(element_type_), "]");
  }

  /// The value as a T; its type must be exactly value_type_of<T> (e.g.
  /// UINT32 for std::uint32_t, STRING for std::string_view).
  template <metadata_value T>
  T get() const {
    expect(value_type_of<T>);
    if constexpr (std::same_as<T, std::string_view>) {
      return {reinterpret_cast<const char*>(data_), static_cast<std::size_t>(size_bytes_)};
    } else {
      return detail::load<T>(data_);
    }
  }

  /// A STRING value (a view into the file).
  std::string_view get_string() const { return get<std::string_view>(); }

  /// Any integer-typed value (UINT8 .. INT64) converted to T; throws when the
  /// type is not an integer type or the value does not fit in T.
  template <integer_value T>
  T get_integer() const {
    if (!is_integer(type_))
      fail(detail::cat("key ", detail::quoted(key_), " has type ", type_name(),
                       ", not an integer type as requested"));
    auto convert = [&](auto v) -> T {
      if (!std::in_range<T>(v))
        fail(detail::cat("key ", detail::quoted(key_), ": value ", v, " (", type_name(),
                         ") does not fit in ", detail::integer_name<T>()));
      return static_cast<T>(v);
    };
    switch (type_) {
      case value_type::uint8:
        return convert(detail::load<std::uint8_t>(data_));
      case value_type::int8:
        return convert(detail::load<std::int8_t>(data_));
      case value_type::uint16:
        return convert(detail::load<std::uint16_t>(data_));
      case value_type::int16:
        return convert(detail::load<std::int16_t>(data_));
      case value_type::uint32:
        return convert(detail::load<std::uint32_t>(data_));
      case value_type::int32:
        return convert(detail::load<std::int32_t>(data_));
      case value_type::uint64:
        return convert(detail::load<std::uint64_t>(data_));
      default:
        return convert(detail::load<std::int64_t>(data_));
    }
  }

  /// An ARRAY whose elements have type value_type_of<T>.
  template <scalar_value T>
  array_view<T> get_array() const {
    expect_array(value_type_of<T>);
    return array_view<T>(data_, static_cast<std::size_t>(count_));
  }

  /// An ARRAY of STRING: views into the file.
  std::span<const std::string_view> get_string_array() const {
    expect_array(value_type::string);
    return strings_;
  }

 private:
  friend class file;
  value() = default;  // made by file only

  [[noreturn]] void fail(const std::string& message) const {
    throw gguf_error(detail::cat("gguf: ", *source_, ": ", message));
  }
  void expect(value_type wanted) const {
    if (type_ != wanted)
      fail(detail::cat("key ", detail::quoted(key_), " has type ", type_name(), ", not ",
                       to_string(wanted), " as requested"));
  }
  void expect_array(value_type wanted) const {
    if (type_ != value_type::array || element_type_ != wanted)
      fail(detail::cat("key ", detail::quoted(key_), " has type ", type_name(), ", not ARRAY[",
                       to_string(wanted), "] as requested"));
  }

  const std::string* source_ = nullptr;
  std::string_view key_;
  value_type type_ = value_type::uint8;
  value_type element_type_ = value_type::uint8;
  std::uint64_t count_ = 1;
  std::uint64_t offset_ = 0;
  const std::byte* data_ = nullptr;
  std::uint64_t size_bytes_ = 0;
  std::size_t strings_first_ = 0;  // into file::strings_, for string arrays
  std::span<const std::string_view> strings_;
};

// ----------------------------------------------------------- tensor_info --

/// One tensor: its description and its data in place in the file.
struct tensor_info {
  std::string_view name;
  quant::ggml_type type = quant::ggml_type::f32;
  std::uint32_t n_dims = 0;
  /// Dimensions, fastest-varying first as stored (ne[0] is the row length);
  /// entries past n_dims are 1.
  std::array<std::uint64_t, max_dims> ne{1, 1, 1, 1};
  std::uint64_t n_elements = 0;     ///< product of the dimensions
  std::uint64_t n_bytes = 0;        ///< bytes of data
  std::uint64_t offset = 0;         ///< offset in the data section
  std::uint64_t file_offset = 0;    ///< offset in the file
  const std::byte* data = nullptr;  ///< the data (nullptr when n_bytes == 0)

  /// The n_dims stored dimensions, fastest-varying first.
  std::span<const std::uint64_t> dims() const noexcept { return {ne.data(), n_dims}; }
  /// The data as bytes.
  std::span<const std::byte> bytes() const noexcept {
    return {data, static_cast<std::size_t>(n_bytes)};
  }
  /// ggml's name of the type ("Q4_1").
  std::string_view type_name() const noexcept { return quant::to_string(type); }
  /// Elements per row (ne[0]) and number of rows (the other dimensions).
  std::uint64_t row_length() const noexcept { return ne[0]; }
  std::uint64_t n_rows() const noexcept { return ne[1] * ne[2] * ne[3]; }
  /// Bytes per row.
  std::uint64_t row_bytes() const noexcept { return n_rows() == 0 ? 0 : n_bytes / n_rows(); }
};

// ------------------------------------------------------------------ file --

/// A parsed GGUF file. Move-only; see the file comment.
class file {
 public:
  /// Maps and parses the file at `path`. Throws foundry::gguf_error.
  static file open(const std::filesystem::path& path) {
    file f(path.string());
    try {
      f.map_ = io::mapped_file(path);
    } catch (const io_error& e) {
      throw gguf_error(detail::cat("gguf: ", e.what()));
    }
    f.bytes_ = f.map_.bytes();
    f.parse_all();
    return f;
  }

  /// Parses GGUF bytes held by the caller, who keeps them alive and unchanged
  /// while the result is used. `source` names them in messages.
  static file parse(std::span<const std::byte> bytes, std::string source = "<memory>") {
    file f(std::move(source));
    f.bytes_ = bytes;
    f.parse_all();
    return f;
  }

  file(file&&) noexcept = default;
  file& operator=(file&&) noexcept = default;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file() = default;

  // ---- header and layout

  /// The path, or the name given to parse().
  const std::string& source() const noexcept { return *source_; }
  /// Format version (2 or 3).
  std::uint32_t version() const noexcept { return version_; }
  /// Alignment of tensor data (`general.alignment`, default 32).
  std::uint32_t alignment() const noexcept { return alignment_; }
  /// File offset of the data section.
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  /// The whole file.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  /// The data section (empty when the file ends before it).
  std::span<const std::byte> data_section() const noexcept {
    return data_offset_ < bytes_.size() ? bytes_.subspan(static_cast<std::size_t>(data_offset_))
                                        : std::span<const std::byte>{};
  }

  // ---- metadata

  /// All key/value pairs in file order.
  std::span<const value> metadata() const noexcept { return metadata_; }
  /// The pair with key `key`, or nullptr.
  const value* find_value(std::string_view key) const noexcept {
    const auto it = metadata_index_.find(key);
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second];
  }
  bool contains(std::string_view key) const noexcept { return find_value(key) != nullptr; }
  /// The pair with key `key`; throws when there is none.
  const value& at(std::string_view key) const {
    if (const value* v = find_value(key)) return *v;
    fail(detail::cat("key ", detail::quoted(key), " not found"));
  }

  /// The value of `key` as a T (exact type match, see value::get).
  template <metadata_value T>
  T get(std::string_view key) const {
    return at(key).get<T>();
  }
  /// As get(), but nullopt when the key is absent (a wrong type still throws).
  template <metadata_value T>
  std::optional<T> find(std::string_view key) const {
    if (const value* v = find_value(key)) return v->get<T>();
    return std::nullopt;
  }
  std::string_view get_string(std::string_view key) const { return at(key).get_string(); }
  /// Any integer-typed value converted to T with a range check.
  template <integer_value T>
  T get_integer(std::string_view key) const {
    return at(key).get_integer<T>();
  }
  template <scalar_value T>
  array_view<T> get_array(std::string_view key) const {
    return at(key).get_array<T>();
  }
  std::span<const std::string_view> get_string_array(std::string_view key) const {
    return at(key).get_string_array();
  }

  // ---- tensors

  /// All tensors in file order.
  std::span<const tensor_info> tensors() const noexcept { return tensors_; }
  /// The tensor named `name`, or nullptr.
  const tensor_info* find_tensor(std::string_view name) const noexcept {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }
  /// The tensor named `name`; throws when there is none.
  const tensor_info& tensor(std::string_view name) const {
    if (const tensor_info* t = find_tensor(name)) return *t;
    fail(detail::cat("tensor ", detail::quoted(name), " not found"));
  }

 private:
  explicit file(std::string source)
      : source_(std::make_unique<const std::string>(std::move(source))) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw gguf_error(detail::cat("gguf: ", *source_, ": ", message));
  }

  /// Bounds-checked reading from bytes_, with the current item for messages.
  class cursor {
   public:
    explicit cursor(const file& f) noexcept : f_(f) {}

    std::size_t pos() const noexcept { return pos_; }
    std::size_t remaining() const noexcept { return f_.bytes_.size() - pos_; }

    void enter_header() noexcept { section_ = section::header; }
    void enter(bool metadata, std::uint64_t index) noexcept {
      section_ = metadata ? section::metadata : section::tensor_info;
      index_ = index;
      name_ = {};
    }
    void name(std::string_view n) noexcept { name_ = n; }
    /// Names the array element being read (or none).
    void element(std::optional<std::uint64_t> j) noexcept { element_ = j; }

    /// "header", "key/value #3 'general.name'", "tensor info #0 'output.weight'".
    std::string where() const {
      std::string s;
      switch (section_) {
        case section::header:
          return "header";
        case section::metadata:
          s = detail::cat("metadata key/value #", index_);
          break;
        default:
          s = detail::cat("tensor info #", index_);
          break;
      }
      if (name_.data() != nullptr) s += " " + detail::quoted(name_);
      if (element_) s += detail::cat(", element #", *element_);
      return s;
    }

    /// `n` bytes for `what` (+ `suffix`), or a "truncated" error. The label
    /// comes in two parts so that the hot path builds no string.
    const std::byte* take(std::uint64_t n, std::string_view what, std::string_view suffix = {}) {
      if (n > remaining())
        f_.fail(detail::cat("truncated ", where(), ": ", what, suffix, " at offset ", pos_,
                            " needs ", n, " bytes, but the file has only ", remaining(), " left"));
      const std::byte* p = f_.bytes_.data() + pos_;
      pos_ += static_cast<std::size_t>(n);
      return p;
    }

    template <scalar_value T>
    T read(std::string_view what, std::string_view suffix = {}) {
      return detail::load<T>(take(sizeof(T), what, suffix));
    }

    std::string_view read_string(std::string_view what) {
      const std::size_t at = pos_;
      const auto length = read<std::uint64_t>(what, " length");
      if (length > remaining())
        f_.fail(detail::cat(where(), ": ", what, " at offset ", at, " has length ", length,
                            ", which runs past the end of the file (", remaining(),
                            " bytes left)"));
      const std::byte* p = take(length, what);
      return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(length)};
    }

   private:
    enum class section { header, metadata, tensor_info };
    const file& f_;
    std::size_t pos_ = 0;
    section section_ = section::header;
    std::uint64_t index_ = 0;
    std::string_view name_;
    std::optional<std::uint64_t> element_;
  };

  void parse_all() {
    cursor c(*this);
    parse_header(c);
    parse_metadata(c);
    parse_alignment();
    parse_tensor_infos(c);
    place_tensors(c.pos());
  }

  void parse_header(cursor& c) {
    c.enter_header();
    const auto m = c.read<std::uint32_t>("magic");
    if (m != magic)
      fail(detail::cat("not a GGUF file: bad magic ", detail::hex32(m), " (expected ",
                       detail::hex32(magic), ", \"GGUF\")"));
    version_ = c.read<std::uint32_t>("version");
    if (version_ == 1)
      fail(
          "unsupported GGUF version 1: GGUFv1 files (32-bit lengths) are obsolete; versions 2 "
          "and 3 are supported");
    if (version_ != 2 && version_ != 3) {
      const std::uint32_t swapped = ((version_ & 0xffu) << 24) | ((version_ & 0xff00u) << 8) |
                                    ((version_ >> 8) & 0xff00u) | (version_ >> 24);
      if (swapped == 2 || swapped == 3)
        fail(detail::cat("unsupported GGUF version field ", detail::hex32(version_),
                         ": this is a big-endian GGUF file, only little-endian files are "
                         "supported"));
      fail(detail::cat("unsupported GGUF version ", version_, " (versions 2 and 3 are supported)"));
    }
    tensor_count_ = c.read<std::uint64_t>("tensor count");
    metadata_count_ = c.read<std::uint64_t>("metadata key/value count");
  }

  /// Fewest bytes of one metadata pair: key length (8), value type (4), one
  /// UINT8/INT8/BOOL byte.
  static constexpr std::uint64_t min_metadata_bytes = 8 + 4 + 1;
  /// Fewest bytes of one tensor info: name length (8), n_dims (4), ggml type
  /// (4), data offset (8).
  static constexpr std::uint64_t min_tensor_info_bytes = 8 + 4 + 4 + 8;

  /// Runs `parse_entries`, which reads `count` entries of at least
  /// `min_bytes` each from the `left` bytes that follow. When the count
  /// cannot fit there, the error it ends with (a truncated entry, or the bytes
  /// past the real entries read as garbage: `duplicate key ''`, a huge name
  /// length) is reported as the count's, the first error kept as the detail,
  /// because the count is then corrupt or the file is cut short.
  template <class F>
  void parse_counted(std::string_view what, std::uint64_t count, std::uint64_t min_bytes,
                     std::uint64_t left, F&& parse_entries) {
    if (count <= left / min_bytes) {
      parse_entries();
      return;
    }
    try {
      parse_entries();
    } catch (const gguf_error& e) {
      std::string_view detail = e.what();
      const std::string prefix = detail::cat("gguf: ", *source_, ": ");
      if (detail.starts_with(prefix)) detail.remove_prefix(prefix.size());
      fail(detail::cat("header: ", what, " ", count, " is impossible: each entry takes at least ",
                       min_bytes, " bytes, but only ", left, " bytes follow (room for at most ",
                       left / min_bytes, "); the count is corrupt or the file is truncated; "
                       "reading on failed with: ", detail));
    }
  }

  void parse_metadata(cursor& c) {
    // A count larger than the file can hold is cut short by the end of the
    // file; do not reserve beyond that.
    metadata_.reserve(static_cast<std::size_t>(
        std::min<std::uint64_t>(metadata_count_, c.remaining() / min_metadata_bytes)));
    parse_counted("metadata key/value count", metadata_count_, min_metadata_bytes, c.remaining(),
                  [&] { parse_pairs(c); });
    // String arrays are final now: point each at its run of strings_.
    for (value& v : metadata_)
      if (v.type_ == value_type::array && v.element_type_ == value_type::string)
        v.strings_ = std::span<const std::string_view>(strings_).subspan(
            v.strings_first_, static_cast<std::size_t>(v.count_));
  }

  void parse_pairs(cursor& c) {
    for (std::uint64_t i = 0; i < metadata_count_; ++i) {
      c.enter(true, i);
      value v;
      v.source_ = source_.get();
      v.key_ = c.read_string("key");
      c.name(v.key_);
      const auto raw_type = c.read<std::uint32_t>("value type");
      if (raw_type > static_cast<std::uint32_t>(value_type::float64))
        fail(detail::cat(c.where(), ": unknown value type ", raw_type));
      v.type_ = static_cast<value_type>(raw_type);
      v.element_type_ = v.type_;
      v.offset_ = c.pos();

      if (v.type_ == value_type::string) {
        const std::string_view s = c.read_string("string value");
        v.data_ = reinterpret_cast<const std::byte*>(s.data());
        v.size_bytes_ = s.size();
      } else if (v.type_ == value_type::array) {
        parse_array(c, v);
      } else {
        const std::size_t n = scalar_size(v.type_);
        v.data_ = c.take(n, to_string(v.type_), " value");
        v.size_bytes_ = n;
      }

      if (!metadata_index_.emplace(v.key_, metadata_.size()).second)
        fail(detail::cat(c.where(), ": duplicate key ", detail::quoted(v.key_)));
      metadata_.push_back(v);
    }
  }

  void parse_array(cursor& c, value& v) {
    const auto raw_element = c.read<std::uint32_t>("array element type");
    if (raw_element == static_cast<std::uint32_t>(value_type::array))
      fail(detail::cat(c.where(), ": array of arrays; nested arrays are not supported"));
    if (raw_element > static_cast<std::uint32_t>(value_type::float64))
      fail(detail::cat(c.where(), ": array of unknown value type ", raw_element));
    v.element_type_ = static_cast<value_type>(raw_element);
    const std::size_t count_at = c.pos();
    v.count_ = c.read<std::uint64_t>("array length");
    const std::size_t start = c.pos();

    if (v.element_type_ == value_type::string) {
      // Every string takes at least its 8-byte length.
      if (v.count_ > c.remaining() / 8)
        fail(detail::cat(c.where(), ": array length ", v.count_, " at offset ", count_at,
                         " runs past the end of the file: ", v.count_,
                         " strings need at least 8 bytes each, but only ", c.remaining(),
                         " bytes are left"));
      v.strings_first_ = strings_.size();
      strings_.reserve(strings_.size() + static_cast<std::size_t>(v.count_));
      for (std::uint64_t j = 0; j < v.count_; ++j) {
        c.element(j);
        strings_.push_back(c.read_string("string"));
      }
      c.element(std::nullopt);
      v.data_ = bytes_.data() + start;
      v.size_bytes_ = c.pos() - start;
      return;
    }

    const std::size_t element = scalar_size(v.element_type_);
    const auto bytes = detail::checked_mul(v.count_, element);
    if (!bytes)
      fail(detail::cat(c.where(), ": array length ", v.count_, " at offset ", count_at,
                       " overflows: ", v.count_, " x ", element, " bytes does not fit in 64 bits"));
    if (*bytes > c.remaining())
      fail(detail::cat(c.where(), ": array length ", v.count_, " at offset ", count_at,
                       " runs past the end of the file: ", v.count_, " ",
                       to_string(v.element_type_), " elements take ", *bytes, " bytes, but only ",
                       c.remaining(), " are left"));
    v.data_ = c.take(*bytes, "array elements");
    v.size_bytes_ = *bytes;
  }

  void parse_alignment() {
    const value* a = find_value("general.alignment");
    if (a == nullptr) return;
    if (a->type() != value_type::uint32)
      fail(detail::cat("general.alignment has type ", a->type_name(), "; GGUF requires UINT32"));
    const auto alignment = a->get<std::uint32_t>();
    if (alignment == 0 || !std::has_single_bit(alignment))
      fail(detail::cat("general.alignment ", alignment, " is not a power of two"));
    alignment_ = alignment;
  }

  void parse_tensor_infos(cursor& c) {
    tensors_.reserve(static_cast<std::size_t>(
        std::min<std::uint64_t>(tensor_count_, c.remaining() / min_tensor_info_bytes)));
    parse_counted("tensor count", tensor_count_, min_tensor_info_bytes, c.remaining(),
                  [&] { parse_tensor_entries(c); });
  }

  void parse_tensor_entries(cursor& c) {
    for (std::uint64_t i = 0; i < tensor_count_; ++i) {
      c.enter(false, i);
      tensor_info t;
      t.name = c.read_string("tensor name");
      c.name(t.name);
      const std::string who = detail::cat("tensor ", detail::quoted(t.name));

      t.n_dims = c.read<std::uint32_t>("dimension count");
      if (t.n_dims > max_dims)
        fail(detail::cat(who, " has ", t.n_dims, " dimensions; at most ", max_dims,
                         " are supported"));
      for (std::uint32_t d = 0; d < t.n_dims; ++d) {
        t.ne[d] = c.read<std::uint64_t>(detail::cat("dimension ", d));  // at most 4 per tensor
        if (t.ne[d] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          fail(
              detail::cat(who, ": dimension ", d, " is ", t.ne[d], ", beyond ggml's 63-bit limit"));
      }
      const auto raw_type = c.read<std::uint32_t>("ggml type");
      const quant::ggml_type_traits* traits = quant::find_ggml_type(raw_type);
      if (traits == nullptr) fail(detail::cat(who, " has unknown ggml type ", raw_type));
      t.type = traits->type;
      t.offset = c.read<std::uint64_t>("data offset");

      // Rows and elements both fit (a zero row length must not hide an
      // overflowing row count).
      std::optional<std::uint64_t> rows = 1;
      for (std::uint32_t d = 1; d < max_dims && rows; ++d)
        rows = detail::checked_mul(*rows, t.ne[d]);
      const auto elements = rows ? detail::checked_mul(*rows, t.ne[0]) : std::nullopt;
      if (!rows || !elements ||
          *elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(detail::cat(who, ": element count ", t.ne[0], " x ", t.ne[1], " x ", t.ne[2], " x ",
                         t.ne[3], " overflows"));
      t.n_elements = *elements;
      if (t.ne[0] % traits->block_size != 0)
        fail(detail::cat(who, ": rows of ", t.ne[0], " elements are not a whole number of ",
                         traits->name, " blocks of ", traits->block_size));
      // One row's bytes must fit even when there are no rows: row_bytes() and
      // every consumer that strides by rows compute it.
      const std::uint64_t row_blocks = t.ne[0] / traits->block_size;
      if (!detail::checked_mul(row_blocks, traits->type_size))
        fail(detail::cat(who, ": row size overflows: a row of ", t.ne[0], " elements is ",
                         row_blocks, " ", traits->name, " blocks of ", traits->type_size,
                         " bytes, more than 2^64 bytes"));
      // Rows are whole blocks, so the byte size is (elements / block) * block bytes.
      const std::uint64_t blocks = t.n_elements / traits->block_size;
      const auto bytes = detail::checked_mul(blocks, traits->type_size);
      if (!bytes)
        fail(detail::cat(who, ": byte size overflows: ", t.n_elements, " elements are ", blocks,
                         " ", traits->name, " blocks of ", traits->type_size,
                         " bytes, more than 2^64 bytes"));
      t.n_bytes = *bytes;

      if (!tensor_index_.emplace(t.name, tensors_.size()).second)
        fail(detail::cat(c.where(), ": duplicate tensor name ", detail::quoted(t.name)));
      tensors_.push_back(t);
    }
  }

  void place_tensors(std::size_t header_end) {
    // The data section starts at the next multiple of the alignment.
    const std::uint64_t a = alignment_;
    data_offset_ = (static_cast<std::uint64_t>(header_end) + a - 1) / a * a;
    const std::uint64_t size = bytes_.size();
    const std::uint64_t data_size = data_offset_ < size ? size - data_offset_ : 0;

    for (tensor_info& t : tensors_) {
      const std::string who = detail::cat("tensor ", detail::quoted(t.name));
      if (t.offset % a != 0)
        fail(detail::cat(who, ": data offset ", t.offset, " is not a multiple of the alignment ",
                         a));
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        fail(detail::cat(who, ": data of ", t.n_bytes, " bytes at offset ", t.offset,
                         " of the data section (which starts at file offset ", data_offset_,
                         ") runs past the end of the file (", size, " bytes)"));
      t.file_offset = data_offset_ + t.offset;
      t.data = t.n_bytes != 0 ? bytes_.data() + t.file_offset : nullptr;
    }

    // No two tensors may share bytes.
    std::vector<const tensor_info*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const tensor_info& t : tensors_)
      if (t.n_bytes != 0) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const tensor_info* x, const tensor_info* y) { return x->offset < y->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
      const tensor_info& prev = *by_offset[i - 1];
      const tensor_info& next = *by_offset[i];
      if (prev.offset + prev.n_bytes > next.offset)
        fail(detail::cat("tensors ", detail::quoted(prev.name), " and ", detail::quoted(next.name),
                         " overlap: bytes [", prev.offset, ", ", prev.offset + prev.n_bytes,
                         ") and [", next.offset, ", ", next.offset + next.n_bytes,
                         ") of the data section"));
    }
  }

  std::unique_ptr<const std::string> source_;  // on the heap: values point at it
  io::mapped_file map_;
  std::span<const std::byte> bytes_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = default_alignment;
  std::uint64_t tensor_count_ = 0;
  std::uint64_t metadata_count_ = 0;
  std::uint64_t data_offset_ = 0;
  std::vector<value> metadata_;
  std::unordered_map<std::string_view, std::size_t> metadata_index_;
  std::vector<std::string_view> strings_;  // elements of all string arrays
  std::vector<tensor_info> tensors_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;
};

}  // namespace foundry::gguf
