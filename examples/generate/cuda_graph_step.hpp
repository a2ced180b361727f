// Decode steps on the CUDA backend as CUDA graphs.
//
// A SmolLM2 step is 184 dispatches (the embedding, 6 per layer x 30 layers,
// the head and two argmax passes) whose scalars change every step (the
// position, the token). Each step is captured anew (the launches are
// recorded, not run), the executable graph of the previous step is updated
// in place with it (cuda_backend::end_capture_into, cuGraphExecUpdate) and
// replayed: the GPU runs the step's kernels back to back.
//
// Trade-off, measured on an H100 (bench/results/2026-11-23-h100-cuda.md):
// the host time per step drops 2.6-2.8x, but the GPU starts only when the
// capture ends, where direct launches overlap with it, so tokens/s is about
// the same (-4%). --no-cuda-graphs selects direct launches.
//
// With `replay_recorded` (the decoder's `device_positions`: the position and
// the token id live in device memory, so a step's launches never change) the
// first step is captured and every later step is that graph replayed: one
// cuGraphLaunch per token, no capture and no update on the host. Such a
// recorder also reads each step's token back asynchronously (`read_back`:
// a copy into page-locked host memory and an event behind the replay), so
// the decoder can launch step t + 1 before it reads step t's token and the
// GPU never waits for the host between steps (decoder::launch_next).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <foundry/backends/cuda/backend.hpp>
#include <foundry/runtime/executor.hpp>
#include <span>
#include <string>

#include "foundry_decoder.hpp"

namespace foundry::generate {

/// See the file comment. The executor passed to begin/end must run on a
/// CUDA backend (throws std::invalid_argument otherwise).
class cuda_graph_step final : public step_recorder {
 public:
  /// `replay_recorded`: capture one step, replay it for every later step
  /// (`replays`); otherwise capture every step.
  explicit cuda_graph_step(bool replay_recorded = false) : replay_recorded_(replay_recorded) {}
  void begin(executor& ex) override { backend_of(ex).begin_capture(); }
  void end(executor& ex) override {
    cuda::cuda_backend& be = backend_of(ex);
    be.end_capture_into(graph_);
    be.replay(graph_);
  }
  std::string name() const override {
    return replay_recorded_ ? "one CUDA graph replayed per step" : "CUDA graph per step";
  }
  bool replays() const override { return replay_recorded_; }
  void replay(executor& ex) override { backend_of(ex).replay(graph_); }

  bool reads_back() const override { return replay_recorded_; }
  /// Copies `result`'s first uint into the next of two page-locked slots
  /// (cuda_backend::read_back); throws std::logic_error when both hold a
  /// value not collected yet.
  void read_back(executor& ex, const buffer& result) override {
    cuda::cuda_backend& be = backend_of(ex);
    if (in_flight_ == slots_.size())
      throw std::logic_error("cuda_graph_step: read_back with " + std::to_string(in_flight_) +
                             " read-backs not collected");
    cuda::host_readback& slot = slots_[(oldest_ + in_flight_) % slots_.size()];
    if (!slot) slot = be.make_host_readback(sizeof(std::uint32_t));
    be.read_back(result.info(), 0, sizeof(std::uint32_t), slot);
    ++in_flight_;
  }
  /// Waits for the oldest slot's copy; throws std::logic_error when none is
  /// in flight, what cuda_backend::wait throws for a fault before it.
  std::uint32_t collect(executor& ex) override {
    if (in_flight_ == 0) throw std::logic_error("cuda_graph_step: collect with no read-back in flight");
    cuda::host_readback& slot = slots_[oldest_];
    oldest_ = (oldest_ + 1) % slots_.size();
    --in_flight_;
    const std::span<const std::byte> bytes = backend_of(ex).wait(slot);
    std::uint32_t v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
  std::size_t read_back_depth() const override { return slots_.size(); }

 private:
  static cuda::cuda_backend& backend_of(executor& ex) {
    auto* be = dynamic_cast<cuda::cuda_backend*>(&ex.get_backend());
    if (be == nullptr)
      throw std::invalid_argument("cuda_graph_step: the decoder's backend is " + std::string(ex.get_backend().name()) +
                                  ", not cuda");
    return *be;
  }
  bool replay_recorded_;
  cuda::graph graph_;
  // Two slots: step t's token is read while step t + 1 runs.
  std::array<cuda::host_readback, 2> slots_;
  std::size_t oldest_ = 0, in_flight_ = 0;
};

}  // namespace foundry::generate
