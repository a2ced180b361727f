// The K-quant kernels (Q4_K, Q5_K, Q6_K) on the CPU backend: every library
// GEMV form, RMSNorm+GEMV, the fused RMSNorm+QKV (one policy, and Q4_K/Q4_K/
// Q6_K mixed in one kernel as Q4_K_M files mix them), the fused gate/up +
// SwiGLU (one policy, and gate/up in two policies), and the embedding
// lookups, against float64 references.
//
// Weights: random rows (each with its own scale and offset) quantized by
// the K-quant quantizer (foundry/quant/k_quants.hpp) and split into planes
// by `policies::repack`; references use `policies::dequantize(planes)`,
// which tests/unit/k_quant_repack_test.cpp checks bit for bit against
// quant::dequantize_row (itself checked against the gguf package), so only
// the kernels' arithmetic and addressing are measured here. Outputs are
// poisoned (NaN) before every run. Shapes: k (hidden) a multiple of 256 —
// one, two, three and six super-blocks — with row counts that are not
// multiples of the rows per threadgroup.
//
// Tolerances (as in gemv_test.cpp, qkv_test.cpp, ffn_test.cpp): the float32
// accumulation of k ≤ 1536 products has an error ~1e-7 of the magnitude of
// the terms (‖y − ref‖ / ‖Σ|w·x|‖); the bound 1e-5 is 100x that and far
// below what a wrong sub-block, scale or row gives (O(1)). Embedding outputs
// are one product and sum per element: relative error below 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/k_quants.hpp>
#include <kernels/policies/repack.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fd = foundry;
namespace fk = foundry::kernels;
namespace fp = foundry::policies;
namespace quant = foundry::quant;

namespace {

constexpr double kTolerance = 1e-5;
using foundry_test::exec;
using foundry_test::rel_error;

/// A random [rows, k] matrix in K-quant policy P: planes in `lay` and the
/// host dequantization (row-major [rows, k]).
template <class P>
struct matrix {
  fp::weight_planes<P> planes;
  std::vector<float> w;
};
template <class P>
matrix<P> random_matrix(std::mt19937_64& g, std::size_t rows, std::size_t k, fp::layout lay = fp::layout::row_major) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), scale(0.05f, 2.0f), shift(-0.3f, 0.3f);
  std::vector<float> src(rows * k);
  for (std::size_t r = 0; r < rows; ++r) {
    const float s = scale(g), o = shift(g);
    for (std::size_t i = 0; i < k; ++i) src[r * k + i] = s * u(g) + o;
  }
  std::vector<std::uint8_t> gguf(fp::gguf_bytes<P>(rows, k));
  quant::quantize_row(fp::ggml_type_of<P>, src.data(), gguf.data(), rows * k);
  matrix<P> m{fp::repack<P>(gguf.data(), rows, k, lay), {}};
  m.w = fp::dequantize(m.planes);
  return m;
}

/// y[b, r] = Σ w[r, i]·x[b, i] (+ res[b, r]) in float64, and the magnitude
/// of its terms.
struct reference_result {
  std::vector<double> y, mag;
};
reference_result gemv_reference(const std::vector<float>& w, const std::vector<double>& x, const std::vector<float>* res,
                                std::size_t n, std::size_t k, std::size_t batch) {
  reference_result out{std::vector<double>(batch * n), std::vector<double>(batch * n)};
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t r = 0; r < n; ++r) {
      const double r0 = res ? (*res)[b * n + r] : 0.0;
      double s = r0, m = std::abs(r0);
      for (std::size_t i = 0; i < k; ++i) {
        const double t = double(w[r * k + i]) * x[b * k + i];
        s += t;
        m += std::abs(t);
      }
      out.y[b * n + r] = s;
      out.mag[b * n + r] = m;
    }
  return out;
}

// ------------------------------------------------------------------ GEMV --

template <class K, class P, fp::layout L, bool Batched, bool Residual>
struct form {
  using kernel = K;
  using policy = P;
  static constexpr fp::layout lay = L;
  static constexpr bool batched = Batched, residual = Residual;
};

template <class F>
void check_gemv(std::mt19937_64& g, std::uint32_t n, std::uint32_t k, std::uint32_t batch) {
  using K = typename F::kernel;
  using P = typename F::policy;
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " batch=" + std::to_string(batch));
  const auto m = random_matrix<P>(g, n, k, F::lay);
  const auto x = foundry_test::random_vector<float>(g, std::size_t{batch} * k, -1, 1);
  const auto res = foundry_test::random_vector<float>(g, std::size_t{batch} * n, -2, 2);
  const std::vector<double> xd(x.begin(), x.end());
  const auto ref = gemv_reference(m.w, xd, F::residual ? &res : nullptr, n, k, batch);

  auto& ex = exec();
  fd::buffer wb = ex.upload(m.planes.data), sb = ex.upload(m.planes.scales), xb = ex.upload(x);
  fd::buffer rb = ex.upload(res), yb = ex.allocate<float>(std::size_t{batch} * n);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"w_scales">(sb).template set<"x">(xb).template set<"n">(n);
  a.template set<"k">(k).template set<"y">(yb);
  if constexpr (F::batched) a.template set<"batch">(batch);
  if constexpr (F::residual) a.template set<"residual">(rb);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref.y, ref.mag), kTolerance);
}

