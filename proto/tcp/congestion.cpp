#include "proto/tcp/congestion.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace coronet::tcp {

namespace {

// RFC 3465 2.2: slow start grows cwnd by at most L segments per ACK; L = 2.
constexpr std::uint32_t abc_L = 2;
// cwnd never grows past this (Linux snd_cwnd_clamp plays this part).
constexpr std::uint32_t max_cwnd = congestion_control::infinite_ssthresh;

std::uint32_t grow(std::uint32_t cwnd, std::uint64_t by) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{cwnd} + by, max_cwnd));
}

// RFC 5681 3.1 slow start with RFC 3465 ABC: cwnd += min(acked, L), never past
// ssthresh. Returns the segments left over once cwnd reaches ssthresh, which
// the caller spends in congestion avoidance (Linux tcp_slow_start).
std::uint32_t slow_start(std::uint32_t& cwnd, std::uint32_t ssthresh, std::uint32_t acked) {
  std::uint32_t next = std::min(grow(cwnd, std::min(acked, abc_L)), ssthresh);
  std::uint32_t used = next > cwnd ? next - cwnd : 0;
  cwnd = std::max(cwnd, next);
  return cwnd >= ssthresh ? acked - used : 0;
}

// RFC 5681 3.1 congestion avoidance: +1 segment per w segments acked, the
// count carried across ACKs (Linux tcp_cong_avoid_ai).
void cong_avoid_ai(std::uint32_t& cwnd, std::uint32_t& cnt, std::uint32_t w, std::uint32_t acked) {
  w = std::max(w, 1u);
  if (cnt >= w) {  // w shrank since the count was made
    cnt = 0;
    cwnd = grow(cwnd, 1);
  }
  cnt += acked;
  if (cnt >= w) {
    std::uint32_t delta = cnt / w;
    cnt -= delta * w;
    cwnd = grow(cwnd, delta);
  }
}

// Linux tcp_current_ssthresh outside recovery, used by tcp_cwnd_restart:
// before an idle restart drops cwnd, ssthresh keeps at least 3/4 of it so
// slow start climbs back that far.
std::uint32_t current_ssthresh(std::uint32_t cwnd, std::uint32_t ssthresh) {
  return std::max(ssthresh, (cwnd >> 1) + (cwnd >> 2));
}

// RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
std::uint32_t half_flight(std::uint32_t in_flight) { return std::max(in_flight / 2, 2u); }

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

congestion_control::congestion_control(std::uint32_t init_cwnd)
    : init_cwnd_(std::max(init_cwnd, 1u)), cwnd_(init_cwnd_) {}

std::unique_ptr<congestion_control> make_congestion_control(std::string_view name, std::uint32_t init_cwnd) {
  if (name == "cubic") return std::make_unique<cubic>(init_cwnd);
  if (name == "reno") return std::make_unique<reno>(init_cwnd);
  return nullptr;
}

// --- reno -------------------------------------------------------------------

void reno::on_ack(const cc_ack& a) {
  // Linux tcp_reno_cong_avoid: no growth unless cwnd is what limits the
  // sender; an app-limited cwnd would grow without being tested (RFC 7661).
  if (!a.cwnd_limited || a.acked == 0) return;
  std::uint32_t acked = a.acked;
  if (in_slow_start()) {
    acked = slow_start(cwnd_, ssthresh_, acked);
    if (acked == 0) return;
  }
  cong_avoid_ai(cwnd_, cwnd_cnt_, cwnd_, acked);
}

void reno::on_congestion_event(std::uint32_t in_flight, time_point) {
  // RFC 5681 3.2 step 2 (RFC 6582 3.2 step 2): ssthresh from FlightSize, and
  // cwnd = ssthresh without step 3's inflation by 3 segments: the caller
  // counts the pipe (RFC 6675) and paces the reduction (RFC 6937) itself.
  ssthresh_ = half_flight(in_flight);
  cwnd_ = ssthresh_;
  cwnd_cnt_ = 0;
}

void reno::on_recovery_end(time_point) {
  // RFC 6582 3.2 step 3, option (2): full ACK -> cwnd = ssthresh (Linux
  // tcp_end_cwnd_reduction does the same).
  if (ssthresh_ < infinite_ssthresh) cwnd_ = ssthresh_;
}

