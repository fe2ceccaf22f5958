// proto/tcp/congestion.hpp - congestion control: the window rules a connection
// asks on each ACK, loss, timeout and idle restart, in the shape of Linux's
// tcp_congestion_ops (.cong_avoid, .ssthresh, .undo..., .cwnd_event). cwnd and
// ssthresh count SEGMENTS, as Linux's snd_cwnd does; the caller turns them into
// bytes with its MSS. Two algorithms: "reno" (RFC 5681 + RFC 6582) and "cubic"
// (RFC 9438 with HyStart++, RFC 9406), Linux's default.
// Single-threaded; never reads a clock: every call carries `now`. The factory
// allocates once per connection; nothing else allocates.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "proto/types.hpp"

namespace coronet::tcp {

struct cc_ack {                 // what one ACK did, outside loss recovery
  std::uint32_t acked = 0;      // segments newly delivered (cumulatively ACKed or SACKed)
  std::uint32_t in_flight = 0;  // segments in flight before the ACK
  bool cwnd_limited = false;    // the sender was limited by cwnd (not by the app or rwnd)
  duration rtt{-1};             // an RTT sample from this ACK, or negative if none
  duration min_rtt{-1};         // the connection's min RTT so far, or negative
  time_point now{};
};

class congestion_control {
 public:
  virtual ~congestion_control() = default;
  virtual std::string_view name() const = 0;  // "cubic" / "reno" (sysctl spelling)
  // Linux .cong_avoid: slow start (RFC 5681 3.1, with RFC 3465 ABC, L = 2) or
  // congestion avoidance; only grows cwnd when a.cwnd_limited.
  virtual void on_ack(const cc_ack& a) = 0;
  // Entering fast recovery (RFC 5681 3.2 / RFC 6675 / RFC 9438 4.6): ssthresh from the
  // algorithm's beta, cwnd = ssthresh. `in_flight` in segments at the time.
  virtual void on_congestion_event(std::uint32_t in_flight, time_point now) = 0;
  // Recovery finished with a full ACK (RFC 6582 3.2 step 3): cwnd = ssthresh.
  virtual void on_recovery_end(time_point now) = 0;
  // RTO fired (RFC 5681 3.1 eq. 4, RFC 9438 4.8): ssthresh as on a congestion event
  // (only on the first RTO of a series: the caller passes first=false for backed-off
  // repeats, which must not lower ssthresh again), cwnd = 1.
  virtual void on_rto(std::uint32_t in_flight, bool first, time_point now) = 0;
  // Idle for more than an RTO with tcp_slow_start_after_idle (RFC 5681 4.1, RFC 9438 5.8):
  // cwnd = min(cwnd, initial window); CUBIC also restarts its epoch.
  virtual void on_idle_restart(time_point now) = 0;
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }  // Linux tcp_in_slow_start
  // Loss recovery sets cwnd itself between on_congestion_event and
  // on_recovery_end (RFC 6937 PRR, as Linux tcp_cwnd_reduction writes
  // snd_cwnd). At least 1 segment.
  void set_cwnd(std::uint32_t w) { cwnd_ = w < 1 ? 1 : (w > infinite_ssthresh ? infinite_ssthresh : w); }

  static constexpr std::uint32_t infinite_ssthresh = 0x7fffffff;  // Linux TCP_INFINITE_SSTHRESH

 protected:
  explicit congestion_control(std::uint32_t init_cwnd);
  std::uint32_t init_cwnd_, cwnd_, ssthresh_ = infinite_ssthresh;  // "infinite" at the start
};

// "cubic" or "reno"; nullptr for another name. Allocates once (per connection).
std::unique_ptr<congestion_control> make_congestion_control(std::string_view name, std::uint32_t init_cwnd);

