// benchmarks/latency-bench/percentiles.hpp - the figures every latency-bench
// line reports from a set of samples: nearest-rank percentiles, and the
// min/p50/p90/p99/max of a result line. Header-only and free of the rest of
// latency-bench, so tests/bench can check it alone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace coronet::latency {

// Nearest rank: the smallest sample with at least p of them at or below it;
// 0 when there is none (a figure to print goes through percentile_us, which
// says "-" then). Reorders v (nth_element), so anything read from v by
// position afterwards - its front as the minimum, say - is no longer what it
// was.
inline std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  auto rank = static_cast<std::size_t>(p * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
  return v[rank];
}

inline double us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }

// A percentile of nanosecond samples as a figure for a line: µs with two
// decimals ("5.67"), or "-" when there is no sample, so that a line never
// shows 0.00 for something that was not measured. Reorders v.
inline std::string percentile_us(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", us(percentile(v, p)));
  return buf;
}

struct summary {
  std::int64_t min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// A result line's figures, each taken in its own statement: the extremes
// first, then the percentiles (which reorder v). All 0 when v is empty.
inline summary summarize(std::vector<std::int64_t>& v) {
  summary s;
  if (v.empty()) return s;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo;
  s.max = *hi;
  s.p50 = percentile(v, 0.50);
  s.p90 = percentile(v, 0.90);
  s.p99 = percentile(v, 0.99);
  return s;
}

}  // namespace coronet::latency
