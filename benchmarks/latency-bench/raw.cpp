// latency-bench raw-pong / raw-ping: a 64-byte frame back and forth through
// the packet device alone, with no stack on either side: the floor for any
// TCP round trip on that device.
//
// The frame (raw_frame.hpp): Ethernet from the device to --peer-mac, IPv4
// from --addr to --peer with protocol 253 (RFC 3692), "CLAT" and a sequence
// number, --frame-bytes long (default 64). The kernels on both hosts
// own neither address and drop what they see of it (no forwarding); the
// af_xdp device's program steers it to coronet because the destination is
// --addr.
//
// raw-pong swaps the MAC and IPv4 addresses of each such frame addressed to
// it and sends it back (the header checksum is a sum, unchanged by the swap).
// raw-ping sends one frame, waits for its reply, records the time from just
// before the send was submitted to the reply's delivery, and sends the next;
// a frame unanswered for 100 ms is counted lost and replaced.
//
// Both drain the device the way net/stack.cpp does: af_packet delivers frames
// while the scheduler reaps io_uring completions, af_xdp in device::poll();
// a poller calls poll() every loop iteration and flushes what it queued.
#include <signal.h>

#include <algorithm>
#include <coroutine>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "latency.hpp"
#include "raw_frame.hpp"
#include "runtime/clock.hpp"
#include "runtime/signals.hpp"
#include "runtime/timer.hpp"

namespace coronet::latency {

namespace {

using namespace std::chrono_literals;

using namespace raw_frame;
constexpr duration reply_timeout = 100ms;

class raw_ponger final : public rt::poller, private io::rx_sink {
 public:
  raw_ponger(rt::scheduler& sched, io::device& dev, ipv4_addr addr) : sched_(sched), dev_(dev), addr_(addr) {
    dev_.start(*this);
    sched_.add_poller(this);
  }
  ~raw_ponger() { sched_.remove_poller(this); }
  raw_ponger(const raw_ponger&) = delete;
  raw_ponger& operator=(const raw_ponger&) = delete;

  void poll(time_point) override {
    dev_.poll();
    if (std::exchange(unflushed_, false)) dev_.flush();
  }
  std::optional<time_point> next_deadline() const override {
    if (unflushed_ || dev_.rx_ready()) return time_point{};
    return std::nullopt;
  }
  std::uint64_t echoed() const { return echoed_; }
  std::uint64_t no_buffer() const { return no_buffer_; }

 private:
  void on_frame(bytes f, rx_meta) override {
    if (!is_experiment_to(f, addr_)) return;
    mut_bytes out = dev_.tx_buffer();
    if (out.size() < f.size()) {
      ++no_buffer_;
      return;
    }
    write_reply(out, f, dev_.mac());
    dev_.tx_commit(f.size());
    unflushed_ = true;
    ++echoed_;
  }

  rt::scheduler& sched_;
  io::device& dev_;
  ipv4_addr addr_;
  bool unflushed_ = false;
  std::uint64_t echoed_ = 0, no_buffer_ = 0;
};

class raw_pinger final : public rt::poller, private io::rx_sink {
 public:
  raw_pinger(rt::scheduler& sched, io::device& dev, const options& o, sampler& smp, latch& done)
      : sched_(sched),
        dev_(dev),
        addr_(*o.addr),
        peer_(*o.peer),
        smp_(smp),
        done_(done),
        frame_(static_cast<std::size_t>(o.frame_bytes)) {
    build_template(*o.peer_mac);
    dev_.start(*this);
    sched_.add_poller(this);
  }
  ~raw_pinger() { sched_.remove_poller(this); }
  raw_pinger(const raw_pinger&) = delete;
  raw_pinger& operator=(const raw_pinger&) = delete;

