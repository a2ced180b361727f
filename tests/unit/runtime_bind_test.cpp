// Binding from the plan: every error names kernel, argument, expected and
// actual; optional buffers get their presence flags; the pipeline cache
// compiles a kernel type once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <foundry/backends/metal/entry.hpp>
#include <foundry/runtime/executor.hpp>
#include <kernels/library.hpp>

namespace fd = foundry;
using ::testing::_;
using ::testing::HasSubstr;

namespace {

class fake_pipeline : public fd::pipeline {
 public:
  explicit fake_pipeline(std::string n) : name_(std::move(n)) {}
  std::string_view name() const noexcept override { return name_; }

 private:
  std::string name_;
};

// Host-memory backend whose compile and dispatch are mocked.
class mock_backend : public fd::backend {
 public:
  std::string_view name() const noexcept override { return "mock"; }
  const fd::entry_writer& entry_points() const noexcept override { return entry_; }
  fd::buffer_info allocate(std::size_t bytes, fd::dtype type) override {
    return {std::calloc(bytes ? bytes : 1, 1), bytes, type, this};
  }
  void release(fd::buffer_info& info) noexcept override { std::free(info.native); }
  void* host_address(const fd::buffer_info& info) const noexcept override { return info.native; }
  void upload(const fd::buffer_info& d, std::size_t off, const void* s, std::size_t n) override {
    std::memcpy(static_cast<char*>(d.native) + off, s, n);
  }
  void download(const fd::buffer_info& s, std::size_t off, void* d, std::size_t n) override {
    std::memcpy(d, static_cast<const char*>(s.native) + off, n);
  }
  std::vector<std::unique_ptr<fd::pipeline>> compile(std::span<const fd::compile_request> reqs) override {
    std::vector<std::unique_ptr<fd::pipeline>> out;
    for (const auto& r : reqs) {
      compiled(std::string(r.kernel));
      out.push_back(std::make_unique<fake_pipeline>(std::string(r.kernel)));
    }
    return out;
  }
  MOCK_METHOD(void, compiled, (std::string kernel));
  MOCK_METHOD(void, dispatch,
              (const fd::pipeline&, std::span<const fd::bound_argument>, const fd::dispatch_size&, std::uint32_t),
              (override));
  void synchronize() override {}

 private:
  fd::metal_backend::metal_entry entry_;
};

using gemv = fd::kernels::gemv_f16;
using gemv_bias = fd::kernels::gemv_f16_bias_silu;

struct fixture : ::testing::Test {
  mock_backend* be = new ::testing::NiceMock<mock_backend>;
  fd::executor ex{std::unique_ptr<fd::backend>(be)};
  std::uint32_t n = 40, k = 64;
  fd::buffer w = ex.allocate<fd::half>(std::size_t{40} * 64);
  fd::buffer x = ex.allocate<float>(64);
  fd::buffer y = ex.allocate<float>(40);

