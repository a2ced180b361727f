// The CUDA target without a GPU: every library alias is emitted with its
// CUDA entry point and compiled by NVRTC for sm_90 (the H100); the entry
// point's ABI; the prelude's layout and half conversions checked by NVRTC
// itself (static_asserts in device code); a compile error mapped to the
// stage that emitted the line; the on-disk cubin cache.
//
// Needs NVRTC only (no driver, no device). Without it the test prints why
// and exits 77.
#include <elf.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <boost/describe/class.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <foundry/backends/cuda/entry.hpp>
#include <foundry/backends/cuda/nvrtc.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

#include "support/simdgroup_matrix_probe.hpp"
#include "support/test_kernels.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fc = foundry::cuda;

namespace {

struct RequireNvrtc : ::testing::Environment {
  void SetUp() override {
    const std::string why = fc::nvrtc_unavailable_reason();
    if (!why.empty()) {
      std::printf("skipped: NVRTC unavailable: %s\n", why.c_str());
      std::fflush(stdout);
      std::exit(FOUNDRY_TEST_SKIP_RETURN_CODE);
    }
  }
};
[[maybe_unused]] auto* const kEnv = ::testing::AddGlobalTestEnvironment(new RequireNvrtc);

constexpr int kArch = 90;  // sm_90: the H100

/// Names of the defined data objects (OBJECT symbols) of an ELF cubin.
std::vector<std::string> defined_objects(const std::string& image) {
  std::vector<std::string> out;
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) return out;
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  for (int i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, image.data() + eh.e_shoff + std::size_t(i) * eh.e_shentsize, sizeof sh);
    if (sh.sh_type != SHT_SYMTAB) continue;
    Elf64_Shdr strtab;
    std::memcpy(&strtab, image.data() + eh.e_shoff + std::size_t(sh.sh_link) * eh.e_shentsize, sizeof strtab);
    for (std::size_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); ++k) {
      Elf64_Sym s;
      std::memcpy(&s, image.data() + sh.sh_offset + k * sizeof(Elf64_Sym), sizeof s);
      if (ELF64_ST_TYPE(s.st_info) == STT_OBJECT && s.st_shndx != SHN_UNDEF)
        out.emplace_back(image.data() + strtab.sh_offset + s.st_name);
    }
  }
  return out;
}

template <class... Ks>
std::vector<fc::compile_input> cuda_inputs(fd::type_list<Ks...>) {
  return {fc::compile_input{&fd::kernel_source_of<Ks, fc::cuda_entry>(), Ks::name.view()}...};
}

TEST(CudaNvrtc, EveryLibraryAliasCompilesForSm90) {
  const auto inputs = cuda_inputs(fk::library{});
  ASSERT_GT(inputs.size(), 0u);
  fc::compile_options o;
  o.arch = kArch;
  const auto images = fc::compile(inputs, o);
  ASSERT_EQ(images.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(std::string(inputs[i].kernel));
    const fc::compiled_kernel& k = *images[i];
    EXPECT_FALSE(k.is_ptx);
    ASSERT_GT(k.image.size(), std::size_t{SELFMAG});
    EXPECT_EQ(std::memcmp(k.image.data(), ELFMAG, SELFMAG), 0) << "not an ELF cubin";
    // The prelude defines no variables: NVRTC would put every one into the
    // module (see msl_prelude.h).
    for (const std::string& sym : defined_objects(k.image))
      EXPECT_EQ(sym.find("5metal"), std::string::npos) << "prelude variable in the module: " << sym;
    if (!k.log.empty()) std::printf("NVRTC log for %s:\n%s\n", std::string(inputs[i].kernel).c_str(), k.log.c_str());
    // The entry point exists under its plain name.
    EXPECT_EQ(inputs[i].source->entry_name, std::string(inputs[i].kernel));
  }
}

// The GEMMs on the GPU tiles (half operands: `threadgroup half*` views of the
// arena, simdgroup_half8x8 products into float accumulators), as the decoder
// prefills on GPU backends; they are not in the library list.
TEST(CudaNvrtc, GpuTileGemmsCompileForSm90) {
  namespace fp = foundry::policies;
  using T = fk::gemm_tile_gpu;
  using kernels = fd::type_list<fk::gemm<fp::f16, T>, fk::gemm<fp::q8_0, T>, fk::gemm<fp::q4_1, T>,
                                fk::gemm_residual<fp::q4_1, T>, fk::rmsnorm_qkv_gemm<fp::q4_1, fp::q4_1, fp::q4_1, T>,
                                fk::rmsnorm_gate_up_swiglu_gemm<fp::q4_1, fk::gemm_tile_gpu_pair>>;
  const auto inputs = cuda_inputs(kernels{});
  fc::compile_options o;
  o.arch = kArch;
  o.disk_cache = false;
  try {
    const auto images = fc::compile(inputs, o);
    ASSERT_EQ(images.size(), inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE(std::string(inputs[i].kernel));
      EXPECT_FALSE(images[i]->is_ptx);
      EXPECT_GT(images[i]->image.size(), std::size_t{SELFMAG});
    }
  } catch (const fc::compile_error& e) {
    FAIL() << e.what();
  }
}

