// Stop strings of a streamed generation (--stop TEXT): generation ends when
// the decoded text contains one of them, and the text from the stop string
// on is not printed.
//
// Streaming holds back only what could still become a stop string: after
// each piece, the longest end of the pending text that is a proper prefix of
// some stop string. Everything before it is final (no stop string can
// start there: one that did would either be complete, and found, or run to
// the end of the text, and be held back), so output is delayed by at most
// the longest stop string less one byte.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sampling.hpp"

namespace foundry::generate {

/// Finds stop strings in streamed text (see the file comment).
class stop_matcher {
 public:
  /// `stops`: the stop strings (may be empty: nothing stops). Throws
  /// `sampling_error` naming --stop for an empty string, which would match
  /// before any text.
  explicit stop_matcher(std::vector<std::string> stops = {}) : stops_(std::move(stops)) {
    for (const std::string& s : stops_)
      if (s.empty()) throw sampling_error("--stop", "must not be empty");
  }

  /// Appends `text` (the next decoded piece) and returns what can be printed
  /// now. Once a stop string is found, stopped() is true, the returned text
  /// ends right before it, and later calls return nothing.
  std::string push(std::string_view text) {
    if (stopped_) return {};
    pending_.append(text);
    std::size_t first = std::string::npos;
    for (const std::string& s : stops_) {
      const std::size_t at = pending_.find(s);
      if (at < first) {
        first = at;
        matched_ = s;
      }
    }
    if (first != std::string::npos) {
      stopped_ = true;
      std::string out = pending_.substr(0, first);
      pending_.clear();
      return out;
    }
    std::size_t hold = 0;
    for (const std::string& s : stops_)
      for (std::size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len)
        if (std::string_view(pending_).substr(pending_.size() - len) == std::string_view(s).substr(0, len)) {
          hold = len;
          break;
        }
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
  }

  /// The text still held back (at the end of a generation that did not
  /// stop); empty after a stop.
  std::string flush() { return std::exchange(pending_, {}); }

  /// A stop string was found.
  bool stopped() const noexcept { return stopped_; }
  /// The stop string found (the one starting first; empty before).
  const std::string& matched() const noexcept { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_, matched_;
  bool stopped_ = false;
};

}  // namespace foundry::generate
