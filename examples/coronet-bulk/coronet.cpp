// coronet-bulk --stack coronet: one net::stack on the scheduler. Per
// connection a writer task and a reader task share a `transfer`, and the
// connection's own coroutine watches them: it wakes when one finishes, and
// every 250 ms to check --timeout (no progress) and signals.
#include <net/if.h>
#include <signal.h>
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <memory>
#include <stop_token>

#include "app.hpp"
#include "io/impaired_device.hpp"
#include "net/device_flags.hpp"
#include "net/stack.hpp"
#include "runtime/cancel.hpp"
#include "runtime/signals.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"
#include "status.hpp"
#include "transfer.hpp"

namespace coronet::bulk {

namespace {

using namespace std::chrono_literals;

// Our FIN is still unacknowledged (or not even sent) in these states.
bool fin_pending(tcp_state s) {
  return s == tcp_state::established || s == tcp_state::close_wait || s == tcp_state::fin_wait_1 ||
         s == tcp_state::closing || s == tcp_state::last_ack;
}

// What the writer, the reader and the connection's coroutine share. Lives in
// the connection's frame, which outlives both tasks (it waits for them).
struct duplex {
  net::stream& s;
  net::stack& st;
  const options& o;
  transfer x;
  bool reader_done = false, writer_done = false;
  bool aborted = false;               // we reset it (--reset-after) or gave up on it
  std::stop_source* wake = nullptr;   // the watcher's current nap
  void finished(bool& flag) {
    flag = true;
    if (wake != nullptr) wake->request_stop();
  }
  // Records an error, unless it is the echo of our own abort or stop.
  void fail(std::error_code ec) {
    if (!(aborted && (ec == std::errc::operation_canceled || ec == std::errc::bad_file_descriptor))) x.fail(ec);
  }
  void reset_now() {
    if (aborted) return;
    aborted = true;
    x.mark_reset_sent();
    s.abort();  // RST now; the other task's pending operation is cancelled
  }
};

rt::task<> writer(duplex& k) {
  for (;;) {
    if (k.x.reset_due()) {
      k.reset_now();
      break;
    }
    bytes chunk = k.x.next_chunk(coronet_chunk);
    if (chunk.empty()) break;
    net::result<std::size_t> w = co_await k.s.write(chunk);
    if (!w) {
      k.fail(w.error());
      k.finished(k.writer_done);
      co_return;
    }
    k.x.on_sent(chunk, k.st.now());
  }
  if (!k.aborted) {
    k.s.shutdown();  // RFC 9293 3.6: half-close; the reader goes on until the peer's FIN
    // Every byte arrived once the peer acknowledged our FIN. Polled: the
    // stream has no event for it. A stop (timeout, signal) ends the wait.
    bool acked = true;
    while (acked && fin_pending(k.s.info().state)) acked = co_await rt::sleep_for(1ms);
    if (acked) k.x.on_send_done(k.st.now());
  }
  k.finished(k.writer_done);
}

rt::task<> reader(duplex& k) {
  std::vector<std::uint8_t> buf(coronet_chunk);
  for (;;) {
    net::result<std::size_t> n = co_await k.s.read(buf);
    if (!n) {
      k.fail(n.error());
      break;
    }
    if (*n == 0) {
      k.x.on_eof(k.st.now());
      break;
    }
    if (!k.x.on_received(bytes{buf.data(), *n}, k.st.now())) {
      k.aborted = true;  // --verify-seed: no point in reading on
      k.s.abort();
      break;
    }
    if (k.x.reset_due()) {
      k.reset_now();
      break;
    }
    if (k.x.take_stall()) {
      co_await rt::sleep_for(std::chrono::milliseconds(k.o.stall_ms));
      k.x.progress(k.st.now());
    } else if (k.o.read_delay_us > 0) {
      co_await rt::sleep_for(std::chrono::microseconds(k.o.read_delay_us));
    }
  }
  k.finished(k.reader_done);
}

rt::task<> nap(duration d) { co_await rt::sleep_for(d); }

void print_info(const conn_info& i) {
  std::cout << "info: state=" << to_string(i.state) << " snd_mss=" << i.snd_mss << " rcv_mss=" << i.rcv_mss
            << " snd_wscale=" << i.snd_wscale << " rcv_wscale=" << i.rcv_wscale << " timestamps=" << i.timestamps
            << " sack=" << i.sack_permitted << " bytes_sent=" << i.bytes_sent << " bytes_received=" << i.bytes_received
            << '\n';
}

// Runs one connection to its end; returns its exit status.
rt::task<int> run_connection(net::stream s, net::stack& st, const options& o) {
  std::stop_token outer = co_await rt::this_stop_token();
  std::stop_source stop;  // ends both tasks: timeout, signal
  duplex k{s, st, o, transfer(o, st.now())};
  const std::string peer = s.remote().to_string();
  st.scheduler().spawn(writer(k), stop.get_token());
  st.scheduler().spawn(reader(k), stop.get_token());
  std::uint64_t moved = 0;  // the engine's byte counts: progress the tasks do not see (ACKs)
  while (!(k.reader_done && k.writer_done)) {
    std::stop_source wake;
    k.wake = &wake;
    co_await nap(250ms).with_stop_token(wake.get_token());
    k.wake = nullptr;
    const time_point now = st.now();
    const conn_info info = s.info();
    if (info.bytes_sent + info.bytes_received != moved) {
      moved = info.bytes_sent + info.bytes_received;
      k.x.progress(now);
    }
    if (stop.stop_requested()) continue;
    if (outer.stop_requested()) {
      k.x.fail(make_error_code(std::errc::interrupted));
      stop.request_stop();
    } else if (o.timeout_s > 0 && now - k.x.last_progress() >= std::chrono::seconds(o.timeout_s)) {
      k.x.fail(make_error_code(std::errc::timed_out));
      stop.request_stop();
    }
  }
  if (o.stats) print_info(s.info());
  k.x.print(std::cout, peer, st.now());
  std::cout.flush();
  if (k.x.error())
    std::cerr << "coronet-bulk: connection with " << peer << ": " << describe(k.x.error()) << " after sending "
              << k.x.sent() << " and receiving " << k.x.received() << " bytes\n";
  if (k.x.mismatch_at())
    std::cerr << "coronet-bulk: received data differs from --verify-seed's stream at byte " << *k.x.mismatch_at()
              << '\n';
  if (stop.stop_requested()) {
    s.abort();  // gave up: do not leave it retransmitting
  } else {
    s.close();
  }
  co_return k.x.status();
}

// `a` bounded by --timeout; an expired wait is timed_out.
template <class T>
CORONET_CORO_TEMPLATE rt::task<net::result<T>> bounded(rt::task<net::result<T>> a, int timeout_s) {
  if (timeout_s == 0) co_return co_await std::move(a);
  std::optional<net::result<T>> r = co_await rt::with_timeout(std::move(a), std::chrono::seconds(timeout_s));
  if (!r) co_return make_error_code(std::errc::timed_out);
  co_return std::move(*r);
}
rt::task<net::result<net::stream>> accept_one(net::listener& l) { co_return co_await l.accept(); }
rt::task<net::result<net::stream>> connect_one(net::stack& st, endpoint to) { co_return co_await st.connect(to); }

rt::task<int> serve(net::stack& st, const options& o) {
  net::result<net::listener> l = st.listen(*o.listen_port, 16);
  if (!l) {
    std::cerr << "coronet-bulk: cannot listen on port " << *o.listen_port << ": " << l.error().message() << '\n';
    co_return exit_failed;
  }
  int status = exit_ok;
  for (int i = 0; i < o.count; ++i) {
    net::result<net::stream> s = co_await bounded(accept_one(*l), o.timeout_s);
    if (!s) {
      if (s.error() == std::errc::timed_out) {
        std::cerr << "coronet-bulk: timed out: no connection within " << o.timeout_s << " s\n";
      } else if (s.error() == std::errc::operation_canceled) {
        std::cerr << "coronet-bulk: interrupted while waiting for a connection\n";
      } else {
        std::cerr << "coronet-bulk: accept: " << describe(s.error()) << '\n';
      }
      co_return status != exit_ok ? status : (s.error() == std::errc::timed_out ? exit_timed_out : exit_failed);
    }
    int one = co_await run_connection(std::move(*s), st, o);
    if (status == exit_ok) status = one;
  }
  co_return status;
}

rt::task<int> connect(net::stack& st, const options& o) {
  net::result<net::stream> s = co_await bounded(connect_one(st, *o.connect_to), o.timeout_s);
  if (!s) {
    std::cerr << "coronet-bulk: connect to " << o.connect_to->to_string() << ": "
              << (s.error() == std::errc::operation_canceled ? "interrupted" : describe(s.error())) << '\n';
    co_return s.error() == std::errc::operation_canceled ? exit_failed : status_for(s.error());
  }
  co_return co_await run_connection(std::move(*s), st, o);
}

rt::task<int> main_task(net::stack& st, const options& o) {
  int status = exit_ok;  // no co_await inside ?: or conditions (GCC 12, README)
  if (o.listen_port) {
    status = co_await serve(st, o);
  } else {
    status = co_await connect(st, o);
  }
  // Keep the stack running so TIME-WAIT can re-ACK a retransmitted FIN (a
  // signal cuts it short).
  co_await rt::sleep_for(std::chrono::milliseconds(o.linger_ms));
  co_return status;
}

// What --impair did to the frames, as "Name value" lines like print_stats'
// (which reports the inner device's own counts).
void print_impairment(net::stack& st) {
  auto* dev = dynamic_cast<io::impaired_device*>(&st.device());
  if (dev == nullptr) return;
  const io::impairment_stats& s = dev->impair_stats();
  for (auto [dir, d] : {std::pair{"Rx", s.rx}, std::pair{"Tx", s.tx}}) {
    const std::pair<const char*, std::uint64_t> rows[] = {{"Frames", d.frames},         {"Dropped", d.dropped},
                                                          {"Duplicated", d.duplicated}, {"Reordered", d.reordered},
                                                          {"NoBuffer", d.no_buffer},    {"TooLarge", d.too_large}};
    for (auto [name, v] : rows)
      std::cout << std::left << std::setw(32) << (std::string("Impair") + dir + name) << std::right << std::setw(12)
                << v << '\n';
  }
}

std::optional<net::stack_config> make_config(const options& o, std::string& error) {
  net::stack_config c = o.device;  // --backend, --xdp-mode, --xdp-bind, --queue
  c.ifname = o.iface;
  c.addr = *o.addr;
  c.prefix_len = o.prefix_len;
  c.gateway = o.gateway;
  c.pcap_path = o.pcap;
  c.impair = o.impair;
  for (const auto& s : o.sysctls) {
    if (std::string e = c.tcp.set(s); !e.empty()) {
      error = "--sysctl " + s + ": " + e;
      return std::nullopt;
    }
  }
  if (!o.impair.empty()) {
    auto spec = io::parse_impairment(o.impair);
    if (!spec) {
      error = "--impair: " + spec.error();
      return std::nullopt;
    }
  }
  return c;
}

std::unique_ptr<net::stack> open_stack(rt::scheduler& sched, const net::stack_config& cfg) {
  if (if_nametoindex(cfg.ifname.c_str()) == 0) {
    std::cerr << "coronet-bulk: interface " << cfg.ifname << " not found (in this network namespace)\n";
    return nullptr;
  }
  std::unique_ptr<net::stack> st;
  try {
    st = std::make_unique<net::stack>(sched, cfg);
  } catch (const std::exception& e) {
    std::cerr << "coronet-bulk: cannot open " << cfg.backend << " on " << cfg.ifname << ": " << e.what()
              << net::device_privilege_hint(cfg, e.what(), geteuid() == 0) << '\n';
    return nullptr;
  }
  std::cerr << "coronet-bulk: " << st->device().describe() << '\n';
  return st;
}

}  // namespace

int run_coronet(const options& o) {
  std::string error;
  std::optional<net::stack_config> cfg = make_config(o, error);
  if (!cfg) {
    std::cerr << "coronet-bulk: " << error << '\n';
    return exit_usage;
  }
  rt::scheduler sched(rt::options{.busy_poll = o.busy_poll});
  std::stop_source stop;
  rt::signal_watch signals(sched.ring(), [&stop](int signo) {
    std::cerr << "coronet-bulk: " << (signo == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    stop.request_stop();
  });
  std::unique_ptr<net::stack> st = open_stack(sched, *cfg);  // destroyed before `signals`
  if (!st) return exit_usage;
  int status = sched.block_on(main_task(*st, o).with_stop_token(stop.get_token()));
  if (o.stats) {
    st->print_stats(std::cout);
    print_impairment(*st);
  }
  std::cout.flush();
  return status;
}

}  // namespace coronet::bulk
