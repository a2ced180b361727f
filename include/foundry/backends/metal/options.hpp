#pragma once
/// @file options.hpp
/// Options of the Metal backend. Portable (no Apple headers), so code that
/// offers a `--backend metal` flag can build them on every platform.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace foundry::metal_backend {

/// A Metal Shading Language version as `MTLLanguageVersion` encodes it:
/// `(major << 16) | minor`. 0 means "leave `MTLCompileOptions.languageVersion`
/// unset", which makes the compiler use the newest version the OS supports.
using language_version = std::uint32_t;

/// `language_version` for MSL `major.minor` (e.g. `msl_version(3, 1)`; MSL 3.1
/// is the first with `bfloat`).
constexpr language_version msl_version(std::uint32_t major, std::uint32_t minor) noexcept {
  return (major << 16) | minor;
}

/// How the Metal compiler may treat floating-point arithmetic.
enum class math_mode : std::uint8_t {
  /// IEEE 754 semantics as far as the GPU has them, precise math functions:
  /// `MTLMathModeSafe` with `MTLMathFloatingPointFunctionsPrecise` on
  /// macOS 15 and later, `fastMathEnabled = NO` before. The default, so that
  /// results compare with the CPU backend and the float64 references.
  safe,
  /// `MTLMathModeRelaxed` (macOS 15 and later; `fastMathEnabled = NO` before).
  relaxed,
  /// `MTLMathModeFast` with fast math functions (`fastMathEnabled = YES`
  /// before macOS 15): the Metal compiler's own default.
  fast,
};

/// How dispatches between two `synchronize` calls are encoded.
enum class encoding : std::uint8_t {
  /// One concurrent compute encoder (`MTLDispatchTypeConcurrent`) per
  /// command buffer, with a buffer memory barrier only before a dispatch that
  /// reads or writes a buffer an earlier dispatch since the last barrier wrote,
  /// or writes a buffer such a dispatch read (see hazards.hpp). The default.
  concurrent_with_tracked_barriers,
  /// A serial compute encoder (`MTLDispatchTypeSerial`): every dispatch waits
  /// for the previous one, as if there were a barrier after each. For
  /// debugging a suspected missing barrier.
  serial,
};

/// A `.metallib` built ahead of time (see `foundry_metal_precompile` in
/// cmake/FoundryMetal.cmake). Kernels are looked up in it by entry-point name
/// (the kernel alias's name) before anything is compiled from source.
struct precompiled_library {
  /// The `.metallib` file.
  std::filesystem::path metallib;
  /// The folder of `.metal` files it was built from (`foundry-emit --out`).
  /// When set, a kernel is taken from the library only if
  /// `<sources>/<entry>.metal` is byte-for-byte the source the executor
  /// would compile now; otherwise (a stale library) it is compiled from
  /// source. Empty: trust the library.
  std::filesystem::path sources;
};

/// Options of the Metal backend.
struct backend_options {
  /// MSL version; 0 (default): the newest the OS supports.
  language_version language = 0;
  /// Floating-point semantics; `safe` by default (fast math off).
  math_mode math = math_mode::safe;
  /// Dispatch encoding; concurrent with barriers only where needed by default.
  encoding dispatch_encoding = encoding::concurrent_with_tracked_barriers;
  /// Commit the open command buffer (without waiting) after this many
  /// dispatches so the GPU starts while the host keeps encoding; 0: commit only
  /// in `synchronize`, `upload` and `download`.
  std::uint32_t max_dispatches_per_command_buffer = 0;
  /// A `MTLBinaryArchive` file used as an on-disk cache of compiled pipelines:
  /// loaded when the backend is created (if it exists), extended with every
  /// pipeline compiled from then on, written back by `save_binary_archive()`
  /// and by the destructor. Empty (default): no archive; the OS's own shader
  /// cache still caches compiled sources across runs.
  std::filesystem::path binary_archive;
  /// Libraries built ahead of time, searched in order.
  std::vector<precompiled_library> precompiled;
  /// Foundry's SIMD-group functions assume 32 lanes (every Apple GPU). A
  /// pipeline whose `threadExecutionWidth` differs (some Intel and AMD GPUs
  /// in older Macs) is rejected with `compile_error` unless this is set.
  bool allow_other_simd_widths = false;
};

}  // namespace foundry::metal_backend
