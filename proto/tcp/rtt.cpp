#include "proto/tcp/rtt.hpp"

#include <algorithm>
#include <chrono>

namespace coronet::tcp {

namespace {
// A sample longer than this is taken as this long: far above any RTO
// (TCP_RTO_MAX is 120 s) and small enough that 8 * SRTT cannot overflow.
constexpr duration max_sample = std::chrono::hours(1);

duration abs_diff(duration a, duration b) { return a > b ? a - b : b - a; }
}  // namespace

rtt_estimator::rtt_estimator(duration initial_rto, duration rto_min, duration rto_max)
    : rto_min_(rto_min), rto_max_(std::max(rto_min, rto_max)), rto_(initial_rto) {}

void rtt_estimator::sample(duration rtt) {
  if (rtt < duration::zero()) return;
  rtt = std::min(rtt, max_sample);
  latest_ = rtt;
  min_rtt_ = std::min(min_rtt_, rtt);
  if (!has_sample_) {
    // RFC 6298 2.2: the first measurement R sets SRTT = R, RTTVAR = R/2.
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    has_sample_ = true;
  } else {
    // RFC 6298 2.3, alpha = 1/8, beta = 1/4; RTTVAR first, with the old SRTT.
    rttvar_ = (3 * rttvar_ + abs_diff(srtt_, rtt)) / 4;
    srtt_ = (7 * srtt_ + rtt) / 8;
  }
  update_rto();
}

void rtt_estimator::update_rto() {
  // RFC 6298 2.3 sets RTO = SRTT + max(G, K*RTTVAR) with K = 4; Linux
  // (tcp_rtt_estimator keeps mdev_max >= tcp_rto_min, tcp_set_rto) uses
  // rto_min in place of the clock granularity G, so a steady RTT of 30 us
  // still gets SRTT + 200 ms. RFC 6298 2.4/2.5: floor and ceiling.
  duration rto = srtt_ + std::max(4 * rttvar_, rto_min_);
  rto_ = std::min(std::max(rto, rto_min_), rto_max_);
}

duration rtt_estimator::backed_off(unsigned backoff) const {
  // RFC 6298 5.5: double per expiry; Linux inet_csk_rto_backoff caps at TCP_RTO_MAX.
  duration r = rto_;
  if (r <= duration::zero()) return r;
  for (unsigned i = 0; i < backoff && r < rto_max_; ++i) r *= 2;
  return std::min(r, std::max(rto_max_, rto_));
}

}  // namespace coronet::tcp
