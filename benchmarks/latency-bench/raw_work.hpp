// benchmarks/latency-bench/raw_work.hpp - tcp-server --raw-work: work done
// before each raw answer, to measure what a given amount of the program's own
// work adds to a round trip (docs/latency.md, "What coronet's work costs the
// kernel").
//
// The raw floor's server answers at once; coronet's TCP server first runs the
// stack. With --raw-work the raw answer waits for one of these first:
//   spin:NS    spins on the clock for NS nanoseconds: time spent, almost no
//              code or data touched (the control);
//   tcp-echo   one 64-byte echo through two TCP engines joined in memory
//              (client send, server receive and send back, client receive):
//              the protocol code a TCP answer runs, without device, stack or
//              runtime, in about the time a server spends on one.
// Each run is timed (two clock reads, which the answer also waits for). Were
// a raw round trip to grow by more than the work's own time, the rest is what
// the kernel's side of the round trip lost to the work's code and data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace coronet::latency {

struct raw_work_spec {
  enum class kind : std::uint8_t { none, spin, tcp_echo };
  kind what = kind::none;
  std::int64_t spin_ns = 0;  // spin: 1..100000 (main.cpp parses "spin:NS" and "tcp-echo")
};

class raw_work {
 public:
  // Sets up at once (tcp-echo: connects its two engines); throws
  // std::runtime_error when that fails.
  explicit raw_work(const raw_work_spec& spec);
  ~raw_work();
  raw_work(const raw_work&) = delete;
  raw_work& operator=(const raw_work&) = delete;

  // One run. tcp-echo throws std::runtime_error if its echo comes back short.
  void run();

  std::uint64_t runs() const noexcept { return runs_; }
  std::uint64_t bytes_echoed() const noexcept;  // tcp-echo: bytes the client read back
  // "raw work tcp-echo: runs=N bytes_echoed=B p50=0.44 p90=0.56 unit=us"
  // (p50=- p90=- when it never ran).
  std::string summary() const;

 private:
  class engine_pair;  // raw_work.cpp
  raw_work_spec spec_;
  std::unique_ptr<engine_pair> pair_;
  std::vector<std::int64_t> ns_;  // reserved up front: runs on the hot path allocate nothing
  std::uint64_t runs_ = 0;
};

}  // namespace coronet::latency
