#pragma once
// A standalone kernel exercising the SIMD-group matrix functions of the MSL
// subset (simdgroup_load/store with strides, origins and transposes,
// multiply, multiply-accumulate, make_filled_simdgroup_matrix; float and
// half), its cases and a float64 reference. Two SIMD-groups per
// threadgroup, each on its own matrices. Shared by the CUDA prelude test (on
// a device) and the NVRTC compile test (without one).

#include <boost/describe/class.hpp>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include <foundry/foundry.hpp>
#include <random>
#include <string>

namespace foundry::test_kernels {

/// One case (uploaded as 17 uints): A at origin (ax, ay) of a matrix with
/// `lda` elements per row, transposed if `ta`; B likewise; C dense with
/// `ldc`; the result stored at origin (ox, oy) with `ldo`, transposed if
/// `to`. mode 0: D = A·B + C (float); 1: D = A·B; 2: half A, B, float C, D;
/// 3: all half; 4: D = A·B + fill/4 (filled accumulator, in place).
/// SIMD-group s reads at element s·in_step and writes at s·out_step.
struct sgm_case {
  std::uint32_t lda, ax, ay, ta, ldb, bx, by, tb, ldc, ldo, ox, oy, to, mode, in_step, out_step, fill;
};

struct sgm_args {
  input<float> A, B, C;
  input<half> Ah, Bh;
  output<float> O;
  output<half> Oh;
  input<std::uint32_t> P;
};
BOOST_DESCRIBE_STRUCT(sgm_args, (), (A, B, C, Ah, Bh, O, Oh, P))

inline constexpr std::string_view sgm_text = R"(
ALWAYS_INLINE void sgm_probe_body(FOUNDRY_KERNEL_ARGS, uint3 thread_position_in_grid) {
  const uint sg = thread_position_in_grid.x / 32u;
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
/// Two SIMD-groups (64 threads, one threadgroup).
using sgm_probe = standalone_kernel<"sgm_probe", sgm_args, per_element<size_const<64>, 64>,
                                    source_piece<"sgm_probe", sgm_text>, uses<"thread_position_in_grid">>;

/// The float64 result of `c` for `groups` SIMD-groups: want[i] (NaN where
/// nothing is stored) and mag[i] (the sum of the magnitudes of its terms,
/// the scale of its rounding error). A, B are the operands as the kernel
/// sees them (already rounded to half for modes 2 and 3).
inline void sgm_reference(const sgm_case& p, std::uint32_t groups, const std::vector<double>& A,
                          const std::vector<double>& B, const std::vector<float>& C, std::vector<double>& want,
                          std::vector<double>& mag) {
  for (std::uint32_t s = 0; s < groups; ++s) {
    const std::size_t si = std::size_t(s) * p.in_step, so = std::size_t(s) * p.out_step;
    for (std::uint32_t r = 0; r < 8; ++r)
      for (std::uint32_t c = 0; c < 8; ++c) {
        double acc = 0, m = 0;
        for (std::uint32_t k = 0; k < 8; ++k) {
          const std::size_t ia = p.ta ? (p.ay + k) * p.lda + p.ax + r : (p.ay + r) * p.lda + p.ax + k;
          const std::size_t ib = p.tb ? (p.by + c) * p.ldb + p.bx + k : (p.by + k) * p.ldb + p.bx + c;
          const double t = A[si + ia] * B[si + ib];
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
        want[io] = acc;
        mag[io] = m;
      }
  }
}

/// The cases every backend runs (see sgm_case).
inline const std::vector<sgm_case>& sgm_cases() {
  static const std::vector<sgm_case> c = {
      {8, 0, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, 0, 64, 64, 0},         // dense, float
      {21, 3, 2, 0, 13, 5, 1, 0, 11, 19, 7, 4, 0, 0, 512, 512, 0},   // strides and origins
      {17, 2, 5, 1, 9, 1, 3, 1, 8, 12, 4, 1, 1, 0, 400, 300, 0},     // transposed loads and store
      {10, 1, 0, 1, 8, 0, 0, 0, 8, 8, 0, 0, 0, 1, 128, 64, 0},       // multiply
      {8, 0, 0, 0, 16, 8, 0, 1, 8, 8, 0, 0, 0, 4, 160, 64, 3},       // filled, in place
      {12, 4, 1, 0, 8, 0, 0, 1, 9, 10, 2, 0, 0, 2, 256, 100, 0},     // half operands, float accumulator
      {8, 0, 0, 1, 8, 0, 0, 0, 8, 9, 1, 0, 1, 3, 64, 90, 0},         // half everywhere
  };
  return c;
}

/// Runs case `p` on executor `ex` with fresh inputs from `g` and returns ""
/// if every element matches the float64 reference (float results within
/// 1e-6 of the terms' magnitude: 8 products summed in float; half results
/// within 1e-3, one rounding to half) and every element outside the stored
/// matrices is untouched (still poison), else a description of the first
/// mismatch.
inline std::string sgm_run_case(executor& ex, const sgm_case& p, std::mt19937_64& g) {
  constexpr std::uint32_t groups = 2;
  const std::size_t in_n = std::size_t(p.in_step) * groups + 1024, out_n = std::size_t(p.out_step) * groups + 1024;
  std::uniform_real_distribution<double> d(-2.0, 2.0);
  std::vector<float> A(in_n), B(in_n), C(in_n);
  std::vector<half> Ah(in_n), Bh(in_n);
  for (std::size_t i = 0; i < in_n; ++i) {
    A[i] = float(d(g));
    B[i] = float(d(g));
    C[i] = float(d(g));
    Ah[i] = half(A[i]);
    Bh[i] = half(B[i]);
  }
  const bool half_in = p.mode == 2 || p.mode == 3, half_out = p.mode == 3;
  std::vector<double> Ad(in_n), Bd(in_n);
  for (std::size_t i = 0; i < in_n; ++i) {
    Ad[i] = half_in ? double(float(Ah[i])) : double(A[i]);
    Bd[i] = half_in ? double(float(Bh[i])) : double(B[i]);
  }
  std::vector<double> want(out_n, std::nan("")), mag(out_n, 0.0);
  sgm_reference(p, groups, Ad, Bd, C, want, mag);
  const std::vector<std::uint32_t> P = {p.lda, p.ax,  p.ay, p.ta,   p.ldb,     p.bx,       p.by,  p.tb, p.ldc,
                                        p.ldo, p.ox,  p.oy, p.to,   p.mode,    p.in_step,  p.out_step, p.fill};
  buffer ab = ex.upload(A), bb = ex.upload(B), cb = ex.upload(C), ahb = ex.upload(Ah), bhb = ex.upload(Bh),
         pb = ex.upload(P);
  buffer ob = ex.allocate<float>(out_n), ohb = ex.allocate<half>(out_n);
  ob.fill_bytes(0xFF);   // NaN
  ohb.fill_bytes(0xFF);  // NaN
  ex.dispatch<sgm_probe>(sgm_args{ab, bb, cb, ahb, bhb, ob, ohb, pb});
  const auto O = ob.read<float>();
  const auto Oh = ohb.read<half>();
  const double tol = half_out ? 1e-3 : 1e-6;
  for (std::size_t i = 0; i < out_n; ++i) {
    const double got = half_out ? double(float(Oh[i])) : double(O[i]);
    if (std::isnan(want[i])) {
      if (!std::isnan(got)) return "element " + std::to_string(i) + " outside the stored matrices was written";
    } else if (!(std::abs(got - want[i]) <= tol * (mag[i] + std::abs(want[i])) + 1e-30)) {
      return "element " + std::to_string(i) + ": got " + std::to_string(got) + ", want " + std::to_string(want[i]);
    }
  }
  return "";
}

}  // namespace foundry::test_kernels
