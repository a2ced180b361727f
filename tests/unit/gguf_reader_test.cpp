// GGUF reader (foundry/io/gguf.hpp): a small GGUF file written here (every
// metadata value type, arrays of numbers, bools and strings, four tensors of
// different types and ranks) is read back field by field, then corrupted in
// every way the reader guards against, each giving its own message.
//
// Parsing from memory uses a heap buffer of exactly the file's size, so under
// AddressSanitizer any read past the end is caught (reads past the end of an
// mmap'd file would land in the page's slack, where ASan cannot see them).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace {

namespace gguf = foundry::gguf;
namespace quant = foundry::quant;
using foundry::half;
using gguf::value_type;
using quant::ggml_type;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ----------------------------------------------------------------- writer --

/// Appends little-endian GGUF fields and remembers named positions.
class writer {
 public:
  std::vector<std::byte> out;
  std::map<std::string, std::size_t> at;

  std::size_t pos() const { return out.size(); }
  void mark(const std::string& name) { at[name] = pos(); }

  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if constexpr (std::is_same_v<T, bool>) {
      out.push_back(std::byte{v ? std::uint8_t{1} : std::uint8_t{0}});
    } else {
      const auto* p = reinterpret_cast<const std::byte*>(&v);
      out.insert(out.end(), p, p + sizeof(T));
    }
  }
  void raw(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    out.insert(out.end(), p, p + n);
  }
  void str(std::string_view s) {
    put<std::uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void pad(std::size_t alignment) {
    while (out.size() % alignment != 0) out.push_back(std::byte{0});
  }

  // Metadata pairs. Positions: key:<k> (key length), type:<k> (value type),
  // value:<k> (the value, a string's length, or an array's element type),
  // count:<k> (an array's length).
  void key(const std::string& k, value_type t) {
    mark("key:" + k);
    str(k);
    mark("type:" + k);
    put(static_cast<std::uint32_t>(t));
    mark("value:" + k);
    ++kv_count;
  }
  template <class T>
  void kv(const std::string& k, value_type t, T v) {
    key(k, t);
    put(v);
  }
  void kv_string(const std::string& k, std::string_view v) {
    key(k, value_type::string);
    str(v);
  }
  template <class T>
  void kv_array(const std::string& k, value_type element, const std::vector<T>& v) {
    key(k, value_type::array);
    put(static_cast<std::uint32_t>(element));
    mark("count:" + k);
    put<std::uint64_t>(v.size());
    for (const T& e : v) put(e);
  }
  void kv_strings(const std::string& k, const std::vector<std::string>& v) {
    key(k, value_type::array);
    put(static_cast<std::uint32_t>(value_type::string));
    mark("count:" + k);
    put<std::uint64_t>(v.size());
    for (const auto& s : v) {
      mark("element:" + k + ":" + std::to_string(&s - v.data()));
      str(s);
    }
  }

  std::uint64_t kv_count = 0;
};

template <class T>
void patch(std::vector<std::byte>& bytes, std::size_t at, T v) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

// ---------------------------------------------------------------- fixture --

struct tensor_spec {
  std::string name;
  ggml_type type;
  std::vector<std::uint64_t> dims;
  std::vector<std::byte> data;
  std::uint64_t offset = 0;
};

std::vector<std::byte> as_bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  return {b, b + n};
}

/// The four tensors: F32 [3, 2], F16 [4, 1, 2], Q4_1 [64], Q8_0 [32, 2, 1, 1].
std::vector<tensor_spec> fixture_tensors() {
  std::vector<tensor_spec> t;
  const std::array<float, 6> f32{1, 2, 3, 4, 5, 6};
  t.push_back({"tok.f32", ggml_type::f32, {3, 2}, as_bytes(f32.data(), sizeof f32)});

  std::array<half, 8> f16{};
  for (int k = 0; k < 8; ++k) f16[k] = half(static_cast<float>(k) * 0.25f - 1.0f);
  t.push_back({"blk.0.f16", ggml_type::f16, {4, 1, 2}, as_bytes(f16.data(), sizeof f16)});

  std::array<float, 64> x41{};  // min -1, d = 1/8: exact in Q4_1
  for (int j = 0; j < 64; ++j) x41[j] = static_cast<float>(j % 16) * 0.125f - 1.0f;
  std::array<quant::block_q4_1, 2> q41{};
  quant::q4_1::quantize_row(x41.data(), q41.data(), 64);
  t.push_back({"blk.0.q4_1", ggml_type::q4_1, {64}, as_bytes(q41.data(), sizeof q41)});

  std::array<float, 64> x80{};
  for (int j = 0; j < 64; ++j) x80[j] = static_cast<float>(j - 32) * 0.25f;
  std::array<quant::block_q8_0, 2> q80{};
  quant::q8_0::quantize_row(x80.data(), q80.data(), 64);
  t.push_back({"blk.0.q8_0", ggml_type::q8_0, {32, 2, 1, 1}, as_bytes(q80.data(), sizeof q80)});
  return t;
}

struct fixture_options {
  std::uint32_t version = 3;
  std::optional<std::uint32_t> alignment = 64;  // nullopt: no key, default 32
  bool with_tensors = true;
};

struct fixture {
  std::vector<std::byte> bytes;
  std::map<std::string, std::size_t> at;
  std::vector<tensor_spec> tensors;
  std::uint32_t alignment = 32;
  std::size_t header_end = 0;
  std::uint64_t data_offset = 0;

  std::size_t pos(const std::string& name) const {
    const auto it = at.find(name);
    EXPECT_NE(it, at.end()) << name;
    return it == at.end() ? 0 : it->second;
  }
};

constexpr std::uint64_t u64_big = (std::uint64_t{1} << 63) + 5;
constexpr std::int64_t i64_neg = -(std::int64_t{1} << 62) - 7;

