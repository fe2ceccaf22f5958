// benchmarks/latency-bench/stop_reason.hpp - why a ping stopped taking
// samples, and what that makes of its run: only a run that kept every one of
// its --count samples is a measurement (exit 0); one cut short by the time
// limit, a signal, the server closing or an error still prints its result
// line, with what it kept, and exits 1. Header-only and free of the rest of
// latency-bench, so tests/bench can check it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace coronet::latency {

enum class stop_reason : std::uint8_t {
  none,         // nothing recorded (yet)
  count,        // --count samples kept
  time_limit,   // --max-seconds (pings: 60 s by default)
  signal,       // SIGINT or SIGTERM
  peer_closed,  // the server ended the connection
  error,        // a send, receive or write failed
};

// The reason a run reports: "count" whenever all `count` samples were kept,
// whatever the loop saw after the last of them; else what it recorded, the
// time limit when it recorded nothing (the only way a loop ends unprompted).
inline stop_reason effective_stop(stop_reason recorded, std::size_t kept, std::size_t count) {
  if (kept >= count) return stop_reason::count;
  return recorded == stop_reason::none || recorded == stop_reason::count ? stop_reason::time_limit : recorded;
}

// A run is a measurement only with all its samples.
inline bool complete_run(std::size_t kept, std::size_t count) { return kept >= count; }

// What stopped the run, for stderr: "count reached", "time limit reached
// (60 s)", "signal SIGTERM", "the server closed the connection", "recv
// failed: Connection reset by peer". `detail`: the limit, the signal's name
// or the error's text; may be empty.
inline std::string describe_stop(stop_reason r, std::string_view detail) {
  auto with = [&](std::string s, std::string_view open, std::string_view close) {
    if (!detail.empty()) s.append(open).append(detail).append(close);
    return s;
  };
  switch (r) {
    case stop_reason::none:
      return "not stopped";
    case stop_reason::count:
      return "count reached";
    case stop_reason::time_limit:
      return with("time limit reached", " (", ")");
    case stop_reason::signal:
      return with("signal", " ", "");
    case stop_reason::peer_closed:
      return "the server closed the connection";
    case stop_reason::error:
      return with("error", ": ", "");
  }
  return "unknown";
}

}  // namespace coronet::latency
