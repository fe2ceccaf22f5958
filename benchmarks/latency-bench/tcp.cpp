// latency-bench tcp-server / tcp-ping: coronet's TCP round trip on a packet
// device. One connection; a sample writes 64 bytes and reads until the 64
// echoed bytes are back (Nagle is off by default in coronet, as TCP_NODELAY).
// The server echoes whatever it reads.
//
// tcp-ping also counts the device's frames during the measured samples and
// reports them per round trip (tx_per_rtt, rx_per_rtt): 1 and 1 when each
// message and its echo travel alone with the ACKs riding on data; a pure ACK
// from either side adds to one of them.
//
// --interleave-raw: tcp-ping takes raw round trips (raw-ping's frame, to the
// server's address at --peer-mac) on the same device in turn with the TCP
// ones, in blocks of 100 kept samples, raw first (interleave.hpp), until both
// have --count, and prints a raw-ping result line before the tcp-ping one;
// both report the blocks each kind took (blocks=N). tcp-server answers raw
// frames always (raw_tap.hpp). Both kinds of sample then meet the same host
// conditions, which on a VM drift by tens of percent from second to second;
// the ratio of the two p50s is the figure to read.
#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "interleave.hpp"
#include "latency.hpp"
#include "raw_tap.hpp"
#include "runtime/cancel.hpp"
#include "runtime/clock.hpp"
#include "runtime/signals.hpp"
#include "runtime/timer.hpp"

namespace coronet::latency {

namespace {

using namespace std::chrono_literals;

rt::task<> stop_at(std::stop_source& stop, time_point deadline) {
  co_await rt::sleep_until(deadline);
  stop.request_stop();
}

struct server_state {
  rt::scheduler& sched;
  std::uint64_t connections = 0, bytes = 0;
  int live = 0;
};

rt::task<> echo(net::stream s, server_state& ss) {
  ++ss.live;
  std::array<std::uint8_t, 4096> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) break;
    net::result<std::size_t> w = co_await s.write(bytes{buf.data(), *n});
    if (!w) break;
    ss.bytes += *n;
  }
  s.close();
  --ss.live;
}

// After stop: the closed streams' FINs go out (bounded).
rt::task<> drain(server_state& ss) {
  for (int i = 0; i < 100 && ss.live > 0; ++i) co_await rt::sleep_for(1ms);
  co_await rt::sleep_for(10ms);
}

rt::task<int> accept_loop(net::listener& l, server_state& ss) {
  std::stop_token stop = co_await rt::this_stop_token();
  int status = exit_ok;
  for (;;) {
    net::result<net::stream> s = co_await l.accept();
    if (!s) {
      if (s.error() != std::errc::operation_canceled) {
        std::fprintf(stderr, "latency-bench tcp-server: accept failed: %s\n", s.error().message().c_str());
        status = exit_failed;
      }
      break;
    }
    ++ss.connections;
    ss.sched.spawn(echo(std::move(*s), ss), stop);  // stopping the server ends the echoes too
  }
  l.close();
  co_await drain(ss).with_stop_token({});
  co_return status;
}

// --timing, client side: each kept sample split into write -> commit (the
// segment is in a device buffer), write -> flush (submitted), flush ->
// delivery of the echo (the kernel, the link and the server) and delivery ->
// the reading task resumed.
struct client_split {
  std::vector<std::int64_t> to_commit, to_flush, wire, to_resume;
  void add(time_point t0, time_point commit, time_point flush, time_point rx, time_point t1) {
    to_commit.push_back((commit - t0).count());
    to_flush.push_back((flush - t0).count());
    wire.push_back((rx - flush).count());
    to_resume.push_back((t1 - rx).count());
  }
  // " write_to_commit_p50=.. write_to_flush_p50=.. flush_to_rx_p50=.. rx_to_resume_p50=.." (µs; "-" with no sample)
  std::string summary() {
    return " write_to_commit_p50=" + percentile_us(to_commit, 0.5) + " write_to_flush_p50=" +
           percentile_us(to_flush, 0.5) + " flush_to_rx_p50=" + percentile_us(wire, 0.5) +
           " rx_to_resume_p50=" + percentile_us(to_resume, 0.5);
  }
};

// The stack's device frames between mark() (the first kept sample) and
// finish(): the device's counts less the raw frames a tap sent and received.
struct frame_counts {
  std::uint64_t tx0 = 0, rx0 = 0, tx = 0, rx = 0;
  static std::uint64_t raw_tx(const raw_tap* t) { return t != nullptr ? t->sent() : 0; }
  static std::uint64_t raw_rx(const raw_tap* t) { return t != nullptr ? t->replies() : 0; }
  void mark(const io::device_stats& d, const raw_tap* t) {
    tx0 = d.tx_frames - raw_tx(t), rx0 = d.rx_frames - raw_rx(t);
  }
  void finish(const io::device_stats& d, const raw_tap* t) {
    tx = d.tx_frames - raw_tx(t) - tx0, rx = d.rx_frames - raw_rx(t) - rx0;
  }
};

