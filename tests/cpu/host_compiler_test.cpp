// Host compilers of the CPU backend: every supported compiler that is
// installed builds and runs kernels (g++ 12, clang 14 — which has no
// `_Float16`, so the prelude's storage-only `half` — clang 16 with
// libstdc++ and with libc++); the storage-only `half` converts bit for bit
// like `_Float16`; unsupported compilers are refused when the backend
// starts, with the command, its version and the reason.

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "foundry/metal/half.hpp"
#include "test_support.hpp"

namespace {

using namespace foundry_test;
namespace fs = std::filesystem;

bool installed(const std::string& command) {
  const std::string exe = command.substr(0, command.find(' '));
  return fc::detail::run_process({"sh", "-c", "command -v " + exe}).exit_code == 0;
}

// Conversions through `half` for every input element: float -> half bits,
// half bits -> float bits, double -> half bits, and one half product.
const char* conversion_source = R"(
ALWAYS_INLINE void conv_body(const device uint* fin, const device ushort* hin, const device ulong* din,
                             device ushort* f2h, device uint* h2f, device ushort* d2h, device ushort* mul,
                             constant uint& n, uint i) {
  if (i >= n) return;
  f2h[i] = as_type<ushort>(half(as_type<float>(fin[i])));
  h2f[i] = as_type<uint>(float(as_type<half>(hin[i])));
  d2h[i] = as_type<ushort>(half(as_type<double>(din[i])));
  const half a = as_type<half>(hin[i]), b = as_type<half>(hin[(i * 7919u) % n]);
  mul[i] = as_type<ushort>(half(a * b));
}
)";

fc::kernel_source conversion_kernel() {
  return {"half_conversions",
          std::string(conversion_source) +
              entry("conv", "conv_body((const device uint*)L->args[0], (const device ushort*)L->args[1], "
                            "(const device ulong*)L->args[2], (device ushort*)L->args[3], (device uint*)L->args[4], "
                            "(device ushort*)L->args[5], (device ushort*)L->args[6], *(constant uint*)L->args[7], "
                            "T->thread_position_in_grid.x)"),
          {}};
}

// Inputs that exercise rounding: every half bit pattern, float ties halfway
// between adjacent halves and their float neighbours, doubles just off
// those ties (where rounding through float first would tie and go wrong),
// and random bit patterns.
struct conversion_inputs {
  std::vector<uint32_t> f;
  std::vector<uint16_t> h;
  std::vector<uint64_t> d;
};
conversion_inputs make_inputs(std::size_t n) {
  auto g = rng();
  conversion_inputs in{std::vector<uint32_t>(n), std::vector<uint16_t>(n), std::vector<uint64_t>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const auto hb = static_cast<uint16_t>(i & 0xffffu);
    in.h[i] = hb;
    const float lo = foundry::detail::half_bits_to_float(hb);
    const float hi = foundry::detail::half_bits_to_float(static_cast<uint16_t>(hb + 1u));
    const double mid = (double(lo) + double(hi)) / 2;
    uint32_t fb = 0;
    std::memcpy(&fb, &lo, 4);
    switch ((i >> 16) & 3u) {
      case 0: { const float m = float(mid); std::memcpy(&fb, &m, 4); break; }  // exact float tie
      case 1: { const float m = float(mid); std::memcpy(&fb, &m, 4); fb += (g() & 1) ? 1 : -1; break; }
      default: fb = static_cast<uint32_t>(g()); break;
    }
    in.f[i] = fb;
    const double dv = (i & 1) ? mid * (1 + 0x1p-40) : mid * (1 - 0x1p-40);
    double dd = ((i >> 17) & 1) ? dv : std::ldexp(std::uniform_real_distribution<double>(-1, 1)(g), int(g() % 40) - 26);
    std::memcpy(&in.d[i], &dd, 8);
  }
  return in;
}

// The correctly rounded binary16 bits of d (round to nearest even).
uint16_t reference_double_to_half(double d) {
  if (std::isnan(d)) return 0x7e00;
  if (std::fabs(d) >= 65520.0) return d > 0 ? 0x7c00 : 0xfc00;
  const uint16_t c = foundry::detail::float_to_half_bits(static_cast<float>(d));
  uint16_t best = c;
  double best_err = std::fabs(double(foundry::detail::half_bits_to_float(c)) - d);
  for (int delta : {-1, 1}) {
    const auto o = static_cast<uint16_t>(c + delta);
    if ((o & 0x7fffu) > 0x7c00u || ((o ^ c) & 0x8000u)) continue;
    const double e = std::fabs(double(foundry::detail::half_bits_to_float(o)) - d);
    if (e < best_err || (e == best_err && (o & 1u) == 0)) best = o, best_err = e;
  }
  return best;
}