fixture make_fixture(const fixture_options& options = {}) {
  fixture f;
  f.alignment = options.alignment.value_or(gguf::default_alignment);
  if (options.with_tensors) f.tensors = fixture_tensors();

  // Data offsets: in reverse order of the tensor infos, each aligned.
  std::uint64_t data_size = 0;
  for (auto it = f.tensors.rbegin(); it != f.tensors.rend(); ++it) {
    data_size = (data_size + f.alignment - 1) / f.alignment * f.alignment;
    it->offset = data_size;
    data_size += it->data.size();
  }

  writer w;
  w.put<std::uint32_t>(gguf::magic);
  w.mark("version");
  w.put<std::uint32_t>(options.version);
  w.mark("tensor_count");
  w.put<std::uint64_t>(f.tensors.size());
  w.mark("kv_count");
  w.put<std::uint64_t>(0);  // patched below

  w.kv_string("general.architecture", "llama");
  if (options.alignment) w.kv("general.alignment", value_type::uint32, *options.alignment);
  w.kv("test.u8", value_type::uint8, std::uint8_t{200});
  w.kv("test.i8", value_type::int8, std::int8_t{-100});
  w.kv("test.u16", value_type::uint16, std::uint16_t{60000});
  w.kv("test.i16", value_type::int16, std::int16_t{-30000});
  w.kv("test.u32", value_type::uint32, std::uint32_t{4000000000u});
  w.kv("test.i32", value_type::int32, std::int32_t{-2000000000});
  w.kv("test.f32", value_type::float32, 3.5f);
  w.kv("test.bool", value_type::boolean, true);
  w.kv("test.bool_false", value_type::boolean, false);
  w.kv("test.u64", value_type::uint64, u64_big);
  w.kv("test.i64", value_type::int64, i64_neg);
  w.kv("test.f64", value_type::float64, 0.1);
  w.kv("test.small_u32", value_type::uint32, std::uint32_t{200});
  w.kv("test.negative_i8", value_type::int8, std::int8_t{-1});
  w.kv_string("test.string", "h\xc3\xa9llo, w\xc3\xb6rld");
  w.kv_string("test.empty_string", "");
  w.kv_string("test.nul_string", std::string_view("a\0b", 3));
  w.kv_array<float>("test.array.f32", value_type::float32, {1.5f, -2.25f, 1e-30f});
  w.kv_array<std::uint8_t>("test.array.u8_empty", value_type::uint8, {});
  w.kv_array<std::int8_t>("test.array.i8", value_type::int8, {-128, 127});
  w.kv_array<std::uint16_t>("test.array.u16", value_type::uint16, {65535, 1});
  w.kv_array<std::int16_t>("test.array.i16", value_type::int16, {-5, 7});
  w.kv_array<std::uint32_t>("test.array.u32", value_type::uint32, {7});
  w.kv_array<std::int32_t>(
      "test.array.i32", value_type::int32,
      {-1, 0, std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min()});
  w.kv_array<std::uint64_t>("test.array.u64", value_type::uint64,
                            {0, std::numeric_limits<std::uint64_t>::max()});
  w.kv_array<std::int64_t>("test.array.i64", value_type::int64,
                           {std::numeric_limits<std::int64_t>::min()});
  w.kv_array<double>("test.array.f64", value_type::float64, {0.5, -1e300});
  w.kv_array<bool>("test.array.bool", value_type::boolean, {true, false, true});
  w.kv_strings("test.array.strings", {"alpha", "", "\xce\xb3"});
  w.kv_strings("test.array.strings_empty", {});
  patch(w.out, 16, w.kv_count);

  for (const auto& t : f.tensors) {
    w.mark("tensor:" + t.name);
    w.str(t.name);
    w.mark("ndims:" + t.name);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::size_t d = 0; d < t.dims.size(); ++d) {
      w.mark("dim" + std::to_string(d) + ":" + t.name);
      w.put<std::uint64_t>(t.dims[d]);
    }
    w.mark("ggml_type:" + t.name);
    w.put(static_cast<std::uint32_t>(t.type));
    w.mark("offset:" + t.name);
    w.put<std::uint64_t>(t.offset);
  }
  f.header_end = w.pos();
  if (options.with_tensors) {
    w.pad(f.alignment);
    f.data_offset = w.pos();
    w.out.resize(f.data_offset + data_size, std::byte{0});
    for (const auto& t : f.tensors)
      std::memcpy(w.out.data() + f.data_offset + t.offset, t.data.data(), t.data.size());
  } else {
    f.data_offset = (f.header_end + f.alignment - 1) / f.alignment * f.alignment;
  }
  f.bytes = std::move(w.out);
  f.at = std::move(w.at);
  return f;
}

// ----------------------------------------------------------- parse helpers --

/// Parses a copy of `bytes` held in a heap buffer of exactly their size.
class in_memory {
 public:
  explicit in_memory(const std::vector<std::byte>& bytes)
      : size_(bytes.size()), buffer_(std::make_unique<std::byte[]>(bytes.size())) {
    if (size_ != 0) std::memcpy(buffer_.get(), bytes.data(), size_);
  }
  gguf::file parse() const { return gguf::file::parse({buffer_.get(), size_}, "fixture.gguf"); }

 private:
  std::size_t size_;
  std::unique_ptr<std::byte[]> buffer_;
};

/// The message of the gguf_error that parsing `bytes` throws, or "parsed".
std::string error_of(const std::vector<std::byte>& bytes) {
  in_memory m(bytes);
  try {
    (void)m.parse();
    return "parsed";
  } catch (const foundry::gguf_error& e) {
    return e.what();
  }
}

template <class F>
std::string error_of_call(F&& f) {
  try {
    f();
    return "no error";
  } catch (const foundry::gguf_error& e) {
    return e.what();
  }
}