// RFC 5681 slow start and congestion avoidance, RFC 6582 (NewReno) recovery.
// ssthresh on loss is RFC 5681 eq. 4, max(FlightSize / 2, 2), from the
// caller's in_flight (Linux tcp_reno_ssthresh halves cwnd instead).
class reno final : public congestion_control {
 public:
  explicit reno(std::uint32_t init_cwnd) : congestion_control(init_cwnd) {}
  std::string_view name() const override { return "reno"; }
  void on_ack(const cc_ack& a) override;
  void on_congestion_event(std::uint32_t in_flight, time_point now) override;
  void on_recovery_end(time_point now) override;
  void on_rto(std::uint32_t in_flight, bool first, time_point now) override;
  void on_idle_restart(time_point now) override;

  std::uint32_t cwnd_cnt() const { return cwnd_cnt_; }  // segments acked towards the next +1 in CA

 private:
  std::uint32_t cwnd_cnt_ = 0;  // Linux snd_cwnd_cnt
};

// RFC 9438 CUBIC as Linux's tcp_cubic runs it by default (C = 0.4,
// beta_cubic = 0.7, fast convergence, Reno-friendly region), with HyStart++
// (RFC 9406) in the initial slow start.
class cubic final : public congestion_control {
 public:
  static constexpr double C = 0.4;           // RFC 9438 4.2 (Linux bic_scale 41 / 1024 * 10)
  static constexpr double beta_cubic = 0.7;  // RFC 9438 4.6 (Linux beta 717 / 1024)

  explicit cubic(std::uint32_t init_cwnd) : congestion_control(init_cwnd) {}
  std::string_view name() const override { return "cubic"; }
  void on_ack(const cc_ack& a) override;
  void on_congestion_event(std::uint32_t in_flight, time_point now) override;
  void on_recovery_end(time_point now) override;
  void on_rto(std::uint32_t in_flight, bool first, time_point now) override;
  void on_idle_restart(time_point now) override;

  enum class hystart_phase { slow_start, css, done };  // RFC 9406: SS, CSS, then off

  // State, for tests and tracing.
  double w_max() const { return w_max_; }         // W_max (0: none yet, or reset by an RTO)
  double k() const { return k_; }                 // K of the current epoch, seconds
  double origin() const { return origin_; }       // the plateau of the current curve
  double w_est() const { return w_est_; }         // Reno-friendly estimate (RFC 9438 4.3)
  std::uint32_t cwnd_prior() const { return cwnd_prior_; }
  bool epoch_started() const { return epoch_started_; }
  time_point epoch_start() const { return t_epoch_; }
  double w_cubic(double t_seconds) const;         // RFC 9438 eq. 1 for the current epoch
  hystart_phase hystart() const { return phase_; }

 private:
  void hystart_on_ack(const cc_ack& a);
  void hystart_start_round();
  void hystart_end_round();
  void hystart_exit_to_ca();
  void congestion_avoidance(std::uint32_t acked, const cc_ack& a);
  void start_epoch(time_point now);
  void add_fraction(double segments);
  void reduce(std::uint32_t in_flight);
  duration rtt_for_target(const cc_ack& a) const;

  // RFC 9438 state.
  double w_max_ = 0, origin_ = 0, k_ = 0, w_est_ = 0;
  double cwnd_frac_ = 0;  // growth below one segment carried to the next ACK (Linux cnt / ack_cnt)
  std::uint32_t cwnd_prior_ = 0;
  bool epoch_started_ = false;
  time_point t_epoch_{};
  duration delay_min_ = duration::max();  // Linux ca->delay_min, when the caller gives no min_rtt

  // RFC 9406 state.
  hystart_phase phase_ = hystart_phase::slow_start;
  duration last_round_min_rtt_ = duration::max(), current_round_min_rtt_ = duration::max();
  duration css_baseline_min_rtt_ = duration::max();
  std::uint32_t rtt_sample_count_ = 0;
  bool round_open_ = false;
  std::uint32_t round_cwnd_ = 0, round_acked_ = 0;  // a round ends when round_acked_ >= round_cwnd_
  std::uint32_t css_rounds_ = 0, css_quarters_ = 0;
};

}  // namespace coronet::tcp
