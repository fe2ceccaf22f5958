// tcp-ping --interleave-raw's turns (benchmarks/latency-bench/interleave.hpp),
// on a simulated run: each kind discards its first round trips as warm-up,
// and raw frames may be lost (no sample kept).
#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "benchmarks/latency-bench/interleave.hpp"

using coronet::latency::interleave;

namespace {

struct run {
  std::size_t tcp_kept = 0, raw_kept = 0;
  std::string kinds;  // one letter per kept sample, in order: 'r' raw, 't' TCP
  std::vector<std::size_t> runs;  // lengths of the runs of one kind in `kinds`
  interleave il;
};

// `count` samples of each kind; each kind's first `warmup` round trips are
// discarded; every `lose_every`-th raw round trip is lost (0: none). Bounded.
run simulate(std::size_t count, std::size_t warmup, std::size_t lose_every) {
  run r;
  std::size_t tcp_trips = 0, raw_trips = 0;
  for (int step = 0; step < 1000000; ++step) {
    const bool tcp_done = r.tcp_kept >= count, raw_done = r.raw_kept >= count;
    if (tcp_done && raw_done) break;
    if (r.il.raw_next(r.tcp_kept, r.raw_kept, tcp_done, raw_done)) {
      ++raw_trips;
      if (lose_every != 0 && raw_trips % lose_every == 0) continue;
      if (raw_trips <= warmup) continue;
      ++r.raw_kept;
      r.kinds += 'r';
    } else {
      ++tcp_trips;
      if (tcp_trips <= warmup) continue;
      ++r.tcp_kept;
      r.kinds += 't';
    }
  }
  for (std::size_t i = 0; i < r.kinds.size();) {
    std::size_t j = i;
    while (j < r.kinds.size() && r.kinds[j] == r.kinds[i]) ++j;
    r.runs.push_back(j - i);
    i = j;
  }
  return r;
}

}  // namespace

TEST_CASE("interleave: raw first, then blocks of 100 kept samples in turn, both to the count") {
  const run r = simulate(2000, 0, 0);
  CHECK(r.raw_kept == 2000);
  CHECK(r.tcp_kept == 2000);
  REQUIRE(!r.kinds.empty());
  CHECK(r.kinds.front() == 'r');
  CHECK(r.runs.size() == 40);
  for (std::size_t n : r.runs) CHECK(n == interleave::block);
  CHECK(r.il.raw_blocks() == 20);
  CHECK(r.il.tcp_blocks() == 20);
}

TEST_CASE("interleave: a warm-up and lost raw frames do not shorten a block") {
  // 250 round trips of warm-up per kind (inside each kind's first block),
  // every 7th raw frame lost: still 100 kept samples a block, 2350 of each.
  const run r = simulate(2350, 250, 7);
  CHECK(r.raw_kept == 2350);
  CHECK(r.tcp_kept == 2350);
  CHECK(r.kinds.front() == 'r');
  REQUIRE(r.runs.size() == 48);
  for (std::size_t i = 0; i + 2 < r.runs.size(); ++i) CHECK(r.runs[i] == interleave::block);
  CHECK(r.runs[46] == 50);  // the last block of each kind: the count's remainder
  CHECK(r.runs[47] == 50);
  CHECK(r.il.raw_blocks() == 24);
  CHECK(r.il.tcp_blocks() == 24);
}

TEST_CASE("interleave: a kind that is done hands over the turn, and the other keeps it") {
  interleave il;
  CHECK(il.raw_next(0, 0, false, false));       // raw first
  CHECK_FALSE(il.raw_next(0, 40, false, true));  // raw done mid-block: TCP's turn at once
  // TCP keeps the turn past a block's length while raw is done.
  CHECK_FALSE(il.raw_next(150, 40, false, true));
  CHECK(il.raw_blocks() == 1);
  CHECK(il.tcp_blocks() == 1);
  interleave two;
  CHECK(two.raw_next(0, 0, false, false));
  CHECK(two.raw_next(0, 99, false, false));
  CHECK_FALSE(two.raw_next(0, 100, false, false));  // 100 raw kept: TCP's turn
  CHECK_FALSE(two.raw_next(99, 100, false, false));
  CHECK(two.raw_next(100, 100, false, false));  // and back
  CHECK(two.raw_blocks() == 2);
  CHECK(two.tcp_blocks() == 1);
}
