// The figures latency-bench prints from its samples
// (benchmarks/latency-bench/percentiles.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "benchmarks/latency-bench/percentiles.hpp"

using coronet::latency::percentile;
using coronet::latency::percentile_us;
using coronet::latency::summarize;

TEST_CASE("percentile: nearest rank, on samples in any order") {
  std::vector<std::int64_t> v(100);
  std::iota(v.begin(), v.end(), 1);  // 1..100
  std::mt19937 rng(7);
  std::shuffle(v.begin(), v.end(), rng);
  CHECK(percentile(v, 0.50) == 50);
  CHECK(percentile(v, 0.90) == 90);
  CHECK(percentile(v, 0.99) == 99);
  CHECK(percentile(v, 1.0) == 100);
  CHECK(percentile(v, 0.0) == 1);  // rank 0 is the smallest sample

  std::vector<std::int64_t> three{30, 10, 20};
  CHECK(percentile(three, 0.50) == 20);  // rank ceil(1.5) = 2
  CHECK(percentile(three, 0.34) == 20);  // rank ceil(1.02) = 2
  CHECK(percentile(three, 0.33) == 10);  // rank ceil(0.99) = 1

  std::vector<std::int64_t> none;
  CHECK(percentile(none, 0.5) == 0);
}

TEST_CASE("summarize: min and max are the extremes, whatever the percentiles did to the order") {
  // Sorted input, as the sampler once passed it: nth_element moves elements
  // of a sorted range, so reading the front after a percentile gave a value
  // other than the minimum (the result lines printed min equal to p50).
  std::vector<std::int64_t> v(20000);
  std::iota(v.begin(), v.end(), 4000);  // 4000..23999 ns
  const auto s = summarize(v);
  CHECK(s.min == 4000);
  CHECK(s.max == 23999);
  CHECK(s.p50 == 4000 + 9999);
  CHECK(s.p90 == 4000 + 17999);
  CHECK(s.p99 == 4000 + 19799);

  std::vector<std::int64_t> shuffled(20000);
  std::iota(shuffled.begin(), shuffled.end(), 4000);
  std::mt19937 rng(11);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const auto t = summarize(shuffled);
  CHECK(t.min == 4000);
  CHECK(t.max == 23999);
  CHECK(t.p50 == s.p50);
  CHECK(t.p90 == s.p90);
  CHECK(t.p99 == s.p99);

  std::vector<std::int64_t> one{5100};
  const auto u = summarize(one);
  CHECK((u.min == 5100 && u.p50 == 5100 && u.p90 == 5100 && u.p99 == 5100 && u.max == 5100));

  std::vector<std::int64_t> none;
  const auto z = summarize(none);
  CHECK((z.min == 0 && z.max == 0 && z.p50 == 0));
}

TEST_CASE("percentile_us: two decimals in microseconds, and \"-\" when there is no sample") {
  std::vector<std::int64_t> v{5670, 4000, 9999};
  CHECK(percentile_us(v, 0.5) == "5.67");
  CHECK(percentile_us(v, 0.9) == "10.00");  // 9.999 rounds to two decimals
  std::vector<std::int64_t> one{440};
  CHECK(percentile_us(one, 0.5) == "0.44");
  // No sample: not 0.00, which a --timing or --raw-work line would show as
  // if it had been measured.
  std::vector<std::int64_t> none;
  CHECK(percentile_us(none, 0.5) == "-");
  CHECK(percentile_us(none, 0.9) == "-");
}
