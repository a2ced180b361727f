// Model metadata validation on the real SmolLM2 file: its hyper-parameters
// patched in place (same value type, so the layout is unchanged) give a
// model_error naming the key and the value. The tiny in-memory model of
// tests/unit/model_metadata_test.cpp covers every check; this one shows the
// real file's layout (30 blocks, tensors present) leads to the same errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <foundry/io/gguf.hpp>

#include "examples/generate/model.hpp"
#include "model/support/model_files.hpp"

namespace {

namespace gguf = foundry::gguf;
namespace gen = foundry::generate;

[[maybe_unused]] auto* const kEnv =
    ::testing::AddGlobalTestEnvironment(new foundry::test::require_model);

/// The model file's bytes, read once.
const std::vector<std::byte>& model_bytes() {
  static const std::vector<std::byte> bytes = [] {
    const std::string path = foundry::test::model_path();
    std::vector<std::byte> b(static_cast<std::size_t>(std::filesystem::file_size(path)));
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return b;
  }();
  return bytes;
}

/// The model with the scalar value of `key` (of type T in the file)
/// replaced by `v`.
template <class T>
std::vector<std::byte> patched(const std::string& key, T v) {
  std::vector<std::byte> bytes = model_bytes();
  const gguf::file f = gguf::file::parse(bytes, "SmolLM2.gguf");
  const gguf::value& at = f.at(key);
  EXPECT_EQ(at.type(), gguf::value_type_of<T>) << key;
  std::memcpy(bytes.data() + at.file_offset(), &v, sizeof v);
  return bytes;
}

std::string load_error(const std::vector<std::byte>& bytes) {
  try {
    (void)gen::llama_model::from_file(gguf::file::parse(bytes, "patched.gguf"));
    return "loaded";
  } catch (const gen::model_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("other exception: ") + e.what();
  }
}

TEST(ModelMetadataRealFile, Unpatched) {
  EXPECT_EQ(load_error(model_bytes()), "loaded");
}

TEST(ModelMetadataRealFile, HugeBlockCount) {
  EXPECT_EQ(load_error(patched<std::uint32_t>("llama.block_count", 0xffffffffu)),
            "model: patched.gguf: llama.block_count = 4294967295: out of the supported range 1 .. "
            "1024");
  EXPECT_EQ(load_error(patched<std::uint32_t>("llama.block_count", 31)),
            "model: patched.gguf: llama.block_count = 31: the file holds tensors for 30 blocks "
            "(blk.0 .. blk.29)");
}

TEST(ModelMetadataRealFile, InfiniteRopeBase) {
  EXPECT_EQ(load_error(patched<float>("llama.rope.freq_base",
                                      std::numeric_limits<float>::infinity())),
            "model: patched.gguf: llama.rope.freq_base = inf: not a finite number");
}

TEST(ModelMetadataRealFile, HugeContextAndHeads) {
  EXPECT_EQ(load_error(patched<std::uint32_t>("llama.context_length", 0xffffffffu)),
            "model: patched.gguf: llama.context_length = 4294967295: out of the supported range 1 "
            ".. 16777216");
  EXPECT_EQ(load_error(patched<std::uint32_t>("llama.attention.head_count_kv", 0)),
            "model: patched.gguf: llama.attention.head_count_kv = 0: out of the supported range 1 "
            ".. 9");
}

}  // namespace