// --- the entry point's ABI --------------------------------------------------------

using foundry::test_kernels::saxpy;
using foundry::test_kernels::saxpy_args;
using foundry::test_kernels::saxpy_params;
using foundry::test_kernels::saxpy_text;

TEST(CudaNvrtc, EntryPointAbi) {
  // Buffers are pointers, a params struct is a by-value P whose address the
  // body gets, builtins come from blockIdx/threadIdx; the first statement
  // waits for the kernels it depends on (programmatic dependent launch).
  const auto& s = fd::kernel_source_of<saxpy, fc::cuda_entry>();
  EXPECT_EQ(s.entry_name, "saxpy");
  EXPECT_NE(s.text.find("extern \"C\" __global__ void saxpy(const device float* x, device float* y, "
                        "constant saxpy_params p) {\n  foundry_cuda_builtin::grid_dependency_sync();\n  "
                        "saxpy_body(x, y, &p, "
                        "foundry_cuda_builtin::thread_position_in_grid());\n}"),
            std::string::npos)
      << s.text;
  // A fused kernel: scalars by value, threadgroup memory as __shared__.
  const std::string e = fc::cuda_entry{}.entry_point(fk::rmsnorm_gemv_f16::signature);
  EXPECT_NE(e.find("extern \"C\" __global__ void rmsnorm_gemv_f16("), std::string_view::npos) << e;
  EXPECT_NE(e.find("constant uint n"), std::string_view::npos) << e;
  EXPECT_EQ(e.find("constant uint& n"), std::string_view::npos) << e;
  EXPECT_NE(e.find("__shared__ alignas(16) float tg_rms_partial[32];"), std::string_view::npos) << e;
  EXPECT_NE(e.find("foundry_cuda_builtin::simdgroup_index_in_threadgroup()"), std::string_view::npos) << e;
  // The body is the same text on every target.
  const std::string& fused = fd::kernel_source_of<fk::rmsnorm_gemv_f16, fc::cuda_entry>().text;
  EXPECT_NE(fused.find(std::string(fk::rmsnorm_gemv_f16::body_source())), std::string::npos);

  fc::compile_options o;
  o.arch = kArch;
  const fc::compile_input in{&s, "saxpy"};
  EXPECT_FALSE(fc::compile(std::span<const fc::compile_input>(&in, 1), o).front()->image.empty());
}

// Stages with a prefetch snippet (the GEMVs: dsl/stage.hpp) get a
// `<name>_prefetch` function, called before the entry point waits for the
// kernel before it; `cuda_entry(false)` leaves both out, and kernels without
// one (saxpy) have none. NVRTC compiles both forms.
TEST(CudaNvrtc, PrefetchRunsBeforeTheDependencyWait) {
  auto check = []<class K>() {
    const std::string name(K::name.view());
    SCOPED_TRACE(name);
    EXPECT_TRUE(K::signature.prefetch);
    const std::string& with = fd::kernel_source_of<K, fc::cuda_entry>().text;
    const std::string without = fd::make_kernel_source<K>(fc::cuda_entry{false}).text;
    const std::size_t defined = with.find("ALWAYS_INLINE void " + name + "_prefetch(");
    const std::size_t entry = with.find("extern \"C\" __global__ void " + name + "(");
    const std::size_t called = with.find("  " + name + "_prefetch(", entry);
    const std::size_t waits = with.find(fc::cuda_entry::grid_dependency_call, entry);
    ASSERT_NE(defined, std::string::npos) << with;
    ASSERT_NE(entry, std::string::npos) << with;
    ASSERT_NE(called, std::string::npos) << with;
    ASSERT_NE(waits, std::string::npos) << with;
    EXPECT_LT(defined, entry);
    EXPECT_LT(called, waits);
    EXPECT_NE(with.find("foundry_prefetch_rows("), std::string::npos);
    EXPECT_EQ(without.find("_prefetch("), std::string::npos) << without;
    EXPECT_NE(without.find(fc::cuda_entry::grid_dependency_call), std::string::npos);
    EXPECT_NE(without.find(std::string(K::body_source())), std::string::npos);
    fc::compile_options o;
    o.arch = kArch;
    fd::kernel_source src = fd::make_kernel_source<K>(fc::cuda_entry{false});
    const fc::compile_input in{&src, K::name.view()};
    EXPECT_FALSE(fc::compile(std::span<const fc::compile_input>(&in, 1), o).front()->image.empty());
  };
  check.template operator()<fk::rmsnorm_gemv_f16>();
  check.template operator()<fk::rmsnorm_qkv_q4_1>();
  check.template operator()<fk::gemv_q4_1>();
  check.template operator()<fk::attention_split_f32_position_buffer>();
  EXPECT_FALSE(saxpy::signature.prefetch);
  EXPECT_EQ((fd::kernel_source_of<saxpy, fc::cuda_entry>().text.find("_prefetch(")), std::string::npos);
}

