// The MSL subset's types, vectors and math (docs/msl-subset.md), each
// compared against a scalar host reference.
//
// The kernels are generated from tables: every feature is one MSL
// expression written to its own output slot, next to the C++ reference
// computing the same value from the same inputs. All kernels are compiled in
// one translation unit (one compiler run).

#include <bit>
#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "support/simdgroup_matrix_probe.hpp"
#include "test_support.hpp"

namespace {

using namespace foundry_test;
__extension__ typedef _Float16 f16;

struct in4 {
  float a[4], b[4];
  uint32_t i;
};

struct feature {
  std::string expr;                        // MSL, sees a, b, c (float4), i (uint)
  std::function<double(const in4&)> ref;  // host reference
  double tol = 1e-6;                       // relative tolerance
};

float bf16_round(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  return std::bit_cast<float>(u);
}
float h(float x) { return static_cast<float>(static_cast<f16>(x)); }

std::vector<feature> vector_features() {
  using I = const in4&;
  std::vector<feature> f;
  // Constructors and component access.
  for (int k = 0; k < 4; ++k) f.push_back({"a[" + std::to_string(k) + "]", [k](I x) { return x.a[k]; }});
  f.push_back({"float4(a.x).w", [](I x) { return x.a[0]; }});
  f.push_back({"float4(a.xy, b.zw).z", [](I x) { return x.b[2]; }});
  f.push_back({"float4(a.xyz, 7.0f).w", [](I x) { (void)x; return 7.0; }});
  f.push_back({"float4(1.5f, a.yz, b.w).y", [](I x) { return x.a[1]; }});
  f.push_back({"float3(a.w, float2(b.x, b.y)).x", [](I x) { return x.a[3]; }});
  f.push_back({"a.r + a.g * 2.0f + a.b * 4.0f + a.a * 8.0f", [](I x) { return x.a[0] + x.a[1] * 2.0f + x.a[2] * 4.0f + x.a[3] * 8.0f; }});
  f.push_back({"a[i % 4]", [](I x) { return x.a[x.i % 4]; }});
  // Swizzles: read, write, compound write, self-swap.
  f.push_back({"float3(a.zyx).x", [](I x) { return x.a[2]; }});
  f.push_back({"float4(a.wzyx).y", [](I x) { return x.a[2]; }});
  f.push_back({"float4(a.xxyy)[2]", [](I x) { return x.a[1]; }});
  f.push_back({"(a.xy + b.zw).y", [](I x) { return x.a[1] + x.b[3]; }});
  for (int k = 0; k < 4; ++k)
    f.push_back({"c[" + std::to_string(k) + "]", [k](I x) {
                   const float c[4] = {x.a[1], x.a[0], x.a[2] + 1.0f, x.a[3] + 1.0f};
                   return c[k];
                 }});
  // Arithmetic: vector-vector, vector-scalar, scalar-vector, unary, compound.
  for (int k = 0; k < 4; ++k) {
    const std::string s = std::to_string(k);
    f.push_back({"(a + b)[" + s + "]", [k](I x) { return x.a[k] + x.b[k]; }});
    f.push_back({"(a * 2.0f - b / 4.0f)[" + s + "]", [k](I x) { return x.a[k] * 2.0f - x.b[k] / 4.0f; }});
    f.push_back({"(3.0f - a * b)[" + s + "]", [k](I x) { return 3.0f - x.a[k] * x.b[k]; }});
    f.push_back({"(-a)[" + s + "]", [k](I x) { return -x.a[k]; }});
  }
  f.push_back({"[&] { float4 t = a; t += b; t *= 2.0f; t -= 1.0f; t /= b; return t.w; }()",
               [](I x) { return ((x.a[3] + x.b[3]) * 2.0f - 1.0f) / x.b[3]; }});
  // Comparisons, bool vectors, select/all/any.
  f.push_back({"float(all(a < b))", [](I x) { bool r = true; for (int k = 0; k < 4; ++k) r = r && x.a[k] < x.b[k]; return r; }});
  f.push_back({"float(any(a < b))", [](I x) { bool r = false; for (int k = 0; k < 4; ++k) r = r || x.a[k] < x.b[k]; return r; }});
  f.push_back({"float((a >= b).y)", [](I x) { return x.a[1] >= x.b[1]; }});
  f.push_back({"float(all(a == a) && !any(a != a))", [](I) { return 1.0; }});
  f.push_back({"float(all(!(a > b) == (a <= b)))", [](I) { return 1.0; }});
  f.push_back({"select(a, b, a < b).z", [](I x) { return x.a[2] < x.b[2] ? x.b[2] : x.a[2]; }});
  f.push_back({"select(a.x, b.x, a.y > b.y)", [](I x) { return x.a[1] > x.b[1] ? x.b[0] : x.a[0]; }});
  // Conversions and reinterpretation.
  f.push_back({"float4(half4(a)).y", [](I x) { return h(x.a[1]); }});
  // Host compilers may keep half intermediates in float (one rounding):
  // within a half ulp or two of per-operation rounding.
  f.push_back({"float(half(a.x) * half(b.x) + half(8))", [](I x) { return h(h(h(x.a[0]) * h(x.b[0])) + 8.0f); }, 4e-3});
  f.push_back({"float(bfloat(a.z))", [](I x) { return bf16_round(x.a[2]); }});
  f.push_back({"float(bfloat4(a).w)", [](I x) { return bf16_round(x.a[3]); }});
  f.push_back({"float(int4(a * 10.0f).x)", [](I x) { return static_cast<int>(x.a[0] * 10.0f); }});
  f.push_back({"as_type<float>(as_type<uint>(a.x) ^ 0x80000000u)", [](I x) { return -x.a[0]; }});
  f.push_back({"as_type<float2>(as_type<uint2>(a.xy)).y", [](I x) { return x.a[1]; }});
  f.push_back({"float(as_type<ushort2>(half2(a.xy)).x == as_type<ushort>(half(a.x)))", [](I) { return 1.0; }});
  // Layout (Metal sizes and alignments).
  f.push_back({"float(sizeof(float3))", [](I) { return 16.0; }});
  f.push_back({"float(alignof(float4))", [](I) { return 16.0; }});
  f.push_back({"float(sizeof(half3))", [](I) { return 8.0; }});
  f.push_back({"float(sizeof(packed_float3))", [](I) { return 12.0; }});
  f.push_back({"[&] { packed_float3 p = a.xyz; float3 q = p; return q.y + p.z; }()", [](I x) { return x.a[1] + x.a[2]; }});
  // Geometric.
  f.push_back({"dot(a, b)", [](I x) { double s = 0; for (int k = 0; k < 4; ++k) s += double(x.a[k]) * x.b[k]; return s; }, 1e-5});
  f.push_back({"length(a.xyz)", [](I x) { return std::sqrt(double(x.a[0]) * x.a[0] + double(x.a[1]) * x.a[1] + double(x.a[2]) * x.a[2]); }, 1e-5});
  f.push_back({"length_squared(a.xy)", [](I x) { return double(x.a[0]) * x.a[0] + double(x.a[1]) * x.a[1]; }, 1e-5});
  f.push_back({"distance(a.xy, b.xy)", [](I x) { return std::hypot(double(x.a[0]) - x.b[0], double(x.a[1]) - x.b[1]); }, 1e-5});
  f.push_back({"normalize(a.xyz).y", [](I x) { return x.a[1] / std::sqrt(double(x.a[0]) * x.a[0] + double(x.a[1]) * x.a[1] + double(x.a[2]) * x.a[2]); }, 1e-5});
  f.push_back({"cross(a.xyz, b.xyz).z", [](I x) { return double(x.a[0]) * x.b[1] - double(x.a[1]) * x.b[0]; }, 1e-4});
  // Common functions on vectors and scalars.
  f.push_back({"min(a, b).x", [](I x) { return std::fmin(x.a[0], x.b[0]); }});
  f.push_back({"max(a, 0.25f).y", [](I x) { return std::fmax(x.a[1], 0.25f); }});
  f.push_back({"clamp(a, -0.5f, 0.5f).z", [](I x) { return std::fmin(std::fmax(x.a[2], -0.5f), 0.5f); }});
  f.push_back({"clamp(a.x, b.x - 1.0f, b.x + 1.0f)", [](I x) { return std::fmin(std::fmax(x.a[0], x.b[0] - 1.0f), x.b[0] + 1.0f); }});
  f.push_back({"mix(a, b, 0.25f).w", [](I x) { return x.a[3] + (x.b[3] - x.a[3]) * 0.25f; }, 1e-5});
  f.push_back({"saturate(a.x)", [](I x) { return std::fmin(std::fmax(x.a[0], 0.0f), 1.0f); }});
  f.push_back({"sign(a.y)", [](I x) { return x.a[1] > 0 ? 1.0 : (x.a[1] < 0 ? -1.0 : 0.0); }});
  f.push_back({"fract(a.z * 3.0f)", [](I x) { const float v = x.a[2] * 3.0f; return v - std::floor(v); }, 1e-5});
  f.push_back({"fma(a.x, b.x, a.y)", [](I x) { return std::fma(x.a[0], x.b[0], x.a[1]); }});
  f.push_back({"abs(a).w", [](I x) { return std::fabs(x.a[3]); }});
  f.push_back({"step(0.0f, a).x", [](I x) { return x.a[0] < 0.0f ? 0.0 : 1.0; }});
  f.push_back({"smoothstep(-1.0f, 1.0f, a.y)", [](I x) { double t = std::clamp((x.a[1] + 1.0) / 2.0, 0.0, 1.0); return t * t * (3 - 2 * t); }, 1e-5});
  f.push_back({"float(isnan(a.x / 0.0f * 0.0f)) + 2.0f * float(isinf(a.x / 0.0f))", [](I x) { return x.a[0] != 0.0f ? 3.0 : 1.0; }});
  f.push_back({"float(all(isfinite(a)))", [](I) { return 1.0; }});
  return f;
}

// Math functions: reference in double, float results within a few ulp.
std::vector<feature> math_features() {
  using I = const in4&;
  std::vector<feature> f;
  auto add = [&](std::string e, double (*r)(double), double tol = 4e-6) {
    f.push_back({e, [r](I x) { return r(x.a[0]); }, tol});
  };
  add("exp(a.x)", [](double v) -> double { return std::exp(v); });
  add("exp2(a.x)", [](double v) -> double { return std::exp2(v); });
  add("exp10(a.x)", [](double v) -> double { return std::pow(10.0, v); }, 1e-5);
  add("log(abs(a.x) + 0.5f)", [](double v) -> double { return std::log(std::fabs(float(v)) + 0.5f); }, 1e-5);
  add("log2(abs(a.x) + 0.5f)", [](double v) -> double { return std::log2(std::fabs(float(v)) + 0.5f); }, 1e-5);
  add("log10(abs(a.x) + 0.5f)", [](double v) -> double { return std::log10(std::fabs(float(v)) + 0.5f); }, 1e-5);
  add("sqrt(abs(a.x))", [](double v) -> double { return std::sqrt(std::fabs(v)); });
  add("rsqrt(abs(a.x) + 0.5f)", [](double v) -> double { return 1.0 / std::sqrt(std::fabs(float(v)) + 0.5f); });
  add("sin(a.x)", [](double v) -> double { return std::sin(v); }, 1e-5);
  add("cos(a.x)", [](double v) -> double { return std::cos(v); }, 1e-5);
  add("tan(a.x * 0.5f)", [](double v) -> double { return std::tan(float(v) * 0.5f); }, 1e-5);
  add("asin(a.x * 0.4f)", [](double v) -> double { return std::asin(float(v) * 0.4f); }, 1e-5);
  add("acos(a.x * 0.4f)", [](double v) -> double { return std::acos(float(v) * 0.4f); }, 1e-5);
  add("atan(a.x)", [](double v) -> double { return std::atan(v); });
  add("sinh(a.x)", [](double v) -> double { return std::sinh(v); }, 1e-5);
  add("cosh(a.x)", [](double v) -> double { return std::cosh(v); }, 1e-5);
  add("tanh(a.x)", [](double v) -> double { return std::tanh(v); }, 1e-5);
  add("floor(a.x * 4.0f)", [](double v) -> double { return std::floor(float(v) * 4.0f); });
  add("ceil(a.x * 4.0f)", [](double v) -> double { return std::ceil(float(v) * 4.0f); });
  add("round(a.x * 4.0f)", [](double v) -> double { return std::round(float(v) * 4.0f); });
  add("rint(a.x * 4.0f)", [](double v) -> double { return std::rint(float(v) * 4.0f); });
  add("trunc(a.x * 4.0f)", [](double v) -> double { return std::trunc(float(v) * 4.0f); });
  add("fabs(a.x)", [](double v) -> double { return std::fabs(v); });
  add("precise::exp(a.x)", [](double v) -> double { return std::exp(v); });
  add("fast::exp(a.x)", [](double v) -> double { return std::exp(v); });
  add("metal::fast::tanh(a.x)", [](double v) -> double { return std::tanh(v); }, 1e-5);
  add("metal::exp(a.x)", [](double v) -> double { return std::exp(v); });
  f.push_back({"pow(abs(a.x) + 0.5f, b.x)", [](I x) { return std::pow(std::fabs(x.a[0]) + 0.5f, double(x.b[0])); }, 1e-5});
  f.push_back({"powr(abs(a.x) + 0.5f, b.x)", [](I x) { return std::pow(std::fabs(x.a[0]) + 0.5f, double(x.b[0])); }, 1e-5});
  f.push_back({"atan2(a.x, b.x)", [](I x) { return std::atan2(double(x.a[0]), double(x.b[0])); }, 1e-5});
  f.push_back({"fmod(a.x * 5.0f, b.x + 2.5f)", [](I x) { return std::fmod(x.a[0] * 5.0f, x.b[0] + 2.5f); }, 1e-5});
  f.push_back({"fmin(a.x, b.x)", [](I x) { return std::fmin(x.a[0], x.b[0]); }});
  f.push_back({"fmax(a.x, b.x)", [](I x) { return std::fmax(x.a[0], x.b[0]); }});
  f.push_back({"copysign(a.x, b.x)", [](I x) { return std::copysign(x.a[0], x.b[0]); }});
  // Vector and half forms.
  f.push_back({"exp(a).z", [](I x) { return std::exp(double(x.a[2])); }, 4e-6});
  f.push_back({"sin(a.xy).y", [](I x) { return std::sin(double(x.a[1])); }, 1e-5});
  f.push_back({"pow(abs(a) + 0.5f, b).w", [](I x) { return std::pow(std::fabs(x.a[3]) + 0.5f, double(x.b[3])); }, 1e-5});
  f.push_back({"float(exp(half(a.x)))", [](I x) { return h(std::exp(h(x.a[0]))); }, 2e-3});
  f.push_back({"float(sqrt(half4(abs(a))).y)", [](I x) { return h(std::sqrt(h(std::fabs(x.a[1])))); }, 2e-3});
  f.push_back({"float(max(half(a.x), half(b.x)))", [](I x) { return std::fmax(h(x.a[0]), h(x.b[0])); }});
  // Constants.
  f.push_back({"M_PI_F + M_E_F * 0.0f", [](I) { return 3.14159265358979; }, 1e-7});
  f.push_back({"float(isinf(INFINITY)) + float(isnan(NAN)) + float(FLT_MAX > 1e38f)", [](I) { return 3.0; }});
  f.push_back({"float(HALF_MAX)", [](I) { return 65504.0; }});
  f.push_back({"float(numeric_limits<half>::max()) + numeric_limits<float>::max() * 0.0f", [](I) { return 65504.0; }});
  return f;
}

struct int_feature {
  std::string expr;  // sees ia, ib (int4), ua, ub (uint4), s (ushort2), g (uint3), i
  std::function<int64_t(const int32_t*, const int32_t*, uint32_t)> ref;
};

std::vector<int_feature> int_features() {
  using P = const int32_t*;
  std::vector<int_feature> f;
  auto U = [](int32_t v) { return static_cast<uint32_t>(v); };
  f.push_back({"(ia + ib).x", [](P a, P b, uint32_t) { return int64_t(int32_t(uint32_t(a[0]) + uint32_t(b[0]))); }});
  f.push_back({"(ia - ib).y", [](P a, P b, uint32_t) { return int64_t(int32_t(uint32_t(a[1]) - uint32_t(b[1]))); }});
  f.push_back({"(ia * 3).z", [](P a, P, uint32_t) { return int64_t(int32_t(uint32_t(a[2]) * 3u)); }});
  f.push_back({"(ia / (abs(ib) + 1)).w", [](P a, P b, uint32_t) { return int64_t(a[3] / (std::abs(b[3]) + 1)); }});
  f.push_back({"(ia % (abs(ib) + 1)).x", [](P a, P b, uint32_t) { return int64_t(a[0] % (std::abs(b[0]) + 1)); }});
  f.push_back({"int((ua & ub).y)", [U](P a, P b, uint32_t) { return int64_t(int32_t(U(a[1]) & U(b[1]))); }});
  f.push_back({"int((ua | ub).z)", [U](P a, P b, uint32_t) { return int64_t(int32_t(U(a[2]) | U(b[2]))); }});
  f.push_back({"int((ua ^ ub).w)", [U](P a, P b, uint32_t) { return int64_t(int32_t(U(a[3]) ^ U(b[3]))); }});
  f.push_back({"int((ua << 3u).x)", [U](P a, P, uint32_t) { return int64_t(int32_t(U(a[0]) << 3)); }});
  f.push_back({"int((ua >> uint4(1u, 2u, 3u, 4u)).w)", [U](P a, P, uint32_t) { return int64_t(int32_t(U(a[3]) >> 4)); }});
  f.push_back({"(~ia).y", [](P a, P, uint32_t) { return int64_t(~a[1]); }});
  f.push_back({"int(all(ia < ib) ) + 2 * int(any(ua >= ub))", [U](P a, P b, uint32_t) {
                 bool all = true, any = false;
                 for (int k = 0; k < 4; ++k) {
                   all = all && a[k] < b[k];
                   any = any || U(a[k]) >= U(b[k]);
                 }
                 return int64_t(all) + 2 * int64_t(any);
               }});
  f.push_back({"int(popcount(ua).x)", [U](P a, P, uint32_t) { return int64_t(std::popcount(U(a[0]))); }});
  f.push_back({"int(clz(ua >> 5u).y)", [U](P a, P, uint32_t) { return int64_t(std::countl_zero(U(a[1]) >> 5)); }});
  f.push_back({"int(ctz(ua & 0xFFF0u).z)", [U](P a, P, uint32_t) { return int64_t(std::countr_zero(U(a[2]) & 0xFFF0u)); }});
  f.push_back({"int(clz(ushort(0)))", [](P, P, uint32_t) { return int64_t(16); }});
  f.push_back({"abs(ia).w", [](P a, P, uint32_t) { return int64_t(a[3] == INT32_MIN ? a[3] : std::abs(a[3])); }});
  f.push_back({"min(ia, ib).x", [](P a, P b, uint32_t) { return int64_t(std::min(a[0], b[0])); }});
  f.push_back({"int(max(ua, ub).y)", [U](P a, P b, uint32_t) { return int64_t(int32_t(std::max(U(a[1]), U(b[1])))); }});
  f.push_back({"clamp(ia.z, -1000, 1000)", [](P a, P, uint32_t) { return int64_t(std::clamp(a[2], -1000, 1000)); }});
  f.push_back({"int(select(ua, ub, ia > ib).w)", [](P a, P b, uint32_t) { return int64_t(a[3] > b[3] ? b[3] : a[3]); }});
  f.push_back({"int(short2(ia.xy).y)", [](P a, P, uint32_t) { return int64_t(int16_t(a[1])); }});
  f.push_back({"int(uchar4(ua).z)", [U](P a, P, uint32_t) { return int64_t(uint8_t(U(a[2]))); }});
  f.push_back({"int(g.x) - int(i)", [](P, P, uint32_t) { return int64_t(0); }});
  f.push_back({"int(s.x) - int(i % 64u)", [](P, P, uint32_t) { return int64_t(0); }});
  f.push_back({"int(as_type<int>(float(ia.x)) == as_type<int>(float(ia.x)))", [](P, P, uint32_t) { return int64_t(1); }});
  return f;
}

template <class F>
std::string generated_kernel(const std::string& name, const std::vector<F>& feats, const std::string& prologue,
                             const std::string& params, const std::string& args) {
  std::string s = "ALWAYS_INLINE void " + name + "_body(" + params + ") {\n" + prologue;
  for (std::size_t k = 0; k < feats.size(); ++k)
    s += "  o[" + std::to_string(k) + "] = " + feats[k].expr + ";\n";
  s += "}\n" + entry(name, name + "_body(" + args + ")");
  return s;
}

class Prelude : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string fparams =
        "const device float* A, const device float* B, device float* O, constant uint& nf, uint i";
    const std::string fargs =
        "(const device float*)L->args[0], (const device float*)L->args[1], (device float*)L->args[2], "
        "*(constant uint*)L->args[3], T->thread_position_in_grid.x";
    const std::string fpro =
        "  const float4 a = float4(A[4 * i], A[4 * i + 1], A[4 * i + 2], A[4 * i + 3]);\n"
        "  const float4 b = float4(B[4 * i], B[4 * i + 1], float2(B[4 * i + 2], B[4 * i + 3]));\n"
        "  float4 c = a;\n  c.xy = c.yx;\n  c.zw += 1.0f;\n"
        "  device float* o = O + i * nf;\n";
    const std::string ipro =
        "  const int4 ia = int4(A[4 * i], A[4 * i + 1], A[4 * i + 2], A[4 * i + 3]);\n"
        "  const int4 ib = int4(B[4 * i], B[4 * i + 1], B[4 * i + 2], B[4 * i + 3]);\n"
        "  const uint4 ua = uint4(ia), ub = uint4(ib);\n"
        "  device int* o = O + i * nf;\n";
    const std::string iparams =
        "const device int* A, const device int* B, device int* O, constant uint& nf, uint i, uint3 g, ushort2 s";
    const std::string iargs =
        "(const device int*)L->args[0], (const device int*)L->args[1], (device int*)L->args[2], "
        "*(constant uint*)L->args[3], T->thread_position_in_grid.x, T->thread_position_in_grid, "
        "T->thread_position_in_threadgroup";
    module_ = build({{"vec_features", generated_kernel("vec_features", vector_features(), fpro, fparams, fargs), {}},
                     {"math_features", generated_kernel("math_features", math_features(), fpro, fparams, fargs), {}},
                     {"int_features", generated_kernel("int_features", int_features(), ipro, iparams, iargs), {}}});
  }
  static void TearDownTestSuite() { module_.reset(); }

  static void check_float(const char* kernel, const std::vector<feature>& feats, double lo, double hi) {
    FOUNDRY_SEED_TRACE();
    auto g = rng();
    const uint32_t n = 256, nf = static_cast<uint32_t>(feats.size());
    auto A = random_vector<float>(g, 4 * n, lo, hi), B = random_vector<float>(g, 4 * n, lo, hi);
    auto O = poisoned<float>(std::size_t(n) * nf);
    run(*module_, (std::string(kernel) + "__cpu").c_str(), {A.data(), B.data(), O.data(), const_cast<uint32_t*>(&nf)},
        {n / 64, 1, 1}, {64, 1, 1});
    for (uint32_t i = 0; i < n; ++i) {
      in4 x{};
      for (int k = 0; k < 4; ++k) {
        x.a[k] = A[4 * i + k];
        x.b[k] = B[4 * i + k];
      }
      x.i = i;
      for (uint32_t k = 0; k < nf; ++k) {
        const double want = feats[k].ref(x), got = O[std::size_t(i) * nf + k];
        ASSERT_TRUE(near(got, want, feats[k].tol, 1e-6))
            << feats[k].expr << " at thread " << i << ": got " << got << ", want " << want << " (a = " << x.a[0]
            << ", " << x.a[1] << ", " << x.a[2] << ", " << x.a[3] << ")";
      }
    }
  }

  static inline std::shared_ptr<const fc::module> module_;
};