/// A temporary file, removed on destruction.
class temp_file {
 public:
  temp_file(const std::string& name, const std::vector<std::byte>& bytes)
      : path_(std::filesystem::path(::testing::TempDir()) /
              ("foundry_gguf_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::byte> truncated(const std::vector<std::byte>& bytes, std::size_t n) {
  return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}

// ------------------------------------------------------------- read back --

void check_fixture(const gguf::file& g, const fixture& f) {
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), f.alignment);
  EXPECT_EQ(g.data_offset(), f.data_offset);
  EXPECT_EQ(g.data_offset() % f.alignment, 0u);
  EXPECT_EQ(g.size(), f.bytes.size());

  // Metadata, in file order.
  ASSERT_EQ(g.metadata().size(), 32u);
  EXPECT_EQ(g.metadata()[0].key(), "general.architecture");
  EXPECT_EQ(g.metadata()[2].key(), "test.u8");
  EXPECT_EQ(g.metadata().back().key(), "test.array.strings_empty");
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get<std::uint32_t>("general.alignment"), 64u);
  EXPECT_EQ(g.get<std::uint8_t>("test.u8"), 200);
  EXPECT_EQ(g.get<std::int8_t>("test.i8"), -100);
  EXPECT_EQ(g.get<std::uint16_t>("test.u16"), 60000);
  EXPECT_EQ(g.get<std::int16_t>("test.i16"), -30000);
  EXPECT_EQ(g.get<std::uint32_t>("test.u32"), 4000000000u);
  EXPECT_EQ(g.get<std::int32_t>("test.i32"), -2000000000);
  EXPECT_EQ(g.get<float>("test.f32"), 3.5f);
  EXPECT_TRUE(g.get<bool>("test.bool"));
  EXPECT_FALSE(g.get<bool>("test.bool_false"));
  EXPECT_EQ(g.get<std::uint64_t>("test.u64"), u64_big);
  EXPECT_EQ(g.get<std::int64_t>("test.i64"), i64_neg);
  EXPECT_EQ(g.get<double>("test.f64"), 0.1);
  EXPECT_EQ(g.get_string("test.string"), "h\xc3\xa9llo, w\xc3\xb6rld");
  EXPECT_EQ(g.get<std::string_view>("test.string"), "h\xc3\xa9llo, w\xc3\xb6rld");
  EXPECT_EQ(g.get_string("test.empty_string"), "");
  EXPECT_EQ(g.get_string("test.nul_string"), std::string_view("a\0b", 3));

  const gguf::value& u32 = g.at("test.u32");
  EXPECT_EQ(u32.type(), value_type::uint32);
  EXPECT_FALSE(u32.is_array());
  EXPECT_EQ(u32.size(), 1u);
  EXPECT_EQ(u32.type_name(), "UINT32");
  EXPECT_EQ(u32.raw().size(), 4u);
  EXPECT_EQ(u32.file_offset(), f.pos("value:test.u32"));

  // Integer conversions with range checks.
  EXPECT_EQ(g.get_integer<std::uint8_t>("test.small_u32"), 200);
  EXPECT_EQ(g.get_integer<std::int64_t>("test.u32"), 4000000000);
  EXPECT_EQ(g.get_integer<int>("test.i16"), -30000);
  EXPECT_EQ(g.get_integer<std::uint64_t>("test.u64"), u64_big);

  // find: present, absent, wrong type.
  EXPECT_EQ(g.find<std::uint32_t>("test.u32"), 4000000000u);
  EXPECT_EQ(g.find<std::uint32_t>("no.such.key"), std::nullopt);
  EXPECT_EQ(g.find<std::string_view>("general.architecture"), "llama");
  EXPECT_TRUE(g.contains("test.f64"));
  EXPECT_FALSE(g.contains("test.f6"));
  EXPECT_EQ(g.find_value("nope"), nullptr);

  // Arrays.
  const auto f32 = g.get_array<float>("test.array.f32");
  ASSERT_EQ(f32.size(), 3u);
  EXPECT_EQ(f32[0], 1.5f);
  EXPECT_EQ(f32[1], -2.25f);
  EXPECT_EQ(f32[2], 1e-30f);
  EXPECT_EQ(f32.to_vector(), (std::vector<float>{1.5f, -2.25f, 1e-30f}));
  EXPECT_EQ(f32.back(), 1e-30f);
  EXPECT_EQ(f32.end() - f32.begin(), 3);
  EXPECT_EQ(*std::max_element(f32.begin(), f32.end()), 1.5f);
  EXPECT_THROW((void)f32.at(3), std::out_of_range);
  EXPECT_TRUE(g.get_array<std::uint8_t>("test.array.u8_empty").empty());
  EXPECT_EQ(g.get_array<std::int8_t>("test.array.i8").to_vector(),
            (std::vector<std::int8_t>{-128, 127}));
  EXPECT_EQ(g.get_array<std::uint16_t>("test.array.u16").to_vector(),
            (std::vector<std::uint16_t>{65535, 1}));
  EXPECT_EQ(g.get_array<std::int16_t>("test.array.i16").to_vector(),
            (std::vector<std::int16_t>{-5, 7}));
  EXPECT_EQ(g.get_array<std::uint32_t>("test.array.u32").to_vector(),
            (std::vector<std::uint32_t>{7}));
  EXPECT_EQ(g.get_array<std::int32_t>("test.array.i32").to_vector(),
            (std::vector<std::int32_t>{-1, 0, std::numeric_limits<std::int32_t>::max(),
                                       std::numeric_limits<std::int32_t>::min()}));
  EXPECT_EQ(g.get_array<std::uint64_t>("test.array.u64").to_vector(),
            (std::vector<std::uint64_t>{0, std::numeric_limits<std::uint64_t>::max()}));
  EXPECT_EQ(g.get_array<std::int64_t>("test.array.i64")[0],
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(g.get_array<double>("test.array.f64").to_vector(), (std::vector<double>{0.5, -1e300}));
  EXPECT_EQ(g.get_array<bool>("test.array.bool").to_vector(),
            (std::vector<bool>{true, false, true}));
  const auto strings = g.get_string_array("test.array.strings");
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(strings[0], "alpha");
  EXPECT_EQ(strings[1], "");
  EXPECT_EQ(strings[2], "\xce\xb3");
  EXPECT_TRUE(g.get_string_array("test.array.strings_empty").empty());
  const gguf::value& sa = g.at("test.array.strings");
  EXPECT_TRUE(sa.is_array());
  EXPECT_EQ(sa.element_type(), value_type::string);
  EXPECT_EQ(sa.size(), 3u);
  EXPECT_EQ(sa.type_name(), "ARRAY[STRING]");
  // Views point into the file's bytes.
  const std::byte* begin = g.bytes().data();
  const std::byte* end = begin + g.size();
  const auto* s0 = reinterpret_cast<const std::byte*>(strings[0].data());
  EXPECT_TRUE(s0 >= begin && s0 < end);
  EXPECT_TRUE(f32.bytes().data() >= begin && f32.bytes().data() + 12 <= end);

  // Tensors.
  ASSERT_EQ(g.tensors().size(), 4u);
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    const tensor_spec& spec = f.tensors[i];
    const gguf::tensor_info& t = g.tensors()[i];
    SCOPED_TRACE(spec.name);
    EXPECT_EQ(&g.tensor(spec.name), &t);
    EXPECT_EQ(t.name, spec.name);
    EXPECT_EQ(t.type, spec.type);
    EXPECT_EQ(t.n_dims, spec.dims.size());
    EXPECT_EQ(std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()), spec.dims);
    std::uint64_t n = 1;
    for (auto d : spec.dims) n *= d;
    EXPECT_EQ(t.n_elements, n);
    EXPECT_EQ(t.n_bytes, spec.data.size());
    EXPECT_EQ(t.offset, spec.offset);
    EXPECT_EQ(t.file_offset, f.data_offset + spec.offset);
    EXPECT_EQ(t.data, begin + t.file_offset);
    EXPECT_EQ(0, std::memcmp(t.data, spec.data.data(), spec.data.size()));
    EXPECT_EQ(t.row_length(), spec.dims[0]);
    EXPECT_EQ(t.n_rows() * t.row_length(), t.n_elements);
    EXPECT_EQ(t.row_bytes() * t.n_rows(), t.n_bytes);
  }
  EXPECT_EQ(g.tensor("blk.0.q4_1").type_name(), "Q4_1");
  EXPECT_EQ(g.tensor("blk.0.f16").ne, (std::array<std::uint64_t, 4>{4, 1, 2, 1}));
  EXPECT_EQ(g.find_tensor("blk.0.q4_"), nullptr);

  // Data through the reference dequantizers.
  std::vector<float> y(64);
  const auto& q41 = g.tensor("blk.0.q4_1");
  quant::dequantize_row(q41.type, q41.data, y.data(), q41.n_elements);
  for (int j = 0; j < 64; ++j) EXPECT_EQ(y[j], static_cast<float>(j % 16) * 0.125f - 1.0f) << j;
  const auto& q80 = g.tensor("blk.0.q8_0");
  quant::dequantize_row(q80.type, q80.data, y.data(), q80.n_elements);
  for (int j = 0; j < 64; ++j) EXPECT_NEAR(y[j], static_cast<float>(j - 32) * 0.25f, 0.04f) << j;
  const auto& f16 = g.tensor("blk.0.f16");
  quant::dequantize_row(f16.type, f16.data, y.data(), f16.n_elements);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(y[k], static_cast<float>(k) * 0.25f - 1.0f);
  const auto& tf32 = g.tensor("tok.f32");
  quant::dequantize_row(tf32.type, tf32.data, y.data(), tf32.n_elements);
  EXPECT_EQ(std::vector<float>(y.begin(), y.begin() + 6), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(GgufReader, ReadsBackFromMemory) {
  const fixture f = make_fixture();
  in_memory m(f.bytes);
  const gguf::file g = m.parse();
  EXPECT_EQ(g.source(), "fixture.gguf");
  check_fixture(g, f);
}

TEST(GgufReader, ReadsBackFromMappedFile) {
  const fixture f = make_fixture();
  temp_file tmp("readback.gguf", f.bytes);
  const gguf::file g = gguf::file::open(tmp.path());
  EXPECT_EQ(g.source(), tmp.path().string());
  check_fixture(g, f);
}

TEST(GgufReader, MovedFileKeepsViewsValid) {
  const fixture f = make_fixture();
  temp_file tmp("move.gguf", f.bytes);
  gguf::file a = gguf::file::open(tmp.path());
  const auto strings = a.get_string_array("test.array.strings");
  const std::byte* data = a.tensor("tok.f32").data;
  gguf::file b = std::move(a);
  EXPECT_EQ(b.get_string_array("test.array.strings").data(), strings.data());
  EXPECT_EQ(strings[0], "alpha");
  EXPECT_EQ(b.tensor("tok.f32").data, data);
  in_memory m(f.bytes);
  gguf::file c = m.parse();
  c = std::move(b);  // move assignment releases c's own views
  EXPECT_EQ(c.get_string_array("test.array.strings")[0].data(), strings[0].data());
  EXPECT_EQ(c.tensor("tok.f32").data, data);
  EXPECT_EQ(c.source(), tmp.path().string());
}

TEST(GgufReader, Version2AndDefaultAlignment) {
  fixture_options o;
  o.version = 2;
  o.alignment = std::nullopt;
  const fixture f = make_fixture(o);
  in_memory m(f.bytes);
  const gguf::file g = m.parse();
  EXPECT_EQ(g.version(), 2u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_FALSE(g.contains("general.alignment"));
  EXPECT_EQ(g.data_offset() % 32, 0u);
  EXPECT_EQ(g.data_offset(), f.data_offset);
  EXPECT_EQ(g.tensor("blk.0.q4_1").offset % 32, 0u);
  EXPECT_EQ(g.metadata().size(), 31u);
}

TEST(GgufReader, FileWithoutTensors) {
  fixture_options o;
  o.with_tensors = false;
  const fixture f = make_fixture(o);  // ends right after the metadata: no padding
  in_memory m(f.bytes);
  const gguf::file g = m.parse();
  EXPECT_TRUE(g.tensors().empty());
  EXPECT_TRUE(g.data_section().empty());
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
}

// ------------------------------------------------------ accessor errors --

TEST(GgufReader, AccessorErrorsNameKeyAndTypes) {
  const fixture f = make_fixture();
  in_memory m(f.bytes);
  const gguf::file g = m.parse();
  EXPECT_EQ(error_of_call([&] { (void)g.get<float>("test.u32"); }),
            "gguf: fixture.gguf: key 'test.u32' has type UINT32, not FLOAT32 as requested");
  EXPECT_THAT(error_of_call([&] { (void)g.get<std::int32_t>("test.u32"); }),
              HasSubstr("key 'test.u32' has type UINT32, not INT32 as requested"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_string("test.array.strings"); }),
              HasSubstr("key 'test.array.strings' has type ARRAY[STRING], not STRING"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_array<float>("test.array.i32"); }),
              HasSubstr("key 'test.array.i32' has type ARRAY[INT32], not ARRAY[FLOAT32]"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_array<float>("test.f32"); }),
              HasSubstr("key 'test.f32' has type FLOAT32, not ARRAY[FLOAT32]"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_string_array("test.array.f32"); }),
              HasSubstr("has type ARRAY[FLOAT32], not ARRAY[STRING]"));
  EXPECT_THAT(error_of_call([&] { (void)g.find<bool>("test.u8"); }),
              HasSubstr("key 'test.u8' has type UINT8, not BOOL"));
  EXPECT_THAT(error_of_call([&] { (void)g.get<std::uint32_t>("llama.block_count"); }),
              HasSubstr("key 'llama.block_count' not found"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_integer<std::uint8_t>("test.u32"); }),
              HasSubstr("key 'test.u32': value 4000000000 (UINT32) does not fit in uint8"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_integer<std::uint32_t>("test.negative_i8"); }),
              HasSubstr("value -1 (INT8) does not fit in uint32"));
  EXPECT_THAT(error_of_call([&] { (void)g.get_integer<int>("test.f32"); }),
              HasSubstr("key 'test.f32' has type FLOAT32, not an integer type"));
  EXPECT_THAT(error_of_call([&] { (void)g.tensor("output.weight"); }),
              HasSubstr("tensor 'output.weight' not found"));
}