void reno::on_rto(std::uint32_t in_flight, bool first, time_point) {
  // RFC 5681 3.1 eq. 4, and its note that a retransmission lost again must
  // not halve ssthresh again; cwnd = LW = 1 segment.
  if (first) ssthresh_ = half_flight(in_flight);
  cwnd_ = 1;
  cwnd_cnt_ = 0;
}

void reno::on_idle_restart(time_point) {
  // RFC 5681 4.1: cwnd = RW = min(IW, cwnd); ssthresh as Linux tcp_cwnd_restart.
  ssthresh_ = current_ssthresh(cwnd_, ssthresh_);
  cwnd_ = std::min(cwnd_, init_cwnd_);
}

// --- cubic ------------------------------------------------------------------

namespace {

// RFC 9438 4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic), ~0.53.
constexpr double alpha_cubic = 3.0 * (1.0 - cubic::beta_cubic) / (1.0 + cubic::beta_cubic);
// beta_cubic as a fraction, so ssthresh = cwnd * beta is exact in integers.
constexpr std::uint64_t beta_num = 7, beta_den = 10;
// Linux bictcp_update: with no W_max known yet (last_max_cwnd == 0) cwnd grows
// at least 5 % per RTT, i.e. 1 segment per 20 acked (ca->cnt <= 20).
constexpr double min_growth_without_wmax = 1.0 / 20;

// RFC 9406 4.3 constants, by their names there. (Its L, 8 for an unpaced
// sender, bounds slow start growth per ACK; we keep RFC 3465's L = 2 above,
// which is within it.)
constexpr duration MIN_RTT_THRESH = std::chrono::milliseconds(4);
constexpr duration MAX_RTT_THRESH = std::chrono::milliseconds(16);
constexpr std::int64_t MIN_RTT_DIVISOR = 8;
constexpr std::uint32_t N_RTT_SAMPLE = 8;
constexpr std::uint32_t CSS_GROWTH_DIVISOR = 4;
constexpr std::uint32_t CSS_ROUNDS = 5;

}  // namespace

double cubic::w_cubic(double t) const {
  // RFC 9438 4.2 eq. 1: W_cubic(t) = C * (t - K)^3 + W_max, with W_max the
  // plateau of this epoch (origin_, Linux bic_origin_point).
  double d = t - k_;
  return C * d * d * d + origin_;
}

void cubic::on_ack(const cc_ack& a) {
  if (a.rtt >= duration::zero()) delay_min_ = std::min(delay_min_, a.rtt);
  // Linux cubictcp_cong_avoid returns unless tcp_is_cwnd_limited (RFC 9438 5.8).
  if (!a.cwnd_limited || a.acked == 0) return;
  std::uint32_t acked = a.acked;
  if (in_slow_start()) {
    // RFC 9406 4.2: HyStart++ runs in the initial slow start only, while
    // ssthresh is still "infinite"; later slow starts stop at ssthresh.
    if (phase_ != hystart_phase::done && ssthresh_ == infinite_ssthresh) {
      hystart_on_ack(a);
      return;
    }
    acked = slow_start(cwnd_, ssthresh_, acked);
    if (acked == 0) return;
  }
  congestion_avoidance(acked, a);
}

// --- HyStart++ (RFC 9406 4.2) ---
// Rounds: RFC 9406 ends a round when an ACK passes windowEnd (SND.NXT at the
// round's start). Without sequence numbers here, a round ends once the
// segments acked since it began reach the cwnd it began with: that is the
// data the round's window held. The next ACK opens the next round.

void cubic::hystart_start_round() {
  last_round_min_rtt_ = current_round_min_rtt_;
  current_round_min_rtt_ = duration::max();
  rtt_sample_count_ = 0;
  round_cwnd_ = cwnd_;
  round_acked_ = 0;
  round_open_ = true;
}

void cubic::hystart_end_round() {
  round_open_ = false;
  // RFC 9406 4.2: after CSS_ROUNDS rounds in CSS, enter congestion avoidance.
  // The round in which CSS began counts as one.
  if (phase_ == hystart_phase::css && ++css_rounds_ >= CSS_ROUNDS) hystart_exit_to_ca();
}