  gemv::arguments args() {
    gemv::arguments a;
    a.set<"w">(w).set<"x">(x).set<"y">(y).set<"n">(n).set<"k">(k);
    return a;
  }
  template <class K>
  std::string error_of(const typename K::arguments& a) {
    try {
      ex.dispatch<K>(a);
    } catch (const fd::binding_error& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST_F(fixture, BindsInPlanOrderAndCompilesOnce) {
  EXPECT_CALL(*be, compiled("gemv_f16")).Times(1);
  EXPECT_CALL(*be, dispatch(_, _, _, 0u))
      .Times(2)
      .WillRepeatedly([&](const fd::pipeline& p, std::span<const fd::bound_argument> b,
                          const fd::dispatch_size& d, std::uint32_t) {
        EXPECT_EQ(p.name(), "gemv_f16");
        ASSERT_EQ(b.size(), 5u);
        EXPECT_EQ(b[0].buffer, &w.info());
        EXPECT_EQ(b[1].buffer, &x.info());
        EXPECT_EQ(*static_cast<const std::uint32_t*>(b[2].bytes), 40u);
        EXPECT_EQ(b[2].size, 4u);
        EXPECT_EQ(b[4].mode, fd::access::write);
        EXPECT_EQ(d.threadgroups_per_grid.x, 10u);
        EXPECT_EQ(d.threads_per_threadgroup.x, 128u);
      });
  ex.dispatch<gemv>(args());
  ex.dispatch<gemv>(args());
}

TEST_F(fixture, MissingBuffer) {
  auto a = args();
  a.get<"x">() = fd::buffer_ref{};
  EXPECT_THAT(error_of<gemv>(a), HasSubstr("kernel gemv_f16, argument x [[buffer(1)]]: no buffer bound"));
}

TEST_F(fixture, WrongElementType) {
  fd::buffer xi = ex.allocate<std::int32_t>(64);
  auto a = args();
  a.set<"x">(xi);
  EXPECT_THAT(error_of<gemv>(a),
              HasSubstr("kernel gemv_f16, argument x [[buffer(1)]]: expected a f32 buffer, got i32 buffer of 256 bytes"));
}

TEST_F(fixture, TooSmall) {
  fd::buffer small = ex.allocate<float>(39);
  auto a = args();
  a.set<"y">(small);
  EXPECT_THAT(error_of<gemv>(a), HasSubstr("argument y [[buffer(4)]]: expected at least 160 bytes (40 elements of float), "
                                           "got f32 buffer of 156 bytes"));
  a = args();
  a.set<"w">(y);  // weights: 40·64 halfs = 5120 bytes; any element type accepted
  EXPECT_THAT(error_of<gemv>(a), HasSubstr("argument w [[buffer(0)]]: expected at least 5120 bytes"));
  a = args();
  a.set<"x">(x.at(8));
  EXPECT_THAT(error_of<gemv>(a), HasSubstr("got f32 buffer of 248 bytes after offset 8"));
}

TEST_F(fixture, OtherBackend) {
  mock_backend other;
  fd::buffer foreign(other, 64 * 4, fd::dtype::f32);
  auto a = args();
  a.set<"x">(foreign);
  EXPECT_THAT(error_of<gemv>(a), HasSubstr("argument x [[buffer(1)]]: the buffer belongs to another backend"));
}

TEST_F(fixture, OptionalBufferPresenceFlag) {
  EXPECT_CALL(*be, compiled("gemv_f16_bias_silu"));
  std::vector<std::uint32_t> flags;
  EXPECT_CALL(*be, dispatch(_, _, _, _))
      .Times(2)
      .WillRepeatedly([&](const fd::pipeline&, std::span<const fd::bound_argument> b, const fd::dispatch_size&,
                          std::uint32_t) {
        constexpr int flag = gemv_bias::table::position("bias_present");
        flags.push_back(*static_cast<const std::uint32_t*>(b[flag].bytes));
        EXPECT_NE(b[flag - 1].buffer, nullptr);  // a dummy stands in for an absent buffer
      });
  fd::buffer bias = ex.allocate<float>(40);
  gemv_bias::arguments a;
  a.set<"w">(w).set<"x">(x).set<"y">(y).set<"n">(n).set<"k">(k);
  ex.dispatch<gemv_bias>(a);
  a.set<"bias">(bias);
  ex.dispatch<gemv_bias>(a);
  EXPECT_EQ(flags, (std::vector<std::uint32_t>{0u, 1u}));
}

TEST_F(fixture, UnsetScalarIsRequired) {
  gemv::arguments a;
  a.set<"w">(w).set<"x">(x).set<"y">(y).set<"n">(n);  // k never set
  EXPECT_CALL(*be, dispatch(_, _, _, _)).Times(0);
  EXPECT_THAT(error_of<gemv>(a),
              HasSubstr("kernel gemv_f16, argument k [[buffer(3)]]: scalar not set (expected a uint value"));
}

// A stage whose scalar `scale` is optional (declared with a default of 1).
struct scale_by {
  static constexpr fd::fixed_string name = "scale_by";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float, fd::min_elements<fd::size_arg<"n">>>>,
                                  fd::arg<"n", fd::scalar<std::uint32_t>>,
                                  fd::arg<"scale", fd::scalar<float, fd::default_value<1>>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body =
      "$row = $thread_position_in_grid.x;\n$row_active = $row < $n;\n$writer = $row_active;\n"
      "$value = $row_active ? $scale * $x[$row] : 0.0f;";
};
using scaled = fd::fused_kernel<"scaled", fd::per_element<fd::size_arg<"n">>, scale_by, fd::epi::store<"y">>;

TEST_F(fixture, DefaultValueMakesScalarOptional) {
  std::vector<float> scales;
  EXPECT_CALL(*be, dispatch(_, _, _, _))
      .Times(2)
      .WillRepeatedly([&](const fd::pipeline&, std::span<const fd::bound_argument> b, const fd::dispatch_size&,
                          std::uint32_t) {
        scales.push_back(*static_cast<const float*>(b[scaled::table::position("scale")].bytes));
      });
  scaled::arguments a;
  a.set<"x">(x).set<"y">(y).set<"n">(40u);
  ex.dispatch<scaled>(a);  // scale unset: its default
  a.set<"scale">(0.5f);
  ex.dispatch<scaled>(a);
  EXPECT_EQ(scales, (std::vector<float>{1.0f, 0.5f}));
  scaled::arguments b;
  b.set<"x">(x).set<"y">(y);  // n has no default
  EXPECT_THAT(error_of<scaled>(b), HasSubstr("kernel scaled, argument n [[buffer(1)]]: scalar not set"));
}

TEST_F(fixture, EmptyGridIsRejected) {
  auto a = args();
  a.set<"n">(0u);
  a.set<"y">(y);
  EXPECT_CALL(*be, compiled(_));
  EXPECT_THROW(ex.dispatch<gemv>(a), fd::dispatch_error);
}

}  // namespace
