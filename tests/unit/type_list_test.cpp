// foundry::type_list and its operations (core/type_list.hpp, on Boost.MP11):
// the composer relies on their order guarantees (emitted helpers, argument
// and struct order follow them), so they are pinned here at compile time and
// for_each_type at run time.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include <foundry/core/type_list.hpp>

namespace {

using foundry::concat_t;
using foundry::contains_v;
using foundry::type_list;
using foundry::unique_t;

static_assert(std::is_same_v<concat_t<>, type_list<>>, "concatenation of no lists is an empty type_list");
static_assert(std::is_same_v<concat_t<type_list<int>, type_list<>, type_list<char, int>>, type_list<int, char, int>>,
              "concatenation keeps order and duplicates");
static_assert(std::is_same_v<unique_t<type_list<int, char, int, long, char>>, type_list<int, char, long>>,
              "unique_t keeps the first occurrence in place");
static_assert(std::is_same_v<unique_t<type_list<>>, type_list<>>);
static_assert(contains_v<char, type_list<int, char>> && !contains_v<long, type_list<int, char>>);
static_assert(!contains_v<int, type_list<>>);
static_assert(type_list<int, char, int>::size == 3 && type_list<>::size == 0);

TEST(TypeList, ForEachVisitsInOrder) {
  std::string seen;
  foundry::for_each_type(type_list<int, char, long, char>{}, [&]<class T>() {
    if constexpr (std::is_same_v<T, int>) seen += 'i';
    if constexpr (std::is_same_v<T, char>) seen += 'c';
    if constexpr (std::is_same_v<T, long>) seen += 'l';
  });
  EXPECT_EQ(seen, "iclc");
}

}  // namespace
