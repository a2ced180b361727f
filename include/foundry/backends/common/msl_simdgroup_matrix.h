// msl_simdgroup_matrix.h - what the CPU and CUDA preludes share of Metal's
// SIMD-group matrices: the contract of the functions and the overloads that
// do not depend on how a target stores a matrix.
//
// Each prelude defines `metal::simdgroup_matrix<T, 8, 8>` (T = float or half)
// with its own storage, and the functions of the Metal Shading Language
// specification (section "SIMD-group matrix functions") on it:
//   make_filled_simdgroup_matrix<T>(v)   every element v
//   simdgroup_load(d, src, elements_per_row = 8, origin = (0, 0), transpose = false)
//       d(r, c) = src[(origin.y + r) * elements_per_row + origin.x + c], or
//       transposed d(r, c) = src[(origin.y + c) * elements_per_row + origin.x + r]
//   simdgroup_store(a, dst, elements_per_row = 8, origin = (0, 0), transpose = false)
//       dst[(origin.y + r) * elements_per_row + origin.x + c] = a(r, c), or
//       transposed dst[(origin.y + c) * elements_per_row + origin.x + r] = a(r, c)
//   simdgroup_multiply_accumulate(d, a, b, c)   d = a * b + c
//   simdgroup_multiply(d, a, b)                 d = a * b
// Origins are (x = column, y = row) in the memory matrix; elements_per_row
// counts elements, not bytes. Products and sums are formed in float and
// rounded to d's element type. What kernels may rely on is that contract
// only (docs/msl-subset.md): every lane of the SIMD-group calls a function
// with the same arguments, and memory written by simdgroup_store is read by
// other threads only after a barrier.
//
// Included by each prelude after its own definitions, outside any namespace;
// must stay self-contained (backends/common/prelude.hpp inlines it).

namespace metal {

using simdgroup_float8x8 = simdgroup_matrix<float, 8, 8>;
using simdgroup_half8x8 = simdgroup_matrix<half, 8, 8>;

// The spelling with explicit dimensions; only 8x8 exists in the subset
// (simdgroup_matrix's static_assert says so).
template <class T, int Cols, int Rows>
inline simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(T value) {
  return make_filled_simdgroup_matrix<T>(value);
}

}  // namespace metal
