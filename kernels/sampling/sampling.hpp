#pragma once
/// @file sampling.hpp
/// The sampling kernels: the repetition penalty (repetition_penalty.hpp),
/// the top-k candidates with their softmax normalizer
/// (top_k_candidates.hpp) and Gumbel-max sampling over the whole vocabulary
/// (gumbel_argmax.hpp), and all logits above a threshold
/// (logits_at_least.hpp). examples/generate/sampling.hpp and
/// examples/generate/device_sampler.hpp put them together into llama.cpp's
/// sampler chain.

#include "foundry/core/type_list.hpp"
#include "kernels/sampling/counter_hash.hpp"
#include "kernels/sampling/gumbel_argmax.hpp"
#include "kernels/sampling/logits_at_least.hpp"
#include "kernels/sampling/repetition_penalty.hpp"
#include "kernels/sampling/top_k_candidates.hpp"

namespace foundry::kernels {

/// The library's sampling kernels: every alias of this family, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using sampling_library = type_list<
    repetition_penalty_f32,
    top_k_candidates_f32,
    gumbel_argmax_f32,
    logits_at_least_f32>;

}  // namespace foundry::kernels