  void poll(time_point now) override {
    dev_.poll();  // af_xdp delivers replies here
    if (finished_) return;
    if (smp_.done(now)) {
      smp_.stop_done(now);
      finished_ = true;
      done_.fire();
      return;
    }
    if (!outstanding_) {
      send();
    } else if (now - sent_at_ > reply_timeout) {
      ++lost_;
      send();
    }
  }
  std::optional<time_point> next_deadline() const override {
    if (finished_) return std::nullopt;
    if (!outstanding_ || dev_.rx_ready()) return time_point{};
    return std::min(sent_at_ + reply_timeout, smp_.deadline());
  }
  std::uint64_t lost() const { return lost_; }
  std::uint64_t strays() const { return strays_; }

 private:
  void build_template(mac_addr peer_mac) { build(frame_, dev_.mac(), peer_mac, addr_, peer_); }

  void send() {
    if (!commit_request(dev_, frame_, seq_ + 1)) return;  // all in flight: the next poll tries again
    ++seq_;
    outstanding_ = true;
    sent_at_ = rt::steady_now();  // the send is submitted by the flush
    dev_.flush();
  }

  void on_frame(bytes f, rx_meta) override {
    const time_point now = rt::steady_now();
    if (!is_experiment_to(f, addr_) || source_of(f) != peer_) return;
    const std::uint64_t seq = seq_of(f);
    if (!outstanding_ || seq != seq_) {
      ++strays_;  // the reply to a frame already counted lost
      return;
    }
    outstanding_ = false;
    smp_.add(now - sent_at_, now);
  }

  rt::scheduler& sched_;
  io::device& dev_;
  ipv4_addr addr_, peer_;
  sampler& smp_;
  latch& done_;
  std::vector<std::uint8_t> frame_;  // --frame-bytes long
  std::uint64_t seq_ = 0, lost_ = 0, strays_ = 0;
  bool outstanding_ = false, finished_ = false;
  time_point sent_at_{};
};

}  // namespace

int raw_pong(const options& o) {
  rt::scheduler sched({.busy_poll = o.busy_poll});
  latch stop(sched);
  rt::signal_watch signals(sched.ring(), [&stop](int) { stop.fire(); });
  const net::stack_config cfg = device_config(o);
  std::unique_ptr<io::device> dev = open_device_or_report(sched, cfg, o.timing);  // destroyed before `signals`
  if (!dev) return exit_usage;
  raw_ponger pong(sched, *dev, *o.addr);
  std::printf("raw-pong: ready on %s as %s (%s), %s\n", o.iface.c_str(), o.addr->to_string().c_str(),
              dev->mac().to_string().c_str(), o.busy_poll ? "busy-polling" : "sleeping");
  std::fflush(stdout);
  if (double limit = run_limit_seconds(o); limit > 0) sched.spawn(fire_after(stop, limit));
  sched.block_on(wait_for(stop));
  std::printf("raw-pong: echoed %llu frames, %llu without a TX buffer\n",
              static_cast<unsigned long long>(pong.echoed()), static_cast<unsigned long long>(pong.no_buffer()));
  if (const auto* t = dynamic_cast<const timing_device*>(dev.get()))
    std::printf("raw-pong: %s\n", t->turnaround_summary().c_str());
  return exit_ok;
}

int raw_ping(const options& o) {
  rt::scheduler sched({.busy_poll = o.busy_poll});
  sampler smp(o);
  latch done(sched);
  // SIGINT/SIGTERM end the run (one that came while the device was opening
  // ends it as soon as the loop below starts).
  rt::signal_watch signals(sched.ring(), [&smp, &done](int signo) {
    smp.stop(stop_reason::signal, signal_name(signo));
    done.fire();
  });
  const net::stack_config cfg = device_config(o);
  std::unique_ptr<io::device> dev = open_device_or_report(sched, cfg, false);  // no --timing: t0 is the flush already
  if (!dev) return exit_usage;
  if (!frame_fits(o, *dev)) return exit_usage;
  raw_pinger ping(sched, *dev, o, smp, done);
  sched.block_on(wait_for(done));
  const std::string extra = "frame_bytes=" + std::to_string(o.frame_bytes) + " lost=" + std::to_string(ping.lost()) +
                            " strays=" + std::to_string(ping.strays());
  return smp.report(device_label(*dev), extra);
}

}  // namespace coronet::latency