TEST_F(Prelude, VectorConstructorsSwizzlesOperatorsConversions) {
  check_float("vec_features", vector_features(), -2.0, 2.0);
}

TEST_F(Prelude, MathFunctionsScalarVectorHalf) { check_float("math_features", math_features(), -3.0, 3.0); }

TEST_F(Prelude, IntegerVectorsBitFunctionsAndBuiltinConversions) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  const auto feats = int_features();
  const uint32_t n = 256, nf = static_cast<uint32_t>(feats.size());
  auto A = random_vector<int32_t>(g, 4 * n, -2000000000.0, 2000000000.0);
  auto B = random_vector<int32_t>(g, 4 * n, -2000000000.0, 2000000000.0);
  auto O = poisoned<int32_t>(std::size_t(n) * nf);
  run(*module_, "int_features__cpu", {A.data(), B.data(), O.data(), const_cast<uint32_t*>(&nf)}, {n / 64, 1, 1},
      {64, 1, 1});
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < nf; ++k)
      ASSERT_EQ(int64_t(O[std::size_t(i) * nf + k]), feats[k].ref(&A[4 * i], &B[4 * i], i))
          << feats[k].expr << " at thread " << i;
}

// --- SIMD-group matrices -------------------------------------------------
// simdgroup_load/store with strides, origins and transposes, multiply and
// multiply-accumulate in float and half, make_filled_simdgroup_matrix; two
// SIMD-groups per threadgroup, each on its own matrices (each SIMD-group's
// lane 0 owns its matrices on the CPU). Compared against float64.

