// Compile-time benchmark of the kernel library (kernels/library.hpp), used by
// bench/compile_time/library.sh. One source, four modes:
//   (no macro)               include the library, instantiate nothing: the baseline
//   -DFOUNDRY_BENCH_ALIAS=i  instantiate the i-th alias of foundry::kernels::library
//   -DFOUNDRY_BENCH_ALL      instantiate every alias in this one translation unit
//   -DFOUNDRY_BENCH_LIST     a program that prints the aliases' kernel names, one per line
// "Instantiate" forces what Foundry builds at compile time for a kernel: the
// composition check, the struct definitions and the signature (the body and
// the entry points are written from them at run time).
#include <boost/mp11/algorithm.hpp>
#include <cstddef>
#include <type_traits>
#include <kernels/library.hpp>

namespace fd = foundry;
namespace fk = foundry::kernels;

template <class K>
constexpr bool force() {
  bool ok = !K::signature.name.empty() && K::struct_source().data() != nullptr;
  // Until 2026-12-05 the body was built in constant evaluation too, and a
  // program that used a kernel paid for it: where body_source() is still a
  // constant expression (an older checkout), force it, so that before/after
  // figures compare what a program pays.
  if constexpr (requires { typename std::integral_constant<std::size_t, K::body_source().size()>; })
    ok = ok && K::body_source().size() > 0;
  return ok;
}

#if defined(FOUNDRY_BENCH_ALIAS)
static_assert(force<boost::mp11::mp_at_c<fk::library, FOUNDRY_BENCH_ALIAS>>());
#elif defined(FOUNDRY_BENCH_ALL)
template <class... Ks>
constexpr bool force_all(fd::type_list<Ks...>) {
  return (force<Ks>() && ...);
}
static_assert(force_all(fk::library{}));
#endif

#if defined(FOUNDRY_BENCH_LIST)
#include <cstdio>
template <class... Ks>
void print_names(fd::type_list<Ks...>) {
  (std::printf("%.*s\n", static_cast<int>(Ks::name.view().size()), Ks::name.view().data()), ...);
}
int main() { print_names(fk::library{}); }
#endif