struct shape {
  std::uint32_t n, k;
};
constexpr shape kShapes[] = {{1, 256}, {7, 512}, {33, 768}, {577, 1536}};

template <class P, class Plain, class Canonical, class Batched, class CanonicalBatched, class Residual,
          class ResidualBatched>
void check_policy() {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  for (const shape& s : kShapes) {
    check_gemv<Plain>(g, s.n, s.k, 1);
    check_gemv<Canonical>(g, s.n, s.k, 1);
    check_gemv<Batched>(g, s.n, s.k, 3);
    check_gemv<CanonicalBatched>(g, s.n, s.k, 2);
    check_gemv<Residual>(g, s.n, s.k, 1);
    check_gemv<ResidualBatched>(g, s.n, s.k, 3);
  }
}

using layout = fp::layout;

// All kernels of this file compile in one compiler invocation.
template <class Q>
using ffn_mixed = fd::fused_kernel<"gate_up_swiglu_q4_k_q6_k", fk::gate_up_dispatch,
                                   fk::gate_up_projection<fp::q4_k, fp::q6_k, fk::rmsnorm_hidden_input<Q>>,
                                   fd::epi::swiglu<"gate", "up", "value">, fd::epi::store<"y", "value", fd::size_arg<"ffn">>>;
template <class... Ks>
void prepare_all(fd::type_list<Ks...>) {
  exec().prepare<Ks..., ffn_mixed<fp::q4_k>>();
}
struct PrepareKernels : ::testing::Environment {
  void SetUp() override { prepare_all(fk::k_quant_library{}); }
};
[[maybe_unused]] auto* const kPrepare = ::testing::AddGlobalTestEnvironment(new PrepareKernels);

TEST(KQuantGemv, Q4_KAllForms) {
  using P = fp::q4_k;
  check_policy<P, form<fk::gemv_q4_k, P, layout::row_major, false, false>,
               form<fk::gemv_q4_k_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q4_k_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q4_k_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q4_k_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q4_k_residual_batched, P, layout::row_major, true, true>>();
}
TEST(KQuantGemv, Q5_KAllForms) {
  using P = fp::q5_k;
  check_policy<P, form<fk::gemv_q5_k, P, layout::row_major, false, false>,
               form<fk::gemv_q5_k_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q5_k_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q5_k_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q5_k_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q5_k_residual_batched, P, layout::row_major, true, true>>();
}
TEST(KQuantGemv, Q6_KAllForms) {
  using P = fp::q6_k;
  check_policy<P, form<fk::gemv_q6_k, P, layout::row_major, false, false>,
               form<fk::gemv_q6_k_canonical, P, layout::canonical, false, false>,
               form<fk::gemv_q6_k_batched, P, layout::row_major, true, false>,
               form<fk::gemv_q6_k_canonical_batched, P, layout::canonical, true, false>,
               form<fk::gemv_q6_k_residual, P, layout::row_major, false, true>,
               form<fk::gemv_q6_k_residual_batched, P, layout::row_major, true, true>>();
}

// ------------------------------------------------------------ RMSNorm --

template <class K, class P>
void check_rmsnorm_gemv(std::mt19937_64& g, std::uint32_t n, std::uint32_t k) {
  SCOPED_TRACE(std::string(K::name.view()) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  const auto m = random_matrix<P>(g, n, k);
  const auto x = foundry_test::random_vector<float>(g, k, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, k, 0.5, 1.5);
  const float eps = 1e-5f;
  const auto ref = gemv_reference(m.w, foundry_test::rmsnorm_ref(x, gamma, eps), nullptr, n, k, 1);
  auto& ex = exec();
  fd::buffer wb = ex.upload(m.planes.data), sb = ex.upload(m.planes.scales), xb = ex.upload(x);
  fd::buffer gb = ex.upload(gamma), yb = ex.allocate<float>(n);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w">(wb).template set<"w_scales">(sb).template set<"x">(xb).template set<"gamma">(gb);
  a.template set<"eps">(eps).template set<"n">(n).template set<"k">(k).template set<"y">(yb);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(foundry_test::error_to_scale(yb.read<float>(), ref.y, ref.mag), kTolerance);
}

TEST(KQuantRmsNormGemv, Q4_KAndQ6_K) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_rmsnorm_gemv<fk::rmsnorm_gemv_q4_k, fp::q4_k>(g, 37, 768);
  check_rmsnorm_gemv<fk::rmsnorm_gemv_q6_k, fp::q6_k>(g, 37, 768);
  check_rmsnorm_gemv<fk::rmsnorm_gemv_q6_k, fp::q6_k>(g, 1001, 512);
}

