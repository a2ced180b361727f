// Golden tests of emitted Metal source and compile-time facts of three
// representative kernels: a standalone kernel, a fused kernel with a
// prologue, a main stage and two epilogues, and a kernel with two policies.
#include <gtest/gtest.h>

#include <boost/describe/class.hpp>
#include <foundry/backends/cpu/entry.hpp>
#include <foundry/backends/metal/entry.hpp>
#include <foundry/dsl/dsl.hpp>
#include <kernels/gemv/gemv.hpp>
#include <kernels/policies/f16.hpp>
#include <kernels/policies/f32.hpp>

#include "support/golden.hpp"

namespace fd = foundry;

// --- 1. standalone: saxpy -----------------------------------------------------

struct saxpy_params {
  float a;
  std::uint32_t n;
};
FOUNDRY_METAL_STRUCT(saxpy_params, (a, n));

struct saxpy_args {
  fd::input<float> x;
  fd::inout<float> y;
  fd::params<saxpy_params> p;
};
BOOST_DESCRIBE_STRUCT(saxpy_args, (), (x, y, p))

inline constexpr std::string_view saxpy_text = R"(ALWAYS_INLINE void saxpy_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {
  const uint i = thread_position_in_grid.x;
  if (i < p->n) y[i] = p->a * x[i] + y[i];
}
)";
using saxpy_piece = fd::source_piece<"saxpy", saxpy_text>;
using saxpy = fd::standalone_kernel<"saxpy", saxpy_args,
                                    fd::per_element<fd::size_field<"p", &saxpy_params::n>>,
                                    saxpy_piece, fd::uses<"thread_position_in_grid">>;

static_assert(saxpy::plan.size() == 3);
static_assert(saxpy::plan[2].kind == fd::arg_kind::bytes && saxpy::plan[2].element_bytes == 8);
static_assert(saxpy::plan[1].mode == fd::access::read_write);

TEST(DslEmit, StandaloneSaxpy) {
  fd::test::expect_golden("saxpy.metal", fd::metal_source<saxpy>());
  const auto& cpu = fd::kernel_source_of<saxpy, fd::cpu::cpu_entry>();
  EXPECT_EQ(cpu.entry_name, "saxpy__cpu");
  EXPECT_NE(cpu.text.find("saxpy_body((const device float*)L->args[0]"), std::string::npos);
}

// --- 2. fused: prologue + main + two epilogues + store --------------------------

// Prologue: inv_rms = 1 / sqrt(mean(x²) + eps), computed by each threadgroup
// (RMSNorm, Zhang & Sennrich 2019), with a threadgroup reduction.
struct test_rms_prologue {
  static constexpr fd::fixed_string name = "rms";
  static constexpr fd::stage_role role = fd::stage_role::prologue;
  using arguments = fd::type_list<fd::arg<"x", fd::input<float, fd::min_elements<fd::size_arg<"k">>>>, fd::arg<"k", fd::scalar<std::uint32_t>>,
                                  fd::arg<"eps", fd::scalar<float>>>;
  using produces = fd::type_list<fd::port<"inv_rms", float>>;
  using threadgroup = fd::type_list<fd::tg_array<"partial", float, 32>>;
  static constexpr std::string_view body = R"(float s = 0.0f;
for (uint i = $thread_index_in_threadgroup; i < $k; i += $threads_per_threadgroup.x) s += $x[i] * $x[i];
s = simd_sum(s);
if ($thread_index_in_simdgroup == 0u) $partial[$simdgroup_index_in_threadgroup] = s;
threadgroup_barrier(mem_flags::mem_threadgroup);
float t = $thread_index_in_simdgroup < $simdgroups_per_threadgroup ? $partial[$thread_index_in_simdgroup] : 0.0f;
t = simd_sum(t);
$inv_rms = rsqrt(t / float($k) + $eps);)";
};

// Epilogue consuming the prologue's port.
struct test_scale_by_inv_rms {
  static constexpr fd::fixed_string name = "scale_by_inv_rms";
  static constexpr fd::stage_role role = fd::stage_role::epilogue;
  using consumes = fd::type_list<fd::port<"inv_rms", float>>;
  using updates = fd::type_list<fd::port<"value", float>>;
  static constexpr std::string_view body = "$value *= $inv_rms;";
};

using rms_gemv_silu = fd::fused_kernel<"rms_gemv_silu",
    fd::simdgroup_per_row<fd::size_arg<"n">, 4>,
    test_rms_prologue,
    fd::kernels::gemv_row_major<fd::plain_input<fd::policies::f16>>,
    test_scale_by_inv_rms,
    fd::epi::bias_add<"bias", "value", true>,
    fd::epi::activation<fd::act::silu>,
    fd::epi::store<"y">>;

static_assert(rms_gemv_silu::threadgroup_memory_bytes == 128);
static_assert(rms_gemv_silu::uses_simdgroups);
// x is shared by the prologue and the GEMV: declared once.
static_assert(rms_gemv_silu::table::size == 8);
static_assert(rms_gemv_silu::table::position("bias_present") == 6);
static_assert(rms_gemv_silu::plan[5].optional && rms_gemv_silu::plan[5].presence_index == 6);