rt::task<> until_eof(net::stream& s) {
  std::array<std::uint8_t, 256> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
  }
}

// Records on both samplers why the loop ended; the first reason stands.
void stopped(sampler& smp, sampler* raw_smp, stop_reason why, const std::string& detail = {}) {
  smp.stop(why, detail);
  if (raw_smp != nullptr) raw_smp->stop(why, detail);
}

// A read or write that failed: cancelled by the stop token (the time limit;
// a signal has recorded itself before it cancelled), or an error.
void stopped_by(sampler& smp, sampler* raw_smp, std::error_code e, const char* what) {
  if (e == std::errc::operation_canceled) {
    stopped(smp, raw_smp, stop_reason::time_limit);
  } else {
    stopped(smp, raw_smp, stop_reason::error, std::string(what) + " failed: " + e.message());
  }
}

// `raw`, `raw_smp`, `il`: --interleave-raw's tap, its samples and the turns (else null).
rt::task<int> ping_loop(net::stack& st, const options& o, sampler& smp, frame_counts& fc, client_split& split,
                        raw_tap* raw, sampler* raw_smp, interleave* il) {
  const auto* timing = dynamic_cast<const timing_device*>(&st.device());
  net::result<net::stream> c = co_await st.connect(*o.to);
  if (!c) {
    const bool stopped = c.error() == std::errc::operation_canceled;  // the time limit or a signal
    std::fprintf(stderr, "latency-bench tcp-ping: connect to %s failed: %s\n", o.to->to_string().c_str(),
                 stopped ? "stopped before the handshake completed" : c.error().message().c_str());
    co_return exit_failed;
  }
  std::array<std::uint8_t, message_len> msg{}, back{};
  std::uint64_t seq = 0;
  const std::stop_token stop = co_await rt::this_stop_token();  // raw pings do not watch it: the loop does
  for (;;) {
    const time_point now = rt::steady_now();
    const bool tcp_done = smp.done(now), raw_done = raw == nullptr || raw_smp->done(now);
    if (tcp_done && raw_done) {
      smp.stop_done(now);
      if (raw_smp != nullptr) raw_smp->stop_done(now);
      break;
    }
    if (stop.stop_requested()) {
      stopped(smp, raw_smp, stop_reason::time_limit);  // unless a signal recorded itself first
      break;
    }
    const bool raw_turn = il != nullptr && il->raw_next(smp.kept(), raw_smp->kept(), tcp_done, raw_done);
    if (raw_turn) {
      const std::optional<duration> rtt = co_await raw->ping();
      if (rtt) raw_smp->add(*rtt, rt::steady_now());
      continue;
    }
    if (smp.kept() == 0) fc.mark(st.device_stats(), raw);
    ++seq;
    std::memcpy(msg.data(), &seq, sizeof seq);
    const time_point t0 = rt::steady_now();
    net::result<std::size_t> w = co_await c->write(bytes{msg});
    if (!w) {
      stopped_by(smp, raw_smp, w.error(), "write");
      break;
    }
    // The echo, read in this frame: a nested task would allocate a frame per
    // round trip, a cost of this program rather than of coronet (raw-ping has none).
    std::size_t got = 0;
    bool ok = true;
    while (got < back.size()) {
      net::result<std::size_t> n = co_await c->read(mut_bytes(back).subspan(got));
      if (!n || *n == 0) {
        if (n) {
          stopped(smp, raw_smp, stop_reason::peer_closed);
        } else {
          stopped_by(smp, raw_smp, n.error(), "read");
        }
        ok = false;
        break;
      }
      got += *n;
    }
    if (!ok) break;
    const time_point t1 = rt::steady_now();
    if (back != msg) {
      std::fprintf(stderr, "latency-bench tcp-ping: the echo differs from message %llu\n",
                   static_cast<unsigned long long>(seq));
      co_return exit_failed;
    }
    const std::size_t kept = smp.kept();
    smp.add(t1 - t0, t1);
    if (timing != nullptr && smp.kept() > kept) split.add(t0, timing->last_commit(), timing->last_flush(), timing->last_rx(), t1);
  }
  fc.finish(st.device_stats(), raw);
  // Orderly close: our FIN, the server's FIN (bounded), then release.
  c->shutdown();
  bool closed = co_await rt::with_timeout(until_eof(*c), 1s);
  (void)closed;
  c->close();
  co_await rt::sleep_for(10ms);  // the last ACK goes out
  co_return exit_ok;
}

}  // namespace

