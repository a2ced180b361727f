// make_foundry_decoder (foundry_decoder.hpp): checks the model's tensor
// types and makes the decoder of their policies. Every pair of policies is
// instantiated here, once for the programs that link
// foundry_generate_decoders (foundry-generate and the model tests), not in
// each of them: it is the project's slowest code to compile.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "examples/generate/foundry_decoder.hpp"

namespace foundry::generate {
namespace {

/// Calls f(P{}) for the policy P of Ps whose GGUF type is `t`; throws
/// std::runtime_error naming `what` where none is.
template <class... Ps, class F>
void with_policy(quant::ggml_type t, std::string_view what, type_list<Ps...>, F&& f) {
  bool done = false;
  ([&] {
    if (!done && t == policies::ggml_type_of<Ps>) {
      f(Ps{});
      done = true;
    }
  }(), ...);
  if (!done)
    throw std::runtime_error(std::string(what) + " weights of type " + std::string(quant::to_string(t)) +
                             " have no kernels in this build (layers: Q4_1, Q4_0, Q8_0, F16, Q4_K, Q5_K, "
                             "Q6_K; output: Q8_0, Q4_1, F16, F32, Q6_K)");
}

}  // namespace

std::unique_ptr<decoder> make_foundry_decoder(std::unique_ptr<backend> be, const llama_model& m,
                                              std::uint32_t max_positions, std::unique_ptr<step_recorder> recorder,
                                              const decoder_options& o) {
  const quant::ggml_type tw = m.layer(0).attn_q.type;
  for (const layer_weights& l : m.layers()) {
    for (const weight* w : {&l.attn_q, &l.attn_k, &l.ffn_gate, &l.ffn_up})
      if (w->type != tw)
        throw std::runtime_error("tensor " + std::string(w->name) + " is " + std::string(w->type_name()) +
                                 "; this decoder needs Wq, Wk, Wgate and Wup of every layer in one type (" +
                                 std::string(quant::to_string(tw)) + ")");
    if (l.attn_v.type != tw && l.attn_v.type != quant::ggml_type::q6_k && l.attn_v.type != quant::ggml_type::q8_0)
      throw std::runtime_error("tensor " + std::string(l.attn_v.name) + " is " + std::string(l.attn_v.type_name()) +
                               "; Wv must be " + std::string(quant::to_string(tw)) + " (as Wq), Q6_K or Q8_0");
  }
  if (!m.hparams().tied_embeddings && m.output().type != m.token_embd().type)
    throw std::runtime_error("output and token_embd must share a type");
  std::unique_ptr<decoder> out;
  with_policy(tw, "layer",
              type_list<policies::q4_1, policies::q4_0, policies::q8_0, policies::f16, policies::q4_k, policies::q5_k,
                        policies::q6_k>{},
              [&]<class PW>(PW) {
                with_policy(m.output().type, "output",
                            type_list<policies::q8_0, policies::q4_1, policies::f16, policies::f32, policies::q6_k>{},
                            [&]<class PE>(PE) {
                              out = std::make_unique<foundry_decoder<PW, PE>>(std::move(be), m, max_positions,
                                                                              std::move(recorder), o);
                            });
              });
  return out;
}

}  // namespace foundry::generate