TEST(DslEmit, FusedPrologueMainEpilogues) {
  fd::test::expect_golden("rms_gemv_silu.metal", fd::metal_source<rms_gemv_silu>());
}

TEST(DslEmit, LineMapNamesStages) {
  const auto& src = fd::kernel_source_of<rms_gemv_silu, fd::metal_backend::metal_entry>();
  int found = 0;
  for (int line = 1; line <= static_cast<int>(fd::count_lines(src.text)); ++line) {
    const auto text = src.line_text(line);
    if (text.find("$partial") != std::string_view::npos) ADD_FAILURE() << "unresolved placeholder";
    if (text.find("rsqrt(") != std::string_view::npos) {
      EXPECT_EQ(src.origin_of(line), "stage rms");
      ++found;
    }
    if (text.find("ActSiLU::apply(v_value)") != std::string_view::npos) {
      EXPECT_EQ(src.origin_of(line), "stage activation");
      ++found;
    }
    if (text.find("struct PolicyF16") != std::string_view::npos) {
      EXPECT_EQ(src.origin_of(line), "helper policy_f16");
      ++found;
    }
  }
  EXPECT_EQ(found, 3);
}

// --- 3. two policies in one kernel ------------------------------------------------

// Main stage: value = dot(A[row], x) + dot(B[row], x), A in F16, B in F32.
struct test_two_policy_dot {
  static constexpr fd::fixed_string name = "two_policy_dot";
  static constexpr fd::stage_role role = fd::stage_role::main;
  using policies = fd::type_list<fd::policies::f16, fd::policies::f32>;
  using arguments = fd::type_list<fd::arg<"a", fd::input<std::byte>>, fd::arg<"b", fd::input<std::byte>>,
                                  fd::arg<"x", fd::input<float>>, fd::arg<"n", fd::scalar<std::uint32_t>>,
                                  fd::arg<"k", fd::scalar<std::uint32_t>>>;
  using produces = fd::type_list<fd::port<"value", float>, fd::port<"row", std::uint32_t>,
                                 fd::port<"row_active", bool>, fd::port<"writer", bool>>;
  static constexpr std::string_view body = R"($row = $threadgroup_position_in_grid.x;
$row_active = $row < $n;
$writer = $row_active && $thread_index_in_simdgroup == 0u;
float acc = 0.0f;
for (uint i = $thread_index_in_simdgroup; $row_active && i < $k; i += 32u) {
  float xi[1] = {$x[i]};
  acc += PolicyF16::dot<1>($a + 2ul * $row * $k, i, xi) + PolicyF32::dot<1>($b + 4ul * $row * $k, i, xi);
}
$value = simd_sum(acc);)";
};

using two_policy = fd::fused_kernel<"two_policy", fd::simdgroup_per_row<fd::size_arg<"n">, 1>,
                                    test_two_policy_dot, fd::epi::store<"y">>;
static_assert(std::is_same_v<two_policy::policies, fd::type_list<fd::policies::f16, fd::policies::f32>>);

TEST(DslEmit, TwoPolicies) {
  fd::test::expect_golden("two_policy.metal", fd::metal_source<two_policy>());
  const std::string& s = fd::metal_source<two_policy>();
  EXPECT_LT(s.find("struct PolicyF16"), s.find("struct PolicyF32"));
}

// --- arguments bound by name ----------------------------------------------------

TEST(DslArguments, ValuesAndDispatch) {
  rms_gemv_silu::arguments args;
  args.set<"n">(576u).set<"k">(576u).set<"eps">(1e-5f);
  EXPECT_EQ(args.get<"n">().value, 576u);
  const fd::dispatch_size d = rms_gemv_silu::dispatch::compute(args);
  EXPECT_EQ(d.threadgroups_per_grid.x, 144u);
  EXPECT_EQ(d.threads_per_threadgroup.x, 128u);
  EXPECT_NO_THROW(fd::check_dispatch("rms_gemv_silu", d, true));
  args.set<"n">(0u);
  EXPECT_THROW(fd::check_dispatch("rms_gemv_silu", rms_gemv_silu::dispatch::compute(args), true),
               fd::dispatch_error);
  int seen = 0;
  args.for_each([&](const fd::binding& b, const auto&) { seen += b.name.size() > 0; });
  EXPECT_EQ(seen, 8);
}

TEST(DslSimdReduce, Ladder) {
  EXPECT_EQ(fd::simd_reduce_ladder(fd::reduce_op::add, "v", 8),
            "v += simd_shuffle_xor(v, 4u);\nv += simd_shuffle_xor(v, 2u);\nv += simd_shuffle_xor(v, 1u);\n");
  EXPECT_EQ(fd::simd_reduce_ladder(fd::reduce_op::max, "m", 2), "m = max(m, simd_shuffle_xor(m, 1u));\n");
}