void cubic::hystart_exit_to_ca() {
  // RFC 9406 4.2: ssthresh = cwnd. RFC 9438 4.10: cwnd_prior = cwnd, and the
  // first epoch has K = 0 and W_max = cwnd_epoch (w_max_ is still 0 here, as
  // HyStart++ only runs before any loss).
  ssthresh_ = cwnd_;
  cwnd_prior_ = cwnd_;
  phase_ = hystart_phase::done;
  epoch_started_ = false;
}

void cubic::hystart_on_ack(const cc_ack& a) {
  if (!round_open_) hystart_start_round();
  std::uint32_t n = std::min(a.acked, abc_L);
  if (phase_ == hystart_phase::slow_start) {
    cwnd_ = grow(cwnd_, n);
  } else {
    // CSS: cwnd += min(N, L) / CSS_GROWTH_DIVISOR, counted in quarters.
    css_quarters_ += n;
    cwnd_ = grow(cwnd_, css_quarters_ / CSS_GROWTH_DIVISOR);
    css_quarters_ %= CSS_GROWTH_DIVISOR;
  }
  if (a.rtt >= duration::zero()) {
    current_round_min_rtt_ = std::min(current_round_min_rtt_, a.rtt);
    ++rtt_sample_count_;
  }
  if (rtt_sample_count_ >= N_RTT_SAMPLE && current_round_min_rtt_ != duration::max()) {
    if (phase_ == hystart_phase::slow_start && last_round_min_rtt_ != duration::max()) {
      // Delay increase: exit slow start into Conservative Slow Start.
      duration rtt_thresh =
          std::max(MIN_RTT_THRESH, std::min(last_round_min_rtt_ / MIN_RTT_DIVISOR, MAX_RTT_THRESH));
      if (current_round_min_rtt_ >= last_round_min_rtt_ + rtt_thresh) {
        css_baseline_min_rtt_ = current_round_min_rtt_;
        phase_ = hystart_phase::css;
        css_rounds_ = 0;
        css_quarters_ = 0;
      }
    } else if (phase_ == hystart_phase::css && current_round_min_rtt_ < css_baseline_min_rtt_) {
      // The RTT came back down: the exit was spurious, resume slow start.
      css_baseline_min_rtt_ = duration::max();
      phase_ = hystart_phase::slow_start;
    }
  }
  round_acked_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{round_acked_} + a.acked, max_cwnd));
  if (round_acked_ >= round_cwnd_) hystart_end_round();
}

// --- congestion avoidance (RFC 9438 4.2 - 4.5) ---

void cubic::start_epoch(time_point now) {
  // RFC 9438 4.2: t_epoch and cwnd_epoch at the start of a congestion
  // avoidance stage; K = cbrt((W_max - cwnd_epoch) / C). Linux bictcp_update:
  // when cwnd is already at or above W_max (or W_max is unknown, RFC 9438
  // 4.8 / 4.10), K = 0 and the curve's plateau is cwnd_epoch.
  epoch_started_ = true;
  t_epoch_ = now;
  cwnd_frac_ = 0;
  double cwnd_epoch = cwnd_;
  if (w_max_ <= cwnd_epoch) {
    k_ = 0;
    origin_ = cwnd_epoch;
  } else {
    k_ = std::cbrt((w_max_ - cwnd_epoch) / C);
    origin_ = w_max_;
  }
  w_est_ = cwnd_epoch;  // RFC 9438 4.3
}

duration cubic::rtt_for_target(const cc_ack& a) const {
  // RFC 9438 4.2 aims one RTT ahead; like Linux (delay_min) we use the min RTT.
  if (a.min_rtt >= duration::zero()) return a.min_rtt;
  return delay_min_ == duration::max() ? duration::zero() : delay_min_;
}

void cubic::add_fraction(double segments) {
  cwnd_frac_ += segments;
  if (cwnd_frac_ < 1) return;
  double whole = std::floor(cwnd_frac_);
  cwnd_frac_ -= whole;
  cwnd_ = grow(cwnd_, static_cast<std::uint64_t>(std::min(whole, double{max_cwnd})));
}

