// The GGUF writer (foundry/io/gguf_writer.hpp) against the reader
// (foundry/io/gguf.hpp): every metadata value type, arrays of each, string
// arrays, copies of read values, tensors of several ggml types (K-quants
// included) at the default and a larger alignment; writing to a file; and
// the writer's errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <unistd.h>
#include <string>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/io/gguf_writer.hpp>

namespace gguf = foundry::gguf;
namespace quant = foundry::quant;
using quant::ggml_type;
using ::testing::HasSubstr;

namespace {

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed * 17 + 5) & 0xff);
  return v;
}

gguf::writer sample_writer(std::uint32_t alignment) {
  gguf::writer w;
  w.add<std::uint8_t>("u8", 250);
  w.add<std::int8_t>("i8", -100);
  w.add<std::uint16_t>("u16", 65000);
  w.add<std::int16_t>("i16", -32000);
  w.add<std::uint32_t>("u32", 4000000000u);
  w.add<std::int32_t>("i32", -2000000000);
  w.add<float>("f32", 1.5f);
  w.add<bool>("yes", true);
  w.add<bool>("no", false);
  w.add("str", std::string_view{"héllo"});
  w.add<std::uint64_t>("u64", 18000000000000000000ull);
  w.add<std::int64_t>("i64", -9000000000000000000ll);
  w.add<double>("f64", -2.25);
  const std::vector<float> fa{1.0f, -2.0f, 3.5f};
  w.add_array<float>("arr.f32", fa);
  const std::vector<std::int32_t> ia{7, -8};
  w.add_array<std::int32_t>("arr.i32", ia);
  const std::vector<std::uint8_t> empty;
  w.add_array<std::uint8_t>("arr.empty", empty);
  const std::vector<std::string_view> sa{"a", "", "long string"};
  w.add_string_array("arr.str", sa);
  if (alignment != 32) w.add<std::uint32_t>("general.alignment", alignment);
  w.add_tensor("f32.t", ggml_type::f32, {3, 2}, pattern(24, 1));
  w.add_tensor("q4_k.t", ggml_type::q4_k, {512, 3}, pattern(6 * 144, 2));
  w.add_tensor("q6_k.t", ggml_type::q6_k, {256}, pattern(210, 3));
  w.add_tensor("q8_0.t", ggml_type::q8_0, {64, 1, 2}, pattern(4 * 34, 4));
  return w;
}

void check_sample(const gguf::file& f, std::uint32_t alignment) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.get<std::uint8_t>("u8"), 250);
  EXPECT_EQ(f.get<std::int8_t>("i8"), -100);
  EXPECT_EQ(f.get<std::uint16_t>("u16"), 65000);
  EXPECT_EQ(f.get<std::int16_t>("i16"), -32000);
  EXPECT_EQ(f.get<std::uint32_t>("u32"), 4000000000u);
  EXPECT_EQ(f.get<std::int32_t>("i32"), -2000000000);
  EXPECT_EQ(f.get<float>("f32"), 1.5f);
  EXPECT_TRUE(f.get<bool>("yes"));
  EXPECT_FALSE(f.get<bool>("no"));
  EXPECT_EQ(f.get_string("str"), "héllo");
  EXPECT_EQ(f.get<std::uint64_t>("u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get<std::int64_t>("i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get<double>("f64"), -2.25);
  EXPECT_EQ(f.get_array<float>("arr.f32").to_vector(), (std::vector<float>{1.0f, -2.0f, 3.5f}));
  EXPECT_EQ(f.get_array<std::int32_t>("arr.i32").to_vector(), (std::vector<std::int32_t>{7, -8}));
  EXPECT_TRUE(f.get_array<std::uint8_t>("arr.empty").empty());
  const auto sa = f.get_string_array("arr.str");
  ASSERT_EQ(sa.size(), 3u);
  EXPECT_EQ(sa[0], "a");
  EXPECT_EQ(sa[1], "");
  EXPECT_EQ(sa[2], "long string");

  struct expect_tensor {
    const char* name;
    ggml_type type;
    std::vector<std::uint64_t> ne;
    std::size_t bytes;
    unsigned seed;
  };
  const expect_tensor ts[] = {{"f32.t", ggml_type::f32, {3, 2}, 24, 1},
                              {"q4_k.t", ggml_type::q4_k, {512, 3}, 6 * 144, 2},
                              {"q6_k.t", ggml_type::q6_k, {256}, 210, 3},
                              {"q8_0.t", ggml_type::q8_0, {64, 1, 2}, 4 * 34, 4}};
  ASSERT_EQ(f.tensors().size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& t = f.tensor(ts[i].name);
    EXPECT_EQ(t.name, f.tensors()[i].name) << "tensor order";
    EXPECT_EQ(t.type, ts[i].type);
    EXPECT_EQ(std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()), ts[i].ne);
    EXPECT_EQ(t.n_bytes, ts[i].bytes);
    EXPECT_EQ(t.file_offset % alignment, 0u);
    const auto want = pattern(ts[i].bytes, ts[i].seed);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), t.bytes().begin())) << ts[i].name;
  }
}

}  // namespace

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensors) {
  for (std::uint32_t alignment : {32u, 64u, 256u}) {
    SCOPED_TRACE(alignment);
    const auto bytes = sample_writer(alignment).bytes();
    EXPECT_EQ(bytes.size() % alignment, 0u) << "the data section ends padded";
    check_sample(gguf::file::parse(bytes, "written.gguf"), alignment);
  }
}

