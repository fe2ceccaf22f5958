// net/trace.hpp - `--trace`: one tcpdump-style line per TCP segment in and out,
//   0.000012 IN  198.18.0.1.40000 > 198.18.0.2.7: Flags [S], seq 123, win 64240,
//            options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
// Timestamps are seconds (with microseconds) since the first segment printed.
// Attach with stack::add_observer().
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "proto/engine.hpp"

namespace coronet::net {

class trace_printer final : public segment_observer {
 public:
  explicit trace_printer(std::ostream& out) : out_(out) {}
  void on_segment(direction d, time_point now, const segment_summary& s) override;

  // The line on_segment would print, without the newline (for tests).
  static std::string format(direction d, duration since_start, const segment_summary& s);

 private:
  std::ostream& out_;
  std::optional<time_point> start_;
};

// tcpdump's flag letters: "S", "S.", "P.", "F.", "R", "." ...
std::string tcp_flags_string(std::uint8_t flags);

}  // namespace coronet::net
