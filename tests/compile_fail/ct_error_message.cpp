// expect: stage rms_norm: argument x declared twice
// A failing compile-time check must show its message in the diagnostics.
#include <foundry/core/ct_error.hpp>

static_assert(
    foundry::ct_check<false>.emit<foundry::fixed_string("stage rms_norm: argument x declared twice")>());