// ------------------------------------------------------------ corruption --

TEST(GgufReader, BadMagic) {
  fixture f = make_fixture();
  f.bytes[0] = std::byte{'X'};
  EXPECT_THAT(error_of(f.bytes), HasSubstr("not a GGUF file: bad magic 0x46554758"));
  temp_file tmp("magic.gguf", f.bytes);
  EXPECT_THAT(error_of_call([&] { (void)gguf::file::open(tmp.path()); }), HasSubstr("bad magic"));
}

TEST(GgufReader, UnsupportedVersions) {
  fixture f = make_fixture();
  patch<std::uint32_t>(f.bytes, f.pos("version"), 1);
  EXPECT_THAT(error_of(f.bytes), HasSubstr("unsupported GGUF version 1: GGUFv1"));
  patch<std::uint32_t>(f.bytes, f.pos("version"), 99);
  EXPECT_THAT(error_of(f.bytes),
              HasSubstr("unsupported GGUF version 99 (versions 2 and 3 are supported)"));
  patch<std::uint32_t>(f.bytes, f.pos("version"), 0);
  EXPECT_THAT(error_of(f.bytes), HasSubstr("unsupported GGUF version 0"));
  patch<std::uint32_t>(f.bytes, f.pos("version"), 0x03000000u);  // 3, big-endian
  EXPECT_THAT(error_of(f.bytes), HasSubstr("this is a big-endian GGUF file"));
}

