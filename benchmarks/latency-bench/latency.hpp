// benchmarks/latency-bench/latency.hpp - what the modes of latency-bench share:
// the parsed options, the sampler (warm-up by time, then a bounded number of
// round trips) and the one result line every ping mode prints.
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/stack.hpp"
#include "percentiles.hpp"
#include "proto/types.hpp"
#include "raw_work.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"
#include "stop_reason.hpp"

namespace coronet::latency {

inline constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2;

// The round trip's payload: a raw frame is this long in all (Ethernet + IPv4
// + 30 bytes), a TCP sample writes and reads back this many bytes.
inline constexpr std::size_t message_len = 64;

struct options {
  std::string mode;  // raw-pong raw-ping tcp-server tcp-ping kernel-server kernel-ping
  std::string iface;
  std::optional<ipv4_addr> addr;   // --addr IP/PREFIX: the device's (coronet's) address
  int prefix = 24;
  std::optional<ipv4_addr> peer;   // raw-ping --peer
  std::optional<mac_addr> peer_mac;  // raw-ping, tcp-ping --interleave-raw: --peer-mac
  int frame_bytes = static_cast<int>(message_len);  // raw-ping, tcp-ping --interleave-raw: the whole raw frame
  bool interleave_raw = false;     // tcp-ping --interleave-raw: raw and TCP samples in turn
  std::optional<endpoint> to;      // tcp-ping, kernel-ping --to; kernel-server --listen
  std::uint16_t port = 0;          // tcp-server --port
  raw_work_spec raw_work;          // tcp-server --raw-work: before each raw answer
  bool busy_poll = false;
  bool timing = false;             // --timing: split round trips (timing_device)
  bool fast_paths = true;          // --no-fast-paths: engine::set_fast_paths(false)
  int count = 20000;               // samples after the warm-up
  int warmup_ms = 300;             // warm-up by time (MEASURED.md: an XDP attach is slow for ~30 ms)
  double max_seconds = 0;          // 0: pings 60 s, servers no limit
  net::stack_config device;        // --backend --xdp-mode --xdp-bind --queue

  bool is_ping() const { return mode.ends_with("-ping"); }
  const char* wait_name() const { return busy_poll ? "busy" : "sleep"; }
};

// Parses argv; prints the usage and exits 2 on anything wrong.
options parse(int argc, char** argv);

// Round trips in nanoseconds. Samples taken before the warm-up has passed
// are discarded; done() once --count are kept or the run's time is up. The
// ping records with stop() why its loop ended (stop_reason.hpp).
class sampler {
 public:
  // `mode`: the result line's mode= (default: the program's mode).
  explicit sampler(const options& o, std::string mode = {});
  // The clock of the warm-up starts at the first round trip.
  void start(time_point now);
  void add(duration rtt, time_point now);
  bool done(time_point now) const;
  time_point deadline() const { return deadline_; }
  std::size_t kept() const { return rtts_.size(); }
  // Why the sampling stopped: the first reason recorded stands (a signal
  // that cancels a read is a signal, not a failed read). `detail`: a signal's
  // name, an error's text.
  void stop(stop_reason why, std::string detail = {});
  // After done(now): the reason it gives (the count, or the time limit).
  void stop_done(time_point now);

  // One line on stdout:
  //   result mode=M device=D wait=W samples=N warmup=N [extra] min=.. p50=.. p90=.. p99=.. max=.. unit=us
  // (no figures when no sample was kept), and one on stderr with the samples
  // kept of --count and why the run stopped. Returns exit_ok only when all
  // --count samples were kept, else exit_failed.
  int report(std::string_view device, std::string_view extra) const;

 private:
  std::string kind() const;

  const options& o_;
  std::string mode_;
  std::vector<std::int64_t> rtts_;
  std::uint64_t warmup_samples_ = 0;
  std::optional<time_point> warm_until_;
  time_point deadline_;
  stop_reason why_ = stop_reason::none;
  std::string why_detail_;
};

// "SIGINT", "SIGTERM", "SIGALRM" or "signal N": a stop_reason::signal's detail.
std::string signal_name(int signo);
// A raw frame of --frame-bytes fits `dev` (at most its MTU + 14), or prints
// why not on stderr (then false: a usage error).
bool frame_fits(const options& o, const io::device& dev);

// Resumes the task that awaits it once fire() is called (through the
// scheduler, never inline). One waiter.
class latch {
 public:
  explicit latch(rt::scheduler& s) : sched_(s) {}
  void fire() {
    if (std::exchange(fired_, true)) return;
    if (waiter_) sched_.schedule(std::exchange(waiter_, {}));
  }
  bool fired() const noexcept { return fired_; }
  bool await_ready() const noexcept { return fired_; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter_ = h; }
  void await_resume() const noexcept {}