TEST(GgufWriter, CopiesValuesOfAnotherFile) {
  const auto original = sample_writer(64).bytes();
  const auto f = gguf::file::parse(original, "original.gguf");
  gguf::writer w;
  for (const gguf::value& v : f.metadata()) w.add_copy(v);
  for (const gguf::tensor_info& t : f.tensors())
    w.add_tensor_view(t.name, t.type, t.dims(), t.bytes());
  const auto copy = w.bytes();
  EXPECT_EQ(copy, original) << "a value-by-value copy reproduces the file byte for byte";
  check_sample(gguf::file::parse(copy, "copy.gguf"), 64);
}

TEST(GgufWriter, WritesAFile) {
  const auto path = std::filesystem::temp_directory_path() / ("foundry_gguf_writer_" + std::to_string(::getpid()) + ".gguf");
  sample_writer(32).write(path);
  check_sample(gguf::file::open(path), 32);
  std::filesystem::remove(path);
  EXPECT_THROW(sample_writer(32).write("/nonexistent-dir/x.gguf"), foundry::gguf_error);
}

TEST(GgufWriter, Errors) {
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const foundry::gguf_error& e) {
      return e.what();
    }
    return "no error";
  };
  gguf::writer w;
  w.add<std::uint32_t>("k", 1);
  EXPECT_THAT(error_of([&] { w.add<float>("k", 1.0f); }), HasSubstr("duplicate key 'k'"));
  EXPECT_THAT(error_of([&] { w.add<std::uint32_t>("general.alignment", 48); }), HasSubstr("power of two"));
  EXPECT_THAT(error_of([&] { w.add<std::uint64_t>("general.alignment", 64); }), HasSubstr("must be a UINT32"));
  w.add_tensor("t", ggml_type::f32, {4}, pattern(16, 0));
  EXPECT_THAT(error_of([&] { w.add_tensor("t", ggml_type::f32, {4}, pattern(16, 0)); }), HasSubstr("duplicate tensor 't'"));
  EXPECT_THAT(error_of([&] { w.add_tensor("q", ggml_type::q4_k, {288, 2}, pattern(4 * 144, 0)); }),
              HasSubstr("rows of 288 elements are not a whole number of Q4_K blocks of 256"));
  EXPECT_THAT(error_of([&] { w.add_tensor("s", ggml_type::q6_k, {256, 2}, pattern(419, 0)); }),
              HasSubstr("Q6_K data of 512 elements takes 420 bytes, but 419 were given"));
  EXPECT_THAT(error_of([&] { w.add_tensor("d", ggml_type::f32, {1, 1, 1, 1, 1}, pattern(4, 0)); }),
              HasSubstr("5 dimensions"));
  EXPECT_THAT(error_of([&] { w.add_tensor("u", static_cast<ggml_type>(4), {32}, pattern(18, 0)); }),
              HasSubstr("unknown ggml type 4"));
}