void cubic::congestion_avoidance(std::uint32_t acked, const cc_ack& a) {
  if (!epoch_started_) start_epoch(a.now);
  double t = a.now > t_epoch_ ? seconds(a.now - t_epoch_) : 0.0;
  // cwnd with its carried fraction, so the window closes in on the curve
  // instead of rounding up to the next whole segment early.
  double cwnd = cwnd_ + cwnd_frac_;

  // RFC 9438 4.3: W_est grows as Reno would with alpha_cubic, and with
  // alpha = 1 once it has reached cwnd_prior.
  double alpha = w_est_ >= cwnd_prior_ ? 1.0 : alpha_cubic;
  w_est_ += alpha * acked / cwnd;

  double inc = 0;
  if (w_cubic(t) < w_est_) {
    // Reno-friendly region: cwnd = W_est.
    inc = std::max(w_est_ - cwnd, 0.0);
  } else {
    // RFC 9438 4.4 / 4.5: concave or convex region alike, aim at W_cubic
    // one RTT ahead, bounded to [cwnd, 1.5 cwnd], and close
    // (target - cwnd) / cwnd of the gap per segment acked.
    double target = std::clamp(w_cubic(t + seconds(rtt_for_target(a))), cwnd, 1.5 * cwnd);
    inc = (target - cwnd) / cwnd * acked;
  }
  if (w_max_ == 0) inc = std::max(inc, min_growth_without_wmax * acked);
  add_fraction(inc);
}

// --- window reductions ---

void cubic::reduce(std::uint32_t) {
  // RFC 9438 4.7 fast convergence: a loss below the previous W_max means
  // competing flows; release bandwidth by remembering a lower plateau.
  double cwnd = cwnd_;
  w_max_ = cwnd < w_max_ ? cwnd * (1.0 + beta_cubic) / 2.0 : cwnd;
  cwnd_prior_ = cwnd_;
  // RFC 9438 4.6: ssthresh = max(cwnd * beta_cubic, 2). The RFC's flight_size
  // may be replaced by cwnd when cwnd cannot grow while app-limited, which
  // on_ack guarantees; Linux cubictcp_recalc_ssthresh uses cwnd as well.
  ssthresh_ = static_cast<std::uint32_t>(std::max<std::uint64_t>(cwnd_ * beta_num / beta_den, 2));
  epoch_started_ = false;
  cwnd_frac_ = 0;
  phase_ = hystart_phase::done;
}

void cubic::on_congestion_event(std::uint32_t in_flight, time_point) {
  reduce(in_flight);
  cwnd_ = ssthresh_;  // RFC 9438 4.6: cwnd = max(ssthresh, 2) on loss
}

void cubic::on_recovery_end(time_point) {
  // RFC 6582 3.2 step 3; the epoch begins with the next ACK in CA.
  if (ssthresh_ < infinite_ssthresh) cwnd_ = ssthresh_;
}

void cubic::on_rto(std::uint32_t in_flight, bool first, time_point) {
  // RFC 9438 4.8: ssthresh as in 4.6, cwnd as Reno (1 segment). The first
  // congestion avoidance stage afterwards has K = 0 and W_max = cwnd_epoch:
  // forget W_max (Linux resets its state on TCP_CA_Loss, bictcp_reset).
  if (first) {
    reduce(in_flight);
    w_max_ = 0;
  }
  cwnd_ = 1;
  epoch_started_ = false;
  cwnd_frac_ = 0;
  phase_ = hystart_phase::done;
}

void cubic::on_idle_restart(time_point) {
  // RFC 5681 4.1 restart window and Linux tcp_cwnd_restart's ssthresh; RFC
  // 9438 5.8: the idle time must not count as cubic growth time, so the
  // epoch starts afresh with the next ACK in CA (Linux shifts epoch_start
  // on CA_EVENT_TX_START to the same end). W_max is kept.
  ssthresh_ = current_ssthresh(cwnd_, ssthresh_);
  cwnd_ = std::min(cwnd_, init_cwnd_);
  epoch_started_ = false;
  cwnd_frac_ = 0;
  round_open_ = false;  // a HyStart++ round restarts from the new cwnd
}

}  // namespace coronet::tcp