TEST(GgufReader, TruncatedAtEveryLengthFails) {
  const fixture f = make_fixture();
  for (std::size_t n = 0; n < f.bytes.size(); ++n) {
    const std::string e = error_of(truncated(f.bytes, n));
    ASSERT_THAT(e, StartsWith("gguf: fixture.gguf: ")) << "truncated to " << n;
  }
}

TEST(GgufReader, TruncatedHeader) {
  const fixture f = make_fixture();
  EXPECT_EQ(error_of({}),
            "gguf: fixture.gguf: truncated header: magic at offset 0 needs 4 bytes, but the file "
            "has only 0 left");
  EXPECT_THAT(error_of(truncated(f.bytes, 3)), HasSubstr("truncated header: magic"));
  EXPECT_THAT(error_of(truncated(f.bytes, 6)),
              HasSubstr("truncated header: version at offset 4 needs 4 bytes, but the file has "
                        "only 2 left"));
  EXPECT_THAT(error_of(truncated(f.bytes, 12)),
              HasSubstr("truncated header: tensor count at offset 8"));
  EXPECT_THAT(error_of(truncated(f.bytes, 20)),
              HasSubstr("truncated header: metadata key/value count at offset 16"));
  temp_file empty("empty.gguf", {});
  EXPECT_THAT(error_of_call([&] { (void)gguf::file::open(empty.path()); }),
              HasSubstr("truncated header: magic"));
}

