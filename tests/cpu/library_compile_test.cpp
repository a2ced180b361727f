// Every kernel alias of the library is instantiated here and its emitted
// source compiled by the CPU backend in one compiler invocation.
#include <gtest/gtest.h>

#include <foundry/backends/cpu/backend.hpp>
#include <foundry/foundry.hpp>
#include <kernels/library.hpp>

namespace {

template <class... Ks>
void prepare_all(foundry::executor& ex, foundry::type_list<Ks...>) {
  ex.prepare<Ks...>();
  ([&] { EXPECT_EQ(ex.pipeline_for<Ks>().name(), Ks::name.view()); }(), ...);
}

TEST(Library, EveryAliasCompilesOnTheCpuBackend) {
  foundry::executor ex{foundry::cpu::make_backend()};
  prepare_all(ex, foundry::kernels::library{});
  EXPECT_GT(foundry::kernels::library::size, 0u);
}

}  // namespace