struct conversion_results {
  std::vector<uint16_t> f2h, d2h, mul;
  std::vector<uint32_t> h2f;
};
conversion_results run_conversions(const fc::jit_options& o, const conversion_inputs& in) {
  const auto n = static_cast<uint32_t>(in.h.size());
  auto m = fc::compile(conversion_kernel(), o);
  conversion_results r{poisoned<uint16_t>(n), poisoned<uint16_t>(n), poisoned<uint16_t>(n), poisoned<uint32_t>(n)};
  run(*m, "conv__cpu",
      {const_cast<uint32_t*>(in.f.data()), const_cast<uint16_t*>(in.h.data()), const_cast<uint64_t*>(in.d.data()),
       r.f2h.data(), r.h2f.data(), r.d2h.data(), r.mul.data(), const_cast<uint32_t*>(&n)},
      {(n + 255) / 256, 1, 1}, {256, 1, 1});
  return r;
}

bool is_nan_half(uint16_t b) { return (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu) != 0; }

// Checks one compiler's conversions against the host references.
void expect_correct_conversions(const conversion_results& r, const conversion_inputs& in) {
  std::size_t bad_f = 0, bad_h = 0, bad_d = 0;
  for (std::size_t i = 0; i < in.h.size(); ++i) {
    float fv;
    std::memcpy(&fv, &in.f[i], 4);
    const uint16_t want_f = foundry::detail::float_to_half_bits(fv);
    if (is_nan_half(want_f) ? !is_nan_half(r.f2h[i]) : r.f2h[i] != want_f) ++bad_f;
    const float hv = foundry::detail::half_bits_to_float(in.h[i]);
    uint32_t want_h;
    std::memcpy(&want_h, &hv, 4);
    if (std::isnan(hv) ? (r.h2f[i] & 0x7fffffffu) <= 0x7f800000u : r.h2f[i] != want_h) ++bad_h;
    double dv;
    std::memcpy(&dv, &in.d[i], 8);
    if (std::isnan(dv) ? !is_nan_half(r.d2h[i]) : r.d2h[i] != reference_double_to_half(dv)) ++bad_d;
  }
  EXPECT_EQ(bad_f, 0u) << "float -> half conversions differ from round-to-nearest-even";
  EXPECT_EQ(bad_h, 0u) << "half -> float conversions are not exact";
  EXPECT_EQ(bad_d, 0u) << "double -> half conversions are not correctly rounded";
}

const std::size_t conversion_count = 1u << 18;

// --- every supported compiler that is installed ------------------------------

class EveryInstalledCompiler : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryInstalledCompiler, BuildsAndRunsKernels) {
  FOUNDRY_SEED_TRACE();
  const std::string cxx = GetParam();
  if (!installed(cxx)) GTEST_SKIP() << cxx << " is not installed on this machine (scripts/setup.sh installs it)";
  fc::jit_options o;
  o.compiler = cxx;
  const fc::host_compiler_id id = fc::check_host_compiler(o);
  EXPECT_GT(id.major, 0) << id.version_line;
  std::cout << "[ compiler ] " << cxx << ": " << id.version_line << "\n";
  const conversion_inputs in = make_inputs(conversion_count);
  expect_correct_conversions(run_conversions(o, in), in);
}