// ---------------------------------------------------------------- QKV --

template <class PQ, class PK, class PV>
void check_qkv(std::mt19937_64& g, std::uint32_t hidden, std::uint32_t n_heads, std::uint32_t n_kv,
               std::uint32_t head_dim) {
  using K = fk::rmsnorm_qkv<PQ, PK, PV>;
  SCOPED_TRACE(std::string(K::name.view()) + " hidden=" + std::to_string(hidden));
  const std::size_t nq = std::size_t{n_heads} * head_dim, nkv = std::size_t{n_kv} * head_dim;
  const auto mq = random_matrix<PQ>(g, nq, hidden);
  const auto mk = random_matrix<PK>(g, nkv, hidden);
  const auto mv = random_matrix<PV>(g, nkv, hidden);
  const auto x = foundry_test::random_vector<float>(g, hidden, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, hidden, 0.5, 1.5);
  const auto bq = foundry_test::random_vector<float>(g, nq, -1, 1);
  const float eps = 1e-5f;
  const auto xn = foundry_test::rmsnorm_ref(x, gamma, eps);

  auto& ex = exec();
  fd::buffer wq = ex.upload(mq.planes.data), wk = ex.upload(mk.planes.data), wv = ex.upload(mv.planes.data);
  fd::buffer sq = ex.upload(mq.planes.scales), sk = ex.upload(mk.planes.scales), sv = ex.upload(mv.planes.scales);
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), bqb = ex.upload(bq);
  fd::buffer qb = ex.allocate<float>(nq), kb = ex.allocate<float>(nkv), vb = ex.allocate<float>(nkv);
  for (fd::buffer* b : {&qb, &kb, &vb}) b->fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"wq">(wq).template set<"wk">(wk).template set<"wv">(wv);
  a.template set<"wq_scales">(sq).template set<"wk_scales">(sk).template set<"wv_scales">(sv);
  a.template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(eps).template set<"bq">(bqb);
  a.template set<"hidden">(hidden).template set<"n_heads">(n_heads).template set<"n_kv">(n_kv);
  a.template set<"head_dim">(head_dim).template set<"q">(qb).template set<"k">(kb).template set<"v">(vb);
  ex.dispatch<K>(a);
  ex.synchronize();

  auto q_ref = gemv_reference(mq.w, xn, &bq, nq, hidden, 1);
  EXPECT_LT(foundry_test::error_to_scale(qb.read<float>(), q_ref.y, q_ref.mag), kTolerance) << "q";
  auto k_ref = gemv_reference(mk.w, xn, nullptr, nkv, hidden, 1);
  EXPECT_LT(foundry_test::error_to_scale(kb.read<float>(), k_ref.y, k_ref.mag), kTolerance) << "k";
  auto v_ref = gemv_reference(mv.w, xn, nullptr, nkv, hidden, 1);
  EXPECT_LT(foundry_test::error_to_scale(vb.read<float>(), v_ref.y, v_ref.mag), kTolerance) << "v";
}

TEST(KQuantQkv, EachPolicy) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_qkv<fp::q4_k, fp::q4_k, fp::q4_k>(g, 512, 8, 2, 64);
  check_qkv<fp::q5_k, fp::q5_k, fp::q5_k>(g, 768, 5, 1, 7);
  check_qkv<fp::q6_k, fp::q6_k, fp::q6_k>(g, 256, 3, 3, 11);
}

// The Q4_K_M mix: Q and K in Q4_K, V in Q6_K, in one dispatch.
TEST(KQuantQkv, MixedQ4_KAndQ6_K) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_qkv<fp::q4_k, fp::q4_k, fp::q6_k>(g, 512, 8, 2, 64);
  check_qkv<fp::q4_k, fp::q4_k, fp::q6_k>(g, 768, 5, 1, 7);
}

// ---------------------------------------------------------- gate / up --

