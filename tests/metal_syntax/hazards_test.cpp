// The barrier rule of the Metal backend's concurrent encoding (hazards.hpp),
// checked on every platform: a barrier exactly before a dispatch that reads
// or writes what an earlier dispatch since the last barrier wrote, or writes
// what such a dispatch read.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include <foundry/backends/metal/hazards.hpp>

namespace {

namespace fd = foundry;
using fd::access;

// Distinct fake allocations: only the `native` handle identifies a buffer.
struct fake_buffers {
  std::uint64_t storage[16] = {};
  fd::buffer_info info[16];
  fake_buffers() {
    for (int i = 0; i < 16; ++i) info[i] = {&storage[i], 8, fd::dtype::f32, nullptr};
  }
};

fd::bound_argument buf(const fd::buffer_info& b, access m, std::size_t offset = 0) {
  fd::bound_argument a;
  a.kind = fd::arg_kind::buffer;
  a.mode = m;
  a.buffer = &b;
  a.offset = offset;
  return a;
}

fd::bound_argument bytes(const std::uint32_t& v) {
  fd::bound_argument a;
  a.kind = fd::arg_kind::bytes;
  a.mode = access::read;
  a.bytes = &v;
  a.size = sizeof v;
  return a;
}

bool next(fd::metal_backend::hazard_tracker& t, std::initializer_list<fd::bound_argument> args) {
  const std::vector<fd::bound_argument> v(args);
  return t.next(v);
}

TEST(MetalHazards, ReadAfterWriteNeedsABarrier) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[1], access::write)}));
  EXPECT_TRUE(next(t, {buf(b.info[1], access::read), buf(b.info[2], access::write)}));
  EXPECT_EQ(t.barriers(), 1u);
}

TEST(MetalHazards, IndependentDispatchesShareAnInterval) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  // Three projections of one normalised input (q, k, v): no barrier between them.
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[1], access::read), buf(b.info[4], access::write)}));
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[2], access::read), buf(b.info[5], access::write)}));
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[3], access::read), buf(b.info[6], access::write)}));
  EXPECT_EQ(t.barriers(), 0u);
  EXPECT_EQ(t.dispatches(), 3u);
}

TEST(MetalHazards, WriteAfterReadNeedsABarrier) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[1], access::write)}));
  EXPECT_TRUE(next(t, {buf(b.info[0], access::write)}));
}

TEST(MetalHazards, WriteAfterWriteNeedsABarrier) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::write)}));
  EXPECT_TRUE(next(t, {buf(b.info[0], access::write)}));
}

TEST(MetalHazards, ReadAfterReadNeedsNone) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[1], access::write)}));
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[2], access::write)}));
}

TEST(MetalHazards, ReadWriteCountsAsBoth) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read_write)}));
  EXPECT_TRUE(next(t, {buf(b.info[0], access::read)}));
  EXPECT_FALSE(next(t, {buf(b.info[1], access::read)}));
  EXPECT_TRUE(next(t, {buf(b.info[1], access::read_write)}));  // write after read
}

TEST(MetalHazards, ABarrierStartsANewInterval) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[1], access::write)}));
  EXPECT_TRUE(next(t, {buf(b.info[1], access::read), buf(b.info[2], access::write)}));
  // Buffer 1 was written before the barrier: reading it again needs none.
  EXPECT_FALSE(next(t, {buf(b.info[1], access::read), buf(b.info[3], access::write)}));
  // Buffer 2 was written after it.
  EXPECT_TRUE(next(t, {buf(b.info[2], access::read)}));
  EXPECT_EQ(t.barriers(), 2u);
}

TEST(MetalHazards, ADispatchDoesNotConflictWithItself) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read), buf(b.info[0], access::write)}));
  EXPECT_EQ(t.barriers(), 0u);
}

TEST(MetalHazards, SubRangesOfOneAllocationConflict) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::write, 0)}));
  EXPECT_TRUE(next(t, {buf(b.info[0], access::read, 4)}));
}

TEST(MetalHazards, BytesArgumentsNeverConflict) {
  fake_buffers b;
  const std::uint32_t n = 7;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {bytes(n), buf(b.info[0], access::write)}));
  EXPECT_FALSE(next(t, {bytes(n), buf(b.info[1], access::write)}));
}

TEST(MetalHazards, ResetForgetsEverything) {
  fake_buffers b;
  fd::metal_backend::hazard_tracker t;
  EXPECT_FALSE(next(t, {buf(b.info[0], access::write)}));
  t.reset();
  EXPECT_FALSE(next(t, {buf(b.info[0], access::read)}));
}

// One decoder layer's dependency shape: barriers only between dependent
// groups, far fewer than one per dispatch.
TEST(MetalHazards, DecoderLayerNeedsFewerBarriersThanDispatches) {
  fake_buffers b;
  enum { x, h, wq, wk, wv, q, k, v, kv, att, wo, y };
  fd::metal_backend::hazard_tracker t;
  std::vector<bool> barrier;
  barrier.push_back(next(t, {buf(b.info[x], access::read), buf(b.info[h], access::write)}));  // rmsnorm
  barrier.push_back(next(t, {buf(b.info[h], access::read), buf(b.info[wq], access::read), buf(b.info[q], access::write)}));
  barrier.push_back(next(t, {buf(b.info[h], access::read), buf(b.info[wk], access::read), buf(b.info[k], access::write)}));
  barrier.push_back(next(t, {buf(b.info[h], access::read), buf(b.info[wv], access::read), buf(b.info[v], access::write)}));
  barrier.push_back(next(t, {buf(b.info[q], access::read_write), buf(b.info[k], access::read_write)}));  // rope
  barrier.push_back(next(t, {buf(b.info[k], access::read), buf(b.info[v], access::read), buf(b.info[kv], access::read_write)}));
  barrier.push_back(next(t, {buf(b.info[q], access::read), buf(b.info[kv], access::read), buf(b.info[att], access::write)}));
  barrier.push_back(next(t, {buf(b.info[att], access::read), buf(b.info[wo], access::read), buf(b.info[x], access::read),
                             buf(b.info[y], access::write)}));
  const std::vector<bool> expected = {false, true, false, false, true, true, true, true};
  EXPECT_EQ(barrier, expected);
  EXPECT_EQ(t.barriers(), 5u);
  EXPECT_EQ(t.dispatches(), 8u);
}

}  // namespace