// Parameters of one case (buffer P, uint each).
struct sgm_case {
  uint32_t lda, ax, ay, ta, ldb, bx, by, tb, ldc, ldo, ox, oy, to, mode, in_step, out_step, fill;
};

const char* const sgm_kernel = R"(
ALWAYS_INLINE void sgm_body(const device float* A, const device float* B, const device float* C,
                            const device half* Ah, const device half* Bh, device float* O, device half* Oh,
                            constant uint* P, uint sg) {
  const ulong si = ulong(sg) * P[14], so = ulong(sg) * P[15];
  const ulong2 ao = ulong2(P[1], P[2]), bo = ulong2(P[5], P[6]), oo = ulong2(P[10], P[11]);
  const bool ta = P[3] != 0u, tb = P[7] != 0u, to = P[12] != 0u;
  const uint mode = P[13];
  if (mode == 0u || mode == 1u || mode == 4u) {
    simdgroup_float8x8 a, b, c, d;
    simdgroup_load(a, A + si, P[0], ao, ta);
    simdgroup_load(b, B + si, P[4], bo, tb);
    if (mode == 0u) {
      simdgroup_load(c, C + si, P[8]);
      simdgroup_multiply_accumulate(d, a, b, c);
    } else if (mode == 1u) {
      simdgroup_multiply(d, a, b);
    } else {
      d = make_filled_simdgroup_matrix<float, 8, 8>(float(P[16]) * 0.25f);
      simdgroup_multiply_accumulate(d, a, b, d);
    }
    simdgroup_store(d, O + so, P[9], oo, to);
  } else if (mode == 2u) {
    simdgroup_half8x8 a, b;
    simdgroup_float8x8 c, d;
    simdgroup_load(a, Ah + si, P[0], ao, ta);
    simdgroup_load(b, Bh + si, P[4], bo, tb);
    simdgroup_load(c, C + si, P[8]);
    simdgroup_multiply_accumulate(d, a, b, c);
    simdgroup_store(d, O + so, P[9], oo, to);
  } else {
    simdgroup_half8x8 a, b, d;
    simdgroup_load(a, Ah + si, P[0], ao, ta);
    simdgroup_load(b, Bh + si, P[4], bo, tb);
    simdgroup_multiply(d, a, b);
    simdgroup_store(d, Oh + so, P[9], oo, to);
  }
}
)";

class SimdgroupMatrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    module_ = build({{"sgm", std::string(sgm_kernel) +
                                 entry("sgm", "sgm_body((const device float*)L->args[0], (const device float*)L->args[1], "
                                              "(const device float*)L->args[2], (const device half*)L->args[3], "
                                              "(const device half*)L->args[4], (device float*)L->args[5], "
                                              "(device half*)L->args[6], (constant uint*)L->args[7], "
                                              "T->simdgroup_index_in_threadgroup)"),
                      {}}});
  }
  static void TearDownTestSuite() { module_.reset(); }

  // Runs one case on `groups` SIMD-groups and checks every element of O
  // (inside the stored 8x8 window: the float64 result; outside: untouched).
  static void check(const sgm_case& p, uint32_t groups = 2) {
    FOUNDRY_SEED_TRACE();
    auto g = rng();
    const std::size_t in_n = std::size_t(p.in_step) * groups + 1024, out_n = std::size_t(p.out_step) * groups + 1024;
    auto A = random_vector<float>(g, in_n, -2.0, 2.0), B = random_vector<float>(g, in_n, -2.0, 2.0);
    auto C = random_vector<float>(g, in_n, -2.0, 2.0);
    std::vector<f16> Ah(in_n), Bh(in_n);
    for (std::size_t i = 0; i < in_n; ++i) {
      Ah[i] = static_cast<f16>(A[i]);
      Bh[i] = static_cast<f16>(B[i]);
    }
    auto O = poisoned<float>(out_n);
    std::vector<f16> Oh(out_n, static_cast<f16>(std::numeric_limits<float>::quiet_NaN()));
    const bool half_in = p.mode == 2 || p.mode == 3, half_out = p.mode == 3;
    run(*module_, "sgm__cpu",
        {A.data(), B.data(), C.data(), Ah.data(), Bh.data(), O.data(), Oh.data(), const_cast<sgm_case*>(&p)}, {1, 1, 1},
        {32 * groups, 1, 1});
    auto in = [&](const std::vector<float>& v, const std::vector<f16>& h, std::size_t i) {
      return half_in ? double(float(h[i])) : double(v[i]);
    };
    std::vector<double> want(out_n, std::nan("")), mag(out_n, 0.0);
    for (uint32_t s = 0; s < groups; ++s) {
      const std::size_t si = std::size_t(s) * p.in_step, so = std::size_t(s) * p.out_step;
      for (uint32_t r = 0; r < 8; ++r)
        for (uint32_t c = 0; c < 8; ++c) {
          double acc = 0, m = 0;
          for (uint32_t k = 0; k < 8; ++k) {
            const std::size_t ia = p.ta ? (p.ay + k) * p.lda + p.ax + r : (p.ay + r) * p.lda + p.ax + k;
            const std::size_t ib = p.tb ? (p.by + c) * p.ldb + p.bx + k : (p.by + k) * p.ldb + p.bx + c;
            const double t = in(A, Ah, si + ia) * in(B, Bh, si + ib);
            acc += t;
            m += std::abs(t);
          }
          if (p.mode == 0 || p.mode == 2) {
            acc += C[si + r * p.ldc + c];
            m += std::abs(C[si + r * p.ldc + c]);
          }
          if (p.mode == 4) {
            acc += p.fill * 0.25;
            m += p.fill * 0.25;
          }
          const std::size_t io = so + (p.to ? (p.oy + c) * p.ldo + p.ox + r : (p.oy + r) * p.ldo + p.ox + c);
          ASSERT_TRUE(std::isnan(want[io])) << "test case writes one element twice";
          want[io] = acc;
          mag[io] = m;
        }
    }
    // float: 8 products summed in float, a few ulps of the terms' magnitude;
    // half output: one rounding to half (2^-11) of the result.
    const double tol = half_out ? 1e-3 : 1e-6;
    for (std::size_t i = 0; i < out_n; ++i) {
      const double got = half_out ? double(float(Oh[i])) : double(O[i]);
      if (std::isnan(want[i])) {
        ASSERT_TRUE(std::isnan(got)) << "element " << i << " outside the stored matrix was written";
      } else {
        ASSERT_LE(std::abs(got - want[i]), tol * (mag[i] + std::abs(want[i])) + 1e-30)
            << "element " << i << ": got " << got << ", want " << want[i];
      }
    }
  }
  static inline std::shared_ptr<const fc::module> module_;
};

