// The GGUF reader on K-quant tensors (Q4_K, Q5_K, Q6_K): byte sizes from
// the 256-weight super-blocks, data read back, and clear errors for a
// truncated tensor and a row length that is not a whole number of
// super-blocks. Files are built byte by byte here (GGUF v3, no metadata).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <foundry/io/gguf.hpp>
#include <foundry/quant/ggml_blocks.hpp>

namespace gguf = foundry::gguf;
namespace quant = foundry::quant;
using ::testing::HasSubstr;

namespace {

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

/// A GGUF v3 file with one 2-D tensor "ffn_up" of `type`, ne = [cols, rows], and
/// `data_bytes` bytes of data (pattern bytes) after 32-byte alignment.
std::vector<std::byte> one_tensor_file(quant::ggml_type type, std::uint64_t cols, std::uint64_t rows,
                                       std::size_t data_bytes) {
  std::vector<std::byte> out;
  put<std::uint32_t>(out, 0x46554747u);  // "GGUF"
  put<std::uint32_t>(out, 3);
  put<std::uint64_t>(out, 1);  // tensors
  put<std::uint64_t>(out, 0);  // metadata
  const std::string name = "ffn_up";
  put<std::uint64_t>(out, name.size());
  for (char c : name) out.push_back(static_cast<std::byte>(c));
  put<std::uint32_t>(out, 2);
  put<std::uint64_t>(out, cols);
  put<std::uint64_t>(out, rows);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(type));
  put<std::uint64_t>(out, 0);  // offset
  out.resize((out.size() + 31) / 32 * 32);
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::byte>(i * 7 + 1));
  return out;
}

std::string error_of(const std::vector<std::byte>& bytes) {
  try {
    (void)gguf::file::parse(bytes, "kquant.gguf");
    return "parsed";
  } catch (const foundry::gguf_error& e) {
    return e.what();
  }
}

}  // namespace

TEST(GgufKQuants, SizesAndDataOfEachType) {
  for (auto [t, bytes] : {std::pair{quant::ggml_type::q4_k, 144u}, std::pair{quant::ggml_type::q5_k, 176u},
                          std::pair{quant::ggml_type::q6_k, 210u}}) {
    const auto file_bytes = one_tensor_file(t, 512, 3, 3 * 2 * bytes);
    const auto f = gguf::file::parse(file_bytes, "kquant.gguf");
    const auto& w = f.tensor("ffn_up");
    EXPECT_EQ(w.type, t);
    EXPECT_EQ(w.n_bytes, 3u * 2u * bytes) << quant::to_string(t);
    EXPECT_EQ(w.row_bytes(), 2u * bytes);
    EXPECT_EQ(w.type_name(), quant::to_string(t));
    EXPECT_EQ(std::to_integer<int>(w.data[0]), 1);
    // The data dequantizes with the reference codec.
    std::vector<float> y(512 * 3);
    quant::dequantize_row(w.type, w.data, y.data(), y.size());
  }
}

TEST(GgufKQuants, TruncatedTensorIsAnError) {
  const auto bytes = one_tensor_file(quant::ggml_type::q6_k, 256, 4, 4 * 210 - 1);
  const std::string e = error_of(bytes);
  EXPECT_THAT(e, HasSubstr("ffn_up"));
  EXPECT_THAT(e, HasSubstr("840 bytes"));
  EXPECT_THAT(e, HasSubstr("runs past the end of the file"));
}

TEST(GgufKQuants, RowNotWholeSuperBlocksIsAnError) {
  const auto bytes = one_tensor_file(quant::ggml_type::q4_k, 288, 2, 4 * 144);
  const std::string e = error_of(bytes);
  EXPECT_THAT(e, HasSubstr("ffn_up"));
  EXPECT_THAT(e, HasSubstr("288"));
  EXPECT_THAT(e, HasSubstr("Q4_K"));
  EXPECT_THAT(e, HasSubstr("256"));
}