TEST(GgufReader, TruncatedMetadata) {
  const fixture f = make_fixture();
  EXPECT_THAT(error_of(truncated(f.bytes, 27)),
              HasSubstr("truncated metadata key/value #0: key length at offset 24 needs 8 bytes"));
  // A string cut short: its length field points past the end.
  EXPECT_THAT(error_of(truncated(f.bytes, 40)),
              HasSubstr("metadata key/value #0: key at offset 24 has length 20, which runs past "
                        "the end of the file (8 bytes left)"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("value:general.alignment") + 2)),
              HasSubstr("truncated metadata key/value #1 'general.alignment': UINT32 value at "
                        "offset " +
                        std::to_string(f.pos("value:general.alignment")) + " needs 4 bytes"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("type:test.u16") + 1)),
              HasSubstr("key/value #4 'test.u16': value type"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("count:test.array.f32") + 8 + 5)),
              HasSubstr("'test.array.f32': array length 3 at offset " +
                        std::to_string(f.pos("count:test.array.f32")) +
                        " runs past the end of the file: 3 FLOAT32 elements take 12 bytes, but "
                        "only 5 are left"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("value:test.array.f32") + 2)),
              HasSubstr("'test.array.f32': array element type"));
  // Inside the third string of an array: its length says 2 bytes, 1 is left.
  const std::size_t third = f.pos("element:test.array.strings:2");
  EXPECT_THAT(
      error_of(truncated(f.bytes, third + 8 + 1)),
      HasSubstr("'test.array.strings', element #2: string at offset " + std::to_string(third) +
                " has length 2, which runs past the end of the file (1 bytes left)"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("value:test.string") + 8 + 3)),
              HasSubstr("'test.string': string value at offset"));
}

TEST(GgufReader, TruncatedTensorInfosAndData) {
  const fixture f = make_fixture();
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("ggml_type:blk.0.q4_1") + 3)),
              HasSubstr("truncated tensor info #2 'blk.0.q4_1': ggml type at offset"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("dim1:blk.0.f16") + 1)),
              HasSubstr("truncated tensor info #1 'blk.0.f16': dimension 1 at offset"));
  EXPECT_THAT(
      error_of(truncated(f.bytes, f.pos("tensor:tok.f32") + 9)),
      HasSubstr("tensor info #0: tensor name at offset " + std::to_string(f.pos("tensor:tok.f32")) +
                " has length 7, which runs past the end of the file (1 bytes left)"));
  EXPECT_THAT(error_of(truncated(f.bytes, f.pos("offset:blk.0.q8_0") + 7)),
              HasSubstr("truncated tensor info #3 'blk.0.q8_0': data offset at offset"));
  // In the padding: the data section would start past the end of the file.
  EXPECT_THAT(error_of(truncated(f.bytes, f.header_end + 1)),
              HasSubstr("tensor 'tok.f32': data of 24 bytes at offset 256 of the data section "
                        "(which starts at file offset " +
                        std::to_string(f.data_offset) + ") runs past the end of the file (" +
                        std::to_string(f.header_end + 1) + " bytes)"));
  // In the data: the last tensor's bytes are cut.
  EXPECT_THAT(error_of(truncated(f.bytes, f.bytes.size() - 1)),
              HasSubstr("tensor 'tok.f32': data of 24 bytes at offset 256"));
  temp_file tmp("cut.gguf", truncated(f.bytes, f.bytes.size() - 1));
  EXPECT_THAT(error_of_call([&] { (void)gguf::file::open(tmp.path()); }),
              HasSubstr("runs past the end of the file"));
}

TEST(GgufReader, HugeStringLengths) {
  fixture f = make_fixture();
  auto bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("value:test.string"), std::uint64_t{1} << 63);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("key/value #16 'test.string': string value at offset " +
                        std::to_string(f.pos("value:test.string")) +
                        " has length 9223372036854775808, which runs past the end of the file"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("key:general.architecture"),
                       std::numeric_limits<std::uint64_t>::max());
  EXPECT_THAT(error_of(bytes),
              HasSubstr("key/value #0: key at offset 24 has length 18446744073709551615, which "
                        "runs past the end of the file"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("element:test.array.strings:1"), 1000000);
  EXPECT_THAT(error_of(bytes), HasSubstr("element #1: string at offset"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("tensor:blk.0.f16"), std::uint64_t{1} << 40);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor info #1: tensor name at offset " +
                                         std::to_string(f.pos("tensor:blk.0.f16")) +
                                         " has length 1099511627776, which runs past the end"));
}

TEST(GgufReader, HugeArrayCounts) {
  const fixture f = make_fixture();
  const std::size_t count = f.pos("count:test.array.f32");
  auto bytes = f.bytes;
  patch<std::uint64_t>(bytes, count, std::uint64_t{1} << 62);  // x 4 bytes overflows
  EXPECT_THAT(error_of(bytes), HasSubstr("'test.array.f32': array length 4611686018427387904 at "
                                         "offset " +
                                         std::to_string(count) +
                                         " overflows: 4611686018427387904 x 4 bytes does not fit "
                                         "in 64 bits"));
  patch<std::uint64_t>(bytes, count, std::numeric_limits<std::uint64_t>::max());
  EXPECT_THAT(error_of(bytes), HasSubstr("overflows"));
  patch<std::uint64_t>(bytes, count, std::uint64_t{1} << 40);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("array length 1099511627776 at offset " + std::to_string(count) +
                        " runs past the end of the file: 1099511627776 FLOAT32 elements take "
                        "4398046511104 bytes"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("count:test.array.strings"), std::uint64_t{1} << 61);
  EXPECT_THAT(error_of(bytes), HasSubstr("'test.array.strings': array length 2305843009213693952 "
                                         "at offset " +
                                         std::to_string(f.pos("count:test.array.strings")) +
                                         " runs past the end of the file: 2305843009213693952 "
                                         "strings need at least 8 bytes each"));
  bytes = f.bytes;  // a bool array longer than the file
  patch<std::uint64_t>(bytes, f.pos("count:test.array.bool"), bytes.size());
  EXPECT_THAT(error_of(bytes), HasSubstr("BOOL elements take"));
}