int tcp_server(const options& o) {
  rt::scheduler sched({.busy_poll = o.busy_poll});
  std::stop_source stop;
  rt::signal_watch signals(sched.ring(), [&stop](int) { stop.request_stop(); });
  std::optional<raw_work> work;  // outlives the stack, whose tap runs it
  if (o.raw_work.what != raw_work_spec::kind::none) work.emplace(o.raw_work);  // throws (main reports it)
  raw_tap* tap = nullptr;  // answers tcp-ping --interleave-raw's raw frames
  std::unique_ptr<net::stack> st = open_stack_or_report(sched, device_config(o), o.timing, &tap);  // before `signals` goes
  if (!st) return exit_usage;
  st->engine().set_fast_paths(o.fast_paths);
  if (work) tap->set_work(&*work);
  net::result<net::listener> l = st->listen(o.port, 16);
  if (!l) {
    std::fprintf(stderr, "latency-bench tcp-server: cannot listen on port %u: %s\n", o.port,
                 l.error().message().c_str());
    return exit_failed;
  }
  std::printf("tcp-server: ready on %s, %s\n", l->local().to_string().c_str(),
              o.busy_poll ? "busy-polling" : "sleeping");
  std::fflush(stdout);
  if (double limit = run_limit_seconds(o); limit > 0)
    sched.spawn(stop_at(stop, rt::steady_now() + std::chrono::duration_cast<duration>(
                                                     std::chrono::duration<double>(limit))));
  server_state ss{sched};
  int status = sched.block_on(accept_loop(*l, ss).with_stop_token(stop.get_token()));
  const io::device_stats& d = st->device_stats();
  std::printf("tcp-server: %llu connections, %llu bytes echoed, %llu raw frames answered; frames rx %llu tx %llu\n",
              static_cast<unsigned long long>(ss.connections), static_cast<unsigned long long>(ss.bytes),
              static_cast<unsigned long long>(tap->answered()),
              static_cast<unsigned long long>(d.rx_frames), static_cast<unsigned long long>(d.tx_frames));
  if (work) std::printf("tcp-server: %s\n", work->summary().c_str());
  if (const auto* t = dynamic_cast<const timing_device*>(&st->device()))
    std::printf("tcp-server: %s\n", t->turnaround_summary().c_str());
  return status;
}

int tcp_ping(const options& o) {
  rt::scheduler sched({.busy_poll = o.busy_poll});
  sampler smp(o);
  std::optional<sampler> raw_smp;  // --interleave-raw
  std::stop_source stop;
  rt::signal_watch signals(sched.ring(), [&](int signo) {
    stopped(smp, raw_smp ? &*raw_smp : nullptr, stop_reason::signal, signal_name(signo));
    stop.request_stop();
  });
  raw_tap* tap = nullptr;
  std::unique_ptr<net::stack> st =
      open_stack_or_report(sched, device_config(o), o.timing, o.interleave_raw ? &tap : nullptr);
  if (!st) return exit_usage;
  st->engine().set_fast_paths(o.fast_paths);
  std::optional<interleave> il;
  if (tap != nullptr) {
    if (!frame_fits(o, st->device())) return exit_usage;
    tap->aim(o.to->addr, *o.peer_mac, static_cast<std::size_t>(o.frame_bytes));
    raw_smp.emplace(o, "raw-ping");
    il.emplace();
  }
  sched.spawn(stop_at(stop, smp.deadline()));  // a read that never completes ends at the limit too
  frame_counts fc;
  client_split split;
  int status = sched.block_on(ping_loop(*st, o, smp, fc, split, tap, raw_smp ? &*raw_smp : nullptr, il ? &*il : nullptr)
                                  .with_stop_token(stop.get_token()));
  if (status != exit_ok) return status;
  int raw_status = exit_ok;
  if (raw_smp) {
    const std::string raw_extra = "interleaved=tcp-ping blocks=" + std::to_string(il->raw_blocks()) +
                                  " frame_bytes=" + std::to_string(o.frame_bytes) + " lost=" +
                                  std::to_string(tap->lost()) + " strays=" + std::to_string(tap->strays());
    raw_status = raw_smp->report(device_label(st->device()), raw_extra);
  }
  std::string extra;
  if (il) extra = "blocks=" + std::to_string(il->tcp_blocks());
  if (smp.kept() > 0) {
    const double n = static_cast<double>(smp.kept());
    char buf[96];
    std::snprintf(buf, sizeof buf, "tx_per_rtt=%.2f rx_per_rtt=%.2f", static_cast<double>(fc.tx) / n,
                  static_cast<double>(fc.rx) / n);
    extra += (extra.empty() ? "" : " ") + std::string(buf);
    if (o.timing) extra += split.summary();
  }
  const int tcp_status = smp.report(device_label(st->device()), extra);
  return raw_status != exit_ok ? raw_status : tcp_status;
}

}  // namespace coronet::latency
