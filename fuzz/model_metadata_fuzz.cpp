// libFuzzer target: the model loader's checks (examples/generate/model.hpp)
// on arbitrary GGUF bytes. A parsed file must either load as a Llama model
// whose hyper-parameters obey llama_limits and match its tensors, or raise
// model_error; a malformed one raises gguf_error. Anything else (bad_alloc,
// another exception, a sanitizer report) is a finding.
//
// Seeds: fuzz/corpus/model_metadata (a tiny complete Llama model and
// variants). The dictionary fuzz/gguf.dict holds the metadata keys.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include <foundry/io/gguf.hpp>

#include "examples/generate/model.hpp"

namespace gen = foundry::generate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto copy = std::make_unique<std::byte[]>(size);
  if (size != 0) std::memcpy(copy.get(), data, size);
  try {
    const auto m = gen::llama_model::from_file(
        foundry::gguf::file::parse(std::span<const std::byte>(copy.get(), size), "fuzz.gguf"));
    const gen::llama_hparams& hp = m.hparams();
    using lim = gen::llama_limits;
    if (hp.n_layer == 0 || hp.n_layer > lim::max_layers || hp.n_embd == 0 ||
        hp.n_embd > lim::max_embd || hp.n_head == 0 || hp.n_head_kv == 0 ||
        hp.n_head % hp.n_head_kv != 0 || hp.head_dim * hp.n_head != hp.n_embd ||
        hp.n_ff == 0 || hp.n_ff > lim::max_ff || hp.n_ctx_train == 0 ||
        hp.n_ctx_train > lim::max_context || !(hp.rope_freq_base > 0.0f) ||
        !(hp.rms_eps > 0.0f) || m.layers().size() != hp.n_layer ||
        m.token_embd().rows != hp.n_vocab || m.token_embd().cols != hp.n_embd)
      __builtin_trap();
    // Every weight lies inside the input.
    for (const auto& l : m.layers())
      for (const auto* w : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate,
                            &l.ffn_up, &l.ffn_down, &l.attn_norm, &l.ffn_norm})
        if (w->bytes.size() != w->rows * w->row_bytes ||
            (w->bytes.size() != 0 && (w->bytes.data() < copy.get() ||
                                      w->bytes.data() + w->bytes.size() > copy.get() + size)))
          __builtin_trap();
  } catch (const foundry::gguf_error&) {
  } catch (const gen::model_error&) {
  }
  return 0;
}