 private:
  rt::scheduler& sched_;
  std::coroutine_handle<> waiter_;
  bool fired_ = false;
};
rt::task<> wait_for(latch& l);
// Fires `l` after `seconds` (--max-seconds); spawn it.
rt::task<> fire_after(latch& l, double seconds);

// "af_packet", "af_xdp/native/copy": the device as opened (af_xdp: the XDP
// mode and binding it ended up with).
std::string device_label(const io::device& dev);
// Opens the device (raw modes) or the stack on it, wrapped in a
// timing_device when `timing`; or prints why not on stderr (then nullptr).
std::unique_ptr<io::device> open_device_or_report(rt::scheduler& sched, const net::stack_config& cfg, bool timing);
// With `tap`, a raw_tap sits between the device and the stack (under the
// timing_device, so --timing never sees raw frames) and *tap points to it.
class raw_tap;
std::unique_ptr<net::stack> open_stack_or_report(rt::scheduler& sched, const net::stack_config& cfg, bool timing,
                                                 raw_tap** tap = nullptr);

// The device modes' stack_config: --iface, --addr and the device flags.
net::stack_config device_config(const options& o);
// Seconds the process may run: --max-seconds, or the mode's default.
double run_limit_seconds(const options& o);

// A device between another device and its user that passes every call and
// every frame through; timing_device and raw_tap override what they watch.
class forwarding_device : public io::device, protected io::rx_sink {
 public:
  explicit forwarding_device(std::unique_ptr<io::device> inner) : inner_(std::move(inner)) {}

  void start(io::rx_sink& sink) override {
    sink_ = &sink;
    inner_->start(*this);
  }
  mut_bytes tx_buffer() override { return inner_->tx_buffer(); }
  void tx_commit(std::size_t len) override { inner_->tx_commit(len); }
  void flush() override { inner_->flush(); }
  void poll() override { inner_->poll(); }
  bool rx_ready() const override { return inner_->rx_ready(); }
  mac_addr mac() const override { return inner_->mac(); }
  std::uint16_t mtu() const override { return inner_->mtu(); }
  const io::device_stats& stats() const override { return inner_->stats(); }
  std::string name() const override { return inner_->name(); }
  std::string describe() const override { return inner_->describe(); }
  void for_each_extra(const extra_fn& fn) const override { inner_->for_each_extra(fn); }
  const io::device& inner() const { return *inner_; }

 protected:
  void on_frame(bytes frame, rx_meta meta) override { sink_->on_frame(frame, meta); }

  std::unique_ptr<io::device> inner_;
  io::rx_sink* sink_ = nullptr;
};

// --timing: wraps a device and stamps deliveries and flushes (timing.cpp).
class timing_device final : public forwarding_device {
 public:
  explicit timing_device(std::unique_ptr<io::device> inner);

  void tx_commit(std::size_t len) override;
  void flush() override;

  time_point last_rx() const { return last_rx_; }        // the latest delivery
  time_point last_flush() const { return last_flush_; }  // the latest flush that submitted frames
  time_point last_commit() const { return last_commit_; }  // the first commit before that flush
  // "turnaround_n=N rx_to_commit_p50=.. rx_to_flush_p50=.. rx_to_flush_p90=.."
  // (µs): from the first delivery after a flush to the first frame committed
  // and to the flush that submitted it.
  std::string turnaround_summary() const;

 private:
  void on_frame(bytes frame, rx_meta meta) override;

  time_point last_rx_{}, first_rx_{}, last_flush_{}, first_commit_{}, last_commit_{};
  bool rx_pending_ = false, committed_ = false;
  std::vector<std::int64_t> to_commit_, to_flush_;
};

int raw_pong(const options& o);
int raw_ping(const options& o);
int tcp_server(const options& o);
int tcp_ping(const options& o);
int kernel_server(const options& o);
int kernel_ping(const options& o);

}  // namespace coronet::latency
