// Rotary position embedding (RoPE): Su et al., 2021, "RoFormer: Enhanced
// Transformer with Rotary Position Embedding", eqs. (13)-(15) and (34).
//
// A head vector x of `head_dim` = d elements is split into d/2 pairs; pair i
// (0 <= i < d/2) is rotated by the angle pos * theta_i with
//     theta_i = base^(-2i/d)                      (RoFormer eq. 15, 0-based i)
//     x'_e0 = x_e0 cos(a) - x_e1 sin(a)
//     x'_e1 = x_e0 sin(a) + x_e1 cos(a),          a = pos * theta_i.
// Pairings:
//   normal (GPT-J / RoFormer, llama.cpp LLAMA_ROPE_TYPE_NORM): e0 = 2i, e1 = 2i + 1;
//   NeoX   (GPT-NeoX "rotate_half", llama.cpp LLAMA_ROPE_TYPE_NEOX): e0 = i, e1 = i + d/2.
// The angle is computed as llama.cpp's Metal and CPU kernels do (with
// freq_scale = 1, ext_factor = 0, attn_factor = 1): in float, theta_i by
// pow, a = float(pos) * theta_i, then cos and sin of a. The precise:: forms
// are used so fast-math approximations do not lose accuracy for large
// angles (a reaches pos radians).

struct RopePair {
  uint e0;  // index of the pair's first element within the head
  uint e1;  // index of the pair's second element
  float c;  // cos(pos * theta_i)
  float s;  // sin(pos * theta_i)
};

// The elements and the rotation of pair `i` of a head of `head_dim`
// elements at position `pos` (see the file comment).
ALWAYS_INLINE RopePair foundry_rope_pair(uint i, uint head_dim, uint pos, float freq_base, bool neox) {
  RopePair p;
  p.e0 = neox ? i : 2u * i;
  p.e1 = neox ? i + head_dim / 2u : 2u * i + 1u;
  const float theta = precise::pow(freq_base, -float(2u * i) / float(head_dim));
  const float a = float(pos) * theta;
  p.c = precise::cos(a);
  p.s = precise::sin(a);
  return p;
}

// Rotates the pair `p` of the head vector `x` in place.
ALWAYS_INLINE void foundry_rope_rotate(device float* x, RopePair p) {
  const float x0 = x[p.e0];
  const float x1 = x[p.e1];
  x[p.e0] = x0 * p.c - x1 * p.s;
  x[p.e1] = x0 * p.s + x1 * p.c;
}

// The pair holding element d (< head_dim) of a head, at position pos.
ALWAYS_INLINE RopePair foundry_rope_pair_of(uint d, uint head_dim, uint pos, float freq_base, bool neox) {
  return foundry_rope_pair(neox ? d % (head_dim / 2u) : d / 2u, head_dim, pos, freq_base, neox);
}

// Element d of the head vector x rotated by its pair p (foundry_rope_pair_of):
// the value foundry_rope_rotate leaves in x[d], read without writing x (for a
// kernel that needs the rotated vector but must leave x as it is, or in
// which each thread owns a different subset of the elements). One pair
// serves every head vector rotated at the same position.
ALWAYS_INLINE float foundry_rope_element(const device float* x, uint d, RopePair p) {
  const float x0 = x[p.e0];
  const float x1 = x[p.e1];
  return d == p.e0 ? x0 * p.c - x1 * p.s : x0 * p.s + x1 * p.c;
}
