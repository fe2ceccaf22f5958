// Why a ping stopped and what its run is worth
// (benchmarks/latency-bench/stop_reason.hpp).
#include <doctest/doctest.h>

#include "benchmarks/latency-bench/stop_reason.hpp"

using coronet::latency::complete_run;
using coronet::latency::describe_stop;
using coronet::latency::effective_stop;
using coronet::latency::stop_reason;

TEST_CASE("complete_run: a measurement only with every sample asked for") {
  CHECK(complete_run(20000, 20000));
  CHECK_FALSE(complete_run(19999, 20000));
  CHECK_FALSE(complete_run(1, 20000));  // one sample kept once made a run count as full
  CHECK_FALSE(complete_run(0, 1));
}

TEST_CASE("effective_stop: the count when all were kept, else what the loop recorded") {
  // All kept: whatever came after the last sample (the server closing, a
  // signal while the connection closed) does not make the run a partial one.
  CHECK(effective_stop(stop_reason::peer_closed, 100, 100) == stop_reason::count);
  CHECK(effective_stop(stop_reason::none, 100, 100) == stop_reason::count);
  // Fewer: the recorded reason, whatever it is.
  CHECK(effective_stop(stop_reason::signal, 5, 100) == stop_reason::signal);
  CHECK(effective_stop(stop_reason::peer_closed, 5, 100) == stop_reason::peer_closed);
  CHECK(effective_stop(stop_reason::error, 0, 100) == stop_reason::error);
  CHECK(effective_stop(stop_reason::time_limit, 99, 100) == stop_reason::time_limit);
  // Nothing (or a count that was not reached) recorded: the loop ended by
  // its deadline, the only way it ends unprompted.
  CHECK(effective_stop(stop_reason::none, 5, 100) == stop_reason::time_limit);
  CHECK(effective_stop(stop_reason::count, 5, 100) == stop_reason::time_limit);
}

TEST_CASE("describe_stop: one phrase per reason, with its detail") {
  CHECK(describe_stop(stop_reason::count, "") == "count reached");
  CHECK(describe_stop(stop_reason::time_limit, "60 s") == "time limit reached (60 s)");
  CHECK(describe_stop(stop_reason::time_limit, "") == "time limit reached");
  CHECK(describe_stop(stop_reason::signal, "SIGTERM") == "signal SIGTERM");
  CHECK(describe_stop(stop_reason::peer_closed, "") == "the server closed the connection");
  CHECK(describe_stop(stop_reason::error, "recv failed: Connection reset by peer") ==
        "error: recv failed: Connection reset by peer");
}