INSTANTIATE_TEST_SUITE_P(Supported, EveryInstalledCompiler,
                         ::testing::Values("g++-12", "clang++-14", "clang++-16", "clang++-16 -stdlib=libc++"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string s = p.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

TEST(StorageHalf, MatchesFloat16BitForBit) {
  FOUNDRY_SEED_TRACE();
  fc::jit_options native;
  native.compiler = "g++";
  if (!installed("g++")) GTEST_SKIP() << "g++ is not installed";
  fc::jit_options soft = native;
  soft.extra_flags.push_back("-DFOUNDRY_MSL_SOFT_HALF");
  const conversion_inputs in = make_inputs(conversion_count);
  const conversion_results a = run_conversions(native, in), b = run_conversions(soft, in);
  // Bit for bit, except that a NaN's payload may differ (Metal does not
  // specify it).
  auto same = [](uint16_t x, uint16_t y) { return x == y || (is_nan_half(x) && is_nan_half(y)); };
  auto same32 = [](uint32_t x, uint32_t y) {
    return x == y || ((x & 0x7fffffffu) > 0x7f800000u && (y & 0x7fffffffu) > 0x7f800000u);
  };
  for (std::size_t i = 0; i < in.h.size(); ++i) {
    ASSERT_TRUE(same(a.f2h[i], b.f2h[i])) << "float bits 0x" << std::hex << in.f[i];
    ASSERT_TRUE(same32(a.h2f[i], b.h2f[i])) << "half bits 0x" << std::hex << in.h[i];
    ASSERT_TRUE(same(a.d2h[i], b.d2h[i])) << "double bits 0x" << std::hex << in.d[i];
    ASSERT_TRUE(same(a.mul[i], b.mul[i])) << "half product at " << i;
  }
  expect_correct_conversions(b, in);
}

// --- refusals -----------------------------------------------------------------

TEST(HostCompiler, ParsesVersionLines) {
  using fam = fc::host_compiler_id::family_t;
  auto g = fc::parse_compiler_version("g++ (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright (C) 2022 Free Software Foundation");
  EXPECT_EQ(g.family, fam::gcc);
  EXPECT_EQ(g.major, 12);
  auto c = fc::parse_compiler_version("Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu\n");
  EXPECT_EQ(c.family, fam::clang);
  EXPECT_EQ(c.major, 14);
  auto a = fc::parse_compiler_version("Apple clang version 15.0.0 (clang-1500.3.9.4)\n");
  EXPECT_EQ(a.family, fam::clang);
  EXPECT_EQ(a.major, 15);
  auto o = fc::parse_compiler_version("icpx (R) 2024.0\n");
  EXPECT_EQ(o.family, fam::other);
}

// A fake compiler: a script that prints `version` for --version and fails
// every compile with `error`.
fs::path fake_compiler(const std::string& name, const std::string& version, const std::string& error) {
  const fs::path p = fs::temp_directory_path() / ("foundry-fake-" + name + "-" + std::to_string(::getpid()));
  std::ofstream(p) << "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '" << version << "'; exit 0; fi\n"
                   << "echo '" << error << "' >&2\nexit 1\n";
  ::chmod(p.c_str(), 0755);
  return p;
}

std::string refusal(const fc::backend_options& o) {
  try {
    fc::make_backend(o);
  } catch (const fc::unsupported_compiler& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HostCompiler, MissingCompilerIsRefusedAtBackendStart) {
  fc::backend_options o;
  o.jit.compiler = "foundry-no-such-compiler++";
  const std::string what = refusal(o);
  EXPECT_NE(what.find("'foundry-no-such-compiler++'"), std::string::npos) << what;
  EXPECT_NE(what.find("did not run"), std::string::npos) << what;
}

TEST(HostCompiler, OldCompilerIsRefusedWithItsVersion) {
  const fs::path p = fake_compiler("old-clang", "clang version 11.1.0", "unused");
  fc::backend_options o;
  o.jit.compiler = p.string();
  const std::string what = refusal(o);
  fs::remove(p);
  EXPECT_NE(what.find("clang version 11.1.0"), std::string::npos) << what;
  EXPECT_NE(what.find("Clang 11 is older than the oldest supported, Clang 14"), std::string::npos) << what;
}

TEST(HostCompiler, CompilerRejectingThePreludeIsRefusedWithTheReason) {
  const fs::path p = fake_compiler("broken-gcc", "g++ (GCC) 12.9.0",
                                   "msl_prelude.h:70:9: error: some feature is not supported on this target");
  fc::backend_options o;
  o.jit.compiler = p.string();
  const std::string what = refusal(o);
  fs::remove(p);
  EXPECT_NE(what.find("g++ (GCC) 12.9.0"), std::string::npos) << what;
  EXPECT_NE(what.find("rejects the MSL prelude"), std::string::npos) << what;
  EXPECT_NE(what.find("some feature is not supported on this target"), std::string::npos) << what;
}

}  // namespace
