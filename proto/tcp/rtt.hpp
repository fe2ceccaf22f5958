// proto/tcp/rtt.hpp - the round-trip time estimator and retransmission timeout
// of RFC 6298, with Linux's floor on the variance term (tcp_rtt_estimator,
// tcp_set_rto). Kept in nanoseconds so ~30 us samples on veth keep their
// precision. Never reads a clock: the caller measures and passes samples.
// Karn's rule (no samples from retransmitted segments, RFC 6298 3) is the
// caller's job, and so is the backoff counter (RFC 6298 5.5).
#pragma once

#include "proto/types.hpp"

namespace coronet::tcp {

// RFC 6298 round-trip estimator with Linux's RTO floor (tcp_rtt_estimator, tcp_set_rto):
// RTO = SRTT + max(4*RTTVAR, rto_min), clamped to [rto_min, rto_max]; before the first
// sample RTO = initial_rto (RFC 6298 2.1). Karn's rule is the caller's job.
class rtt_estimator {
 public:
  rtt_estimator(duration initial_rto, duration rto_min, duration rto_max);

  void sample(duration rtt);  // one measurement; negative -> ignored; 0 allowed
  bool has_sample() const { return has_sample_; }
  duration srtt() const { return srtt_; }      // 0 before the first sample
  duration rttvar() const { return rttvar_; }  // 0 before the first sample
  duration rto() const { return rto_; }        // current RTO, without backoff
  duration min_rtt() const { return min_rtt_; }  // smallest sample seen (duration::max() before any)
  duration latest() const { return latest_; }    // last sample (0 before any)

  // rto() doubled `backoff` times, capped at rto_max (RFC 6298 5.5, Linux
  // inet_csk_rto_backoff): the timer value after `backoff` expiries.
  duration backed_off(unsigned backoff) const;

 private:
  void update_rto();

  duration rto_min_, rto_max_;
  duration srtt_{0}, rttvar_{0}, rto_;
  duration min_rtt_ = duration::max();
  duration latest_{0};
  bool has_sample_ = false;
};

}  // namespace coronet::tcp
