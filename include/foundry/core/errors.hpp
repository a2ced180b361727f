#pragma once
/// @file errors.hpp
/// Exceptions Foundry throws at run time. Every message names the kernel and,
/// where there is one, the argument or stage at fault.

#include <stdexcept>
#include <string>

namespace foundry {

/// Base of every Foundry run-time error.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An argument bound with the wrong size, element type, backend or missing.
class binding_error : public error {
 public:
  using error::error;
};

/// A dispatch whose computed grid or threadgroup size is invalid.
class dispatch_error : public error {
 public:
  using error::error;
};

/// A target compiler rejected emitted source; `what()` names the stage that
/// emitted the offending line and quotes it.
class compile_error : public error {
 public:
  using error::error;
};

/// A backend that is not available on this machine or build.
class backend_unavailable : public error {
 public:
  using error::error;
};

}  // namespace foundry