TEST(GgufReader, HugeCountsAreReportedAsCounts) {
  // Once reported as a bad tensor-name length or as `duplicate key ''` (the
  // zero bytes past the real pairs read as empty keys).
  // The first error met reading on stays as the detail.
  const fixture f = make_fixture();
  const std::string prefix = "gguf: fixture.gguf: header: ";
  const std::uint64_t after_header = f.bytes.size() - 24;
  auto bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("kv_count"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_THAT(error_of(bytes),
              StartsWith(prefix +
                         "metadata key/value count 18446744073709551615 is impossible: each entry "
                         "takes at least 13 bytes, but only " +
                         std::to_string(after_header) + " bytes follow (room for at most " +
                         std::to_string(after_header / 13) +
                         "); the count is corrupt or the file is truncated; reading on failed "
                         "with: metadata key/value #"));
  patch<std::uint64_t>(bytes, f.pos("kv_count"), after_header / 13 + 1);
  EXPECT_THAT(error_of(bytes), StartsWith(prefix + "metadata key/value count " +
                                          std::to_string(after_header / 13 + 1) +
                                          " is impossible"));

  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("tensor_count"), std::numeric_limits<std::uint64_t>::max());
  const std::uint64_t after_metadata = f.bytes.size() - f.pos("tensor:tok.f32");
  EXPECT_THAT(error_of(bytes),
              StartsWith(prefix +
                         "tensor count 18446744073709551615 is impossible: each entry takes at "
                         "least 24 bytes, but only " +
                         std::to_string(after_metadata) + " bytes follow (room for at most " +
                         std::to_string(after_metadata / 24) + ")"));
  patch<std::uint64_t>(bytes, f.pos("tensor_count"), after_metadata / 24 + 1);
  EXPECT_THAT(error_of(bytes), StartsWith(prefix + "tensor count " +
                                          std::to_string(after_metadata / 24 + 1) +
                                          " is impossible"));
  // A count that fits keeps the plain error: 5 tensors, the fifth read from
  // the padding after the four real ones (an empty name, data overlapping).
  patch<std::uint64_t>(bytes, f.pos("tensor_count"), 5);
  EXPECT_THAT(error_of(bytes), AllOf(StartsWith("gguf: fixture.gguf: tensor"),
                                     Not(HasSubstr("impossible"))));
}

TEST(GgufReader, BadValueTypes) {
  const fixture f = make_fixture();
  auto bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("type:test.f32"), 13);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("metadata key/value #8 'test.f32': unknown value type 13"));
  bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("value:test.array.i32"), 9);
  EXPECT_THAT(error_of(bytes), HasSubstr("'test.array.i32': array of arrays; nested arrays are not "
                                         "supported"));
  bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("value:test.array.i32"), 77);
  EXPECT_THAT(error_of(bytes), HasSubstr("'test.array.i32': array of unknown value type 77"));
}

TEST(GgufReader, DuplicateKeysAndTensorNames) {
  const fixture f = make_fixture();
  auto bytes = f.bytes;
  bytes[f.pos("key:test.u8") + 8 + 5] = std::byte{'i'};  // "test.u8" -> "test.i8"
  EXPECT_THAT(error_of(bytes),
              HasSubstr("metadata key/value #3 'test.i8': duplicate key 'test.i8'"));
  bytes = f.bytes;
  std::memcpy(bytes.data() + f.pos("tensor:blk.0.q8_0") + 8, "blk.0.q4_1", 10);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor info #3 'blk.0.q4_1': duplicate tensor name 'blk.0.q4_1'"));
}

TEST(GgufReader, BadAlignment) {
  const fixture f = make_fixture();
  auto bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("value:general.alignment"), 48);
  EXPECT_THAT(error_of(bytes), HasSubstr("general.alignment 48 is not a power of two"));
  patch<std::uint32_t>(bytes, f.pos("value:general.alignment"), 0);
  EXPECT_THAT(error_of(bytes), HasSubstr("general.alignment 0 is not a power of two"));
  bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("type:general.alignment"), 5);  // INT32
  EXPECT_THAT(error_of(bytes), HasSubstr("general.alignment has type INT32; GGUF requires UINT32"));
  bytes = f.bytes;  // 32 is valid, but the 64-aligned layout stays valid too
  patch<std::uint32_t>(bytes, f.pos("value:general.alignment"), 32);
  EXPECT_EQ(error_of(bytes), "parsed");
}