// --- the prelude, checked by NVRTC ----------------------------------------------------

// A standalone kernel whose body is static_asserts: layout as in Metal
// (docs/msl-subset.md), constants, and half conversions of tricky values
// (RNE ties, subnormals, overflow, NaN) against the host's foundry::half.
struct probe_args {
  fd::output<float> y;
};
BOOST_DESCRIBE_STRUCT(probe_args, (), (y))

std::string prelude_probe_text() {
  std::string s = R"(static_assert(sizeof(half) == 2 && sizeof(bfloat) == 2);
static_assert(sizeof(float2) == 8 && alignof(float2) == 8);
static_assert(sizeof(float3) == 16 && alignof(float3) == 16);
static_assert(sizeof(float4) == 16 && alignof(float4) == 16);
static_assert(sizeof(half3) == 8 && sizeof(half4) == 8 && sizeof(uchar3) == 4);
static_assert(sizeof(packed_float3) == 12 && alignof(packed_float3) == 4);
static_assert(sizeof(ulong) == 8 && sizeof(long) == 8 && sizeof(uint) == 4);
static_assert(numeric_limits<half>::max() == half(65504.0f) && numeric_limits<half>::digits == 11);
static_assert(float(HALF_EPSILON) == 0.0009765625f && float(HALF_MIN) == 6.103515625e-05f);
static_assert(numeric_limits<uint>::max() == 4294967295u && numeric_limits<int>::lowest() == -2147483647 - 1);
static_assert(INFINITY > FLT_MAX && NAN != NAN && M_PI_F > 3.14159f && M_PI_F < 3.1416f);
static_assert(float(half(1.5f) * half(2)) == 3.0f && float(half(1) / half(3)) == float(half(0.333333343f)));
static_assert(float(half(-2.0f)) == -2.0f && float(-half(2.0f)) == -2.0f);
static_assert(float(bfloat(1.0f)) == 1.0f);
)";
  // Values around every rounding boundary the conversion has.
  std::vector<float> values = {0.0f,        -0.0f,       1.0f,         65504.0f,    65519.99f,  65520.0f,
                               -65520.0f,   1e-8f,       2.9802322e-8f, 2.9802326e-8f, 5.9604645e-8f,
                               6.0975552e-5f, 6.1035156e-5f, 1.00048828125f, 1.00146484375f, 0.1f,
                               3.14159265f, 1e30f,       -1e-30f,      2049.0f,     2051.0f,    4097.0f};
  std::mt19937 g(12345);
  std::uniform_real_distribution<float> d(-70000.0f, 70000.0f);
  for (int i = 0; i < 40; ++i) values.push_back(d(g) * (i % 2 ? 1e-5f : 1.0f));
  char buf[160];
  for (float v : values) {
    const fd::half h(v);
    const std::uint16_t bits = h.bits();
    std::snprintf(buf, sizeof buf, "static_assert(half(%.9ef).bits_ == 0x%04xu);\n", double(v), unsigned(bits));
    s += buf;
    const float back = float(h);
    if (std::isinf(back))
      std::snprintf(buf, sizeof buf, "static_assert(float(half::from_bits(0x%04xu)) == %sINFINITY);\n",
                    unsigned(bits), back < 0 ? "-" : "");
    else
      std::snprintf(buf, sizeof buf, "static_assert(float(half::from_bits(0x%04xu)) == %.9ef);\n", unsigned(bits),
                    double(back));
    s += buf;
  }
  s += "ALWAYS_INLINE void prelude_probe_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {\n"
       "  y[thread_position_in_grid.x] = float(half(thread_position_in_grid.x)) + float(simd_sum(1u));\n}\n";
  return s;
}