template <class K, class PG, class PU>
void check_ffn(std::mt19937_64& g, std::uint32_t hidden, std::uint32_t ffn) {
  SCOPED_TRACE(std::string(K::name.view()) + " hidden=" + std::to_string(hidden) + " ffn=" + std::to_string(ffn));
  const auto mg = random_matrix<PG>(g, ffn, hidden);
  const auto mu = random_matrix<PU>(g, ffn, hidden);
  const auto x = foundry_test::random_vector<float>(g, hidden, -3, 3);
  const auto gamma = foundry_test::random_vector<float>(g, hidden, 0.5, 1.5);
  const float eps = 1e-5f;
  const auto xn = foundry_test::rmsnorm_ref(x, gamma, eps);
  const auto gate = gemv_reference(mg.w, xn, nullptr, ffn, hidden, 1);
  const auto up = gemv_reference(mu.w, xn, nullptr, ffn, hidden, 1);
  std::vector<double> ref(ffn);
  for (std::size_t r = 0; r < ffn; ++r) ref[r] = gate.y[r] / (1.0 + std::exp(-gate.y[r])) * up.y[r];

  auto& ex = exec();
  fd::buffer wg = ex.upload(mg.planes.data), wu = ex.upload(mu.planes.data);
  fd::buffer sg = ex.upload(mg.planes.scales), su = ex.upload(mu.planes.scales);
  fd::buffer xb = ex.upload(x), gb = ex.upload(gamma), yb = ex.allocate<float>(ffn);
  yb.fill_bytes(0xFF);
  typename K::arguments a;
  a.template set<"w_gate">(wg).template set<"w_up">(wu).template set<"w_gate_scales">(sg);
  a.template set<"w_up_scales">(su).template set<"x">(xb).template set<"gamma">(gb).template set<"eps">(eps);
  a.template set<"hidden">(hidden).template set<"ffn">(ffn).template set<"y">(yb);
  ex.dispatch<K>(a);
  ex.synchronize();
  EXPECT_LT(rel_error(yb.read<float>(), ref), kTolerance);
}

TEST(KQuantGateUp, EachPolicyAndMixed) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_ffn<fk::rmsnorm_gate_up_swiglu_q4_k, fp::q4_k, fp::q4_k>(g, 512, 97);
  check_ffn<fk::rmsnorm_gate_up_swiglu_q5_k, fp::q5_k, fp::q5_k>(g, 768, 41);
  check_ffn<fk::rmsnorm_gate_up_swiglu_q6_k, fp::q6_k, fp::q6_k>(g, 256, 130);
  check_ffn<ffn_mixed<fp::q4_k>, fp::q4_k, fp::q6_k>(g, 512, 61);
}

// ---------------------------------------------------------- embedding --

template <class K, class P>
void check_embedding(std::mt19937_64& g, std::uint32_t n_vocab, std::uint32_t hidden, fp::layout lay) {
  SCOPED_TRACE(std::string(K::name.view()) + " vocab=" + std::to_string(n_vocab) + " hidden=" + std::to_string(hidden));
  const auto m = random_matrix<P>(g, n_vocab, hidden, lay);
  auto& ex = exec();
  fd::buffer tb = ex.upload(m.planes.data), sb = ex.upload(m.planes.scales), yb = ex.allocate<float>(hidden);
  for (std::uint32_t token : {0u, n_vocab / 2, n_vocab - 1}) {
    yb.fill_bytes(0xFF);
    typename K::arguments a;
    a.template set<"table">(tb).template set<"table_scales">(sb).template set<"token">(token);
    a.template set<"n_vocab">(n_vocab).template set<"hidden">(hidden).template set<"y">(yb);
    ex.dispatch<K>(a);
    ex.synchronize();
    const std::vector<double> ref(m.w.begin() + std::size_t{token} * hidden,
                                  m.w.begin() + std::size_t{token + 1} * hidden);
    EXPECT_LT(rel_error(yb.read<float>(), ref), 1e-6) << "token " << token;
  }
}

TEST(KQuantEmbedding, EachPolicy) {
  FOUNDRY_SEED_TRACE();
  auto g = foundry_test::rng();
  check_embedding<fk::embedding_q4_k, fp::q4_k>(g, 13, 768, fp::layout::row_major);
  check_embedding<fk::embedding_q5_k, fp::q5_k>(g, 7, 512, fp::layout::row_major);
  check_embedding<fk::embedding_q6_k, fp::q6_k>(g, 11, 256, fp::layout::row_major);
  check_embedding<fk::embedding_q6_k_canonical, fp::q6_k>(g, 11, 512, fp::layout::canonical);
}

TEST(KQuantKernels, Names) {
  EXPECT_EQ(fk::gemv_q4_k::name.view(), "gemv_q4_k");
  EXPECT_EQ(fk::rmsnorm_qkv_q4_k_q4_k_q6_k::name.view(), "rmsnorm_qkv_q4_k_q4_k_q6_k");
  EXPECT_EQ(fk::rmsnorm_gate_up_swiglu_q6_k::name.view(), "rmsnorm_gate_up_swiglu_q6_k");
}

}  // namespace