TEST(GgufReader, BadTensorInfos) {
  const fixture f = make_fixture();
  auto bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("ggml_type:blk.0.f16"), 200);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'blk.0.f16' has unknown ggml type 200"));
  patch<std::uint32_t>(bytes, f.pos("ggml_type:blk.0.f16"), 4);  // Q4_2, removed from ggml
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'blk.0.f16' has unknown ggml type 4"));

  bytes = f.bytes;
  patch<std::uint32_t>(bytes, f.pos("ndims:blk.0.q8_0"), 5);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor 'blk.0.q8_0' has 5 dimensions; at most 4 are supported"));
  patch<std::uint32_t>(bytes, f.pos("ndims:blk.0.q8_0"), 0xffffffffu);
  EXPECT_THAT(error_of(bytes), HasSubstr("has 4294967295 dimensions"));

  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("dim0:tok.f32"), std::uint64_t{1} << 63);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'tok.f32': dimension 0 is 9223372036854775808, "
                                         "beyond ggml's 63-bit limit"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("dim2:blk.0.q8_0"), std::uint64_t{1} << 40);
  patch<std::uint64_t>(bytes, f.pos("dim3:blk.0.q8_0"), std::uint64_t{1} << 40);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'blk.0.q8_0': element count 32 x 2 x "
                                         "1099511627776 x 1099511627776 overflows"));
  bytes = f.bytes;  // no elements, but 2^81 rows
  patch<std::uint64_t>(bytes, f.pos("dim0:blk.0.q8_0"), 0);
  patch<std::uint64_t>(bytes, f.pos("dim2:blk.0.q8_0"), std::uint64_t{1} << 40);
  patch<std::uint64_t>(bytes, f.pos("dim3:blk.0.q8_0"), std::uint64_t{1} << 40);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'blk.0.q8_0': element count 0 x 2 x "
                                         "1099511627776 x 1099511627776 overflows"));
  bytes = f.bytes;  // 3 x 2^61 F32 elements fit in 63 bits, their bytes not in 64
  patch<std::uint64_t>(bytes, f.pos("dim0:tok.f32"), std::uint64_t{1} << 61);
  patch<std::uint64_t>(bytes, f.pos("dim1:tok.f32"), 3);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor 'tok.f32': byte size overflows: 6917529027641081856 elements are "
                        "6917529027641081856 F32 blocks of 4 bytes, more than 2^64 bytes"));
  bytes = f.bytes;  // no elements (no rows), but one row would take 2^64 bytes
  patch<std::uint64_t>(bytes, f.pos("dim0:tok.f32"), std::uint64_t{1} << 62);
  patch<std::uint64_t>(bytes, f.pos("dim1:tok.f32"), 0);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor 'tok.f32': row size overflows: a row of 4611686018427387904 "
                        "elements is 4611686018427387904 F32 blocks of 4 bytes, more than 2^64 "
                        "bytes"));
  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("dim0:blk.0.q4_1"), 48);
  EXPECT_THAT(error_of(bytes), HasSubstr("tensor 'blk.0.q4_1': rows of 48 elements are not a "
                                         "whole number of Q4_1 blocks of 32"));
  bytes = f.bytes;  // more rows than the data holds
  patch<std::uint64_t>(bytes, f.pos("dim1:tok.f32"), 200);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor 'tok.f32': data of 2400 bytes at offset 256 of the data section"));
}

TEST(GgufReader, BadTensorOffsets) {
  const fixture f = make_fixture();
  auto bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("offset:blk.0.q8_0"), 64 * 1000);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensor 'blk.0.q8_0': data of 68 bytes at offset 64000 of the data "
                        "section (which starts at file offset " +
                        std::to_string(f.data_offset) + ") runs past the end of the file (" +
                        std::to_string(f.bytes.size()) + " bytes)"));
  patch<std::uint64_t>(bytes, f.pos("offset:blk.0.q8_0"), std::uint64_t{1} << 63);  // no overflow
  EXPECT_THAT(error_of(bytes), HasSubstr("at offset 9223372036854775808 of the data section"));
  patch<std::uint64_t>(bytes, f.pos("offset:blk.0.q8_0"),
                       std::numeric_limits<std::uint64_t>::max() / 64 * 64);
  EXPECT_THAT(error_of(bytes), HasSubstr("runs past the end of the file"));

  bytes = f.bytes;
  patch<std::uint64_t>(bytes, f.pos("offset:blk.0.q8_0"), 8);
  EXPECT_THAT(
      error_of(bytes),
      HasSubstr("tensor 'blk.0.q8_0': data offset 8 is not a multiple of the alignment 64"));

  bytes = f.bytes;  // Q8_0 occupies [0, 68): Q4_1 at 64 overlaps it
  patch<std::uint64_t>(bytes, f.pos("offset:blk.0.q4_1"), 64);
  EXPECT_THAT(error_of(bytes),
              HasSubstr("tensors 'blk.0.q8_0' and 'blk.0.q4_1' overlap: bytes [0, 68) and [64, "
                        "104) of the data section"));
}

TEST(GgufReader, RandomCorruptionNeverCrashes) {
  // Flipped bytes anywhere in the header, metadata and tensor infos: every
  // outcome is a parsed file or a gguf_error. A parsed file's views are all
  // touched, so AddressSanitizer sees any view outside the buffer.
  const fixture f = make_fixture();
  std::mt19937 gen(2024);
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = f.bytes;
    const int flips = 1 + static_cast<int>(gen() % 4);
    for (int k = 0; k < flips; ++k) {
      const std::size_t at = gen() % f.header_end;
      bytes[at] = gen() % 2 == 0 ? static_cast<std::byte>(gen()) : std::byte{0xff};
    }
    in_memory m(bytes);
    try {
      const gguf::file g = m.parse();
      ++parsed;
      std::size_t sum = 0;
      for (const auto& v : g.metadata()) {
        for (std::byte b : v.raw()) sum += std::to_integer<std::size_t>(b);
        if (v.is_array() && v.element_type() == value_type::string)
          for (auto s : v.get_string_array())
            sum += s.size() != 0 ? static_cast<unsigned char>(s.back()) : 0;
        sum += v.key().size() != 0 ? static_cast<unsigned char>(v.key().back()) : 0;
      }
      for (const auto& t : g.tensors()) {
        sum += t.name.size();
        if (t.n_bytes != 0)
          sum += std::to_integer<std::size_t>(t.data[0]) +
                 std::to_integer<std::size_t>(t.data[t.n_bytes - 1]);
      }
      EXPECT_GE(sum, 0u);
    } catch (const foundry::gguf_error& e) {
      ASSERT_THAT(e.what(), StartsWith("gguf: fixture.gguf: "));
    }
  }
  EXPECT_GT(parsed, 0);  // some flips land in values and leave a valid file
}

TEST(GgufReader, OpenErrors) {
  EXPECT_THAT(error_of_call([] { (void)gguf::file::open("/nonexistent/dir/model.gguf"); }),
              HasSubstr("gguf: cannot open '/nonexistent/dir/model.gguf': No such file or "
                        "directory"));
  EXPECT_THAT(error_of_call([] { (void)gguf::file::open(::testing::TempDir()); }),
              HasSubstr("is not a regular file"));
}

}  // namespace