TEST_F(SimdgroupMatrix, MultiplyAccumulateDenseFloat) {
  check({8, 0, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, 0, 64, 64, 0});
}
TEST_F(SimdgroupMatrix, LoadStoreWithStridesAndOrigins) {
  check({21, 3, 2, 0, 13, 5, 1, 0, 11, 19, 7, 4, 0, 0, 512, 512, 0});
}
TEST_F(SimdgroupMatrix, TransposedLoadsAndStore) {
  check({17, 2, 5, 1, 9, 1, 3, 1, 8, 12, 4, 1, 1, 0, 400, 300, 0});
}
TEST_F(SimdgroupMatrix, MultiplyWithoutAccumulator) {
  check({10, 1, 0, 1, 8, 0, 0, 0, 8, 8, 0, 0, 0, 1, 128, 64, 0});
}
TEST_F(SimdgroupMatrix, FilledAccumulatorInPlace) {
  check({8, 0, 0, 0, 16, 8, 0, 1, 8, 8, 0, 0, 0, 4, 160, 64, 3});
}
TEST_F(SimdgroupMatrix, HalfOperandsFloatAccumulator) {
  check({12, 4, 1, 0, 8, 0, 0, 1, 9, 10, 2, 0, 0, 2, 256, 100, 0});
}
TEST_F(SimdgroupMatrix, HalfEverywhere) {
  check({8, 0, 0, 1, 8, 0, 0, 0, 8, 9, 1, 0, 1, 3, 64, 90, 0});
}
TEST_F(SimdgroupMatrix, OneSimdgroupAndThreeSimdgroups) {
  check({9, 1, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, 0, 100, 64, 0}, 1);
  check({9, 1, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, 0, 100, 64, 0}, 3);
}