TEST(CudaNvrtc, PreludeLayoutAndHalfConversionsCheckedByNvrtc) {
  static const std::string text = prelude_probe_text();
  // Built by hand from a standalone kernel's pieces (the text is run-time).
  using probe = fd::standalone_kernel<"prelude_probe", probe_args, fd::per_element<fd::size_const<32>, 32>,
                                      fd::source_piece<"probe", saxpy_text>, fd::uses<"thread_position_in_grid">>;
  fd::kernel_source src;
  src.text = std::string(fd::preamble_source) + "\n" + std::string(probe::struct_source()) + "\n" + text + "\n" +
             fc::cuda_entry{}.entry_point(probe::signature);
  src.entry_name = "prelude_probe";
  fc::compile_options o;
  o.arch = kArch;
  o.disk_cache = false;
  const fc::compile_input in{&src, "prelude_probe"};
  try {
    const auto k = fc::compile(std::span<const fc::compile_input>(&in, 1), o).front();
    EXPECT_FALSE(k->image.empty());
  } catch (const fc::compile_error& e) {
    FAIL() << e.what();
  }
}

// The SIMD-group matrix probe (tests/support/simdgroup_matrix_probe.hpp):
// tensor-core path on sm_90 and on sm_75, the oldest NVRTC 13 targets.
TEST(CudaNvrtc, SimdgroupMatrixProbeCompilesForTensorCoreAndShufflePaths) {
  using probe = fd::test_kernels::sgm_probe;
  for (int arch : {90, 75}) {
    SCOPED_TRACE("sm_" + std::to_string(arch));
    fc::compile_options o;
    o.arch = arch;
    o.disk_cache = false;
    const fc::compile_input in{&fd::kernel_source_of<probe, fc::cuda_entry>(), probe::name.view()};
    try {
      const auto k = fc::compile(std::span<const fc::compile_input>(&in, 1), o).front();
      EXPECT_FALSE(k->image.empty());
    } catch (const fc::compile_error& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

// --- compile errors -----------------------------------------------------------------

using foundry::test_kernels::broken_kernel;

TEST(CudaNvrtc, CompileErrorNamesStageAndLine) {
  const auto& src = fd::kernel_source_of<broken_kernel, fc::cuda_entry>();
  fc::compile_options o;
  o.arch = kArch;
  const fc::compile_input in{&src, "broken_kernel"};
  try {
    (void)fc::compile(std::span<const fc::compile_input>(&in, 1), o);
    FAIL() << "expected a compile error";
  } catch (const fd::compile_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stage broken"), std::string::npos) << what;
    EXPECT_NE(what.find("v_value = v_value * ;"), std::string::npos) << what;
    EXPECT_NE(what.find("broken_kernel.metal:"), std::string::npos) << what;
    const auto* ce = dynamic_cast<const fc::compile_error*>(&e);
    ASSERT_NE(ce, nullptr);
    EXPECT_EQ(ce->origin(), "stage broken");
    // The stage's body is one line: that line, then the generated line.
    EXPECT_EQ(ce->stage(), "broken");
    EXPECT_EQ(ce->where().origin_line, 1);
    EXPECT_NE(what.find("\nstage broken, line 1: error: "), std::string::npos) << what;
    EXPECT_NE(what.find("generated source: broken_kernel.metal:" + std::to_string(ce->line())), std::string::npos)
        << what;
    EXPECT_EQ(what.find("stage stage"), std::string::npos) << what;
    EXPECT_NE(std::string(src.line_text(ce->line())).find("v_value = v_value * ;"), std::string::npos);
  }
}

// An error inside a prelude template, instantiated from kernel code, is
// reported at the kernel line that instantiated it.
struct mixed_vector_stage {
  static constexpr fd::fixed_string name = "mixed_vectors";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "$value += (float4(1.0f) + int4(1)).x;";
};
using mixed_vector_kernel = fd::fused_kernel<"mixed_vector_kernel", fk::gemv_dispatch,
                                             fk::gemv_row_major<fd::plain_input<fd::policies::f32>>,
                                             mixed_vector_stage, fd::epi::store<"y">>;

TEST(CudaNvrtc, PreludeErrorIsReportedAtTheKernelLine) {
  const auto& src = fd::kernel_source_of<mixed_vector_kernel, fc::cuda_entry>();
  fc::compile_options o;
  o.arch = kArch;
  const fc::compile_input in{&src, "mixed_vector_kernel"};
  try {
    (void)fc::compile(std::span<const fc::compile_input>(&in, 1), o);
    FAIL() << "expected a compile error (mixed vector element types)";
  } catch (const fc::compile_error& e) {
    EXPECT_EQ(e.origin(), "stage mixed_vectors") << e.what();
    EXPECT_EQ(e.where().origin_line, 1) << e.what();
    EXPECT_NE(std::string(src.line_text(e.line())).find("int4(1)"), std::string::npos) << e.what();
  }
}

// --- the on-disk cache ----------------------------------------------------------------

TEST(CudaNvrtc, DiskCacheStoresReusesAndRepairs) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("foundry-cuda-cache-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fc::compile_options o;
  o.arch = kArch;
  o.cache_dir = dir;
  o.extra = {"-DFOUNDRY_CACHE_TEST=" + std::to_string(::getpid())};  // a key no other run shares
  const fc::compile_input in{&fd::kernel_source_of<saxpy, fc::cuda_entry>(), "saxpy"};
  const std::span<const fc::compile_input> one(&in, 1);

  const auto first = fc::compile(one, o).front();
  EXPECT_FALSE(first->from_disk);
  EXPECT_FALSE(first->from_memory);
  const fs::path file = dir / "cuda" / (first->key + ".cubin");
  ASSERT_TRUE(fs::exists(file)) << file;
  EXPECT_EQ(first->key, fc::cache_key(*in.source, "saxpy", o));

  EXPECT_TRUE(fc::compile(one, o).front()->from_memory);
  fc::clear_memory_cache();
  const auto from_disk = fc::compile(one, o).front();
  EXPECT_TRUE(from_disk->from_disk);
  EXPECT_EQ(from_disk->image, first->image);

  // A damaged file is ignored and replaced.
  fc::clear_memory_cache();
  fs::resize_file(file, fs::file_size(file) / 2);
  const auto rebuilt = fc::compile(one, o).front();
  EXPECT_FALSE(rebuilt->from_disk);
  EXPECT_EQ(rebuilt->image, first->image);
  fc::clear_memory_cache();
  EXPECT_TRUE(fc::compile(one, o).front()->from_disk);
  fs::remove_all(dir);
}

// The cubin cache shares the CPU JIT's safety rules (backends/common/disk_cache.hpp).
TEST(CudaNvrtc, DiskCacheRebuildsNonFilesCleansTempsAndRefusesSharedFolders) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("foundry-cuda-cache-safety-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fc::compile_options o;
  o.arch = kArch;
  o.cache_dir = dir;
  o.extra = {"-DFOUNDRY_CACHE_SAFETY_TEST=" + std::to_string(::getpid())};
  const fc::compile_input in{&fd::kernel_source_of<saxpy, fc::cuda_entry>(), "saxpy"};
  const std::span<const fc::compile_input> one(&in, 1);
  const std::string key = fc::cache_key(*in.source, "saxpy", o);
  const fs::path entry = dir / "cuda" / (key + ".cubin");

  // A folder where the entry should be: removed and rebuilt.
  fs::create_directories(entry / "inside");
  // Temporary files of a process killed mid-write: the stale one goes, the fresh one stays.
  const fs::path stale = dir / "cuda" / (key + ".tmp.999999.0.cubin");
  const fs::path fresh = dir / "cuda" / (key + ".tmp.999999.1.cubin");
  std::ofstream(stale) << "partial";
  std::ofstream(fresh) << "partial";
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(1));
  const auto built = fc::compile(one, o).front();
  EXPECT_FALSE(built->from_disk);
  EXPECT_TRUE(fs::is_regular_file(entry));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  fc::clear_memory_cache();
  EXPECT_TRUE(fc::compile(one, o).front()->from_disk);

  // A cache folder others can write to is refused, naming it and its mode.
  fc::clear_memory_cache();
  fs::permissions(dir / "cuda", fs::perms::all);
  try {
    (void)fc::compile(one, o);
    ADD_FAILURE() << "a world-writable cache folder was used";
  } catch (const foundry::backend_common::unsafe_cache_folder& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((dir / "cuda").string()), std::string::npos) << what;
    EXPECT_NE(what.find("mode 0777"), std::string::npos) << what;
    EXPECT_NE(what.find("FOUNDRY_CACHE_DIR"), std::string::npos) << what;
  }
  // Without the disk cache the folder is not consulted.
  o.disk_cache = false;
  EXPECT_FALSE(fc::compile(one, o).front()->from_disk);
  fs::remove_all(dir);
}

}  // namespace