// The same cases through the executor and the standalone kernel the CUDA
// prelude test runs (tests/support/simdgroup_matrix_probe.hpp).
TEST(SimdgroupMatrixProbe, CasesThroughTheExecutor) {
  FOUNDRY_SEED_TRACE();
  auto g = rng();
  foundry::executor ex{fc::make_backend()};
  const auto& cases = foundry::test_kernels::sgm_cases();
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(foundry::test_kernels::sgm_run_case(ex, cases[i], g), "") << "case " << i;
}

// The prelude is an ordinary header too: it must compile on its own,
// warning-free, with the project's warning flags.
TEST(PreludeHeader, CompilesStandaloneWithoutWarnings) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("foundry-prelude-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path src = dir / "standalone.cpp";
  {
    std::ofstream f(src);
    f << "#include \"msl_prelude.h\"\n"
         "ALWAYS_INLINE float body(const device float* x, uint i) { return metal::exp(x[i]) + simd_sum(x[i]); }\n"
         "extern \"C\" float probe(const float* x) { return body(x, 0); }\n";
  }
  const std::string cxx = std::getenv("FOUNDRY_CPU_CXX") ? std::getenv("FOUNDRY_CPU_CXX") : FOUNDRY_CPU_CXX;
  std::vector<std::string> argv = fc::detail::split_command(cxx);
  for (const char* a : {"-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"}) argv.push_back(a);
  argv.push_back("-I" + fc::detail::prelude_dir().string());
  argv.push_back(src.string());
  const auto r = fc::detail::run_process(argv);
  fs::remove_all(dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
